//! One virtual clicker: the real firmware core on virtual pins, over MQTT, on its own tokio task.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use super::mqtt::MqttTransport;
use super::ota::{Ota, SimUpdates, factory_slots, power_on};
use super::pins::{SimBattery, SimClock, VirtualPin};
use super::{BrokerAddr, Identity};
use crate::clicker::{Config, State, Stats, Timing};
use crate::device::{Buttons, Device};
use crate::led::{Colour, RgbLed};
use crate::ota::Updater;
use crate::ota::image::Version;
use crate::ports::BootCounter;
use crate::protocol::{AckStatus, Button, QuestionAnnouncement, RoomCode, Seq};
use crate::time::Clock;

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
    /// The last authenticated ack: sequence number and status.
    pub last_ack: Option<(Seq, AckStatus)>,
    /// When the latest message was first sent (the poll that sent it).
    pub sent_at: Option<tokio::time::Instant>,
    /// When its authenticated ack arrived (the poll that took it).
    pub acked_at: Option<tokio::time::Instant>,
    /// The firmware it runs.
    pub firmware: Version,
    /// How many times it has rebooted into a new image.
    pub reboots: u32,
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
        SimClicker::start_with_updates(broker, room, identity, timing, finger, None)
    }

    /// [`SimClicker::start`], taking firmware updates into a flash of its own when `ota` is given:
    /// it boots the factory image, installs what the hub sends, reboots into it and confirms it once
    /// it is back online.
    pub fn start_with_updates(
        broker: BrokerAddr,
        room: RoomCode,
        identity: Identity,
        timing: Timing,
        finger: Finger,
        ota: Option<Ota>,
    ) -> Self {
        let buttons: [VirtualPin; 6] = std::array::from_fn(|_| VirtualPin::new(true));
        let battery = Arc::new(AtomicU16::new(2_950));
        let wake = Arc::new(Notify::new());
        let rssi = -45 - (identity.key.0[0] % 30) as i16;
        let parts = Parts {
            broker,
            room,
            identity: identity.clone(),
            timing,
            buttons: buttons.clone(),
            battery: battery.clone(),
            wake: wake.clone(),
            rssi,
        };
        let (updates, running) =
            match ota.as_ref().map(|o| factory_slots(o).and_then(|mut s| power_on(&mut s).map(|b| (s, b)))) {
                Some(Ok((slots, boot))) => (SimUpdates::On(Box::new(Updater::new(slots, &boot))), boot.header.version),
                Some(Err(e)) => panic!("a simulated clicker cannot start from its factory image: {e}"),
                None => (SimUpdates::Off, sim_version()),
            };
        let device = parts.device(running, updates);
        let first = snapshot_of(&device, running, 0);
        let (tx, rx) = watch::channel(first);
        let task = tokio::spawn(run(parts, device, running, tx));
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

type SimDevice = Device<VirtualPin, VirtualPin, SimClock, SimBattery, MqttTransport, SimUpdates>;

/// The simulator's own version, which clickers without a flash report.
fn sim_version() -> Version {
    Version::parse(env!("CARGO_PKG_VERSION")).unwrap_or(Version { major: 0, minor: 0, patch: 0 })
}

/// What a clicker is made of besides its firmware: rebuilt around a new image after a reboot.
struct Parts {
    broker: BrokerAddr,
    room: RoomCode,
    identity: Identity,
    timing: Timing,
    buttons: [VirtualPin; 6],
    battery: Arc<AtomicU16>,
    wake: Arc<Notify>,
    rssi: i16,
}

impl Parts {
    fn device(&self, firmware: Version, updates: SimUpdates) -> SimDevice {
        let cfg = Config {
            room: self.room.clone(),
            device: self.identity.device.clone(),
            key: self.identity.key.clone(),
            // Cannot fail: a version is at most 17 characters and fits.
            firmware: firmware.to_text().as_str().try_into().unwrap_or_default(),
            timing: self.timing,
        };
        let [a, b, c, d, e, check_in] = self.buttons.clone();
        let pins = Buttons { answer: [a, b, c, d, e], check_in: Some(check_in), active_low: true };
        let led = RgbLed::new(VirtualPin::default(), VirtualPin::default(), VirtualPin::default(), false);
        let transport = MqttTransport::new(self.broker.clone(), self.rssi, self.wake.clone());
        Device::new(cfg, pins, led, SimClock::start(), SimBattery(self.battery.clone()), transport)
            .with_updates(updates)
    }
}

fn snapshot_of(device: &SimDevice, firmware: Version, reboots: u32) -> Snapshot {
    let core = device.core();
    Snapshot {
        state: device.state(),
        led: device.lit(),
        question: core.question(),
        waiting: core.waiting(),
        dropped: core.dropped(),
        in_flight: core.in_flight_seq(),
        stats: core.stats(),
        last_ack: core.last_ack(),
        sent_at: None,
        acked_at: None,
        firmware,
        reboots,
    }
}

/// The simulator's boot counters, one per device id: kept for the life of the process, and starting
/// above the seconds since 2023-11-14 (Unix time 1.7e9), so a clicker started again in a later run
/// still boots with a higher counter, as a real clicker's flash would see to.
struct SimBootCounter(String);

fn boot_counters() -> &'static std::sync::Mutex<std::collections::HashMap<String, u32>> {
    static COUNTERS: std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<String, u32>>> =
        std::sync::OnceLock::new();
    COUNTERS.get_or_init(Default::default)
}

impl BootCounter for SimBootCounter {
    type Error = std::convert::Infallible;

    fn next_boot(&mut self) -> Result<u32, Self::Error> {
        let floor = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs().saturating_sub(1_700_000_000) as u32);
        // Cannot fail unless another clicker panicked while holding the lock.
        let mut counters = boot_counters().lock().expect("boot counter lock");
        let counter = counters.entry(self.0.clone()).or_insert(0);
        *counter = (*counter).max(floor) + 1;
        Ok(*counter)
    }
}

async fn run(parts: Parts, mut device: SimDevice, mut running: Version, snapshots: watch::Sender<Snapshot>) {
    let mut counter = SimBootCounter(device.core().config().device.to_string());
    let mut reboots = 0;
    if device.boot(&mut counter).is_err() {
        snapshots.send_replace(snapshot_of(&device, running, reboots));
        return;
    }
    loop {
        let next = match device.poll() {
            Ok(next) => next,
            Err(never) => match never {},
        };
        if device.reboot_due() {
            // Reboot into the new image, as a board does once the broker has its last report: the
            // connection closes after the queued "done", the bootloader picks the slot, and a new
            // device starts on it.
            let SimUpdates::On(updater) = std::mem::replace(device.updates_mut(), SimUpdates::Off) else { return };
            let _ = crate::ports::Transport::disconnect(device.transport_mut());
            drop(device);
            let mut slots = updater.into_slots();
            let Ok(boot) = power_on(&mut slots) else { return };
            running = boot.header.version;
            reboots += 1;
            device = parts.device(running, SimUpdates::On(Box::new(Updater::new(slots, &boot))));
            if device.boot(&mut counter).is_err() {
                snapshots.send_replace(snapshot_of(&device, running, reboots));
                return;
            }
            continue;
        }
        let mut snap = snapshot_of(&device, running, reboots);
        if snap.online()
            && let SimUpdates::On(updater) = device.updates_mut()
        {
            // A healthy start: connected to the hub's broker. A trial image becomes the one it keeps.
            let _ = updater.confirm();
        }
        let before = *snapshots.borrow();
        snap.sent_at =
            if snap.stats.sent != before.stats.sent { Some(tokio::time::Instant::now()) } else { before.sent_at };
        snap.acked_at =
            if snap.stats.acked != before.stats.acked { Some(tokio::time::Instant::now()) } else { before.acked_at };
        snapshots.send_if_modified(|s| {
            let changed = *s != snap;
            *s = snap;
            changed
        });
        let wait = next.since(device.clock().now()).clamp(1, 1_000);
        tokio::select! {
            _ = parts.wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
        }
    }
}
