//! The classhub clicker: wire protocol v1, the `no_std` firmware core, and a host simulator.
//!
//! # Layout
//!
//! - [`protocol`] — topics, JSON payloads, MACs: the wire format shared with the hub.
//!
//! The core never allocates, never uses `unsafe`, and never sees std unless the `sim` feature asks
//! for the simulator (CI links the core into a `#![no_std]` staticlib to keep it that way).
#![cfg_attr(not(any(test, feature = "sim")), no_std)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod protocol;
