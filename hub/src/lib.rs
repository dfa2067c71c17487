//! The classhub hub: one binary per classroom that records answers and check-ins and shows the
//! class live. This is the skeleton the hub issue fills in: for now it carries the wire protocol
//! through from the firmware crate, so there is one definition of every message.
//!
//! # Layout
//!
//! - [`protocol`] — wire protocol v1 (re-exported from `firmware::protocol`): topics, payloads and
//!   the MAC check the ingest path will call.
//! - [`dashboard`] — the views (re-exported from the `dashboard` crate).

pub use dashboard;
pub use firmware::protocol;

/// The hub's version, as `classhub --version` prints it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
