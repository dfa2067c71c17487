//! Time as an input: the core never reads a clock itself, so tests drive it millisecond by millisecond.

/// Milliseconds on the device's monotonic clock (since boot on a board, since start in a simulator).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Millis(pub u64);

impl Millis {
    /// `ms` milliseconds later.
    pub const fn plus(self, ms: u32) -> Millis {
        Millis(self.0.saturating_add(ms as u64))
    }

    /// Milliseconds from `earlier` to `self`, zero if `earlier` is later.
    pub const fn since(self, earlier: Millis) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// A monotonic millisecond clock. A board wraps its timer; tests use a fake.
pub trait Clock {
    /// The time now.
    fn now(&self) -> Millis;
}
