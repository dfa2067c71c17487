//! `classhub`: the hub binary. Thin: parse the command line and run it; everything lives in the
//! library (`hub::cli`), and errors print as one line.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match hub::cli::run(hub::cli::Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("classhub: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
