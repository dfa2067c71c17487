//! The login page.

use maud::{Markup, html};

use super::{Chrome, page};

/// The login form; `error` says why the last try failed; `next` is where to go afterwards.
pub fn login(chrome: &Chrome, error: Option<&str>, next: &str) -> Markup {
    let lang = chrome.lang;
    page(
        chrome,
        lang.log_in(),
        None,
        "",
        html! {
            h1 { (lang.log_in()) }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            form method="post" action="/login" {
                input type="hidden" name="next" value=(next);
                label for="username" { (lang.username()) }
                input #username name="username" autocomplete="username" required autofocus;
                label for="password" { (lang.password()) }
                input #password name="password" type="password" autocomplete="current-password" required;
                p { button type="submit" { (lang.log_in()) } }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    #[test]
    fn the_form_has_labelled_fields_and_says_what_went_wrong() {
        let chrome = Chrome { lang: Lang::Nl, user: None, links: vec![], path: "/login".into() };
        let html = login(&chrome, Some(Lang::Nl.wrong_login()), "/rooms/3a").into_string();
        assert!(html.contains("<label for=\"username\">Gebruikersnaam</label>"));
        assert!(html.contains("<label for=\"password\">Wachtwoord</label>"));
        assert!(html.contains("role=\"alert\">Gebruikersnaam of wachtwoord klopt niet."));
        assert!(html.contains("name=\"next\" value=\"/rooms/3a\""));
        assert!(!html.contains("Uitloggen"), "no logout before login");
    }
}
