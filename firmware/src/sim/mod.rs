//! The simulator: N virtual clickers, each the real firmware core on virtual pins with an MQTT
//! transport over rumqttc, against any broker. The hub's demo, tests and benchmarks drive clickers
//! through it.
//!
//! ```no_run
//! # async fn lesson() {
//! use firmware::protocol::{Button, RoomCode};
//! use firmware::sim::{BrokerAddr, Class, ClassConfig, Plan};
//! let room = RoomCode::parse("b-204").unwrap();
//! let broker = BrokerAddr::parse("mqtt://127.0.0.1:1883").unwrap();
//! let class = Class::start(ClassConfig::new(broker, room, "demo", 28));
//! class.wait_until(|s| s.online(), std::time::Duration::from_secs(5)).await.unwrap();
//! class.play(&Plan::Everyone(Button::B), 500, 1).await;
//! # }
//! ```

pub mod echo;
pub mod mqtt;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::time::Duration;

use embedded_hal::digital::{ErrorType, InputPin, OutputPin};
use hmac::{Hmac, KeyInit, Mac};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::Sha256;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::boot_counter::{FlashBootCounter, RamFlash};
use crate::clicker::{Config, State, Stats, Timing};
use crate::device::{Buttons, Device};
use crate::led::{Colour, RgbLed};
use crate::ports::Battery;
use crate::protocol::{Button, DeviceId, DeviceKey, QuestionAnnouncement, RoomCode, Seq};
use crate::time::{Clock, Millis};

pub use mqtt::MqttTransport;

/// A broker's address, from `mqtt://host:port` (port 1883 when left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAddr {
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl BrokerAddr {
    /// Parses `mqtt://host[:port]` or `host[:port]`.
    pub fn parse(url: &str) -> Result<Self, String> {
        let rest = url.strip_prefix("mqtt://").unwrap_or(url).trim_end_matches('/');
        if rest.is_empty() || rest.contains('/') {
            return Err(format!("not a broker address: {url:?} (expected mqtt://host:port)"));
        }
        match rest.rsplit_once(':') {
            Some((host, port)) => {
                let port = port.parse().map_err(|_| format!("bad port in {url:?}"))?;
                Ok(BrokerAddr { host: host.trim_matches(['[', ']']).to_owned(), port })
            }
            None => Ok(BrokerAddr { host: rest.to_owned(), port: 1883 }),
        }
    }
}

impl std::fmt::Display for BrokerAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "mqtt://{}:{}", self.host, self.port)
    }
}

/// A simulated clicker's identity: what pairing would give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Its device id.
    pub device: DeviceId,
    /// Its key.
    pub key: DeviceKey,
}

/// The identity of simulated clicker `index` (from 1): device id `sim-0001`, key derived from
/// `seed`, so a hub and a simulator given the same seed agree without exchanging keys.
pub fn identity(seed: &str, index: usize) -> Identity {
    // Cannot fail: the format gives "sim-" and at most 20 digits, within the 24 allowed.
    let device = DeviceId::parse(&format!("sim-{index:04}")).expect("sim device ids are valid");
    // Cannot fail: HMAC takes keys of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(seed.as_bytes()).expect("any key length");
    mac.update(b"classhub sim key\n");
    mac.update(device.as_str().as_bytes());
    let mut key = [0u8; 16];
    key.copy_from_slice(&mac.finalize().into_bytes()[..16]);
    Identity { device, key: DeviceKey(key) }
}

/// The simulator's clock: milliseconds since the simulator started, on tokio's clock (so
/// `tokio::time::pause` drives it in tests).
#[derive(Debug, Clone, Copy)]
pub struct SimClock(tokio::time::Instant);

impl SimClock {
    /// A clock starting now.
    pub fn start() -> Self {
        SimClock(tokio::time::Instant::now())
    }
}

impl Clock for SimClock {
    fn now(&self) -> Millis {
        Millis(self.0.elapsed().as_millis() as u64)
    }
}

/// A virtual GPIO: a level a script sets (button) or the core sets (LED).
#[derive(Debug, Clone, Default)]
pub struct VirtualPin(Arc<AtomicBool>);

impl VirtualPin {
    /// A pin at `high`.
    pub fn new(high: bool) -> Self {
        VirtualPin(Arc::new(AtomicBool::new(high)))
    }

    /// Sets the level.
    pub fn set(&self, high: bool) {
        self.0.store(high, Ordering::Release);
    }

    /// Reads the level.
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

impl ErrorType for VirtualPin {
    type Error = Infallible;
}

impl InputPin for VirtualPin {
    fn is_high(&mut self) -> Result<bool, Infallible> {
        Ok(self.get())
    }
    fn is_low(&mut self) -> Result<bool, Infallible> {
        Ok(!self.get())
    }
}

impl OutputPin for VirtualPin {
    fn set_high(&mut self) -> Result<(), Infallible> {
        self.set(true);
        Ok(())
    }
    fn set_low(&mut self) -> Result<(), Infallible> {
        self.set(false);
        Ok(())
    }
}

/// A battery whose voltage a test can set.
#[derive(Debug, Clone)]
pub struct SimBattery(Arc<AtomicU16>);

impl Battery for SimBattery {
    fn millivolts(&mut self) -> Option<u16> {
        Some(self.0.load(Ordering::Relaxed))
    }
}

/// What a simulated clicker shows after its latest poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    /// Its state.
    pub state: State,
    /// What its LED shows.
    pub led: Option<Colour>,
    /// The question it knows of.
    pub question: Option<QuestionAnnouncement>,
    /// Messages waiting for an ack.
    pub waiting: usize,
    /// Messages dropped from a full outbox.
    pub dropped: u32,
    /// The message in flight.
    pub in_flight: Option<Seq>,
    /// Its counters.
    pub stats: Stats,
}

impl Snapshot {
    /// Connected and not asleep.
    pub fn online(&self) -> bool {
        !matches!(self.state, State::Booting | State::Connecting | State::Offline | State::Asleep | State::Fault)
    }

    /// Whether it knows of an open question.
    pub fn sees_open_question(&self) -> bool {
        self.question.is_some_and(|q| q.state == crate::protocol::QuestionState::Open)
    }
}

/// How a virtual finger presses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finger {
    /// How long a press is held, in ms.
    pub hold_ms: u64,
    /// Whether the contacts chatter on press and release (a few 1 ms bounces).
    pub chatter: bool,
}

impl Default for Finger {
    fn default() -> Self {
        Finger { hold_ms: 60, chatter: true }
    }
}

/// One virtual clicker, running on its own tokio task.
pub struct SimClicker {
    /// Who it is.
    pub identity: Identity,
    buttons: [VirtualPin; 6],
    battery: Arc<AtomicU16>,
    wake: Arc<Notify>,
    snapshot: watch::Receiver<Snapshot>,
    finger: Finger,
    task: JoinHandle<()>,
}

impl SimClicker {
    /// Boots a clicker and connects it to `broker`: the real core on virtual pins (active low, with
    /// pull-ups: high when released).
    pub fn start(broker: BrokerAddr, room: RoomCode, identity: Identity, timing: Timing, finger: Finger) -> Self {
        let buttons: [VirtualPin; 6] = std::array::from_fn(|_| VirtualPin::new(true));
        let led = RgbLed::new(VirtualPin::default(), VirtualPin::default(), VirtualPin::default(), false);
        let battery = Arc::new(AtomicU16::new(2_950));
        let wake = Arc::new(Notify::new());
        let rssi = -45 - (identity.key.0[0] % 30) as i16;
        let cfg = Config {
            room,
            device: identity.device.clone(),
            key: identity.key.clone(),
            firmware: env!("CARGO_PKG_VERSION").try_into().unwrap_or_default(),
            timing,
        };
        let [a, b, c, d, e, check_in] = buttons.clone();
        let pins = Buttons { answer: [a, b, c, d, e], check_in: Some(check_in), active_low: true };
        let transport = MqttTransport::new(broker, rssi, wake.clone());
        let device = Device::new(cfg, pins, led, SimClock::start(), SimBattery(battery.clone()), transport);
        let first = snapshot_of(&device);
        let (tx, rx) = watch::channel(first);
        let task = tokio::spawn(run(device, wake.clone(), tx));
        SimClicker { identity, buttons, battery, wake, snapshot: rx, finger, task }
    }

    /// The latest snapshot.
    pub fn snapshot(&self) -> Snapshot {
        *self.snapshot.borrow()
    }

    /// Waits until `pred` holds for this clicker's snapshot.
    pub async fn wait_for(&self, pred: impl Fn(&Snapshot) -> bool, timeout: Duration) -> Result<Snapshot, Snapshot> {
        let mut rx = self.snapshot.clone();
        match tokio::time::timeout(timeout, rx.wait_for(|s| pred(s))).await {
            Ok(Ok(s)) => Ok(*s),
            _ => Err(self.snapshot()),
        }
    }

    async fn push(&self, pin: usize) {
        let pin = &self.buttons[pin];
        let level = |high: bool| {
            pin.set(high);
            self.wake.notify_one();
        };
        let bounce = |down: bool| async move {
            if self.finger.chatter {
                for i in 0..4 {
                    level((i % 2 == 0) != down);
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        };
        bounce(true).await;
        level(false);
        tokio::time::sleep(Duration::from_millis(self.finger.hold_ms)).await;
        bounce(false).await;
        level(true);
        // Let the debouncer see the release settle.
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.wake.notify_one();
    }

    /// Presses an answer button, with this clicker's finger, and lets go.
    pub async fn press(&self, button: Button) {
        self.push(button.index() as usize).await;
    }

    /// Presses the check-in button.
    pub async fn check_in(&self) {
        self.push(5).await;
    }

    /// Sets the battery voltage the clicker reads (it reads once a minute).
    pub fn set_battery_mv(&self, mv: u16) {
        self.battery.store(mv, Ordering::Relaxed);
    }

    /// Stops the clicker as if its battery were pulled: the broker sends its last will.
    pub fn power_off(&self) {
        self.task.abort();
    }
}

impl Drop for SimClicker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type SimDevice = Device<VirtualPin, VirtualPin, SimClock, SimBattery, MqttTransport>;

fn snapshot_of(device: &SimDevice) -> Snapshot {
    let core = device.core();
    Snapshot {
        state: device.state(),
        led: device.lit(),
        question: core.question(),
        waiting: core.waiting(),
        dropped: core.dropped(),
        in_flight: core.in_flight_seq(),
        stats: core.stats(),
    }
}

async fn run(mut device: SimDevice, wake: Arc<Notify>, snapshots: watch::Sender<Snapshot>) {
    let mut flash = match FlashBootCounter::new(RamFlash::<4096, 1024>::new(), 0) {
        Ok(f) => f,
        Err(_) => return,
    };
    if device.boot(&mut flash).is_err() {
        snapshots.send_replace(snapshot_of(&device));
        return;
    }
    loop {
        let next = match device.poll() {
            Ok(next) => next,
            Err(never) => match never {},
        };
        let snap = snapshot_of(&device);
        snapshots.send_if_modified(|s| {
            let changed = *s != snap;
            *s = snap;
            changed
        });
        let wait = next.since(device.clock().now()).clamp(1, 1_000);
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
        }
    }
}

/// What a class of simulated clickers does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Every clicker presses this button.
    Everyone(Button),
    /// The first `percent` % of the clickers press this button; the rest do nothing.
    Share {
        /// How many, in percent.
        percent: u8,
        /// Which button.
        button: Button,
    },
    /// Clickers press in blocks, in order: `[(B, 23), (C, 5)]` has the first 23 press B and the
    /// next 5 press C.
    Counts(Vec<(Button, usize)>),
    /// Every clicker presses a random button among the open question's options.
    Random,
    /// Every clicker presses `first`, then changes its mind to `then`.
    Change {
        /// The first press.
        first: Button,
        /// The second.
        then: Button,
    },
    /// Every clicker checks in.
    CheckIn,
}

impl Plan {
    /// Parses `everyone:B`, `share:80:B`, `counts:B=23,C=5`, `random`, `change:B:C` or `checkin`.
    pub fn parse(s: &str) -> Result<Plan, String> {
        let button = |b: &str| {
            let mut chars = b.chars();
            match (chars.next().and_then(Button::from_letter), chars.next()) {
                (Some(b), None) => Ok(b),
                _ => Err(format!("not a button A-E: {b:?}")),
            }
        };
        let parts: Vec<&str> = s.split(':').collect();
        match parts.as_slice() {
            ["everyone", b] => Ok(Plan::Everyone(button(b)?)),
            ["share", p, b] => {
                let percent: u8 = p.parse().ok().filter(|p| *p <= 100).ok_or(format!("bad percent {p:?}"))?;
                Ok(Plan::Share { percent, button: button(b)? })
            }
            ["counts", list] => list
                .split(',')
                .map(|item| {
                    let (b, n) = item.split_once('=').ok_or(format!("expected B=23, got {item:?}"))?;
                    Ok((button(b)?, n.parse().map_err(|_| format!("bad count {n:?}"))?))
                })
                .collect::<Result<_, String>>()
                .map(Plan::Counts),
            ["random"] => Ok(Plan::Random),
            ["change", a, b] => Ok(Plan::Change { first: button(a)?, then: button(b)? }),
            ["checkin"] => Ok(Plan::CheckIn),
            _ => Err(format!(
                "unknown plan {s:?}: use everyone:B, share:80:B, counts:B=23,C=5, random, change:B:C or checkin"
            )),
        }
    }

    /// What clicker `index` of `n` presses under this plan (empty: nothing). `None` stands for the
    /// check-in button.
    fn presses(&self, index: usize, n: usize, rng: &mut StdRng, snapshot: &Snapshot) -> Vec<Option<Button>> {
        match self {
            Plan::Everyone(b) => vec![Some(*b)],
            Plan::Share { percent, button } => {
                if index * 100 < n * *percent as usize {
                    vec![Some(*button)]
                } else {
                    vec![]
                }
            }
            Plan::Counts(blocks) => {
                let mut start = 0;
                for (b, count) in blocks {
                    if (start..start + count).contains(&index) {
                        return vec![Some(*b)];
                    }
                    start += count;
                }
                vec![]
            }
            Plan::Random => {
                let options = snapshot.question.map_or(5, |q| q.spec.options());
                vec![Button::from_index(rng.random_range(0..options))]
            }
            Plan::Change { first, then } => vec![Some(*first), Some(*then)],
            Plan::CheckIn => vec![None],
        }
    }
}

/// How a class is set up.
#[derive(Debug, Clone)]
pub struct ClassConfig {
    /// Where the broker is.
    pub broker: BrokerAddr,
    /// The room.
    pub room: RoomCode,
    /// One identity per clicker.
    pub identities: Vec<Identity>,
    /// Clicker timings.
    pub timing: Timing,
    /// How fingers press.
    pub finger: Finger,
}

impl ClassConfig {
    /// `n` clickers with identities derived from `seed` (see [`identity`]), default timings.
    pub fn new(broker: BrokerAddr, room: RoomCode, seed: &str, n: usize) -> Self {
        let identities = (1..=n).map(|i| identity(seed, i)).collect();
        ClassConfig { broker, room, identities, timing: Timing::default(), finger: Finger::default() }
    }
}

/// A class of simulated clickers.
pub struct Class {
    clickers: Vec<Arc<SimClicker>>,
}

/// Some clickers did not reach the state waited for in time.
#[derive(Debug, Clone)]
pub struct NotReached {
    /// How many did not.
    pub missing: usize,
    /// Their snapshots.
    pub examples: Vec<(DeviceId, Snapshot)>,
}

impl std::fmt::Display for NotReached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} clickers did not get there, e.g. {:?}", self.missing, self.examples.first())
    }
}

impl Class {
    /// Starts every clicker (they boot and connect on their own tasks).
    pub fn start(cfg: ClassConfig) -> Self {
        let clickers = cfg
            .identities
            .into_iter()
            .map(|id| Arc::new(SimClicker::start(cfg.broker.clone(), cfg.room.clone(), id, cfg.timing, cfg.finger)))
            .collect();
        Class { clickers }
    }

    /// The clickers.
    pub fn clickers(&self) -> &[Arc<SimClicker>] {
        &self.clickers
    }

    /// Snapshots of all clickers.
    pub fn snapshots(&self) -> Vec<Snapshot> {
        self.clickers.iter().map(|c| c.snapshot()).collect()
    }

    /// Waits until `pred` holds for every clicker.
    pub async fn wait_until(
        &self,
        pred: impl Fn(&Snapshot) -> bool + Copy,
        timeout: Duration,
    ) -> Result<(), NotReached> {
        let deadline = tokio::time::Instant::now() + timeout;
        for c in &self.clickers {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if c.wait_for(pred, left).await.is_err() {
                let examples: Vec<_> = self
                    .clickers
                    .iter()
                    .filter(|c| !pred(&c.snapshot()))
                    .map(|c| (c.identity.device.clone(), c.snapshot()))
                    .collect();
                return Err(NotReached { missing: examples.len(), examples: examples.into_iter().take(3).collect() });
            }
        }
        Ok(())
    }

    /// Plays a plan: each clicker starts its presses at a random moment within `jitter_ms`
    /// (seeded by `seed`, so a run can be repeated). Returns once every press was made (not acked).
    pub async fn play(&self, plan: &Plan, jitter_ms: u64, seed: u64) {
        let mut rng = StdRng::seed_from_u64(seed);
        let n = self.clickers.len();
        let mut tasks = Vec::with_capacity(n);
        for (i, clicker) in self.clickers.iter().enumerate() {
            let presses = plan.presses(i, n, &mut rng, &clicker.snapshot());
            if presses.is_empty() {
                continue;
            }
            let delay = if jitter_ms == 0 { 0 } else { rng.random_range(0..=jitter_ms) };
            let clicker = clicker.clone();
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(delay)).await;
                for press in presses {
                    match press {
                        Some(b) => clicker.press(b).await,
                        None => clicker.check_in().await,
                    }
                }
            }));
        }
        for t in tasks {
            // A press task only fails if it was cancelled, when the runtime shuts down.
            let _ = t.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_addresses_parse() {
        assert_eq!(
            BrokerAddr::parse("mqtt://127.0.0.1:1883").unwrap(),
            BrokerAddr { host: "127.0.0.1".into(), port: 1883 }
        );
        assert_eq!(BrokerAddr::parse("hub.local").unwrap().port, 1883);
        assert!(BrokerAddr::parse("mqtt://h:port").is_err());
        assert!(BrokerAddr::parse("http://h/x").is_err());
    }

    #[test]
    fn plans_parse() {
        assert_eq!(Plan::parse("everyone:B"), Ok(Plan::Everyone(Button::B)));
        assert_eq!(Plan::parse("share:80:C"), Ok(Plan::Share { percent: 80, button: Button::C }));
        assert_eq!(Plan::parse("counts:B=23,C=5"), Ok(Plan::Counts(vec![(Button::B, 23), (Button::C, 5)])));
        assert_eq!(Plan::parse("change:A:D"), Ok(Plan::Change { first: Button::A, then: Button::D }));
        assert!(Plan::parse("everyone:F").is_err());
        assert!(Plan::parse("share:120:A").is_err());
    }

    #[test]
    fn identities_are_stable_and_distinct() {
        assert_eq!(identity("demo", 1), identity("demo", 1));
        assert_ne!(identity("demo", 1).key, identity("demo", 2).key);
        assert_ne!(identity("demo", 1).key, identity("other", 1).key);
        assert_eq!(identity("demo", 12).device.as_str(), "sim-0012");
    }

    #[test]
    fn counts_give_blocks_in_order() {
        let plan = Plan::Counts(vec![(Button::B, 23), (Button::C, 5)]);
        let mut rng = StdRng::seed_from_u64(0);
        let snap = Snapshot {
            state: State::Idle,
            led: None,
            question: None,
            waiting: 0,
            dropped: 0,
            in_flight: None,
            stats: Stats::default(),
        };
        let all: Vec<_> = (0..30).map(|i| plan.presses(i, 30, &mut rng, &snap)).collect();
        assert_eq!(all.iter().filter(|p| **p == [Some(Button::B)]).count(), 23);
        assert_eq!(all.iter().filter(|p| **p == [Some(Button::C)]).count(), 5);
        assert!(all[28].is_empty() && all[29].is_empty());
    }
}
