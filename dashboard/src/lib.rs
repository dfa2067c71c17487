//! What people see in classhub: view structs in, HTML and SVG out, no I/O. The hub's web handlers
//! call it; it never calls the hub.
//!
//! # Layout
//!
//! - [`i18n`] — the interface's two languages, Dutch first, and the words in GLOSSARY.md.
//! - [`views`] — the page shell and every page: login, rooms, teacher, projector, devices.
//! - [`url`] — percent-encoding for links.
//! - [`chart`] — SVG charts drawn on the server (the answer histogram).

pub mod chart;
pub mod i18n;
pub mod url;
pub mod views;

pub use i18n::Lang;
pub use maud::Markup;
