//! `classhub`: the hub binary. Thin by design; everything lives in the library.

use std::process::ExitCode;

fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        Some("--version" | "-V") => {
            println!("classhub {}", hub::VERSION);
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!(
                "classhub {} (wire protocol {})\n\nThe hub's `serve` and `demo` commands are not built yet.\n\
                 Try the clickers today: cargo run -p classhub-firmware --features sim --bin classhub-sim -- --help",
                hub::VERSION,
                hub::protocol::topics::ROOT,
            );
            ExitCode::from(2)
        }
    }
}
