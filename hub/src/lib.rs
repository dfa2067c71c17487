//! The classhub hub: one binary per classroom that records answers and check-ins, acknowledges each
//! answer only once it is on disk, and shows the class live.
//!
//! # Layout
//!
//! - [`cli`] — the command line; `main.rs` only calls it.
//! - [`auth`] — accounts, roles, password hashes, login tokens and the wrong-password throttle.
//! - [`config`] — typed settings: defaults < TOML file < `CLASSHUB_*` env < flags.
//! - [`app`] — `App::build` binds every listener; `run_until_stopped` runs and shuts down cleanly.
//! - [`broker`] — the embedded MQTT broker (rmqtt), or none when an external one is configured.
//! - [`ingest`] — MQTT in: a clicker message parsed once into an `Inbound`.
//! - [`engine`] — the task that owns the classroom: authenticate, judge, commit, ack, publish; its
//!   `handle` is how the pages ask it for something, `lesson` carries out sessions and questions,
//!   and its `pair` and `rollouts` parts answer pairing exchanges and move firmware rollouts on.
//! - [`classroom`] — the sans-IO core: sessions, questions, tallies.
//! - [`fleet`] — the clickers as a fleet and the hub's own hardware: pairing (windows, modes, the
//!   exchange), the battery trend, the status LED and pairing button, school-card check-in, and the
//!   Pi's GPIO and SPI behind the `pi` feature.
//! - [`store`] — SQLite through sqlx; all SQL lives here.
//! - [`web`] — axum: JSON API, live event stream, health and metrics.
//! - [`metrics`] — counters and the ingest-to-ack histogram.
//! - [`blend`] — blended engagement: the OneRoster roster so far.
//! - [`bench`] — `classhub bench burst`: the lecture-hall burst, hub against a bare echo.
//! - [`demo`] — the newcomer's demo: a hub, a simulated class and a lesson that keeps going.
//! - [`protocol`] — wire protocol v1, re-exported from `firmware::protocol`.

pub mod app;
pub mod auth;
pub mod bench;
pub mod blend;
pub mod broker;
pub mod classroom;
pub mod cli;
pub mod config;
pub mod demo;
pub mod engine;
pub mod fleet;
pub mod ingest;
pub mod metrics;
pub mod store;
pub mod web;

pub use dashboard;
pub use firmware::protocol;

/// Bytes as lowercase hex: how digests, keyed hashes and secrets are written everywhere.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(2 * bytes.len());
    for b in bytes {
        // Cannot fail: writing to a String never fails.
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The hub's version, as `classhub --version` prints it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Sets up logs on stderr with `filter` (overridden by `RUST_LOG`).
pub fn init_logs(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
