//! The classhub clicker: wire protocol v1, the `no_std` firmware core, and a host simulator.
//!
//! # Layout
//!
//! - [`protocol`] — topics, JSON payloads, MACs: the wire format shared with the hub.
//! - [`clicker`] — the sans-IO state machine: presses, messages and time in; publishes and state out.
//! - [`device`] — the state machine on embedded-hal pins, with a clock, battery and transport.
//! - [`debounce`], [`led`], [`outbox`] — the parts the state machine and device are made of.
//! - [`pairing`], [`pake`] — an unpaired clicker's side of pairing: the code typed on its buttons,
//!   one password-authenticated key exchange with the hub, a device id and key out.
//! - [`ota`] — firmware updates: signed images, A/B slots on NOR flash that fall back by themselves,
//!   and the updater that turns offer and chunk messages into a verified image on trial.
//! - [`record_log`], [`ram_flash`] — a power-cut-safe record log on NOR flash; a RAM flash (and a
//!   power cut to inject) for tests and the simulator.
//! - [`boot_counter`] — the persisted boot counter on NOR flash that keeps sequence numbers unique.
//! - [`ports`], [`time`] — the traits a board implements.
//! - `sim` (feature `sim`, std) — virtual clickers over rumqttc, for the hub's demo, tests and
//!   benchmarks.
//!
//! The core never allocates, never uses `unsafe`, and never sees std unless the `sim` feature asks
//! for the simulator (CI links the core into a `#![no_std]` staticlib to keep it that way).
#![cfg_attr(not(any(test, feature = "sim")), no_std)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod boot_counter;
pub mod clicker;
pub mod debounce;
pub mod device;
pub mod led;
pub mod ota;
pub mod outbox;
pub mod pairing;
pub mod pake;
pub mod ports;
pub mod protocol;
pub mod ram_flash;
pub mod record_log;
pub mod time;

#[cfg(feature = "sim")]
pub mod sim;

pub use clicker::{Clicker, Config, State, Timing};
pub use device::{Buttons, Device};
pub use time::{Clock, Millis};
