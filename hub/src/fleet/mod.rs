//! The clickers as a fleet, and the hub's own hardware: device health (the battery trend) and the
//! Pi's status LED and pairing button so far; pairing and firmware later.

pub mod battery;
pub mod panel;
