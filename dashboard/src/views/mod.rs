//! The page shell every view sits in: language, navigation, the connection banner, the stylesheet
//! and the one small script.

pub mod admin;
pub mod attendance;
pub mod classroom;
pub mod devices;
pub mod engagement;
pub mod firmware;
pub mod login;
pub mod pairing;
pub mod review;

use maud::{DOCTYPE, Markup, html};

use crate::i18n::Lang;

/// A link in the navigation bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Where it goes.
    pub href: String,
    /// What it says.
    pub label: &'static str,
}

/// What surrounds every page: who is logged in and where they may go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chrome {
    /// The page's language.
    pub lang: Lang,
    /// The logged-in user's name, if any.
    pub user: Option<String>,
    /// The navigation the user's role allows.
    pub links: Vec<Link>,
    /// This page's path, for the language switch to come back to.
    pub path: String,
}

/// Where the stylesheet is served.
pub const CSS_PATH: &str = "/static/classhub.css";
/// Where the live script is served.
pub const JS_PATH: &str = "/static/live.js";

/// The stylesheet.
pub const CSS: &str = include_str!("../../assets/classhub.css");
/// The live script: swaps in the live part from the page's event stream, shows the connection
/// banner, ticks the countdown.
pub const JS: &str = include_str!("../../assets/live.js");

/// A whole page. `live`: the event stream this page follows, if any.
pub fn page(chrome: &Chrome, title: &str, live: Option<&str>, body_class: &str, body: Markup) -> Markup {
    let lang = chrome.lang;
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · classhub" }
                link rel="stylesheet" href=(CSS_PATH);
            }
            body class=(body_class) data-live=[live] {
                div #connection .banner hidden role="status" aria-live="polite"
                    data-lost=(lang.connection_lost()) data-back=(lang.connection_back()) {}
                @if body_class != "projector" {
                    header.top {
                        span.brand { (lang.app_name()) }
                        nav aria-label="classhub" {
                            @for link in &chrome.links { a href=(link.href) { (link.label) } }
                        }
                        a href={"/lang/" (lang.other().code()) "?back=" (chrome.path)} lang=(lang.other().code()) {
                            (lang.other().language_name())
                        }
                        @if let Some(user) = &chrome.user {
                            span { (user) }
                            form.inline method="post" action="/logout" {
                                button.secondary type="submit" { (lang.log_out()) }
                            }
                        }
                    }
                }
                main { (body) }
                @if live.is_some() { script src=(JS_PATH) {} }
            }
        }
    }
}

/// A page that only says something (not found, not for your role).
pub fn message(chrome: &Chrome, title: &str, text: &str) -> Markup {
    page(chrome, title, None, "", html! { h1 { (title) } p { (text) } })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chrome(lang: Lang) -> Chrome {
        Chrome {
            lang,
            user: Some("jdevries".into()),
            links: vec![Link { href: "/rooms".into(), label: lang.rooms() }],
            path: "/rooms".into(),
        }
    }

    #[test]
    fn every_page_speaks_its_language_and_offers_the_other() {
        let nl = page(&chrome(Lang::Nl), "Lokalen", None, "", html! {}).into_string();
        assert!(nl.contains("<html lang=\"nl\">"));
        assert!(nl.contains("href=\"/lang/en?back=/rooms\"") && nl.contains(">English</a>"));
        assert!(nl.contains("Uitloggen") && nl.contains("jdevries"));
        let en = page(&chrome(Lang::En), "Rooms", None, "", html! {}).into_string();
        assert!(en.contains(">Nederlands</a>") && en.contains("Log out"));
    }

    #[test]
    fn only_live_pages_load_the_script() {
        let live = page(&chrome(Lang::En), "x", Some("/e"), "", html! {}).into_string();
        assert!(live.contains("data-live=\"/e\"") && live.contains(JS_PATH));
        let still = page(&chrome(Lang::En), "x", None, "", html! {}).into_string();
        assert!(!still.contains(JS_PATH) && !still.contains("data-live"));
    }
}
