//! classhub end to end: one test binary. Tests that need a service running on this machine are
//! marked `#[ignore = "needs ..."]` and run by `.ci/run` with `--include-ignored`.

mod attendance;
mod bad_input;
mod browser;
mod dashboard;
mod engagement;
mod firmware;
mod hardware;
mod lesson;
mod live_stream;
mod pairing;
mod restart;
mod roster;
mod sim_mosquitto;
mod xapi;
