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
}
