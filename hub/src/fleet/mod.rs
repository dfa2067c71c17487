//! The clickers as a fleet: device health so far (the battery trend), later pairing and firmware.

pub mod battery;
