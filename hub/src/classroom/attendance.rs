//! Attendance, sans-IO: a session opens with a check-in window; a student's first press or check-in
//! inside it marks them present, after it late; never seen by the end of the session, absent. A
//! teacher's override (present, late, absent, excused) beats all of that; the newest one counts.

use serde::Serialize;

/// A student's attendance in one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mark {
    /// Seen within the check-in window.
    Present,
    /// Seen after the window.
    Late,
    /// Not seen by the end of the session.
    Absent,
    /// Absent with a reason (only ever set by a teacher).
    Excused,
}

impl Mark {
    /// Every mark.
    pub const ALL: [Mark; 4] = [Mark::Present, Mark::Late, Mark::Absent, Mark::Excused];

    /// The name stored and exported.
    pub const fn as_str(self) -> &'static str {
        match self {
            Mark::Present => "present",
            Mark::Late => "late",
            Mark::Absent => "absent",
            Mark::Excused => "excused",
        }
    }

    /// Parses a stored or posted name.
    pub fn parse(s: &str) -> Option<Mark> {
        Mark::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// A session's timing, as attendance needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// When the session started.
    pub started_ms: i64,
    /// How long the check-in window lasts.
    pub window_ms: i64,
    /// When the session ended, if it has.
    pub ended_ms: Option<i64>,
}

/// The mark the clicker earns: `None` while a running session has not seen the student yet.
pub fn judge(window: Window, first_seen_ms: Option<i64>) -> Option<Mark> {
    match first_seen_ms {
        Some(seen) if seen <= window.started_ms + window.window_ms => Some(Mark::Present),
        Some(_) => Some(Mark::Late),
        None if window.ended_ms.is_some() => Some(Mark::Absent),
        None => None,
    }
}

/// A teacher's override, kept with who made it and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Override {
    /// The mark set.
    pub mark: Mark,
    /// The account that set it.
    pub by: String,
    /// When.
    pub at_ms: i64,
}

/// One student's attendance in one session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attendance {
    /// The student (their name, or the clicker's id while no student is assigned).
    pub student: String,
    /// Their first press or check-in in the session.
    pub first_seen_ms: Option<i64>,
    /// What the clicker earned.
    pub earned: Option<Mark>,
    /// Every override, oldest first.
    pub overrides: Vec<Override>,
    /// Which ways they checked in.
    pub via: Via,
}

/// The ways a student showed up in a session: their clicker (a check-in or an answer) and their
/// school card at the hub's reader, which a borrowed clicker cannot fake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Via {
    /// By clicker.
    pub clicker: bool,
    /// By card.
    pub card: bool,
}

impl Attendance {
    /// Builds a student's attendance from what the store holds.
    pub fn new(student: String, window: Window, first_seen_ms: Option<i64>, overrides: Vec<Override>) -> Attendance {
        Attendance { student, first_seen_ms, earned: judge(window, first_seen_ms), overrides, via: Via::default() }
    }

    /// The mark that counts: the newest override, else what the clicker earned.
    pub fn mark(&self) -> Option<Mark> {
        self.overrides.last().map(|o| o.mark).or(self.earned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    const START: i64 = 1_000_000;

    fn running() -> Window {
        Window { started_ms: START, window_ms: 10 * MIN, ended_ms: None }
    }

    #[test]
    fn inside_the_ten_minute_window_present_after_it_late() {
        assert_eq!(judge(running(), Some(START + 2 * MIN)), Some(Mark::Present));
        assert_eq!(judge(running(), Some(START + 10 * MIN)), Some(Mark::Present), "the last moment still counts");
        assert_eq!(judge(running(), Some(START + 10 * MIN + 1)), Some(Mark::Late));
    }

    #[test]
    fn not_seen_is_pending_while_the_lesson_runs_and_absent_once_it_ends() {
        assert_eq!(judge(running(), None), None);
        let ended = Window { ended_ms: Some(START + 50 * MIN), ..running() };
        assert_eq!(judge(ended, None), Some(Mark::Absent));
    }

    #[test]
    fn the_newest_override_counts_and_all_are_kept() {
        let first = Override { mark: Mark::Absent, by: "docent".into(), at_ms: START + MIN };
        let second = Override { mark: Mark::Excused, by: "admin".into(), at_ms: START + 2 * MIN };
        let a = Attendance::new("Anna".into(), running(), Some(START + 20 * MIN), vec![first, second]);
        assert_eq!(a.earned, Some(Mark::Late));
        assert_eq!(a.mark(), Some(Mark::Excused));
        assert_eq!(a.overrides.len(), 2);
        assert_eq!(Mark::parse("excused"), Some(Mark::Excused));
        assert_eq!(Mark::parse("gone"), None);
    }
}
