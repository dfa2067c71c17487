//! The admin's page: every account with its role, and a form to make one (its password is shown
//! once).

use maud::{Markup, html};

use super::{Chrome, page};

/// An account in the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRow {
    /// Its name.
    pub name: String,
    /// Its role (`teacher`, `technician`, `admin`).
    pub role: String,
}

/// An account just made: its one-time password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount {
    /// Its name.
    pub name: String,
    /// Its password, shown this once.
    pub password: String,
}

/// The accounts page.
pub fn accounts(chrome: &Chrome, rows: &[AccountRow], made: Option<&NewAccount>, error: Option<&str>) -> Markup {
    let lang = chrome.lang;
    page(
        chrome,
        lang.accounts(),
        None,
        "",
        html! {
            h1 { (lang.accounts()) }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            @if let Some(m) = made {
                div.notice role="status" {
                    p { (lang.account_made()) }
                    p { (lang.username()) ": " code { (m.name) } }
                    p { (lang.password()) ": " code.key { (m.password) } }
                }
            }
            table {
                thead { tr { th { (lang.username()) } th { (lang.role()) } } }
                tbody { @for r in rows { tr { td { (r.name) } td { (r.role) } } } }
            }
            fieldset {
                legend { (lang.add_account()) }
                form method="post" action="/admin/users" {
                    label for="name" { (lang.username()) }
                    input #name name="name" required maxlength="64" pattern="[a-zA-Z0-9._\\-]+";
                    label for="role" { (lang.role()) }
                    select #role name="role" {
                        option value="teacher" { (lang.role_teacher()) }
                        option value="technician" { (lang.role_technician()) }
                        option value="admin" { (lang.role_admin()) }
                    }
                    p { button type="submit" { (lang.add_account()) } }
                }
            }
        },
    )
}

/// What a roster upload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterResult {
    /// Rows new to the hub.
    pub added: usize,
    /// Rows changed.
    pub updated: usize,
    /// Rows removed.
    pub removed: usize,
    /// Rows as they were.
    pub unchanged: usize,
    /// The refused rows: "file line N: reason".
    pub refused: Vec<String>,
}

/// The roster upload page: a OneRoster 1.1 CSV zip, and what the last upload did.
pub fn roster(chrome: &Chrome, result: Option<&RosterResult>, error: Option<&str>) -> Markup {
    let lang = chrome.lang;
    page(
        chrome,
        lang.roster(),
        None,
        "",
        html! {
            h1 { (lang.roster()) }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            @if let Some(r) = result {
                div.notice role="status" {
                    p { (lang.roster_counts(r.added, r.updated, r.removed, r.unchanged)) }
                    @if !r.refused.is_empty() {
                        p { (lang.roster_refused()) }
                        ul { @for line in &r.refused { li { (line) } } }
                    }
                }
            }
            form method="post" action="/admin/roster" enctype="multipart/form-data" {
                label for="bundle" { (lang.roster_file()) }
                input #bundle name="bundle" type="file" accept=".zip" required;
                p { button type="submit" { (lang.import()) } }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    #[test]
    fn the_new_password_is_shown_once_with_the_list() {
        let chrome = Chrome { lang: Lang::Nl, user: Some("admin".into()), links: vec![], path: "/admin/users".into() };
        let rows = [AccountRow { name: "docent".into(), role: "teacher".into() }];
        let made = NewAccount { name: "docent".into(), password: "abcdefghjkmnpqrs".into() };
        let html = accounts(&chrome, &rows, Some(&made), None).into_string();
        assert!(html.contains("abcdefghjkmnpqrs") && html.contains("<td>docent</td>"));
        assert!(html.contains("<option value=\"technician\">Technicus</option>"));
        assert!(!accounts(&chrome, &rows, None, None).into_string().contains("abcdefghjkmnpqrs"));
    }

    #[test]
    fn the_roster_page_lists_every_refused_row() {
        let chrome = Chrome { lang: Lang::En, user: Some("admin".into()), links: vec![], path: "/admin/roster".into() };
        let r = RosterResult {
            added: 5,
            updated: 1,
            removed: 0,
            unchanged: 2,
            refused: vec!["users.csv line 4: role \"pupil\"".into()],
        };
        let html = roster(&chrome, Some(&r), None).into_string();
        assert!(html.contains("5 added, 1 updated, 0 removed, 2 unchanged"));
        assert!(html.contains("<li>users.csv line 4: role &quot;pupil&quot;</li>"));
        assert!(html.contains("enctype=\"multipart/form-data\""));
    }
}
