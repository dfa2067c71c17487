//! What people see in classhub: view structs in, HTML and SVG out, no I/O. The hub's web handlers
//! call it; it never calls the hub.
//!
//! # Layout
//!
//! - [`i18n`] — the interface's two languages, Dutch first, and the words in GLOSSARY.md.

pub mod i18n;
