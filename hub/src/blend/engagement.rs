//! The blended engagement model, sans-IO (written down in `docs/engagement.md`): per student per
//! week, four parts — attendance rate, in-class response rate, online active days, online activity —
//! each normalised within the class (÷ the class's highest that week), an in-class score and an
//! online score (the means of their two parts), a blended index with the teacher's weights, and one
//! of four groups. A student marked as having no online access is judged on class alone.

use serde::Serialize;

/// One student's week, as counted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Week {
    /// The student.
    pub student: String,
    /// Sessions of the class that week (excused ones not counted).
    pub sessions: u32,
    /// Of those, attended (present or late).
    pub attended: u32,
    /// Questions asked in the sessions attended.
    pub asked: u32,
    /// Of those, answered.
    pub answered: u32,
    /// Days with any online activity.
    pub online_days: u32,
    /// Online events (views, submissions, statements).
    pub online_events: u32,
    /// Of those, completions (a completed or passed activity, a submitted attempt).
    pub online_completions: u32,
    /// The sum of the scores (0–1) of the scored ones.
    pub online_score_sum: f64,
    /// How many were scored.
    pub online_scored: u32,
    /// The teacher marked this student as having no online access at home.
    pub no_online_access: bool,
}

/// How much each part weighs in the blended index (the teacher can change them).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Weights {
    /// Attendance rate.
    pub attendance: f64,
    /// In-class response rate.
    pub response: f64,
    /// Online active days.
    pub online_days: f64,
    /// Online activity.
    pub online_activity: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights { attendance: 0.25, response: 0.25, online_days: 0.25, online_activity: 0.25 }
    }
}

/// Which of the four groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    /// Engaged in class and online.
    Both,
    /// Online, not in class.
    OnlineOnly,
    /// In class, not online.
    InClassOnly,
    /// Neither.
    Neither,
}

/// A score at or above this counts as engaged (in class, or online).
pub const ENGAGED: f64 = 0.5;

/// Every number for one student, so each can be opened into its parts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Picture {
    /// The counts it comes from.
    pub week: Week,
    /// attended ÷ sessions (0 without sessions).
    pub attendance_rate: f64,
    /// answered ÷ asked (0 without questions).
    pub response_rate: f64,
    /// The four parts normalised within the class: each ÷ the class's highest that week.
    pub normalised: [f64; 4],
    /// Mean of the two in-class parts.
    pub in_class: f64,
    /// Mean of the two online parts; `None` without online access.
    pub online: Option<f64>,
    /// The weighted blend (class parts alone, reweighted, without online access).
    pub index: f64,
    /// The group.
    pub group: Group,
}

impl Week {
    /// The mean online score (0–1), if anything was scored.
    pub fn online_score(&self) -> Option<f64> {
        (self.online_scored > 0).then(|| self.online_score_sum / f64::from(self.online_scored))
    }
}

/// One piece of online activity, as the picture counts it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Online {
    /// When (ms since the epoch).
    pub at_ms: i64,
    /// How many events (a Canvas row counts its views).
    pub count: u32,
    /// Whether it completed something.
    pub completed: bool,
    /// Its score, 0–1, if scored.
    pub score: Option<f64>,
}

fn ratio(part: u32, whole: u32) -> f64 {
    if whole == 0 { 0.0 } else { f64::from(part) / f64::from(whole) }
}

/// The class's picture for one week.
pub fn picture(weeks: &[Week], w: &Weights) -> Vec<Picture> {
    // Online activity is itself three measures — events, completions, mean score — each divided by
    // the class's highest, then averaged over those that anyone in the class has.
    let online_access = |s: &Week| !s.no_online_access;
    let top_of = |f: &dyn Fn(&Week) -> f64| weeks.iter().filter(|s| online_access(s)).map(f).fold(0.0f64, f64::max);
    let measures: [&dyn Fn(&Week) -> f64; 3] =
        [&|s| f64::from(s.online_events), &|s| f64::from(s.online_completions), &|s| s.online_score().unwrap_or(0.0)];
    let tops: Vec<f64> = measures.iter().map(|m| top_of(*m)).collect();
    let activity = |s: &Week| {
        let parts: Vec<f64> = measures.iter().zip(&tops).filter(|(_, t)| **t > 0.0).map(|(m, t)| m(s) / t).collect();
        if parts.is_empty() { 0.0 } else { parts.iter().sum::<f64>() / parts.len() as f64 }
    };
    let raw: Vec<[f64; 4]> = weeks
        .iter()
        .map(|s| [ratio(s.attended, s.sessions), ratio(s.answered, s.asked), f64::from(s.online_days), activity(s)])
        .collect();
    // The class's highest per part; online parts only over students who have online access.
    let mut top = [0.0f64; 4];
    for (r, s) in raw.iter().zip(weeks) {
        for (i, v) in r.iter().enumerate() {
            if i < 2 || !s.no_online_access {
                top[i] = top[i].max(*v);
            }
        }
    }
    weeks
        .iter()
        .zip(&raw)
        .map(|(s, r)| {
            let norm: [f64; 4] = std::array::from_fn(|i| if top[i] > 0.0 { r[i] / top[i] } else { 0.0 });
            let in_class = (norm[0] + norm[1]) / 2.0;
            let online = (!s.no_online_access).then(|| (norm[2] + norm[3]) / 2.0);
            let index = if s.no_online_access {
                let class_weight = w.attendance + w.response;
                if class_weight > 0.0 { (w.attendance * norm[0] + w.response * norm[1]) / class_weight } else { 0.0 }
            } else {
                let total = w.attendance + w.response + w.online_days + w.online_activity;
                if total > 0.0 {
                    (w.attendance * norm[0]
                        + w.response * norm[1]
                        + w.online_days * norm[2]
                        + w.online_activity * norm[3])
                        / total
                } else {
                    0.0
                }
            };
            let group = match (in_class >= ENGAGED, online.map(|o| o >= ENGAGED)) {
                (true, Some(true)) => Group::Both,
                (false, Some(true)) => Group::OnlineOnly,
                (true, _) => Group::InClassOnly,
                (false, _) => Group::Neither,
            };
            Picture {
                week: s.clone(),
                attendance_rate: r[0],
                response_rate: r[1],
                normalised: norm,
                in_class,
                online,
                index,
                group,
            }
        })
        .collect()
}

/// One lesson, as a week's counts need it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lesson {
    /// Each student on the lesson's list with their mark (`None`: not seen in a running lesson).
    pub marks: Vec<(String, Option<crate::classroom::attendance::Mark>)>,
    /// Questions asked.
    pub asked: u32,
    /// Questions each student answered.
    pub answered: std::collections::BTreeMap<String, u32>,
}

/// Counts a class's week from its lessons and the online activity in that week. `student_of` turns
/// an online identity into the class's student it belongs to (after matching), `day_of` a time into
/// a day number.
pub fn count_week(
    lessons: &[Lesson],
    online: &std::collections::BTreeMap<String, Vec<Online>>,
    student_of: impl Fn(&str) -> Option<String>,
    day_of: impl Fn(i64) -> i64,
    no_online_access: &std::collections::BTreeSet<String>,
) -> Vec<Week> {
    use crate::classroom::attendance::Mark;
    let mut weeks: std::collections::BTreeMap<String, Week> = std::collections::BTreeMap::new();
    let blank = |student: &str| Week {
        student: student.to_owned(),
        sessions: 0,
        attended: 0,
        asked: 0,
        answered: 0,
        online_days: 0,
        online_events: 0,
        online_completions: 0,
        online_score_sum: 0.0,
        online_scored: 0,
        no_online_access: no_online_access.contains(student),
    };
    for lesson in lessons {
        for (student, mark) in &lesson.marks {
            let w = weeks.entry(student.clone()).or_insert_with(|| blank(student));
            if *mark == Some(Mark::Excused) {
                continue;
            }
            w.sessions += 1;
            if matches!(mark, Some(Mark::Present | Mark::Late)) {
                w.attended += 1;
                w.asked += lesson.asked;
                w.answered += lesson.answered.get(student).copied().unwrap_or(0).min(lesson.asked);
            }
        }
    }
    let mut days: std::collections::BTreeMap<String, std::collections::BTreeSet<i64>> = Default::default();
    for (identity, events) in online {
        let Some(student) = student_of(identity) else { continue };
        let Some(w) = weeks.get_mut(&student) else { continue };
        for e in events {
            w.online_events += e.count;
            w.online_completions += u32::from(e.completed);
            if let Some(score) = e.score {
                w.online_score_sum += score.clamp(0.0, 1.0);
                w.online_scored += 1;
            }
            days.entry(student.clone()).or_default().insert(day_of(e.at_ms));
        }
    }
    for (student, d) in days {
        if let Some(w) = weeks.get_mut(&student) {
            w.online_days = d.len() as u32;
        }
    }
    weeks.into_values().collect()
}

/// The trend: this week's index against the mean of the earlier weeks' (`None` without earlier).
pub fn trend(index: f64, earlier: &[f64]) -> Option<f64> {
    (!earlier.is_empty()).then(|| index - earlier.iter().sum::<f64>() / earlier.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn week(
        student: &str,
        attended: u32,
        answered: u32,
        online_days: u32,
        online_events: u32,
        no_online_access: bool,
    ) -> Week {
        Week {
            student: student.into(),
            sessions: 4,
            attended,
            asked: 10,
            answered,
            online_days,
            online_events,
            online_completions: 0,
            online_score_sum: 0.0,
            online_scored: 0,
            no_online_access,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    /// Worked out by hand (docs/engagement.md has the same class):
    /// Anna 4/4 lessons, 9/10 answers, 5 days, 40 events; Bram 2/4, 3/10, 5 days, 20 events;
    /// Cem 4/4, 10/10, 0 days, 0 events, no online access; Daan 1/4, 2/10, 1 day, 10 events.
    /// Highest: attendance 1, response 1.0, days 5, events 40 (Cem's zeros do not count online).
    #[test]
    fn a_class_of_four_worked_out_by_hand() {
        let class = [
            week("Anna", 4, 9, 5, 40, false),
            week("Bram", 2, 3, 5, 20, false),
            week("Cem", 4, 10, 0, 0, true),
            week("Daan", 1, 2, 1, 10, false),
        ];
        let p = picture(&class, &Weights::default());
        // Anna: parts 1, 0.9, 1, 1 → in class 0.95, online 1, index 0.975, both.
        assert!(close(p[0].in_class, 0.95) && p[0].online == Some(1.0) && close(p[0].index, 0.975));
        assert_eq!(p[0].group, Group::Both);
        // Bram: 0.5, 0.3, 1, 0.5 → in class 0.4, online 0.75, index 0.575, online only.
        assert!(close(p[1].in_class, 0.4) && p[1].online.is_some_and(|o| close(o, 0.75)) && close(p[1].index, 0.575));
        assert_eq!(p[1].group, Group::OnlineOnly);
        // Cem: 1, 1 → in class 1, no online score, index from class parts alone: 1, in class only.
        assert!(close(p[2].index, 1.0) && p[2].online.is_none());
        assert_eq!(p[2].group, Group::InClassOnly, "no internet at home is not disengaged");
        // Daan: 0.25, 0.2, 0.2, 0.25 → in class 0.225, online 0.225, index 0.225, neither.
        assert!(close(p[3].in_class, 0.225) && close(p[3].index, 0.225));
        assert_eq!(p[3].group, Group::Neither);
    }

    #[test]
    fn a_week_is_counted_from_lessons_marks_answers_and_matched_online_activity() {
        use std::collections::{BTreeMap, BTreeSet};

        use crate::classroom::attendance::Mark;
        let lesson = |marks: &[(&str, Option<Mark>)], asked: u32, answered: &[(&str, u32)]| Lesson {
            marks: marks.iter().map(|(s, m)| (s.to_string(), *m)).collect(),
            asked,
            answered: answered.iter().map(|(s, n)| (s.to_string(), *n)).collect(),
        };
        let lessons = [
            lesson(
                &[("Anna", Some(Mark::Present)), ("Bram", Some(Mark::Late)), ("Cem", Some(Mark::Excused))],
                4,
                &[("Anna", 4), ("Bram", 1)],
            ),
            lesson(
                &[("Anna", Some(Mark::Present)), ("Bram", Some(Mark::Absent)), ("Cem", Some(Mark::Present))],
                6,
                &[("Anna", 5), ("Bram", 2), ("Cem", 6)],
            ),
        ];
        const DAY: i64 = 86_400_000;
        let ev =
            |at_ms: i64, count: u32, completed: bool, score: Option<f64>| Online { at_ms, count, completed, score };
        let online: BTreeMap<String, Vec<Online>> = [
            (
                "name:Anna de Vries".to_owned(),
                vec![ev(DAY + 5, 1, false, None), ev(DAY + 9, 2, true, Some(0.8)), ev(3 * DAY, 1, true, Some(0.6))],
            ),
            ("canvas:1|Zoë".to_owned(), vec![ev(DAY, 7, false, None)]),
        ]
        .into();
        let student_of = |identity: &str| (identity == "name:Anna de Vries").then(|| "Anna".to_owned());
        let no_access: BTreeSet<String> = ["Cem".to_owned()].into();
        let weeks = count_week(&lessons, &online, student_of, |ms| ms / DAY, &no_access);
        let by = |name: &str| weeks.iter().find(|w| w.student == name).unwrap().clone();
        let anna = by("Anna");
        assert_eq!((anna.sessions, anna.attended, anna.asked, anna.answered), (2, 2, 10, 9));
        assert_eq!((anna.online_days, anna.online_events), (2, 4), "three events on two days");
        assert_eq!(anna.online_completions, 2);
        assert!(anna.online_score().is_some_and(|s| close(s, 0.7)));
        let bram = by("Bram");
        assert_eq!(
            (bram.sessions, bram.attended, bram.asked, bram.answered),
            (2, 1, 4, 1),
            "answers in a lesson he missed do not count"
        );
        let cem = by("Cem");
        assert_eq!((cem.sessions, cem.attended), (1, 1), "the excused lesson is left out");
        assert!(cem.no_online_access);
        assert_eq!(weeks.len(), 3, "Zoë is not in this class");
    }

    /// Online activity with completions and scores: Anna 40 events, 4 completions, mean score 0.9;
    /// Bram 20 events, 1 completion, 0.45. Activity = mean of events, completions and score, each ÷ the
    /// highest: Anna (1 + 1 + 1) / 3 = 1; Bram (0.5 + 0.25 + 0.5) / 3 ≈ 0.4167.
    #[test]
    fn online_activity_counts_events_completions_and_scores() {
        let mut anna = week("Anna", 4, 9, 5, 40, false);
        (anna.online_completions, anna.online_score_sum, anna.online_scored) = (4, 1.8, 2);
        let mut bram = week("Bram", 2, 3, 5, 20, false);
        (bram.online_completions, bram.online_score_sum, bram.online_scored) = (1, 0.45, 1);
        let p = picture(&[anna, bram], &Weights::default());
        assert!(close(p[0].normalised[3], 1.0));
        assert!(close(p[1].normalised[3], (0.5 + 0.25 + 0.5) / 3.0), "{}", p[1].normalised[3]);
    }

    #[test]
    fn weights_move_the_index_and_the_trend_compares_with_earlier_weeks() {
        let class = [week("Anna", 4, 9, 5, 40, false), week("Bram", 2, 3, 5, 20, false)];
        let online_heavy = Weights { attendance: 0.0, response: 0.0, online_days: 1.0, online_activity: 1.0 };
        let p = picture(&class, &online_heavy);
        assert!(close(p[1].index, 0.75));
        assert_eq!(trend(0.6, &[0.4, 0.5]).map(|t| (t * 100.0).round()), Some(15.0));
        assert_eq!(trend(0.6, &[]), None);
        assert!(picture(&[], &Weights::default()).is_empty());
    }
}
