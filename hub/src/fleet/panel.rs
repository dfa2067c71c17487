//! The hub's own panel on a Raspberry Pi: a status LED (starting, ready, pairing window open,
//! error) and the pairing button (held for two seconds: open a pairing window). Generic over
//! embedded-hal pins and driven by time given in, so it is tested with mock pins on any machine;
//! `fleet::pi` (feature `pi`) wires it to the Pi's GPIO through rppal.

use embedded_hal::digital::{InputPin, OutputPin};
use firmware::debounce::{Debouncer, Edge};
use firmware::time::Millis;

/// What the LED says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Starting up: a slow blink (1 Hz).
    Starting,
    /// Broker and store up: steady on.
    Ready,
    /// A pairing window is open: a quick double flash every second.
    PairingOpen,
    /// Something is wrong (broker or store down): a fast blink (5 Hz).
    Error,
}

/// Whether the LED is lit for `status` at `now`.
pub fn led_on(status: Status, now: Millis) -> bool {
    let t = now.0 % 1_000;
    match status {
        Status::Starting => t < 500,
        Status::Ready => true,
        Status::PairingOpen => t < 100 || (200..300).contains(&t),
        Status::Error => t % 200 < 100,
    }
}

/// What the LED says about the hub: an error while the broker is unreachable, the pairing pattern
/// while the room has a window open, else steady.
pub fn status_of(broker_up: bool, live: Option<&crate::classroom::Live>) -> Status {
    match (broker_up, live.and_then(|l| l.pairing.as_ref())) {
        (false, _) => Status::Error,
        (true, Some(_)) => Status::PairingOpen,
        (true, None) => Status::Ready,
    }
}

/// Drives a panel for `room` every 10 ms until `stopping` turns true: the LED follows the hub's
/// state and a held button opens a pairing window (the room's clickers, assigned later). Any pins
/// will do: rppal's on a Pi (`fleet::pi`), virtual ones in tests.
pub async fn run<B: InputPin, L: OutputPin>(
    mut panel: Panel<B, L>,
    room: firmware::protocol::RoomCode,
    engine: crate::engine::EngineHandle,
    broker_up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    let start = tokio::time::Instant::now();
    let mut every = tokio::time::interval(std::time::Duration::from_millis(10));
    let mut failing = false;
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = stopping.changed() => {}
        }
        if *stopping.borrow() {
            return;
        }
        let up = broker_up.load(std::sync::atomic::Ordering::Relaxed);
        panel.set_status(status_of(up, engine.live(&room).as_ref()));
        match panel.poll(Millis(start.elapsed().as_millis() as u64)) {
            Ok(Some(PanelEvent::PairingRequested)) => {
                let mode = super::pairing::Mode::Room;
                match engine.open_pairing(room.clone(), mode, super::pairing::DEFAULT_SECONDS, "button").await {
                    Ok(_) => tracing::info!(room = %room, "pairing window opened by the hub's button"),
                    Err(e) => tracing::warn!(room = %room, "the pairing button could not open a window: {e}"),
                }
            }
            Ok(None) => failing = false,
            Err(e) if !failing => {
                failing = true;
                tracing::warn!("hub panel: {e}");
            }
            Err(_) => {}
        }
    }
}

/// What the panel asks of the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PanelEvent {
    /// The button was held long enough: open a pairing window.
    PairingRequested,
}

/// How long the button must be held to ask for pairing (a brush against it does nothing).
pub const HOLD_MS: u64 = 2_000;

/// A pin failed.
#[derive(Debug, thiserror::Error)]
pub enum PanelError<B: core::fmt::Debug, L: core::fmt::Debug> {
    /// Reading the button.
    #[error("pairing button: {0:?}")]
    Button(B),
    /// Driving the LED.
    #[error("status LED: {0:?}")]
    Led(L),
}

/// The LED and the button (active low: the button pulls its pin to ground).
pub struct Panel<B, L> {
    button: B,
    led: L,
    debouncer: Debouncer,
    pressed_at: Option<Millis>,
    fired: bool,
    status: Status,
    lit: Option<bool>,
}

impl<B: InputPin, L: OutputPin> Panel<B, L> {
    /// A panel starting up at `now`.
    pub fn new(button: B, led: L, now: Millis) -> Self {
        Panel {
            button,
            led,
            debouncer: Debouncer::new(now),
            pressed_at: None,
            fired: false,
            status: Status::Starting,
            lit: None,
        }
    }

    /// Shows a new status.
    pub fn set_status(&mut self, status: Status) {
        self.status = status;
    }

    /// Samples the button and drives the LED; call it every few milliseconds. The LED pin is only
    /// written when it changes.
    pub fn poll(&mut self, now: Millis) -> Result<Option<PanelEvent>, PanelError<B::Error, L::Error>> {
        let raw = self.button.is_low().map_err(PanelError::Button)?;
        let mut event = None;
        match self.debouncer.sample(raw, now, Debouncer::DEFAULT_SETTLE_MS) {
            Some(Edge::Pressed) => (self.pressed_at, self.fired) = (Some(now), false),
            Some(Edge::Released) => self.pressed_at = None,
            None => {}
        }
        if let Some(at) = self.pressed_at
            && !self.fired
            && now.since(at) >= HOLD_MS
        {
            self.fired = true;
            event = Some(PanelEvent::PairingRequested);
        }
        let on = led_on(self.status, now);
        if self.lit != Some(on) {
            if on { self.led.set_high() } else { self.led.set_low() }.map_err(PanelError::Led)?;
            self.lit = Some(on);
        }
        Ok(event)
    }

    /// Gives the pins back.
    pub fn release(self) -> (B, L) {
        (self.button, self.led)
    }
}

#[cfg(test)]
mod tests {
    use embedded_hal_mock::eh1::digital::{Mock, State as Level, Transaction as T};

    use super::*;

    #[test]
    fn the_led_patterns_tell_the_four_states_apart() {
        let lit = |s: Status| (0..10).map(|i| led_on(s, Millis(i * 100))).collect::<Vec<_>>();
        assert_eq!(lit(Status::Ready), [true; 10]);
        assert_eq!(lit(Status::Starting), [true, true, true, true, true, false, false, false, false, false]);
        assert_eq!(lit(Status::PairingOpen), [true, false, true, false, false, false, false, false, false, false]);
        assert_eq!(lit(Status::Error), [true, false, true, false, true, false, true, false, true, false]);
    }

    #[test]
    fn holding_the_button_two_seconds_asks_for_pairing_once() {
        // Released, then held from t=100 ms to t=2,400 ms; the LED is ready (on) throughout and is
        // written once.
        let times: Vec<u64> = vec![0, 100, 120, 1_000, 2_110, 2_200, 2_400, 2_420];
        let levels =
            [Level::High, Level::Low, Level::Low, Level::Low, Level::Low, Level::Low, Level::High, Level::High];
        let button = Mock::new(&levels.iter().map(|l| T::get(*l)).collect::<Vec<_>>());
        let led = Mock::new(&[T::set(Level::High)]);
        let mut panel = Panel::new(button, led, Millis(0));
        panel.set_status(Status::Ready);
        let events: Vec<Option<PanelEvent>> = times.iter().map(|t| panel.poll(Millis(*t)).unwrap()).collect();
        assert_eq!(events, [None, None, None, None, None, Some(PanelEvent::PairingRequested), None, None]);
        let (mut button, mut led) = panel.release();
        button.done();
        led.done();
    }

    #[test]
    fn a_brush_against_the_button_does_nothing() {
        let levels = [Level::Low, Level::Low, Level::High, Level::High];
        let button = Mock::new(&levels.iter().map(|l| T::get(*l)).collect::<Vec<_>>());
        let led = Mock::new(&[T::set(Level::High), T::set(Level::Low)]);
        let mut panel = Panel::new(button, led, Millis(0));
        let events: Vec<_> = [0u64, 30, 600, 700].iter().map(|t| panel.poll(Millis(*t)).unwrap()).collect();
        assert!(events.iter().all(Option::is_none));
        let (mut button, mut led) = panel.release();
        button.done();
        led.done();
    }
}
