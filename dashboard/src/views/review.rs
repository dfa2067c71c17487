//! The review list of online identities that matching could not settle: a teacher picks the
//! student (or "not a student") instead of the hub guessing.

use maud::{Markup, html};

use super::{Chrome, page};

/// One identity to decide on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewRow {
    /// The identity as stored (posted back).
    pub identity: String,
    /// How it reads: the LMS's name for the person.
    pub shown: String,
    /// How much it did online.
    pub activities: i64,
    /// The students that fit (several) or none.
    pub candidates: Vec<(String, String)>,
}

/// The review page. `students`: every roster student (id, name), offered when none fits.
pub fn review(chrome: &Chrome, rows: &[ReviewRow], students: &[(String, String)], matched: usize) -> Markup {
    let lang = chrome.lang;
    page(
        chrome,
        lang.online_review(),
        None,
        "",
        html! {
            h1 { (lang.online_review()) }
            p { (lang.matched_automatically(matched)) }
            @if rows.is_empty() { p { (lang.nothing_to_check()) } }
            @else {
                p { (lang.review_help()) }
                table {
                    thead { tr { th { (lang.account()) } th { (lang.activities()) } th { (lang.status()) } th { (lang.student()) } } }
                    tbody {
                        @for (i, r) in rows.iter().enumerate() {
                            tr {
                                td { (r.shown) }
                                td { (r.activities) }
                                td { @if r.candidates.is_empty() { (lang.unmatched()) } @else { (lang.ambiguous()) } }
                                td {
                                    form.inline method="post" action="/online/review" {
                                        input type="hidden" name="identity" value=(r.identity);
                                        label.visually-hidden for={"who-" (i)} { (lang.student()) " " (r.shown) }
                                        select id={"who-" (i)} name="student" {
                                            @let offered = if r.candidates.is_empty() { students } else { &r.candidates[..] };
                                            @for (id, name) in offered { option value=(id) { (name) } }
                                            option value="" { (lang.not_a_student()) }
                                        }
                                        " " button.secondary type="submit" { (lang.save()) }
                                    }
                                }
                            }
                        }
                    }
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
    fn ambiguous_rows_offer_their_candidates_and_unmatched_ones_everyone() {
        let chrome =
            Chrome { lang: Lang::Nl, user: Some("docent".into()), links: vec![], path: "/online/review".into() };
        let students = [
            ("u1".to_owned(), "Anna de Vries".to_owned()),
            ("u2".to_owned(), "Bram Jansen".to_owned()),
            ("u3".to_owned(), "Bram Jansen".to_owned()),
        ];
        let rows = [
            ReviewRow {
                identity: "name:Bram Jansen".into(),
                shown: "Bram Jansen".into(),
                activities: 3,
                candidates: students[1..].to_vec(),
            },
            ReviewRow { identity: "name:Cem".into(), shown: "Cem".into(), activities: 1, candidates: vec![] },
        ];
        let html = review(&chrome, &rows, &students, 12).into_string();
        assert!(html.contains("12 accounts automatisch gekoppeld."));
        assert!(html.contains("meerdere leerlingen mogelijk") && html.contains("geen leerling gevonden"));
        let first = html.split("who-0").nth(2).unwrap().split("</select>").next().unwrap();
        assert!(!first.contains("u1") && first.contains("u2") && first.contains("u3"), "only the two Brams");
        let second = html.split("who-1").nth(2).unwrap().split("</select>").next().unwrap();
        assert!(second.contains("u1") && second.contains("<option value=\"\">Geen leerling</option>"));
    }
}
