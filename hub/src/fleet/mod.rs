//! The clickers as a fleet, and the hub's own hardware: pairing, device health (the battery trend),
//! and the Pi's status LED and pairing button; firmware later.

pub mod battery;
pub mod follow;
pub mod nfc;
pub mod pairing;
pub mod panel;
#[cfg(feature = "pi")]
pub mod pi;
pub mod release;
pub mod rollout;
