//! The classroom views: the list of rooms, the teacher's room page and the projector. The live part
//! of each is a fragment of its own, sent again over the page's event stream as answers arrive.

use maud::{Markup, html};

use super::pairing::{PairingPanel, projector_pairing};
use super::{Chrome, page};
use crate::chart::{self, Bar};
use crate::i18n::Lang;

/// A room in the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomRow {
    /// Its code.
    pub code: String,
    /// The class in session there, if any.
    pub class_name: Option<String>,
    /// Clickers registered to it.
    pub clickers: u32,
}

/// What kind of question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One of A–E.
    Single,
    /// Any of A–E.
    Multi,
    /// True (A) or false (B).
    TrueFalse,
    /// 1 (A) to 5 (E).
    Scale,
}

/// Where a question is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Taking answers.
    Open,
    /// Closed; the teacher sees the distribution.
    Closed,
    /// Shown to the class.
    Revealed,
}

/// A question as the views show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuestionPanel {
    /// Its number.
    pub number: u32,
    /// Its kind.
    pub kind: Kind,
    /// How many options.
    pub options: u8,
    /// Where it is.
    pub phase: Phase,
    /// Answers per option (empty where the viewer may not see them).
    pub counts: Vec<u32>,
    /// Students who answered.
    pub answered: u32,
    /// Students expected.
    pub expected: u32,
    /// The correct answer's letters (`"B"`, `"AC"`), if set.
    pub correct: Option<String>,
    /// Milliseconds left on the countdown, if one runs.
    pub remaining_ms: Option<u64>,
}

impl QuestionPanel {
    /// The label of option `i` (0 = A) in `lang`.
    pub fn label(&self, lang: Lang, i: usize) -> String {
        match self.kind {
            Kind::TrueFalse if i == 0 => lang.true_word().to_owned(),
            Kind::TrueFalse => lang.false_word().to_owned(),
            Kind::Scale => (i + 1).to_string(),
            Kind::Single | Kind::Multi => ((b'A' + i as u8) as char).to_string(),
        }
    }

    fn bars(&self, lang: Lang, mark_correct: bool) -> Vec<Bar> {
        (0..self.options as usize)
            .map(|i| Bar {
                label: self.label(lang, i),
                count: self.counts.get(i).copied().unwrap_or(0),
                correct: mark_correct && self.correct.as_deref().is_some_and(|c| c.contains((b'A' + i as u8) as char)),
            })
            .collect()
    }

    fn summary(&self, lang: Lang) -> String {
        let parts: Vec<String> = (0..self.options as usize)
            .map(|i| format!("{}: {}", self.label(lang, i), self.counts.get(i).unwrap_or(&0)))
            .collect();
        parts.join(", ")
    }
}

/// A student in the teacher's response grid: who has answered, never what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seat {
    /// The student's name (or the clicker's id when no student is assigned).
    pub name: String,
    /// Whether they have answered the current question.
    pub answered: bool,
}

/// The live part of the teacher's page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeacherLive {
    /// The class in session, if any.
    pub class_name: Option<String>,
    /// The current question, if any.
    pub question: Option<QuestionPanel>,
    /// The response grid.
    pub seats: Vec<Seat>,
}

/// The teacher's room page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeacherPage {
    /// The room.
    pub room: String,
    /// The live part.
    pub live: TeacherLive,
    /// The projector's read-only link.
    pub projector_url: String,
    /// The running session's attendance page, if a session runs.
    pub session_href: Option<String>,
    /// The room's clickers whose batteries need changing (low, or flat within a week).
    pub battery_warnings: Vec<String>,
    /// What went wrong with the last action, if anything.
    pub error: Option<String>,
}

/// The list of rooms.
pub fn rooms(chrome: &Chrome, rooms: &[RoomRow]) -> Markup {
    let lang = chrome.lang;
    page(
        chrome,
        lang.rooms(),
        None,
        "",
        html! {
            h1 { (lang.rooms()) }
            @if rooms.is_empty() { p { (lang.no_rooms()) } }
            @else {
                table {
                    thead { tr { th { (lang.room()) } th { (lang.lesson()) } th { (lang.devices()) } th {} } }
                    tbody {
                        @for r in rooms {
                            tr {
                                td { (r.code) }
                                td { @if let Some(c) = &r.class_name { (c) } @else { "—" } }
                                td { (r.clickers) }
                                td { a href={"/rooms/" (r.code)} { (lang.open_room()) } }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// The teacher's page for one room: controls, the live part, the projector link.
pub fn teacher(chrome: &Chrome, p: &TeacherPage) -> Markup {
    let lang = chrome.lang;
    let base = format!("/rooms/{}", p.room);
    let phase = p.live.question.as_ref().map(|q| q.phase);
    page(
        chrome,
        &format!("{} {}", lang.room(), p.room),
        Some(&format!("{base}/events")),
        "",
        html! {
            h1 { (lang.room()) " " (p.room) }
            @if let Some(error) = &p.error { p.error role="alert" { (error) } }
            @if !p.battery_warnings.is_empty() {
                p.notice role="status" { (lang.battery_warning(p.battery_warnings.len())) " " (p.battery_warnings.join(", ")) }
            }
            @match &p.live.class_name {
                None => {
                    p { (lang.no_lesson()) }
                    form method="post" action={(base) "/session"} {
                        label for="class_name" { (lang.class_name()) }
                        input #class_name name="class_name" required maxlength="64";
                        " " button type="submit" { (lang.start_lesson()) }
                    }
                }
                Some(_) => {
                    section aria-label=(lang.lesson()) {
                        @if phase == Some(Phase::Open) {
                            form.inline method="post" action={(base) "/question/close"} {
                                button type="submit" { (lang.close_question()) }
                            }
                            " "
                        }
                        @if phase == Some(Phase::Closed) {
                            form.inline method="post" action={(base) "/question/reveal"} {
                                button type="submit" { (lang.reveal()) }
                            }
                            " "
                        }
                        form.inline method="post" action={(base) "/session/end"} {
                            button.danger type="submit" { (lang.end_lesson()) }
                        }
                        @if let Some(href) = &p.session_href { " " a href=(href) { (lang.attendance()) } }
                    }
                    @if phase != Some(Phase::Open) {
                        fieldset {
                            legend { (lang.ask_question()) }
                            form method="post" action={(base) "/question"} {
                                label for="kind" { (lang.kind()) }
                                select #kind name="kind" {
                                    option value="single" { (lang.kind_single()) }
                                    option value="multi" { (lang.kind_multi()) }
                                    option value="truefalse" { (lang.kind_truefalse()) }
                                    option value="scale" { (lang.kind_scale()) }
                                }
                                label for="options" { (lang.options()) }
                                input #options name="options" type="number" min="2" max="5" value="4";
                                label for="correct" { (lang.correct_answer()) }
                                input #correct name="correct" maxlength="5" pattern="[A-Ea-e]{1,5}" placeholder="B";
                                label for="timer_s" { (lang.countdown()) }
                                input #timer_s name="timer_s" type="number" min="1" max="3600";
                                p { button type="submit" { (lang.open_question()) } }
                            }
                        }
                    }
                }
            }
            div #live { (teacher_live(lang, &p.live)) }
            fieldset {
                legend { (lang.projector_view()) }
                p { (lang.projector_link_help()) }
                p { a href=(p.projector_url) target="_blank" rel="noopener" { (p.projector_url) } }
                form method="post" action={(base) "/projector/rotate"} {
                    button.secondary type="submit" { (lang.new_link()) }
                }
            }
        },
    )
}

/// The live part of the teacher's page: the count, who has answered while the question is open,
/// the distribution once it is closed.
pub fn teacher_live(lang: Lang, live: &TeacherLive) -> Markup {
    html! {
        @if let Some(class) = &live.class_name { h2 { (lang.lesson()) ": " (class) } }
        @match &live.question {
            None => @if live.class_name.is_some() { p { (lang.no_question()) } },
            Some(q) => {
                h3 { (lang.question()) " " (q.number) " — " (phase_word(lang, q.phase)) }
                p.count data-count { (lang.answered(q.answered, q.expected)) }
                (clock(lang, q))
                @if q.phase == Phase::Open {
                    h4 { (lang.who_answered()) }
                    ul.grid {
                        @for seat in &live.seats {
                            li class=(if seat.answered { "answered" } else { "waiting" }) { (seat.name) }
                        }
                    }
                } @else {
                    h4 { (lang.distribution()) }
                    (chart::histogram(&q.bars(lang, true), &q.summary(lang)))
                }
            }
        }
    }
}

/// The projector's page, opened by its read-only link (`path`); a small language switch in a corner.
pub fn projector(
    lang: Lang,
    room: &str,
    path: &str,
    events: &str,
    question: Option<&QuestionPanel>,
    pairing: Option<&PairingPanel>,
) -> Markup {
    let chrome = Chrome { lang, user: None, links: vec![], path: path.to_owned() };
    page(
        &chrome,
        &format!("{} {}", lang.projector_view(), room),
        Some(events),
        "projector",
        html! {
            div #live { (projector_live(lang, question, pairing)) }
            a.lang href={"/lang/" (lang.other().code()) "?back=" (path)} lang=(lang.other().code()) {
                (lang.other().language_name())
            }
        },
    )
}

/// The live part of the projector: the question, the options, the countdown, "23 of 28", and the
/// histogram only once revealed; while a pairing window is open, its code first. Never a name.
pub fn projector_live(lang: Lang, question: Option<&QuestionPanel>, pairing: Option<&PairingPanel>) -> Markup {
    html! {
        @if let Some(p) = pairing { (projector_pairing(lang, p)) }
        @match question {
            None => @if pairing.is_none() { p.waiting { (lang.waiting_for_question()) } },
            Some(q) => {
                h1 { (lang.question()) " " (q.number) }
                ul.options { @for i in 0..q.options as usize { li { (q.label(lang, i)) } } }
                p.count { (lang.answered(q.answered, q.expected)) }
                (clock(lang, q))
                @if q.phase == Phase::Revealed {
                    (chart::histogram(&q.bars(lang, true), &q.summary(lang)))
                }
            }
        }
    }
}

fn clock(lang: Lang, q: &QuestionPanel) -> Markup {
    html! {
        @if let (Some(ms), Phase::Open) = (q.remaining_ms, q.phase) {
            (super::pairing::countdown(lang, ms))
        }
    }
}

fn phase_word(lang: Lang, phase: Phase) -> &'static str {
    match phase {
        Phase::Open => lang.is_open(),
        Phase::Closed => lang.is_closed(),
        Phase::Revealed => lang.is_revealed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question(phase: Phase, counts: Vec<u32>) -> QuestionPanel {
        QuestionPanel {
            number: 3,
            kind: Kind::Single,
            options: 4,
            phase,
            counts,
            answered: 23,
            expected: 28,
            correct: Some("B".into()),
            remaining_ms: Some(12_400),
        }
    }

    fn seats() -> Vec<Seat> {
        vec![Seat { name: "Anna".into(), answered: true }, Seat { name: "Bram".into(), answered: false }]
    }

    #[test]
    fn while_open_the_teacher_sees_who_answered_but_not_what() {
        let live = TeacherLive {
            class_name: Some("3A".into()),
            question: Some(question(Phase::Open, vec![0, 20, 3, 0])),
            seats: seats(),
        };
        let html = teacher_live(Lang::Nl, &live).into_string();
        assert!(html.contains("23 van 28 beantwoord"));
        assert!(html.contains("<li class=\"answered\">Anna</li>") && html.contains("<li class=\"waiting\">Bram</li>"));
        assert!(!html.contains("<svg"), "no distribution while the question is open");
        assert!(html.contains("data-remaining-ms=\"12400\"") && html.contains("<span class=\"n\">13</span>"));
    }

    #[test]
    fn after_close_the_teacher_sees_the_distribution() {
        let live = TeacherLive {
            class_name: Some("3A".into()),
            question: Some(question(Phase::Closed, vec![0, 23, 5, 0])),
            seats: seats(),
        };
        let html = teacher_live(Lang::En, &live).into_string();
        assert!(html.contains("<svg") && html.contains("B ✓"));
        assert!(!html.contains("Anna"), "the grid is gone once the question is closed");
        assert!(!html.contains("data-remaining-ms"), "no countdown once closed");
    }

    #[test]
    fn the_projector_shows_23_of_28_and_the_histogram_only_after_reveal() {
        let open = projector_live(Lang::Nl, Some(&question(Phase::Open, vec![])), None).into_string();
        assert!(open.contains("23 van 28 beantwoord") && !open.contains("<svg"));
        assert!(open.contains("<li>A</li><li>B</li><li>C</li><li>D</li>"));
        let revealed =
            projector_live(Lang::Nl, Some(&question(Phase::Revealed, vec![0, 23, 5, 0])), None).into_string();
        assert!(revealed.contains("<svg") && revealed.contains(">23</text>"));
        assert!(projector_live(Lang::En, None, None).into_string().contains("Waiting for the next question"));
        let page = projector(Lang::Nl, "r1", "/projector/ab", "/projector/ab/events", None, None).into_string();
        assert!(page.contains("href=\"/lang/en?back=/projector/ab\""), "a language switch here too");
        assert!(!page.contains("Uitloggen"), "nothing to log out of on the projector");
    }

    #[test]
    fn controls_follow_the_question() {
        let chrome = Chrome { lang: Lang::En, user: Some("t".into()), links: vec![], path: "/rooms/r1".into() };
        let mut p = TeacherPage {
            room: "r1".into(),
            live: TeacherLive { class_name: None, question: None, seats: vec![] },
            projector_url: "/projector/abc".into(),
            session_href: None,
            battery_warnings: vec!["Anna".into()],
            error: None,
        };
        let idle = teacher(&chrome, &p).into_string();
        assert!(idle.contains("1 clickers need new batteries soon: Anna"));
        assert!(idle.contains("action=\"/rooms/r1/session\"") && !idle.contains("question/close"));
        p.live =
            TeacherLive { class_name: Some("3A".into()), question: Some(question(Phase::Open, vec![])), seats: vec![] };
        let open = teacher(&chrome, &p).into_string();
        assert!(open.contains("question/close") && !open.contains("action=\"/rooms/r1/question\""));
        assert!(open.contains("data-live=\"/rooms/r1/events\""));
        p.live.question = Some(question(Phase::Closed, vec![0, 1, 0, 0]));
        let closed = teacher(&chrome, &p).into_string();
        assert!(closed.contains("question/reveal") && closed.contains("action=\"/rooms/r1/question\""));
    }

    #[test]
    fn true_false_and_scale_have_their_own_labels() {
        let mut q = question(Phase::Revealed, vec![1, 2]);
        q.kind = Kind::TrueFalse;
        assert_eq!(q.label(Lang::Nl, 0), "Waar");
        assert_eq!(q.label(Lang::Nl, 1), "Niet waar");
        q.kind = Kind::Scale;
        assert_eq!(q.label(Lang::En, 4), "5");
    }
}
