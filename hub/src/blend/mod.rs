//! Blended engagement: the roster (who is in which class), online activity, and the picture that
//! puts them beside what happens in class. So far: the OneRoster 1.1 CSV roster.

pub mod activity;
mod csv_table;
pub mod engagement;
pub mod forward;
pub mod import;
pub mod matching;
pub mod own;
pub mod roster;
pub mod xapi;
