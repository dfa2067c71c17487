//! The blended engagement table: per student, each part with the counts it comes from, the in-class
//! and online scores, the index, the group and the trend; sortable, with a CSV export and the
//! no-internet-at-home switch per student.

use crate::url::encode as urlencode;
use maud::{Markup, html};

use super::{Chrome, page};
use crate::chart::{self, Point};
use crate::i18n::Lang;

/// Which of the four groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// In class and online.
    Both,
    /// Online only.
    OnlineOnly,
    /// In class only.
    InClassOnly,
    /// Neither.
    Neither,
}

impl Group {
    /// The words for it.
    pub const fn word(self, lang: Lang) -> &'static str {
        match self {
            Group::Both => lang.group_both(),
            Group::OnlineOnly => lang.group_online_only(),
            Group::InClassOnly => lang.group_in_class_only(),
            Group::Neither => lang.group_neither(),
        }
    }

    /// The CSV value.
    pub const fn value(self) -> &'static str {
        match self {
            Group::Both => "both",
            Group::OnlineOnly => "online_only",
            Group::InClassOnly => "in_class_only",
            Group::Neither => "neither",
        }
    }
}

/// One student's row, every number with its parts.
#[derive(Debug, Clone, PartialEq)]
pub struct EngagementRow {
    /// The student.
    pub student: String,
    /// Lessons attended, of lessons.
    pub attended: (u32, u32),
    /// Questions answered, of asked.
    pub answered: (u32, u32),
    /// Online active days.
    pub online_days: u32,
    /// Online events.
    pub online_events: u32,
    /// Online completions.
    pub online_completions: u32,
    /// Mean online score (0–1), if anything was scored.
    pub online_score: Option<f64>,
    /// In-class score (0–1).
    pub in_class: f64,
    /// Online score (0–1); `None` without online access.
    pub online: Option<f64>,
    /// The blended index (0–1).
    pub index: f64,
    /// The group.
    pub group: Group,
    /// Index minus the earlier weeks' mean.
    pub trend: Option<f64>,
    /// Marked as having no internet at home.
    pub no_online_access: bool,
}

/// The page.
#[derive(Debug, Clone, PartialEq)]
pub struct EngagementPage {
    /// The class.
    pub class_name: String,
    /// The classes to choose from.
    pub classes: Vec<String>,
    /// The week, `2026-W48`.
    pub week: String,
    /// The weeks before and after.
    pub around: (String, String),
    /// The rows, sorted.
    pub rows: Vec<EngagementRow>,
    /// Each row's link to the student's own page (same order as `rows`).
    pub student_links: Vec<String>,
    /// The weights of attendance, response, online days and online activity (as set; relative).
    pub weights: [u32; 4],
}

fn pct(v: f64) -> String {
    format!("{:.0}%", v * 100.0)
}

/// The engagement table.
pub fn engagement(chrome: &Chrome, p: &EngagementPage) -> Markup {
    let lang = chrome.lang;
    let link =
        |week: &str, sort: &str| format!("/engagement?class={}&week={week}&sort={sort}", urlencode(&p.class_name));
    let columns = [
        ("student", lang.student()),
        ("attendance", lang.attendance()),
        ("response", lang.response_rate()),
        ("online_days", lang.online_word()),
        ("in_class", lang.in_class()),
        ("online", lang.online_word()),
        ("index", lang.index_word()),
        ("trend", lang.trend_word()),
        ("group", lang.group_word()),
    ];
    page(
        chrome,
        lang.engagement(),
        None,
        "",
        html! {
            h1 { (lang.engagement()) }
            form method="get" action="/engagement" {
                label for="class" { (lang.class_name()) }
                select #class name="class" {
                    @for c in &p.classes { option value=(c) selected[*c == p.class_name] { (c) } }
                }
                label for="week" { (lang.week()) }
                input #week name="week" type="week" value=(p.week);
                " " button type="submit" { (lang.show()) }
            }
            p {
                a href=(link(&p.around.0, "index")) { "← " (lang.previous_week()) } " · "
                a href=(link(&p.around.1, "index")) { (lang.next_week()) " →" } " · "
                a href={"/engagement.csv?class=" (urlencode(&p.class_name)) "&week=" (p.week)} { (lang.export_csv()) } " · "
                a href={"/engagement/weeks?class=" (urlencode(&p.class_name)) "&week=" (p.week)} { (lang.weeks_view()) }
            }
            @if p.rows.is_empty() { p { (lang.no_data()) } }
            @else {
                table {
                    thead { tr { @for (key, label) in columns { th { a href=(link(&p.week, key)) { (label) } } } th {} } }
                    tbody {
                        @for (r, href) in p.rows.iter().zip(&p.student_links) {
                            tr {
                                td { a href=(href) { (r.student) } @if r.no_online_access { br; small { (lang.no_online_access()) } } }
                                td { (r.attended.0) "/" (r.attended.1) " " (lang.lessons_word()) }
                                td { (r.answered.0) "/" (r.answered.1) " " (lang.questions_word()) }
                                td {
                                    @if r.no_online_access { "—" } @else {
                                        (r.online_days) " " (lang.days_word()) ", " (r.online_events) " " (lang.events_word())
                                        ", " (r.online_completions) " " (lang.completed_word())
                                        @if let Some(score) = r.online_score { ", " (lang.score_word()) " " (pct(score)) }
                                    }
                                }
                                td { (pct(r.in_class)) }
                                td { @match r.online { Some(o) => (pct(o)), None => "—" } }
                                td { strong { (pct(r.index)) } }
                                td { @match r.trend { Some(t) => (format!("{:+.0}", t * 100.0)), None => "—" } }
                                td { (r.group.word(lang)) }
                                td {
                                    form.inline method="post" action="/engagement/flag" {
                                        input type="hidden" name="student" value=(r.student);
                                        input type="hidden" name="back" value=(link(&p.week, "index"));
                                        input type="hidden" name="on" value=(if r.no_online_access { "0" } else { "1" });
                                        button.secondary type="submit" aria-pressed=(r.no_online_access) { (lang.mark_no_online()) }
                                    }
                                }
                            }
                        }
                    }
                }
                fieldset {
                    legend { (lang.weights_word()) }
                    form method="post" action="/engagement/weights" {
                        input type="hidden" name="class" value=(p.class_name);
                        input type="hidden" name="back" value=(link(&p.week, "index"));
                        @for ((name, label), value) in [("attendance", lang.attendance()), ("response", lang.response_rate()), ("online_days", lang.days_word()), ("online_activity", lang.events_word())].into_iter().zip(p.weights) {
                            label for={"w-" (name)} { (label) }
                            input id={"w-" (name)} name=(name) type="number" min="0" max="100" value=(value);
                        }
                        p { button.secondary type="submit" { (lang.save()) } }
                    }
                }
                h2 { (lang.scatter_title()) }
                @let points: Vec<Point> = p.rows.iter().map(|r| Point { label: r.student.clone(), in_class: r.in_class, online: r.online }).collect();
                (chart::scatter(
                    &points,
                    [lang.group_both(), lang.group_online_only(), lang.group_in_class_only(), lang.group_neither()],
                    lang.no_online_access(),
                    lang.scatter_title(),
                ))
            }
        },
    )
}

/// The class's index week by week (a heatmap, newest week last).
pub fn weeks_page(
    chrome: &Chrome,
    class_name: &str,
    weeks: &[String],
    students: &[String],
    values: &[Vec<Option<f64>>],
) -> Markup {
    let lang = chrome.lang;
    let title = format!("{} · {} · {}", lang.engagement(), class_name, lang.weeks_view());
    page(
        chrome,
        &title,
        None,
        "",
        html! {
            h1 { (title) }
            @if students.is_empty() { p { (lang.no_data()) } }
            @else { (chart::heatmap(students, weeks, values, &title)) }
        },
    )
}

/// One student's weeks: index, in class and online as lines.
pub fn student_page(
    chrome: &Chrome,
    class_name: &str,
    student: &str,
    weeks: &[String],
    series: &[(String, Vec<Option<f64>>)],
) -> Markup {
    let lang = chrome.lang;
    let title = format!("{} · {} · {}", lang.engagement(), class_name, student);
    page(
        chrome,
        &title,
        None,
        "",
        html! {
            h1 { (title) }
            (chart::lines(weeks, series, &title))
        },
    )
}

/// The table as CSV, with every part.
pub fn engagement_csv(week: &str, class_name: &str, rows: &[EngagementRow]) -> String {
    let mut out = String::from(
        "week,class,student,lessons_attended,lessons,questions_answered,questions_asked,online_days,online_events,\
         online_completions,online_score,in_class,online,index,trend,group,no_online_access\r\n",
    );
    let num = |v: f64| format!("{v:.3}");
    for r in rows {
        // Text is quoted and defused; numbers (a trend may start with '-') are written as they are.
        let text = [week, class_name, r.student.as_str()].map(super::attendance::csv_field);
        let numbers = [
            r.attended.0.to_string(),
            r.attended.1.to_string(),
            r.answered.0.to_string(),
            r.answered.1.to_string(),
            r.online_days.to_string(),
            r.online_events.to_string(),
            r.online_completions.to_string(),
            r.online_score.map(num).unwrap_or_default(),
            num(r.in_class),
            r.online.map(num).unwrap_or_default(),
            num(r.index),
            r.trend.map(num).unwrap_or_default(),
            r.group.value().to_owned(),
            r.no_online_access.to_string(),
        ];
        out.push_str(&text.join(","));
        out.push(',');
        out.push_str(&numbers.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(student: &str, index: f64, group: Group, no_online_access: bool) -> EngagementRow {
        EngagementRow {
            student: student.into(),
            attended: (3, 4),
            answered: (7, 10),
            online_days: 2,
            online_events: 9,
            online_completions: 1,
            online_score: Some(0.8),
            in_class: 0.725,
            online: (!no_online_access).then_some(0.4),
            index,
            group,
            trend: Some(-0.05),
            no_online_access,
        }
    }

    #[test]
    fn every_number_shows_its_parts_and_no_internet_is_not_disengaged() {
        let chrome = Chrome { lang: Lang::Nl, user: Some("docent".into()), links: vec![], path: "/engagement".into() };
        let p = EngagementPage {
            class_name: "3A".into(),
            classes: vec!["3A".into(), "3B".into()],
            week: "2026-W48".into(),
            around: ("2026-W47".into(), "2026-W49".into()),
            rows: vec![row("Anna", 0.56, Group::InClassOnly, false), row("Cem", 0.73, Group::InClassOnly, true)],
            student_links: vec!["/engagement/student?k=a".into(), "/engagement/student?k=c".into()],
            weights: [25, 25, 25, 25],
        };
        let html = engagement(&chrome, &p).into_string();
        assert!(
            html.contains("3/4 lessen") && html.contains("7/10 vragen") && html.contains("2 dagen, 9 activiteiten")
        );
        assert!(html.contains("<strong>56%</strong>") && html.contains("-5"));
        assert!(html.contains("geen internet thuis") && html.contains("alleen in de les"));
        assert!(html.contains("href=\"/engagement?class=3A&amp;week=2026-W47&amp;sort=index\""));
        assert!(html.contains("<svg class=\"scatter\"") && html.contains("href=\"/engagement/student?k=c\""));
        let csv = engagement_csv("2026-W48", "3A", &p.rows);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[2], "2026-W48,3A,Cem,3,4,7,10,2,9,1,0.800,0.725,,0.730,-0.050,in_class_only,true");
    }
}
