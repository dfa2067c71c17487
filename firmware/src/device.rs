//! A clicker on real pins: five answer buttons and an optional check-in button (embedded-hal
//! `InputPin`), an RGB LED (`OutputPin`s), a clock, a battery gauge and a transport, around the
//! sans-IO [`Clicker`]. A board crate builds one of these and calls [`Device::run`].

use embedded_hal::delay::DelayNs;
use embedded_hal::digital::{InputPin, OutputPin};

use crate::clicker::{Clicker, Config, State};
use crate::debounce::{Debouncer, Edge};
use crate::led::{Colour, RgbLed};
use crate::ports::{Battery, BootCounter, NoUpdates, Transport, Updates};
use crate::protocol::Button;
use crate::time::{Clock, Millis};

/// The buttons: A–E in order, and a check-in button if the board has one. All of one pin type
/// (boards with a distinct type per GPIO use their HAL's type-erased pin).
pub struct Buttons<P> {
    /// A, B, C, D, E.
    pub answer: [P; 5],
    /// The check-in button, if fitted.
    pub check_in: Option<P>,
    /// Whether a pressed button reads low (the usual wiring: to ground, with a pull-up).
    pub active_low: bool,
}

/// Why polling the device failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error<E> {
    /// A button or LED pin.
    Pin(E),
}

/// How often to sample buttons when nothing else is due: a press is at least 50 ms long, the
/// debouncer needs a few samples of it.
pub const SCAN_MS: u32 = 5;

/// How often to read the battery.
pub const BATTERY_EVERY_MS: u32 = 60_000;

/// The clicker on its hardware; `U` takes firmware updates ([`NoUpdates`] unless
/// [`Device::with_updates`] gives it an [`crate::ota::Updater`]).
pub struct Device<P, O, C, B, T, U = NoUpdates> {
    core: Clicker,
    buttons: Buttons<P>,
    debounce: [Debouncer; 6],
    settle_ms: u32,
    led: RgbLed<O>,
    lit: Option<Colour>,
    clock: C,
    battery: B,
    transport: T,
    next_battery: Millis,
    updates: U,
}

impl<P, O, C, B, T, E> Device<P, O, C, B, T>
where
    P: InputPin<Error = E>,
    O: OutputPin<Error = E>,
    C: Clock,
    B: Battery,
    T: Transport,
{
    /// Wires a clicker to its hardware. Nothing is read or written until [`Device::boot`].
    pub fn new(cfg: Config, buttons: Buttons<P>, led: RgbLed<O>, clock: C, battery: B, transport: T) -> Self {
        let now = clock.now();
        Device {
            core: Clicker::new(cfg, now),
            buttons,
            debounce: [Debouncer::new(now); 6],
            settle_ms: Debouncer::DEFAULT_SETTLE_MS,
            led,
            lit: None,
            clock,
            battery,
            transport,
            next_battery: now,
            updates: NoUpdates,
        }
    }

    /// The same device, taking firmware updates through `updates`.
    pub fn with_updates<U: Updates>(self, updates: U) -> Device<P, O, C, B, T, U> {
        let Device { core, buttons, debounce, settle_ms, led, lit, clock, battery, transport, next_battery, .. } = self;
        Device { core, buttons, debounce, settle_ms, led, lit, clock, battery, transport, next_battery, updates }
    }
}

impl<P, O, C, B, T, U, E> Device<P, O, C, B, T, U>
where
    P: InputPin<Error = E>,
    O: OutputPin<Error = E>,
    C: Clock,
    B: Battery,
    T: Transport,
    U: Updates,
{
    /// Persists the next boot counter and starts connecting. On a storage failure the device stays
    /// in [`State::Fault`] (its LED blinks red) and the error is returned.
    pub fn boot<S: BootCounter>(&mut self, counter: &mut S) -> Result<(), S::Error> {
        let now = self.clock.now();
        let result = self.core.boot(counter, &mut self.transport, now);
        // A pin failure here shows again on the next poll, where it is returned.
        let _ = self.refresh_led(now);
        result
    }

    /// Samples the buttons, reads the battery when due, lets the core do its work and updates the
    /// LED. Returns when it next needs to run if no button changes (a board may sleep until then,
    /// waking on a button interrupt; or simply call [`Device::run`]).
    pub fn poll(&mut self) -> Result<Millis, Error<E>> {
        let now = self.clock.now();
        self.sample_buttons(now)?;
        if now >= self.next_battery {
            if let Some(mv) = self.battery.millivolts() {
                self.core.battery(mv);
            }
            self.next_battery = now.plus(BATTERY_EVERY_MS);
        }
        self.core.poll_with(now, &mut self.transport, &mut self.updates);
        self.refresh_led(now)?;
        let settling = self.debounce.iter().filter_map(|d| d.settles_at(self.settle_ms)).min();
        let next = [self.core.next_deadline(now), self.core.led_changes_at(now), settling, Some(self.next_battery)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(self.next_battery);
        Ok(next)
    }

    /// Polls forever, sleeping between polls but never longer than [`SCAN_MS`], so presses are seen.
    pub fn run<D: DelayNs>(&mut self, delay: &mut D) -> Result<core::convert::Infallible, Error<E>> {
        loop {
            let next = self.poll()?;
            let wait = next.since(self.clock.now()).clamp(1, SCAN_MS as u64);
            delay.delay_ms(wait as u32);
        }
    }

    fn sample_buttons(&mut self, now: Millis) -> Result<(), Error<E>> {
        let active_low = self.buttons.active_low;
        for (i, pin) in self.buttons.answer.iter_mut().enumerate() {
            let pressed = pin.is_low().map_err(Error::Pin)? == active_low;
            if self.debounce[i].sample(pressed, now, self.settle_ms) == Some(Edge::Pressed) {
                // Cannot fail: i < 5.
                let button = Button::from_index(i as u8).expect("five answer buttons");
                self.core.press(button, now, &mut self.transport);
            }
        }
        if let Some(pin) = &mut self.buttons.check_in {
            let pressed = pin.is_low().map_err(Error::Pin)? == active_low;
            if self.debounce[5].sample(pressed, now, self.settle_ms) == Some(Edge::Pressed) {
                self.core.check_in(now, &mut self.transport);
            }
        }
        Ok(())
    }

    fn refresh_led(&mut self, now: Millis) -> Result<(), Error<E>> {
        let colour = self.core.led(now);
        if self.lit != Some(colour) {
            self.led.show(colour).map_err(Error::Pin)?;
            self.lit = Some(colour);
        }
        Ok(())
    }

    /// The core, for reading its state.
    pub fn core(&self) -> &Clicker {
        &self.core
    }

    /// The state now.
    pub fn state(&self) -> State {
        self.core.state(self.clock.now())
    }

    /// The colour the LED shows.
    pub fn lit(&self) -> Option<Colour> {
        self.lit
    }

    /// The transport, for a simulator or test to inspect.
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// The clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// The updater.
    pub fn updates_mut(&mut self) -> &mut U {
        &mut self.updates
    }

    /// A new image is installed on trial and nothing waits to be sent: reboot into it now.
    pub fn reboot_due(&self) -> bool {
        self.updates.reboot_requested() && self.core.waiting() == 0
    }

    /// Takes the device apart, so tests can finish their pin mocks.
    pub fn release(self) -> (Buttons<P>, RgbLed<O>, T) {
        (self.buttons, self.led, self.transport)
    }
}
