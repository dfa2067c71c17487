//! The classroom core, sans IO: sessions, questions and tallies per room. Decisions come out of
//! `judge_*`; state changes only through `record_*` after the store has committed, so the live tally
//! never shows an answer that is not on disk.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use firmware::protocol::{Choices, DeviceId, DisplayPhase, DisplayState, QuestionSpec, RoomCode};
use serde::Serialize;

pub mod attendance;
pub mod summary;

/// A question's place in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Taking answers.
    Open,
    /// No more answers; distribution not shown yet.
    Closed,
    /// Distribution (and correct answer) shown.
    Revealed,
}

/// A question asked in a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// Its id, from the store.
    pub id: u32,
    /// Kind and options.
    pub spec: QuestionSpec,
    /// The correct answer, if it has one.
    pub correct: Option<Choices>,
    /// Open, closed or revealed.
    pub phase: Phase,
    /// When its countdown ends (ms since the epoch), if it has one.
    pub closes_at_ms: Option<u64>,
    latest: HashMap<DeviceId, Choices>,
}

impl Question {
    /// A newly opened question.
    pub fn open(id: u32, spec: QuestionSpec, correct: Option<Choices>, closes_at_ms: Option<u64>) -> Self {
        Question { id, spec, correct, phase: Phase::Open, closes_at_ms, latest: HashMap::new() }
    }

    /// Answers per option, A first: the latest answer of each device counts once per letter.
    pub fn counts(&self) -> Vec<u32> {
        let mut counts = vec![0u32; self.spec.options() as usize];
        for choices in self.latest.values() {
            for b in choices.iter() {
                if let Some(c) = counts.get_mut(b.index() as usize) {
                    *c += 1;
                }
            }
        }
        counts
    }

    /// How many devices have answered.
    pub fn answered(&self) -> u32 {
        self.latest.len() as u32
    }
}

/// A class in a room, from start to end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Its id, from the store.
    pub id: i64,
    /// The class's name.
    pub class_name: String,
    /// When it started (ms since the epoch).
    pub started_ms: i64,
    /// The current (latest) question.
    pub question: Option<Question>,
}

#[derive(Debug, Default)]
struct Room {
    devices: BTreeSet<DeviceId>,
    session: Option<Session>,
}

/// What the core says of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Store it: it answers the open question.
    Accept,
    /// The question is not open (or is not the one answered): ack `closed`.
    Closed,
    /// The answer does not fit the question: reject `invalid_answer`.
    Invalid,
}

/// A teacher's action that does not fit the room's state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClassroomError {
    /// Starting a session while one runs.
    #[error("room {0} already has a session running")]
    SessionRunning(RoomCode),
    /// An action that needs a session.
    #[error("room {0} has no session running")]
    NoSession(RoomCode),
    /// An action that needs a question.
    #[error("room {0} has no question")]
    NoQuestion(RoomCode),
    /// Closing or revealing out of order.
    #[error("the question is {0:?}")]
    WrongPhase(Phase),
}

/// The live state of one room, as the JSON API and the views show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Live {
    /// The room.
    pub room: String,
    /// The running session, if any.
    pub session: Option<LiveSession>,
    /// The current question, if any.
    pub question: Option<LiveQuestion>,
    /// Clickers registered to the room: the students expected to answer.
    pub expected: u32,
    /// The pairing window open in the room, if any.
    pub pairing: Option<LivePairing>,
}

/// An open pairing window, for the technician's view and the projector (which shows the code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LivePairing {
    /// The code to type on the clicker, e.g. `BDAECAB`.
    pub code: String,
    /// When the window closes by itself.
    pub until_ms: i64,
    /// Clickers paired so far.
    pub paired: u32,
    /// Wrong codes so far.
    pub wrong: u32,
}

/// A running session, for the live view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveSession {
    /// Its id.
    pub id: i64,
    /// The class.
    pub class_name: String,
}

/// The current question, for the live view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveQuestion {
    /// Its id.
    pub id: u32,
    /// Its kind.
    pub kind: firmware::protocol::QuestionKind,
    /// How many options.
    pub options: u8,
    /// Open, closed or revealed.
    pub phase: Phase,
    /// Answers per option, A first (the teacher sees them live; the projector only after reveal).
    pub counts: Vec<u32>,
    /// Students who answered.
    pub answered: u32,
    /// The correct answer, if set.
    pub correct: Option<String>,
    /// When the countdown ends, if any.
    pub closes_at_ms: Option<u64>,
    /// The clickers that have answered, by id, in no particular order (who, never what: for the
    /// teacher's response grid).
    #[serde(skip)]
    pub answered_by: Vec<DeviceId>,
}

/// Every room's sessions and questions.
#[derive(Debug, Default)]
pub struct Classroom {
    rooms: BTreeMap<RoomCode, Room>,
}

impl Classroom {
    /// An empty classroom.
    pub fn new() -> Self {
        Self::default()
    }

    /// A clicker belongs to `room` (it is expected to answer there).
    pub fn add_device(&mut self, room: &RoomCode, device: DeviceId) {
        for r in self.rooms.values_mut() {
            r.devices.remove(&device);
        }
        self.rooms.entry(room.clone()).or_default().devices.insert(device);
    }

    /// A clicker no longer belongs anywhere (unpaired, replaced, a loaner returned).
    pub fn remove_device(&mut self, device: &DeviceId) {
        for r in self.rooms.values_mut() {
            r.devices.remove(device);
        }
    }

    /// The rooms known.
    pub fn rooms(&self) -> impl Iterator<Item = &RoomCode> {
        self.rooms.keys()
    }

    /// The running session in `room`.
    pub fn session(&self, room: &RoomCode) -> Option<&Session> {
        self.rooms.get(room)?.session.as_ref()
    }

    /// Starts a session (already stored with `id`).
    pub fn start_session(&mut self, room: &RoomCode, session: Session) -> Result<(), ClassroomError> {
        let r = self.rooms.entry(room.clone()).or_default();
        if r.session.is_some() {
            return Err(ClassroomError::SessionRunning(room.clone()));
        }
        r.session = Some(session);
        Ok(())
    }

    /// Checks a session can start in `room`.
    pub fn can_start_session(&self, room: &RoomCode) -> Result<(), ClassroomError> {
        match self.session(room) {
            Some(_) => Err(ClassroomError::SessionRunning(room.clone())),
            None => Ok(()),
        }
    }

    /// Ends the running session.
    pub fn end_session(&mut self, room: &RoomCode) -> Result<Session, ClassroomError> {
        self.rooms.get_mut(room).and_then(|r| r.session.take()).ok_or_else(|| ClassroomError::NoSession(room.clone()))
    }

    fn session_mut(&mut self, room: &RoomCode) -> Result<&mut Session, ClassroomError> {
        self.rooms.get_mut(room).and_then(|r| r.session.as_mut()).ok_or_else(|| ClassroomError::NoSession(room.clone()))
    }

    /// Opens a question (already stored), replacing the previous one, which is closed.
    pub fn open_question(&mut self, room: &RoomCode, question: Question) -> Result<(), ClassroomError> {
        self.session_mut(room)?.question = Some(question);
        Ok(())
    }

    /// The current question's id, if it is in `phase`.
    pub fn question_in(&self, room: &RoomCode, phase: Phase) -> Result<u32, ClassroomError> {
        let q = self.session(room).ok_or_else(|| ClassroomError::NoSession(room.clone()))?;
        let q = q.question.as_ref().ok_or_else(|| ClassroomError::NoQuestion(room.clone()))?;
        if q.phase == phase { Ok(q.id) } else { Err(ClassroomError::WrongPhase(q.phase)) }
    }

    /// Moves the current question to `phase` (open → closed → revealed).
    pub fn set_phase(&mut self, room: &RoomCode, phase: Phase) -> Result<(), ClassroomError> {
        let session = self.session_mut(room)?;
        let q = session.question.as_mut().ok_or_else(|| ClassroomError::NoQuestion(room.clone()))?;
        q.phase = phase;
        Ok(())
    }

    /// Questions whose countdown has run out by `now_ms`.
    pub fn due_to_close(&self, now_ms: u64) -> Vec<RoomCode> {
        self.rooms
            .iter()
            .filter(|(_, r)| {
                r.session
                    .as_ref()
                    .and_then(|s| s.question.as_ref())
                    .is_some_and(|q| q.phase == Phase::Open && q.closes_at_ms.is_some_and(|at| at <= now_ms))
            })
            .map(|(code, _)| code.clone())
            .collect()
    }

    /// The earliest countdown end among open questions.
    pub fn next_deadline(&self) -> Option<u64> {
        self.rooms
            .values()
            .filter_map(|r| r.session.as_ref()?.question.as_ref())
            .filter(|q| q.phase == Phase::Open)
            .filter_map(|q| q.closes_at_ms)
            .min()
    }

    /// Whether an answer from `room` to question `q` should be stored.
    pub fn judge_answer(&self, room: &RoomCode, q: u32, choices: Choices) -> Verdict {
        let Some(question) = self.session(room).and_then(|s| s.question.as_ref()) else { return Verdict::Closed };
        if question.id != q || question.phase != Phase::Open {
            return Verdict::Closed;
        }
        if question.spec.accepts(choices) { Verdict::Accept } else { Verdict::Invalid }
    }

    /// Counts a stored answer: the latest answer per device replaces any earlier one.
    pub fn record_answer(&mut self, room: &RoomCode, device: &DeviceId, q: u32, choices: Choices) {
        let Some(question) =
            self.rooms.get_mut(room).and_then(|r| r.session.as_mut()).and_then(|s| s.question.as_mut())
        else {
            return;
        };
        if question.id == q {
            question.latest.insert(device.clone(), choices);
        }
    }

    /// The live state of `room`.
    pub fn live(&self, room: &RoomCode) -> Live {
        let r = self.rooms.get(room);
        let session = r.and_then(|r| r.session.as_ref());
        Live {
            room: room.to_string(),
            session: session.map(|s| LiveSession { id: s.id, class_name: s.class_name.clone() }),
            question: session.and_then(|s| s.question.as_ref()).map(|q| LiveQuestion {
                id: q.id,
                kind: q.spec.kind(),
                options: q.spec.options(),
                phase: q.phase,
                counts: q.counts(),
                answered: q.answered(),
                correct: q.correct.map(|c| c.to_string()),
                closes_at_ms: q.closes_at_ms,
                // Built after every commit: a copy of the ids, not sorted (the response grid looks
                // each seat up), so a 1,000-seat hall costs a copy, not a sort, per answer.
                answered_by: q.latest.keys().cloned().collect(),
            }),
            expected: r.map_or(0, |r| r.devices.len() as u32),
            pairing: None,
        }
    }

    /// What the projector shows for `room`: the count while open, the distribution once revealed,
    /// never a name. `None` when no question is on screen.
    pub fn display(&self, room: &RoomCode) -> Option<DisplayState> {
        let r = self.rooms.get(room)?;
        let q = r.session.as_ref()?.question.as_ref()?;
        let revealed = q.phase == Phase::Revealed;
        Some(DisplayState {
            q: q.id,
            spec: q.spec,
            phase: match q.phase {
                Phase::Open => DisplayPhase::Open,
                Phase::Closed => DisplayPhase::Closed,
                Phase::Revealed => DisplayPhase::Revealed,
            },
            answered: q.answered(),
            expected: r.devices.len() as u32,
            counts: if revealed { q.counts().into_iter().collect() } else { heapless::Vec::new() },
            correct: if revealed { q.correct } else { None },
            closes_at_ms: q.closes_at_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use firmware::protocol::{Button, QuestionKind};

    fn room() -> RoomCode {
        RoomCode::parse("b-204").unwrap()
    }

    fn dev(i: usize) -> DeviceId {
        DeviceId::parse(&format!("c-{i:04}")).unwrap()
    }

    fn class_of(n: usize) -> Classroom {
        let mut c = Classroom::new();
        for i in 0..n {
            c.add_device(&room(), dev(i));
        }
        let session = Session { id: 1, class_name: "3A".into(), started_ms: 0, question: None };
        c.start_session(&room(), session).unwrap();
        c
    }

    fn four_options() -> QuestionSpec {
        QuestionSpec::new(QuestionKind::Single, 4).unwrap()
    }

    #[test]
    fn twenty_eight_students_twenty_three_answer_b_and_five_c() {
        let mut c = class_of(28);
        c.open_question(&room(), Question::open(7, four_options(), Some(Choices::one(Button::B)), None)).unwrap();
        for i in 0..28 {
            let answer = Choices::one(if i < 23 { Button::B } else { Button::C });
            assert_eq!(c.judge_answer(&room(), 7, answer), Verdict::Accept);
            c.record_answer(&room(), &dev(i), 7, answer);
        }
        let live = c.live(&room());
        let q = live.question.unwrap();
        assert_eq!((q.answered, live.expected), (28, 28));
        assert_eq!(q.counts, [0, 23, 5, 0]);
        let display = c.display(&room()).unwrap();
        assert!(display.counts.is_empty(), "the projector shows no distribution before the reveal");
        c.set_phase(&room(), Phase::Closed).unwrap();
        c.set_phase(&room(), Phase::Revealed).unwrap();
        let display = c.display(&room()).unwrap();
        assert_eq!(display.counts.as_slice(), [0, 23, 5, 0]);
        assert_eq!(display.correct, Some(Choices::one(Button::B)));
    }

    #[test]
    fn a_changed_answer_counts_once_the_latest() {
        let mut c = class_of(3);
        c.open_question(&room(), Question::open(1, four_options(), None, None)).unwrap();
        c.record_answer(&room(), &dev(0), 1, Choices::one(Button::A));
        c.record_answer(&room(), &dev(0), 1, Choices::one(Button::D));
        let q = c.live(&room()).question.unwrap();
        assert_eq!((q.answered, q.counts), (1, vec![0, 0, 0, 1]));
    }

    #[test]
    fn answers_to_a_closed_or_other_question_are_closed() {
        let mut c = class_of(2);
        assert_eq!(c.judge_answer(&room(), 1, Choices::one(Button::A)), Verdict::Closed, "no question");
        c.open_question(&room(), Question::open(1, four_options(), None, None)).unwrap();
        assert_eq!(c.judge_answer(&room(), 2, Choices::one(Button::A)), Verdict::Closed, "another question");
        assert_eq!(c.judge_answer(&room(), 1, Choices::one(Button::E)), Verdict::Invalid, "E not offered");
        c.set_phase(&room(), Phase::Closed).unwrap();
        assert_eq!(c.judge_answer(&room(), 1, Choices::one(Button::A)), Verdict::Closed);
    }

    #[test]
    fn a_countdown_says_when_it_is_due() {
        let mut c = class_of(1);
        c.open_question(&room(), Question::open(1, four_options(), None, Some(10_000))).unwrap();
        assert_eq!(c.next_deadline(), Some(10_000));
        assert!(c.due_to_close(9_999).is_empty());
        assert_eq!(c.due_to_close(10_000), [room()]);
    }

    #[test]
    fn multi_select_counts_every_letter() {
        let mut c = class_of(2);
        let spec = QuestionSpec::new(QuestionKind::Multi, 3).unwrap();
        c.open_question(&room(), Question::open(1, spec, None, None)).unwrap();
        c.record_answer(&room(), &dev(0), 1, Choices::parse("AC").unwrap());
        c.record_answer(&room(), &dev(1), 1, Choices::parse("C").unwrap());
        assert_eq!(c.live(&room()).question.unwrap().counts, [1, 0, 2]);
    }

    #[test]
    fn a_second_session_in_a_room_is_refused() {
        let mut c = class_of(1);
        let again = Session { id: 2, class_name: "3B".into(), started_ms: 0, question: None };
        assert_eq!(c.start_session(&room(), again), Err(ClassroomError::SessionRunning(room())));
    }
}
