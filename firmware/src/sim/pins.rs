//! The simulator's hardware: virtual GPIO pins, a battery a test can set, and a clock on tokio time.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};

use embedded_hal::digital::{ErrorType, InputPin, OutputPin};

use crate::ports::Battery;
use crate::time::{Clock, Millis};

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
pub struct SimBattery(pub(super) Arc<AtomicU16>);

impl Battery for SimBattery {
    fn millivolts(&mut self) -> Option<u16> {
        Some(self.0.load(Ordering::Relaxed))
    }
}
