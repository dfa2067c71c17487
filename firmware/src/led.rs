//! What the status LED says to the student, and how an RGB LED on three pins says it.
//!
//! | state                      | LED                                   |
//! |----------------------------|---------------------------------------|
//! | stored                     | green, steady                         |
//! | pending (sent, not acked)  | blue, fast blink (4 per second)       |
//! | closed / rejected          | red, steady for 3 s                   |
//! | question open, no answer   | blue, steady                          |
//! | connecting / offline       | amber, slow blink (1 per second)      |
//! | fault (storage failed)     | red, fast blink                       |
//! | idle / asleep              | off                                   |
//! | low battery (overlay)      | two short magenta flashes every 4 s   |
//!
//! Green means one thing only: the hub has the answer on disk.

use embedded_hal::digital::OutputPin;

use crate::clicker::State;
use crate::time::Millis;

/// A colour of the RGB LED, each channel on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Colour {
    /// Dark.
    Off,
    /// Red.
    Red,
    /// Green: stored, nothing else.
    Green,
    /// Blue.
    Blue,
    /// Red and green.
    Amber,
    /// Red and blue.
    Magenta,
}

impl Colour {
    /// Which channels are lit: (red, green, blue).
    pub const fn channels(self) -> (bool, bool, bool) {
        match self {
            Colour::Off => (false, false, false),
            Colour::Red => (true, false, false),
            Colour::Green => (false, true, false),
            Colour::Blue => (false, false, true),
            Colour::Amber => (true, true, false),
            Colour::Magenta => (true, false, true),
        }
    }
}

/// A colour, steady (`half_period_ms == 0`) or blinking on and off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pattern {
    colour: Colour,
    half_period_ms: u32,
}

const fn pattern(state: State) -> Pattern {
    let (colour, half_period_ms) = match state {
        State::Stored => (Colour::Green, 0),
        State::Pending => (Colour::Blue, 125),
        State::Closed | State::Rejected(_) => (Colour::Red, 0),
        State::QuestionOpen => (Colour::Blue, 0),
        State::Booting | State::Connecting | State::Offline => (Colour::Amber, 500),
        State::Fault => (Colour::Red, 100),
        State::Idle | State::Asleep => (Colour::Off, 0),
    };
    Pattern { colour, half_period_ms }
}

/// The low-battery overlay: every 4 s, two 120 ms magenta flashes.
const LOW_BATTERY_PERIOD_MS: u64 = 4000;
const LOW_BATTERY_FLASHES: [(u64, u64); 2] = [(0, 120), (240, 360)];

/// The colour to show at `now`.
pub fn colour_at(state: State, low_battery: bool, now: Millis) -> Colour {
    if low_battery && state != State::Asleep {
        let t = now.0 % LOW_BATTERY_PERIOD_MS;
        if LOW_BATTERY_FLASHES.iter().any(|&(from, to)| (from..to).contains(&t)) {
            return Colour::Magenta;
        }
    }
    let p = pattern(state);
    if p.half_period_ms == 0 || (now.0 / p.half_period_ms as u64).is_multiple_of(2) { p.colour } else { Colour::Off }
}

/// When the colour may next change by itself (blinks and flashes), if ever.
pub fn next_change(state: State, low_battery: bool, now: Millis) -> Option<Millis> {
    let blink = match pattern(state).half_period_ms as u64 {
        0 => None,
        h => Some((now.0 / h + 1) * h),
    };
    let flash = (low_battery && state != State::Asleep).then(|| {
        let base = now.0 - now.0 % LOW_BATTERY_PERIOD_MS;
        let t = now.0 % LOW_BATTERY_PERIOD_MS;
        LOW_BATTERY_FLASHES
            .iter()
            .flat_map(|&(a, b)| [a, b])
            .find(|&edge| edge > t)
            .map_or(base + LOW_BATTERY_PERIOD_MS, |edge| base + edge)
    });
    match (blink, flash) {
        (Some(a), Some(b)) => Some(Millis(a.min(b))),
        (a, b) => a.or(b).map(Millis),
    }
}

/// An RGB LED on three output pins.
pub struct RgbLed<O> {
    red: O,
    green: O,
    blue: O,
    active_low: bool,
}

impl<O: OutputPin> RgbLed<O> {
    /// An LED whose channels light when their pin is high (`active_low = false`) or low.
    pub fn new(red: O, green: O, blue: O, active_low: bool) -> Self {
        RgbLed { red, green, blue, active_low }
    }

    /// Lights `colour`, writing all three pins.
    pub fn show(&mut self, colour: Colour) -> Result<(), O::Error> {
        let (r, g, b) = colour.channels();
        for (pin, on) in [(&mut self.red, r), (&mut self.green, g), (&mut self.blue, b)] {
            if on != self.active_low { pin.set_high()? } else { pin.set_low()? }
        }
        Ok(())
    }

    /// The three pins back, for a test to finish its mocks.
    pub fn release(self) -> (O, O, O) {
        (self.red, self.green, self.blue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_hal_mock::eh1::digital::{Mock, State as Level, Transaction as T};

    #[test]
    fn only_stored_is_ever_green() {
        let states = [
            State::Booting,
            State::Connecting,
            State::Idle,
            State::QuestionOpen,
            State::Pending,
            State::Closed,
            State::Rejected(crate::protocol::RejectReason::BadMac),
            State::Offline,
            State::Asleep,
            State::Fault,
        ];
        for s in states {
            for t in (0..8000).step_by(10) {
                for low in [false, true] {
                    assert_ne!(colour_at(s, low, Millis(t)), Colour::Green, "{s:?} at {t} ms");
                }
            }
        }
        assert_eq!(colour_at(State::Stored, false, Millis(1234)), Colour::Green);
    }

    #[test]
    fn pending_blinks_blue_and_says_when_it_changes() {
        assert_eq!(colour_at(State::Pending, false, Millis(0)), Colour::Blue);
        assert_eq!(colour_at(State::Pending, false, Millis(130)), Colour::Off);
        assert_eq!(next_change(State::Pending, false, Millis(130)), Some(Millis(250)));
        assert_eq!(next_change(State::Stored, false, Millis(130)), None);
    }

    #[test]
    fn low_battery_flashes_magenta_over_any_state() {
        assert_eq!(colour_at(State::Stored, true, Millis(8_050)), Colour::Magenta);
        assert_eq!(colour_at(State::Stored, true, Millis(8_200)), Colour::Green);
        assert_eq!(colour_at(State::Stored, true, Millis(8_300)), Colour::Magenta);
        assert_eq!(next_change(State::Stored, true, Millis(8_200)), Some(Millis(8_240)));
        assert_eq!(next_change(State::Stored, true, Millis(8_400)), Some(Millis(12_000)));
        assert_eq!(colour_at(State::Asleep, true, Millis(8_050)), Colour::Off, "asleep stays dark");
    }

    #[test]
    fn an_active_low_led_drives_its_pins_inverted() {
        let red = Mock::new(&[T::set(Level::Low)]);
        let green = Mock::new(&[T::set(Level::High)]);
        let blue = Mock::new(&[T::set(Level::Low)]);
        let mut led = RgbLed::new(red, green, blue, true);
        led.show(Colour::Magenta).unwrap();
        let (mut r, mut g, mut b) = led.release();
        r.done();
        g.done();
        b.done();
    }
}
