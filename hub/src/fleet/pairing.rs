//! Pairing on the hub, sans-IO: one pairing window per room (a code, a mode, a deadline, a budget of
//! wrong codes) and the key exchanges under way. Messages, time and randomness in; replies and
//! decisions out. The engine stores what it decides and publishes the replies; `docs/pairing.md`
//! gives the protocol and its threat model.

use std::collections::{BTreeMap, HashMap, HashSet};

use firmware::pake::{Exchange, Keys, PairCode, tags_equal};
use firmware::protocol::pairing::{Bytes, PairConfirm, PairRefusal, PairReply, PairStart};
use firmware::protocol::{ClaimId, DeviceId, RoomCode};

/// A window's length unless asked otherwise.
pub const DEFAULT_SECONDS: u32 = 60;
/// The longest window (as ZigBee's permit-join).
pub const MAX_SECONDS: u32 = 254;
/// Wrong codes a window takes before it closes: each is one guess, so a bystander's chance per window
/// is at most 5 in 78,125.
pub const MAX_WRONG: u32 = 5;
/// Exchanges under way at once per room; a flood of starts beyond it is refused as busy.
pub const MAX_PENDING: usize = 32;
/// How long the hub waits for a clicker's confirmation.
pub const EXCHANGE_TTL_MS: i64 = 30_000;

/// Whom the clickers paired in a window belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// To the room, to no one yet (the technician assigns students later).
    Room,
    /// The next clicker goes to this student; `replaces` (a broken clicker) is retired, and the
    /// student's history stays theirs.
    Student {
        /// The student.
        student: String,
        /// The clicker it replaces.
        replaces: Option<DeviceId>,
    },
    /// Each clicker goes to the next student of the class (roster order) who has none.
    ClassInOrder {
        /// The class's sourcedId.
        class: String,
    },
    /// One clicker lent to a student for one session: retired when the room's session ends.
    Loaner {
        /// The student.
        student: String,
    },
}

impl Mode {
    /// Whether the window closes after one clicker.
    pub fn one_clicker(&self) -> bool {
        matches!(self, Mode::Student { .. } | Mode::Loaner { .. })
    }

    /// `(mode, target, replaces)` as the store keeps them.
    pub fn to_columns(&self) -> (&'static str, Option<&str>, Option<&str>) {
        match self {
            Mode::Room => ("room", None, None),
            Mode::Student { student, replaces } => ("student", Some(student), replaces.as_ref().map(|d| d.as_str())),
            Mode::ClassInOrder { class } => ("class", Some(class), None),
            Mode::Loaner { student } => ("loaner", Some(student), None),
        }
    }

    /// The mode back from the store's columns.
    pub fn from_columns(mode: &str, target: Option<String>, replaces: Option<String>) -> Option<Mode> {
        Some(match (mode, target) {
            ("room", _) => Mode::Room,
            ("student", Some(student)) => {
                Mode::Student { student, replaces: replaces.and_then(|r| DeviceId::parse(&r).ok()) }
            }
            ("class", Some(class)) => Mode::ClassInOrder { class },
            ("loaner", Some(student)) => Mode::Loaner { student },
            _ => return None,
        })
    }
}

/// An open pairing window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Its id in the store.
    pub id: i64,
    /// The room.
    pub room: RoomCode,
    /// Whom the clickers go to.
    pub mode: Mode,
    /// The code shown on the projector.
    pub code: PairCode,
    /// When it closes by itself.
    pub until_ms: i64,
    /// Wrong codes so far.
    pub wrong: u32,
    /// Clickers paired so far.
    pub paired: u32,
}

/// What to answer a start with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// The hub's share: publish it on the claim's reply topic.
    Reply(PairReply),
    /// Publish this refusal on the claim's done topic.
    Refuse(PairRefusal),
    /// Say nothing (a replayed claim, or a share that is not a point).
    Ignore,
}

/// What a confirmation decided.
pub enum Confirmed {
    /// The code was right: issue a device id under this window's mode, derive its key from `keys`.
    Accept {
        /// The window (with the pairing not yet counted: see [`Pairings::paired`]).
        window: Window,
        /// The exchange's keys.
        keys: Keys,
    },
    /// The code was wrong; `closed` when that used up the window's budget.
    Wrong {
        /// The window.
        window: i64,
        /// Wrong codes so far.
        wrong: u32,
        /// Whether the window is now closed.
        closed: bool,
    },
    /// No window is open any more.
    Closed,
    /// Nothing under way for this claim (a replay, or a confirmation that came too late).
    Ignore,
}

struct Pending {
    window: i64,
    keys: Keys,
    started_ms: i64,
}

/// Every room's window and the exchanges under way.
#[derive(Default)]
pub struct Pairings {
    windows: BTreeMap<RoomCode, Window>,
    pending: HashMap<(RoomCode, ClaimId), Pending>,
    /// Claims already started per window: a replayed start is ignored, so it cannot even spend the
    /// window's budget of wrong codes.
    seen: HashMap<i64, HashSet<ClaimId>>,
}

impl Pairings {
    /// The open window of `room`.
    pub fn window(&self, room: &RoomCode) -> Option<&Window> {
        self.windows.get(room)
    }

    /// Every open window.
    pub fn windows(&self) -> impl Iterator<Item = &Window> {
        self.windows.values()
    }

    /// Opens (or replaces) a room's window.
    pub fn open(&mut self, window: Window) {
        self.windows.insert(window.room.clone(), window);
    }

    /// Takes the store's open windows as the truth (a CLI in another process may have opened or
    /// closed one): windows not listed close, counters kept in memory win when larger.
    pub fn sync(&mut self, open: Vec<Window>) {
        let mut next = BTreeMap::new();
        for mut w in open {
            if let Some(mine) = self.windows.get(&w.room).filter(|m| m.id == w.id) {
                w.wrong = w.wrong.max(mine.wrong);
                w.paired = w.paired.max(mine.paired);
            }
            next.insert(w.room.clone(), w);
        }
        self.windows = next;
        self.forget_closed();
    }

    /// Closes a room's window early.
    pub fn close(&mut self, room: &RoomCode) -> Option<Window> {
        let w = self.windows.remove(room);
        self.forget_closed();
        w
    }

    /// Closes the windows whose time is up and drops exchanges that waited too long; returns the
    /// windows closed.
    pub fn expire(&mut self, now_ms: i64) -> Vec<Window> {
        let due: Vec<RoomCode> =
            self.windows.values().filter(|w| w.until_ms <= now_ms).map(|w| w.room.clone()).collect();
        let closed: Vec<Window> = due.iter().filter_map(|r| self.windows.remove(r)).collect();
        self.pending.retain(|_, p| now_ms - p.started_ms < EXCHANGE_TTL_MS);
        self.forget_closed();
        closed
    }

    fn forget_closed(&mut self) {
        let open: HashSet<i64> = self.windows.values().map(|w| w.id).collect();
        self.pending.retain(|_, p| open.contains(&p.window));
        self.seen.retain(|id, _| open.contains(id));
    }

    /// An unpaired clicker's start.
    pub fn on_start(
        &mut self,
        room: &RoomCode,
        claim: ClaimId,
        start: &PairStart,
        now_ms: i64,
        random: &[u8; 64],
    ) -> Started {
        let Some(window) = self.windows.get(room).filter(|w| w.until_ms > now_ms) else {
            return Started::Refuse(PairRefusal::Closed);
        };
        let seen = self.seen.entry(window.id).or_default();
        if seen.contains(&claim) {
            return Started::Ignore;
        }
        let under_way = self.pending.keys().filter(|(r, _)| r == room).count();
        if under_way >= MAX_PENDING {
            return Started::Refuse(PairRefusal::Busy);
        }
        let Ok(exchange) = Exchange::start(&window.code, room, &claim.0, random) else { return Started::Ignore };
        let share = exchange.share();
        let Ok(keys) = exchange.finish(&start.share.0, room, &claim.0, false) else { return Started::Ignore };
        seen.insert(claim);
        self.pending.insert((room.clone(), claim), Pending { window: window.id, keys, started_ms: now_ms });
        Started::Reply(PairReply { share: Bytes(share) })
    }

    /// A clicker's confirmation. One for an exchange the hub never answered (someone else sent the
    /// clicker a reply) was a guess at the code all the same, and counts as a wrong one.
    pub fn on_confirm(&mut self, room: &RoomCode, claim: ClaimId, confirm: &PairConfirm, now_ms: i64) -> Confirmed {
        let pending = self.pending.remove(&(room.clone(), claim));
        let Some(window) = self.windows.get_mut(room).filter(|w| w.until_ms > now_ms) else {
            return if pending.is_some() { Confirmed::Closed } else { Confirmed::Ignore };
        };
        match pending {
            Some(p) if p.window != window.id => return Confirmed::Closed,
            Some(p) if tags_equal(&confirm.tag.0, &p.keys.clicker_confirms()) => {
                return Confirmed::Accept { window: window.clone(), keys: p.keys };
            }
            // A replay of an exchange the hub has already run and finished.
            None if self.seen.get(&window.id).is_some_and(|s| s.contains(&claim)) => return Confirmed::Ignore,
            _ => {}
        }
        window.wrong += 1;
        let (id, wrong) = (window.id, window.wrong);
        let closed = wrong >= MAX_WRONG;
        if closed {
            self.close(room);
        }
        Confirmed::Wrong { window: id, wrong, closed }
    }

    /// Counts a clicker paired in `room`'s window; a one-clicker window closes. Returns the window
    /// as it now stands, or `None` when it closed.
    pub fn paired(&mut self, room: &RoomCode) -> Option<&Window> {
        let w = self.windows.get_mut(room)?;
        w.paired += 1;
        if w.mode.one_clicker() {
            self.close(room);
            return None;
        }
        self.windows.get(room)
    }
}

#[cfg(test)]
mod tests {
    use firmware::pairing::{PairState, Pairing};
    use firmware::protocol::pairing::PairDone;
    use firmware::protocol::topics::{self, Parsed};
    use firmware::protocol::{self, Button, PairTopic};

    use super::*;

    fn room() -> RoomCode {
        RoomCode::parse("b-204").unwrap()
    }

    fn window(mode: Mode) -> Window {
        Window {
            id: 1,
            room: room(),
            mode,
            code: PairCode::parse("BDAECAB").unwrap(),
            until_ms: 60_000,
            wrong: 0,
            paired: 0,
        }
    }

    fn claim_of(topic: &str) -> ClaimId {
        match topics::parse(topic) {
            Ok(Parsed::Pair { claim, .. }) => claim,
            other => panic!("{other:?}"),
        }
    }

    /// A simulated clicker types `code` and runs the exchange against `hub`; returns what the hub
    /// decided and the clicker's state machine.
    fn clicker_pairs(hub: &mut Pairings, code: &str, seed: u8) -> (Confirmed, Pairing, ClaimId) {
        let mut clicker = Pairing::new(room());
        let random: [u8; 72] = core::array::from_fn(|i| (i as u8) ^ seed.wrapping_mul(29).wrapping_add(1));
        let mut start = None;
        for c in code.chars() {
            start = clicker.press(Button::from_letter(c).unwrap(), &random);
        }
        let start = start.unwrap();
        let claim = claim_of(&start.topic);
        let msg = protocol::decode::<PairStart>(&start.payload).unwrap();
        let Started::Reply(reply) = hub.on_start(&room(), claim, &msg, 1_000, &[seed.wrapping_add(7); 64]) else {
            panic!("no reply")
        };
        let reply_topic = topics::pair(&room(), &claim, PairTopic::Reply);
        let confirm = clicker.on_message(&reply_topic, &protocol::encode(&reply).unwrap()).unwrap();
        let confirm = protocol::decode::<PairConfirm>(&confirm.payload).unwrap();
        (hub.on_confirm(&room(), claim, &confirm, 1_000), clicker, claim)
    }

    #[test]
    fn a_clicker_that_typed_the_code_is_accepted_and_both_hold_the_same_key() {
        let mut hub = Pairings::default();
        hub.open(window(Mode::Room));
        let (decided, mut clicker, claim) = clicker_pairs(&mut hub, "BDAECAB", 1);
        let Confirmed::Accept { keys, .. } = decided else { panic!("not accepted") };
        let device = DeviceId::parse("c-00000001").unwrap();
        let done =
            PairDone { device: Some(device.clone()), tag: Some(Bytes(keys.hub_confirms(&device))), refused: None };
        clicker.on_message(&topics::pair(&room(), &claim, PairTopic::Done), &protocol::encode(&done).unwrap());
        let PairState::Paired(creds) = clicker.state() else { panic!("clicker not paired") };
        assert_eq!(creds.key, keys.device_key(&device));
        assert_eq!(hub.paired(&room()).unwrap().paired, 1);
    }

    #[test]
    fn five_wrong_codes_close_the_window() {
        let mut hub = Pairings::default();
        hub.open(window(Mode::Room));
        for n in 1..=MAX_WRONG {
            let (decided, _, _) = clicker_pairs(&mut hub, "BDAECAC", n as u8);
            let Confirmed::Wrong { wrong, closed, .. } = decided else { panic!("accepted a wrong code") };
            assert_eq!((wrong, closed), (n, n == MAX_WRONG));
        }
        assert!(hub.window(&room()).is_none());
        let start = PairStart { share: Bytes([0; 32]) };
        assert_eq!(
            hub.on_start(&room(), ClaimId([1; 8]), &start, 2_000, &[1; 64]),
            Started::Refuse(PairRefusal::Closed)
        );
    }

    #[test]
    fn a_replayed_start_or_confirmation_does_nothing() {
        let mut hub = Pairings::default();
        hub.open(window(Mode::Room));
        let mut clicker = Pairing::new(room());
        let mut start = None;
        for c in "BDAECAB".chars() {
            start = clicker.press(Button::from_letter(c).unwrap(), &[3; 72]);
        }
        let start = start.unwrap();
        let claim = claim_of(&start.topic);
        let msg = protocol::decode::<PairStart>(&start.payload).unwrap();
        let Started::Reply(reply) = hub.on_start(&room(), claim, &msg, 1_000, &[5; 64]) else { panic!() };
        assert_eq!(hub.on_start(&room(), claim, &msg, 1_001, &[6; 64]), Started::Ignore, "the first start wins");
        let reply_topic = topics::pair(&room(), &claim, PairTopic::Reply);
        let confirm = clicker.on_message(&reply_topic, &protocol::encode(&reply).unwrap()).unwrap();
        let confirm = protocol::decode::<PairConfirm>(&confirm.payload).unwrap();
        assert!(matches!(hub.on_confirm(&room(), claim, &confirm, 1_000), Confirmed::Accept { .. }));
        assert!(matches!(hub.on_confirm(&room(), claim, &confirm, 1_000), Confirmed::Ignore), "replayed confirmation");
        assert_eq!(hub.on_start(&room(), claim, &msg, 1_002, &[7; 64]), Started::Ignore, "replayed start");
        assert_eq!(hub.window(&room()).unwrap().wrong, 0, "replays spend nothing");
    }

    #[test]
    fn a_confirmation_for_an_exchange_the_hub_never_answered_counts_as_a_guess() {
        let mut hub = Pairings::default();
        hub.open(window(Mode::Room));
        // The hub was kept busy; a forger answered the clicker instead and now holds its tag.
        let forged = PairConfirm { tag: Bytes([9; 16]) };
        assert!(matches!(hub.on_confirm(&room(), ClaimId([4; 8]), &forged, 1_000), Confirmed::Wrong { wrong: 1, .. }));
        assert!(matches!(hub.on_confirm(&room(), ClaimId([5; 8]), &forged, 60_000), Confirmed::Ignore), "window over");
    }

    #[test]
    fn a_flood_of_starts_is_refused_as_busy_and_expires() {
        let mut hub = Pairings::default();
        hub.open(window(Mode::Room));
        let code = PairCode::parse("AAAAAAA").unwrap();
        let share = |i: u8| {
            let ex = Exchange::start(&code, &room(), &[i; 8], &[i.wrapping_add(1); 64]).unwrap();
            PairStart { share: Bytes(ex.share()) }
        };
        for i in 0..MAX_PENDING as u8 {
            assert!(matches!(hub.on_start(&room(), ClaimId([i; 8]), &share(i), 1_000, &[9; 64]), Started::Reply(_)));
        }
        let extra = MAX_PENDING as u8;
        assert_eq!(
            hub.on_start(&room(), ClaimId([extra; 8]), &share(extra), 1_000, &[9; 64]),
            Started::Refuse(PairRefusal::Busy)
        );
        hub.expire(1_000 + EXCHANGE_TTL_MS);
        assert!(matches!(
            hub.on_start(&room(), ClaimId([extra; 8]), &share(extra), 31_000, &[9; 64]),
            Started::Reply(_)
        ));
    }

    #[test]
    fn a_window_for_one_student_closes_after_one_clicker_and_windows_expire() {
        let mut hub = Pairings::default();
        hub.open(window(Mode::Student { student: "Anna de Vries".into(), replaces: None }));
        assert!(hub.paired(&room()).is_none());
        assert!(hub.window(&room()).is_none());
        hub.open(window(Mode::Room));
        assert!(hub.expire(59_999).is_empty());
        assert_eq!(hub.expire(60_000).len(), 1);
    }

    #[test]
    fn modes_round_trip_through_the_store_columns() {
        for mode in [
            Mode::Room,
            Mode::Student { student: "Anna".into(), replaces: Some(DeviceId::parse("c-1").unwrap()) },
            Mode::Student { student: "Anna".into(), replaces: None },
            Mode::ClassInOrder { class: "k1".into() },
            Mode::Loaner { student: "Bram".into() },
        ] {
            let (m, t, r) = mode.to_columns();
            assert_eq!(Mode::from_columns(m, t.map(str::to_owned), r.map(str::to_owned)), Some(mode.clone()));
        }
        assert_eq!(Mode::from_columns("student", None, None), None);
    }
}
