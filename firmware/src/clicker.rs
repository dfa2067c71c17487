//! The clicker state machine, sans IO: presses, received messages and time go in; publishes go out
//! through the [`Transport`] port; the state (and so the LED) comes out.
//!
//! ```text
//! booting ─▶ connecting ─▶ idle ⇄ question open ─press─▶ pending ─ack─▶ stored / closed / rejected
//!                ▲            │                            │  ▲ retry with backoff until acked
//!                └─ offline ◀─┴── link lost ───────────────┘  │
//!                        asleep ◀── inactivity; a press wakes ┘
//! ```
//!
//! Messages leave one at a time, in order: the next is sent only once the hub has acknowledged the
//! one before (stop-and-wait). That keeps sequence numbers rising on the wire, so the hub can refuse
//! any older number as a replay, and it keeps every press in the order it was made.

use crate::led::{self, Colour};
use crate::outbox::{Outbox, Outgoing};
use crate::ports::{BootCounter, ConnectRequest, Link, NoUpdates, Transport, Updates};
use crate::protocol::update::{FwChunk, FwOffer};
use crate::protocol::{
    self, Ack, AckStatus, Answer, Button, CheckIn, Choices, ClickerTopic, DeviceId, DeviceKey, FirmwareVersion, Hello,
    MacTag, Presence, QuestionAnnouncement, QuestionKind, QuestionState, RejectReason, RoomCode, Seq, Status, mac,
    topics,
};
use crate::time::Millis;

/// Timings of the clicker, all in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Wait for an ack this long before the first retry.
    pub retry_first_ms: u32,
    /// The retry wait doubles up to this.
    pub retry_max_ms: u32,
    /// How long red (closed/rejected) and a check-in's green stay lit.
    pub outcome_ms: u32,
    /// Sleep after this long without a press, a question change or an ack, when nothing waits.
    pub sleep_after_ms: u32,
    /// Below this battery voltage the LED adds its low-battery flashes.
    pub low_battery_mv: u16,
    /// MQTT keep-alive.
    pub keep_alive_s: u16,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            retry_first_ms: 400,
            retry_max_ms: 10_000,
            outcome_ms: 3_000,
            sleep_after_ms: 10 * 60 * 1000,
            low_battery_mv: 2_300,
            keep_alive_s: 30,
        }
    }
}

/// What a clicker is provisioned with: where it is, who it is, its key.
#[derive(Debug, Clone)]
pub struct Config {
    /// The room whose topics it uses.
    pub room: RoomCode,
    /// Its device id, issued by the hub.
    pub device: DeviceId,
    /// Its own key, issued by the hub.
    pub key: DeviceKey,
    /// The firmware version it reports.
    pub firmware: FirmwareVersion,
    /// Its timings.
    pub timing: Timing,
}

/// What the clicker is doing, as the student should understand it. The LED shows exactly this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Reading its boot counter.
    Booting,
    /// Connecting for the first time since boot or wake.
    Connecting,
    /// Connected, no question open.
    Idle,
    /// A question is open; this clicker has no stored answer to it.
    QuestionOpen,
    /// A press is on its way and not yet acknowledged.
    Pending,
    /// The hub stored the latest answer (or the check-in).
    Stored,
    /// The hub said the question is not open (or no question was known when pressed).
    Closed,
    /// The hub refused the message, or the button is not one of the question's options.
    Rejected(RejectReason),
    /// The connection was lost; presses are kept and sent on reconnect.
    Offline,
    /// Asleep to save the battery; any press wakes it.
    Asleep,
    /// The boot counter could not be kept: the clicker sends nothing rather than reuse a number.
    Fault,
}

/// The outcome of one acknowledged message, shown for a while.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shown {
    state: State,
    until: Millis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Booting,
    Connecting,
    Online,
    Offline,
    Asleep,
    Fault,
}

/// The message at the front of the outbox, once sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct InFlight {
    seq: Seq,
    attempts: u16,
    next_at: Millis,
}

/// Counters for diagnostics, the simulator and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages sent for the first time.
    pub sent: u32,
    /// Retransmissions.
    pub retries: u32,
    /// Authenticated acks for the message in flight.
    pub acked: u32,
    /// Acks that failed authentication (never trusted to end a retry).
    pub untrusted_acks: u32,
    /// Received messages that were not understood.
    pub bad_inbound: u32,
    /// Publishes the transport refused.
    pub transport_errors: u32,
}

/// The clicker. About 700 bytes; `size_of` is checked in a test.
#[derive(Debug)]
pub struct Clicker {
    cfg: Config,
    phase: Phase,
    boot: u32,
    counter: u32,
    question: Option<QuestionAnnouncement>,
    selection: Choices,
    stored_answer: Option<u32>,
    outbox: Outbox,
    in_flight: Option<InFlight>,
    shown: Option<Shown>,
    last_activity: Millis,
    battery_mv: Option<u16>,
    rng: u32,
    stats: Stats,
    last_ack: Option<(Seq, AckStatus)>,
}

impl Clicker {
    /// A clicker that has not booted yet.
    pub fn new(cfg: Config, now: Millis) -> Self {
        // A per-device seed, so a class of clickers does not retry in lockstep.
        let rng = cfg.key.0.iter().fold(0x9e37_79b9u32, |h, b| (h ^ *b as u32).wrapping_mul(0x0100_0193)) | 1;
        Clicker {
            cfg,
            phase: Phase::Booting,
            boot: 0,
            counter: 0,
            question: None,
            selection: Choices::NONE,
            stored_answer: None,
            outbox: Outbox::new(),
            in_flight: None,
            shown: None,
            last_activity: now,
            battery_mv: None,
            rng,
            stats: Stats::default(),
            last_ack: None,
        }
    }

    /// Boots: persists the next boot counter, then starts connecting. If the counter cannot be kept
    /// the clicker enters [`State::Fault`] and never sends.
    pub fn boot<B: BootCounter, T: Transport>(
        &mut self,
        counter: &mut B,
        tx: &mut T,
        now: Millis,
    ) -> Result<(), B::Error> {
        match counter.next_boot() {
            Ok(boot) => {
                self.boot = boot;
                self.counter = 0;
                self.connect(tx, now);
                Ok(())
            }
            Err(e) => {
                self.phase = Phase::Fault;
                Err(e)
            }
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The boot counter of this boot.
    pub fn boot_counter(&self) -> u32 {
        self.boot
    }

    /// The question the clicker knows of.
    pub fn question(&self) -> Option<QuestionAnnouncement> {
        self.question
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Messages waiting for an ack (the one in flight included).
    pub fn waiting(&self) -> usize {
        self.outbox.len()
    }

    /// Messages dropped because the outbox was full.
    pub fn dropped(&self) -> u32 {
        self.outbox.dropped()
    }

    /// Sequence number of the message in flight, if any.
    pub fn in_flight_seq(&self) -> Option<Seq> {
        self.in_flight.map(|f| f.seq)
    }

    /// The last authenticated ack: its sequence number and status.
    pub fn last_ack(&self) -> Option<(Seq, AckStatus)> {
        self.last_ack
    }

    /// The last battery reading.
    pub fn battery_mv(&self) -> Option<u16> {
        self.battery_mv
    }

    /// Records a battery reading.
    pub fn battery(&mut self, mv: u16) {
        self.battery_mv = Some(mv);
    }

    /// Whether the battery is below the warning threshold.
    pub fn low_battery(&self) -> bool {
        self.battery_mv.is_some_and(|mv| mv < self.cfg.timing.low_battery_mv)
    }

    fn connect<T: Transport>(&mut self, tx: &mut T, now: Millis) {
        let will = topics::clicker(&self.cfg.room, &self.cfg.device, ClickerTopic::Status);
        let offline = protocol::encode(&Status { state: Presence::Offline }).unwrap_or_default();
        let client_id = topics::client_id(&self.cfg.room, &self.cfg.device);
        let req = ConnectRequest {
            client_id: &client_id,
            will_topic: &will,
            will_payload: &offline,
            keep_alive_s: self.cfg.timing.keep_alive_s,
        };
        if tx.connect(&req).is_err() {
            self.stats.transport_errors += 1;
        }
        self.phase = Phase::Connecting;
        self.last_activity = now;
    }

    /// An answer button was pressed (debounced).
    pub fn press<T: Transport>(&mut self, button: Button, now: Millis, tx: &mut T) {
        match self.phase {
            Phase::Booting | Phase::Fault => return,
            Phase::Asleep => return self.connect(tx, now),
            Phase::Connecting | Phase::Online | Phase::Offline => {}
        }
        self.last_activity = now;
        let open = self.question.filter(|q| q.state == QuestionState::Open);
        let Some(question) = open else {
            self.show(State::Closed, now);
            return;
        };
        if !question.spec.offers(button) {
            self.show(State::Rejected(RejectReason::InvalidAnswer), now);
            return;
        }
        let choices = match question.spec.kind() {
            QuestionKind::Multi => self.selection.toggled(button),
            _ => Choices::one(button),
        };
        self.selection = choices;
        self.enqueue(Outgoing::Answer { q: question.q, choices }, now, tx);
    }

    /// The check-in button was pressed (debounced).
    pub fn check_in<T: Transport>(&mut self, now: Millis, tx: &mut T) {
        match self.phase {
            Phase::Booting | Phase::Fault => return,
            Phase::Asleep => self.connect(tx, now),
            Phase::Connecting | Phase::Online | Phase::Offline => {}
        }
        self.last_activity = now;
        self.enqueue(Outgoing::CheckIn, now, tx);
    }

    fn enqueue<T: Transport>(&mut self, msg: Outgoing, now: Millis, tx: &mut T) {
        self.outbox.push(msg, self.in_flight.is_some());
        self.pump(now, tx);
    }

    fn show(&mut self, state: State, now: Millis) {
        self.shown = Some(Shown { state, until: now.plus(self.cfg.timing.outcome_ms) });
    }

    /// Does everything time or the network asks for: link changes, received messages, sends,
    /// retries, sleep. Call it whenever [`Clicker::next_deadline`] passes or the transport has news.
    pub fn poll<T: Transport>(&mut self, now: Millis, tx: &mut T) {
        self.poll_with(now, tx, &mut NoUpdates);
    }

    /// [`Clicker::poll`] for a clicker that takes firmware updates: offers and chunks go to
    /// `updates`, and its progress reports go to the hub.
    pub fn poll_with<T: Transport, U: Updates>(&mut self, now: Millis, tx: &mut T, updates: &mut U) {
        if matches!(self.phase, Phase::Booting | Phase::Fault | Phase::Asleep) {
            return;
        }
        match tx.link() {
            Link::NewSession => self.on_session(now, tx, updates.enabled()),
            Link::Up => {}
            Link::Down => {
                if self.phase == Phase::Online {
                    self.phase = Phase::Offline;
                }
            }
        }
        while let Some(msg) = tx.receive() {
            self.on_message(&msg.topic, &msg.payload, now, tx, updates);
        }
        self.pump(now, tx);
        self.maybe_sleep(now, tx);
    }

    fn on_session<T: Transport>(&mut self, now: Millis, tx: &mut T, updates: bool) {
        self.phase = Phase::Online;
        let (room, device) = (&self.cfg.room, &self.cfg.device);
        let ack = topics::clicker(room, device, ClickerTopic::Ack);
        let status = topics::clicker(room, device, ClickerTopic::Status);
        let online = protocol::encode(&Status { state: Presence::Online }).unwrap_or_default();
        let results = [tx.subscribe(&ack), tx.subscribe(&topics::question(room)), tx.publish(&status, &online, true)];
        self.stats.transport_errors += results.iter().filter(|r| r.is_err()).count() as u32;
        if updates {
            for kind in [ClickerTopic::FwOffer, ClickerTopic::FwChunk] {
                if tx.subscribe(&topics::clicker(room, device, kind)).is_err() {
                    self.stats.transport_errors += 1;
                }
            }
        }
        self.send_hello(tx);
        // Whatever was in flight goes again at once, with the same sequence number.
        if let Some(f) = &mut self.in_flight {
            f.next_at = now;
        }
    }

    fn next_seq(&mut self) -> Option<Seq> {
        // A boot has 2^32 numbers; running out (about 136 years at one press a second) means the
        // clicker must reboot rather than reuse one.
        self.counter = self.counter.checked_add(1)?;
        Some(Seq::new(self.boot, self.counter))
    }

    fn send_hello<T: Transport>(&mut self, tx: &mut T) {
        let Some(seq) = self.next_seq() else {
            self.phase = Phase::Fault;
            return;
        };
        let mut hello = Hello {
            seq,
            fw: self.cfg.firmware.clone(),
            battery_mv: self.battery_mv.unwrap_or(0),
            rssi: tx.rssi().unwrap_or(0),
            boot: self.boot,
            mac: MacTag([0; 8]),
        };
        mac::sign(&self.cfg.key, &self.cfg.device, &mut hello);
        self.publish(tx, ClickerTopic::Hello, &hello);
    }

    fn publish<T: Transport, M: serde::Serialize>(&mut self, tx: &mut T, kind: ClickerTopic, msg: &M) {
        let topic = topics::clicker(&self.cfg.room, &self.cfg.device, kind);
        let ok = protocol::encode(msg).is_ok_and(|payload| tx.publish(&topic, &payload, false).is_ok());
        if !ok {
            self.stats.transport_errors += 1;
        }
    }

    /// Sends the front of the outbox when it is due.
    fn pump<T: Transport>(&mut self, now: Millis, tx: &mut T) {
        if self.phase != Phase::Online {
            return;
        }
        let Some(&front) = self.outbox.front() else { return };
        let flight = match self.in_flight {
            Some(f) if now < f.next_at => return,
            Some(f) => {
                self.stats.retries += 1;
                InFlight { attempts: f.attempts.saturating_add(1), ..f }
            }
            None => {
                let Some(seq) = self.next_seq() else {
                    self.phase = Phase::Fault;
                    return;
                };
                self.stats.sent += 1;
                InFlight { seq, attempts: 0, next_at: now }
            }
        };
        let wait = self.backoff(flight.attempts);
        self.in_flight = Some(InFlight { next_at: now.plus(wait), ..flight });
        let (key, device) = (&self.cfg.key, &self.cfg.device);
        match front {
            Outgoing::Answer { q, choices } => {
                let mut msg = Answer { seq: flight.seq, q, answer: choices, mac: MacTag([0; 8]) };
                mac::sign(key, device, &mut msg);
                self.publish(tx, ClickerTopic::Answer, &msg);
            }
            Outgoing::CheckIn => {
                let mut msg = CheckIn { seq: flight.seq, mac: MacTag([0; 8]) };
                mac::sign(key, device, &mut msg);
                self.publish(tx, ClickerTopic::CheckIn, &msg);
            }
        }
    }

    /// Exponential backoff with ±25 % jitter from a per-device generator.
    fn backoff(&mut self, attempts: u16) -> u32 {
        let t = self.cfg.timing;
        let base = (t.retry_first_ms as u64) << attempts.min(16);
        let base = base.min(t.retry_max_ms as u64) as u32;
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 17;
        self.rng ^= self.rng << 5;
        let spread = base / 2;
        base - base / 4 + if spread == 0 { 0 } else { self.rng % spread }
    }

    fn on_message<T: Transport, U: Updates>(
        &mut self,
        topic: &str,
        payload: &[u8],
        now: Millis,
        tx: &mut T,
        updates: &mut U,
    ) {
        let mine = |room: &RoomCode, device: &DeviceId| *room == self.cfg.room && *device == self.cfg.device;
        let progress = match topics::parse(topic) {
            Ok(topics::Parsed::Question(room)) if room == self.cfg.room => return self.on_question(payload, now),
            Ok(topics::Parsed::Clicker { room, device, kind: ClickerTopic::Ack }) if mine(&room, &device) => {
                return self.on_ack(payload, now);
            }
            Ok(topics::Parsed::Clicker { room, device, kind: ClickerTopic::FwOffer })
                if mine(&room, &device) && updates.enabled() =>
            {
                protocol::decode::<FwOffer>(payload).ok().map(|offer| updates.on_offer(&offer))
            }
            Ok(topics::Parsed::Clicker { room, device, kind: ClickerTopic::FwChunk })
                if mine(&room, &device) && updates.enabled() =>
            {
                match protocol::decode::<FwChunk>(payload) {
                    Ok(chunk) => updates.on_chunk(&chunk),
                    Err(_) => return self.stats.bad_inbound += 1,
                }
            }
            _ => return self.stats.bad_inbound += 1,
        };
        match progress {
            Some(mut p) => {
                let Some(seq) = self.next_seq() else {
                    self.phase = Phase::Fault;
                    return;
                };
                p.seq = seq;
                mac::sign(&self.cfg.key, &self.cfg.device, &mut p);
                self.publish(tx, ClickerTopic::FwProgress, &p)
            }
            None if !updates.enabled() => self.stats.bad_inbound += 1,
            None => {}
        }
    }

    fn on_question(&mut self, payload: &[u8], now: Millis) {
        if payload.is_empty() {
            self.question = None;
            return;
        }
        let Ok(q) = protocol::decode::<QuestionAnnouncement>(payload) else {
            self.stats.bad_inbound += 1;
            return;
        };
        if self.question.map(|old| old.q) != Some(q.q) {
            self.selection = Choices::NONE;
            self.stored_answer = None;
        }
        if self.question != Some(q) {
            self.last_activity = now;
        }
        self.question = Some(q);
    }

    fn on_ack(&mut self, payload: &[u8], now: Millis) {
        let Ok(ack) = protocol::decode::<Ack>(payload) else {
            self.stats.bad_inbound += 1;
            return;
        };
        if self.in_flight.map(|f| f.seq) != Some(ack.seq) {
            return; // an ack for a message no longer in flight: a late duplicate
        }
        if mac::verify(&self.cfg.key, &self.cfg.device, &ack).is_err() {
            // Only the hub knows our key. An unauthenticated refusal is shown, but retries go on.
            self.stats.untrusted_acks += 1;
            if ack.status == AckStatus::Rejected {
                self.show(State::Rejected(ack.reason.unwrap_or(RejectReason::Malformed)), now);
            }
            return;
        }
        self.stats.acked += 1;
        self.last_ack = Some((ack.seq, ack.status));
        self.in_flight = None;
        self.last_activity = now;
        let outcome = match ack.status {
            AckStatus::Stored | AckStatus::Duplicate => State::Stored,
            AckStatus::Closed => State::Closed,
            AckStatus::Rejected => State::Rejected(ack.reason.unwrap_or(RejectReason::Malformed)),
        };
        if let Some(Outgoing::Answer { q, .. }) = self.outbox.pop() {
            self.stored_answer = (outcome == State::Stored).then_some(q);
            if outcome == State::Stored {
                // Green lasts while the question is open; the outcome window is for the rest.
                self.shown = None;
                return;
            }
        }
        self.show(outcome, now);
    }

    fn maybe_sleep<T: Transport>(&mut self, now: Millis, tx: &mut T) {
        let idle = now.since(self.last_activity) >= self.cfg.timing.sleep_after_ms as u64;
        if !idle || !self.outbox.is_empty() {
            return;
        }
        if self.phase == Phase::Online {
            let status = topics::clicker(&self.cfg.room, &self.cfg.device, ClickerTopic::Status);
            let offline = protocol::encode(&Status { state: Presence::Offline }).unwrap_or_default();
            if tx.publish(&status, &offline, true).is_err() {
                self.stats.transport_errors += 1;
            }
        }
        if tx.disconnect().is_err() {
            self.stats.transport_errors += 1;
        }
        self.phase = Phase::Asleep;
        self.question = None;
        self.shown = None;
        self.stored_answer = None;
    }

    /// The state at `now`.
    pub fn state(&self, now: Millis) -> State {
        match self.phase {
            Phase::Fault => return State::Fault,
            Phase::Booting => return State::Booting,
            Phase::Asleep => return State::Asleep,
            Phase::Connecting => return State::Connecting,
            Phase::Offline => return State::Offline,
            Phase::Online => {}
        }
        if !self.outbox.is_empty() {
            return State::Pending;
        }
        if let Some(shown) = self.shown.filter(|s| now < s.until) {
            return shown.state;
        }
        match self.question {
            Some(q) if q.state == QuestionState::Open && self.stored_answer == Some(q.q) => State::Stored,
            Some(q) if q.state == QuestionState::Open => State::QuestionOpen,
            _ => State::Idle,
        }
    }

    /// The LED colour at `now`.
    pub fn led(&self, now: Millis) -> Colour {
        led::colour_at(self.state(now), self.low_battery(), now)
    }

    /// When [`Clicker::poll`] must next run even if nothing happens: a retry, the end of a shown
    /// outcome, sleep. (LED blinks are separate: [`Clicker::led_changes_at`].)
    pub fn next_deadline(&self, now: Millis) -> Option<Millis> {
        if matches!(self.phase, Phase::Booting | Phase::Fault | Phase::Asleep) {
            return None;
        }
        let retry = self.in_flight.filter(|_| self.phase == Phase::Online).map(|f| f.next_at);
        let shown = self.shown.map(|s| s.until).filter(|&u| u > now);
        let sleep = self.outbox.is_empty().then(|| self.last_activity.plus(self.cfg.timing.sleep_after_ms));
        [retry, shown, sleep].into_iter().flatten().min()
    }

    /// When the LED colour next changes by itself.
    pub fn led_changes_at(&self, now: Millis) -> Option<Millis> {
        led::next_change(self.state(now), self.low_battery(), now)
    }
}
