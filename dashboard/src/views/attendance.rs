//! Attendance views: one session's list with the teacher's overrides and the session's summary, a
//! student's history, the list of sessions with the CSV export, and the CSV itself.

use maud::{Markup, html};

use super::{Chrome, page};
use crate::i18n::Lang;

/// A student's attendance mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Seen within the check-in window.
    Present,
    /// Seen after it.
    Late,
    /// Not seen.
    Absent,
    /// Absent with a reason.
    Excused,
}

impl Mark {
    /// Every mark, in the order a teacher picks from.
    pub const ALL: [Mark; 4] = [Mark::Present, Mark::Late, Mark::Absent, Mark::Excused];

    /// The form and CSV value.
    pub const fn value(self) -> &'static str {
        match self {
            Mark::Present => "present",
            Mark::Late => "late",
            Mark::Absent => "absent",
            Mark::Excused => "excused",
        }
    }

    /// The word on the page.
    pub const fn word(self, lang: Lang) -> &'static str {
        match self {
            Mark::Present => lang.present(),
            Mark::Late => lang.late(),
            Mark::Absent => lang.absent(),
            Mark::Excused => lang.excused(),
        }
    }
}

fn mark_word(lang: Lang, mark: Option<Mark>) -> &'static str {
    mark.map_or(lang.not_yet(), |m| m.word(lang))
}

/// An override as shown: what, who, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideRow {
    /// The mark set.
    pub mark: Mark,
    /// Who set it.
    pub by: String,
    /// When, as text.
    pub at: String,
}

/// One student in a session's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttendanceRow {
    /// The student.
    pub student: String,
    /// The link to their history.
    pub history_href: String,
    /// Their first press or check-in, as text.
    pub first_seen: Option<String>,
    /// What the clicker earned.
    pub earned: Option<Mark>,
    /// Checked in by clicker (a check-in or an answer).
    pub by_clicker: bool,
    /// Checked in by school card at the hub's reader.
    pub by_card: bool,
    /// What counts.
    pub mark: Option<Mark>,
    /// Every override, oldest first.
    pub overrides: Vec<OverrideRow>,
}

/// The end-of-session summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Questions asked.
    pub questions: u32,
    /// Answers given ÷ (questions × students), in percent; `None` without questions.
    pub response_rate_pct: Option<u32>,
    /// Correct answers ÷ answers to questions that had a correct answer, in percent.
    pub correct_rate_pct: Option<u32>,
    /// Students who never answered.
    pub never_answered: Vec<String>,
}

/// One session's attendance page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPage {
    /// The session's id.
    pub id: i64,
    /// Its room.
    pub room: String,
    /// Its class.
    pub class_name: String,
    /// When it started, as text.
    pub started: String,
    /// Whether it has ended.
    pub ended: bool,
    /// The students.
    pub rows: Vec<AttendanceRow>,
    /// The summary.
    pub summary: Summary,
}

/// A session's attendance, with an override form per student, and its summary.
pub fn session(chrome: &Chrome, p: &SessionPage) -> Markup {
    let lang = chrome.lang;
    let title = format!("{} {} · {}", lang.lesson(), p.class_name, p.started);
    page(
        chrome,
        &title,
        None,
        "",
        html! {
            h1 { (title) }
            p { (lang.room()) " " a href={"/rooms/" (p.room)} { (p.room) } @if !p.ended { " (" (lang.running()) ")" } }
            h2 { (lang.summary()) }
            dl {
                dt { (lang.questions_asked()) } dd { (p.summary.questions) }
                dt { (lang.response_rate()) } dd { (pct(p.summary.response_rate_pct)) }
                dt { (lang.correct_rate()) } dd { (pct(p.summary.correct_rate_pct)) }
                dt { (lang.never_answered()) }
                dd {
                    @if p.summary.never_answered.is_empty() { (lang.everyone_answered()) }
                    @else { (p.summary.never_answered.join(", ")) }
                }
            }
            h2 { (lang.attendance()) }
            table {
                thead { tr { th { (lang.student()) } th { (lang.first_seen()) } th { (lang.checked_in_by()) } th { (lang.earned()) } th { (lang.counts_as()) } th { (lang.change()) } } }
                tbody {
                    @for (i, r) in p.rows.iter().enumerate() {
                        tr {
                            td { a href=(r.history_href) { (r.student) } }
                            td { (r.first_seen.as_deref().unwrap_or("—")) }
                            td {
                                @match (r.by_clicker, r.by_card) {
                                    (true, true) => { (lang.by_clicker()) " + " (lang.by_card()) }
                                    (true, false) => (lang.by_clicker()),
                                    (false, true) => (lang.by_card()),
                                    (false, false) => "—",
                                }
                            }
                            td { (mark_word(lang, r.earned)) }
                            td {
                                strong { (mark_word(lang, r.mark)) }
                                @for o in &r.overrides {
                                    br; small { (o.mark.word(lang)) ", " (lang.changed_by()) " " (o.by) " " (o.at) }
                                }
                            }
                            td {
                                form.inline method="post" action={"/sessions/" (p.id) "/attendance"} {
                                    input type="hidden" name="student" value=(r.student);
                                    label.visually-hidden for={"mark-" (i)} { (lang.attendance()) " " (r.student) }
                                    select id={"mark-" (i)} name="mark" {
                                        @for m in Mark::ALL { option value=(m.value()) selected[r.mark == Some(m)] { (m.word(lang)) } }
                                    }
                                    " " button.secondary type="submit" { (lang.change()) }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

fn pct(v: Option<u32>) -> String {
    v.map_or("—".to_owned(), |v| format!("{v}%"))
}

/// A session in the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionListRow {
    /// Its id.
    pub id: i64,
    /// When it started, as text.
    pub started: String,
    /// Its class.
    pub class_name: String,
    /// Its room.
    pub room: String,
    /// Whether it has ended.
    pub ended: bool,
}

/// Recent sessions, and the CSV export form (class and date range).
pub fn sessions(chrome: &Chrome, rows: &[SessionListRow]) -> Markup {
    let lang = chrome.lang;
    page(
        chrome,
        lang.sessions(),
        None,
        "",
        html! {
            h1 { (lang.sessions()) }
            @if rows.is_empty() { p { (lang.no_sessions()) } }
            @else {
                table {
                    thead { tr { th { (lang.date()) } th { (lang.class_name()) } th { (lang.room()) } th {} } }
                    tbody {
                        @for r in rows {
                            tr {
                                td { (r.started) }
                                td { (r.class_name) }
                                td { (r.room) }
                                td { a href={"/sessions/" (r.id)} { (lang.attendance()) } @if !r.ended { " (" (lang.running()) ")" } }
                            }
                        }
                    }
                }
            }
            fieldset {
                legend { (lang.export_csv()) }
                form method="get" action="/attendance.csv" {
                    label for="class" { (lang.class_name()) }
                    input #class name="class" required maxlength="64";
                    label for="from" { (lang.from_date()) }
                    input #from name="from" type="date" required;
                    label for="to" { (lang.to_date()) }
                    input #to name="to" type="date" required;
                    p { button type="submit" { (lang.export_csv()) } }
                }
            }
        },
    )
}

/// A session in a student's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    /// The session's link.
    pub href: String,
    /// When it started, as text.
    pub started: String,
    /// Its class.
    pub class_name: String,
    /// What counts.
    pub mark: Option<Mark>,
    /// Whether a teacher set it.
    pub overridden: bool,
}

/// One student's attendance over their sessions.
pub fn history(chrome: &Chrome, student: &str, rows: &[HistoryRow]) -> Markup {
    let lang = chrome.lang;
    let title = format!("{} · {student}", lang.attendance());
    page(
        chrome,
        &title,
        None,
        "",
        html! {
            h1 { (title) }
            @if rows.is_empty() { p { (lang.no_sessions()) } }
            @else {
                table {
                    thead { tr { th { (lang.date()) } th { (lang.class_name()) } th { (lang.attendance()) } } }
                    tbody {
                        @for r in rows {
                            tr {
                                td { a href=(r.href) { (r.started) } }
                                td { (r.class_name) }
                                td { (mark_word(lang, r.mark)) @if r.overridden { " *" } }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// One line of the CSV export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvRow {
    /// The session's date (`YYYY-MM-DD`).
    pub date: String,
    /// The session's id.
    pub session: i64,
    /// Its class.
    pub class_name: String,
    /// Its room.
    pub room: String,
    /// The student.
    pub student: String,
    /// What counts (empty: not seen yet in a running session).
    pub mark: Option<Mark>,
    /// Their first press or check-in (`HH:MM`).
    pub first_seen: Option<String>,
    /// Who set the mark, if a teacher did.
    pub changed_by: Option<String>,
    /// When (`YYYY-MM-DD HH:MM`).
    pub changed_at: Option<String>,
}

/// The attendance export: a header and one line per student per session, RFC 4180 quoting.
pub fn csv(rows: &[CsvRow]) -> String {
    let mut out = String::from("date,session,class,room,student,attendance,first_seen,changed_by,changed_at\r\n");
    for r in rows {
        let fields = [
            r.date.as_str(),
            &r.session.to_string(),
            &r.class_name,
            &r.room,
            &r.student,
            r.mark.map_or("", Mark::value),
            r.first_seen.as_deref().unwrap_or(""),
            r.changed_by.as_deref().unwrap_or(""),
            r.changed_at.as_deref().unwrap_or(""),
        ]
        .map(csv_field);
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

/// One CSV field: quoted when it holds a comma, a quote or a line break; a leading `=`, `+`, `-` or
/// `@` is prefixed with `'` so a spreadsheet does not run it as a formula.
pub fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_owned() };
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chrome() -> Chrome {
        Chrome { lang: Lang::Nl, user: Some("docent".into()), links: vec![], path: "/sessions/1".into() }
    }

    #[test]
    fn the_list_shows_each_mark_who_changed_it_and_a_form_to_change_it() {
        let p = SessionPage {
            id: 7,
            room: "b-204".into(),
            class_name: "3A".into(),
            started: "2026-11-26 08:30".into(),
            ended: true,
            rows: vec![
                AttendanceRow {
                    student: "Anna".into(),
                    history_href: "/attendance/student?k=ab".into(),
                    first_seen: Some("08:32".into()),
                    earned: Some(Mark::Present),
                    by_clicker: true,
                    by_card: true,
                    mark: Some(Mark::Present),
                    overrides: vec![],
                },
                AttendanceRow {
                    student: "Daan".into(),
                    history_href: "/attendance/student?k=cd".into(),
                    first_seen: None,
                    earned: Some(Mark::Absent),
                    by_clicker: false,
                    by_card: false,
                    mark: Some(Mark::Excused),
                    overrides: vec![OverrideRow { mark: Mark::Excused, by: "docent".into(), at: "09:20".into() }],
                },
            ],
            summary: Summary {
                questions: 3,
                response_rate_pct: Some(50),
                correct_rate_pct: Some(67),
                never_answered: vec!["Daan".into()],
            },
        };
        let html = session(&chrome(), &p).into_string();
        assert!(html.contains("<strong>geoorloofd afwezig</strong>"));
        assert!(html.contains("<td>stemkastje + schoolpas</td>"), "{html}");
        assert!(html.contains("geoorloofd afwezig, gewijzigd door docent 09:20"));
        assert!(html.contains("action=\"/sessions/7/attendance\""));
        assert!(html.contains("<option value=\"excused\" selected>"));
        assert!(html.contains("<dd>50%</dd>") && html.contains("<dd>67%</dd>") && html.contains("<dd>Daan</dd>"));
    }

    #[test]
    fn csv_quotes_what_needs_quoting_and_defuses_formulas() {
        let row = CsvRow {
            date: "2026-11-26".into(),
            session: 7,
            class_name: "3A, havo".into(),
            room: "b-204".into(),
            student: "=HYPERLINK(\"x\")".into(),
            mark: Some(Mark::Late),
            first_seen: Some("08:45".into()),
            changed_by: None,
            changed_at: None,
        };
        let text = csv(&[row]);
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("date,session,class,room,student,attendance,first_seen,changed_by,changed_at"));
        assert_eq!(lines.next(), Some("2026-11-26,7,\"3A, havo\",b-204,\"'=HYPERLINK(\"\"x\"\")\",late,08:45,,"));
    }
}
