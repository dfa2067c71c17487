//! `classhub pair`: opens a window in the store (the running hub takes it up within a second), shows
//! the code, and follows the window until it closes, with a progress bar of clickers paired.

use std::time::Duration;

use anyhow::Context as _;
use firmware::protocol::RoomCode;

use super::pairing::Mode;
use crate::store::{self, Store};

/// Opens a window and follows it to its end; ctrl-c closes it early.
pub async fn pair(store: &Store, room: &RoomCode, mode: Mode, seconds: u32) -> anyhow::Result<()> {
    let expect = match &mode {
        Mode::ClassInOrder { class } => Some(store.unpaired_students(class).await?),
        Mode::Student { .. } | Mode::Loaner { .. } => Some(1),
        Mode::Room => None,
    };
    let window = crate::engine::open_pairing_window(store, room, mode, seconds, "cli").await?;
    let spaced: Vec<String> = window.code.letters().chars().map(String::from).collect();
    println!("pairing in {room} for {seconds} s: type  {}  on each clicker", spaced.join(" "));
    println!("(the running hub answers the clickers; ctrl-c stops pairing)");
    let bar = match expect {
        Some(n) => indicatif::ProgressBar::new(n as u64),
        None => indicatif::ProgressBar::new_spinner(),
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} paired, {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut every = tokio::time::interval(Duration::from_millis(500));
    let stopped = crate::cli::shutdown_signal();
    tokio::pin!(stopped);
    let closed = loop {
        tokio::select! {
            _ = every.tick() => {}
            () = &mut stopped => {
                store.close_pairing_window(window.id, store::now_ms(), store::close_reason::CLOSED).await?;
            }
        }
        store.close_due_pairing_windows(store::now_ms()).await?;
        let row = store.pairing_window(window.id).await?.context("the pairing window vanished")?;
        bar.set_position(u64::from(row.window.paired));
        let left = (row.window.until_ms - store::now_ms()).max(0) / 1000;
        bar.set_message(format!("{} wrong codes, {left} s left", row.window.wrong));
        if let Some(closed) = row.closed {
            break (row.window, closed.1);
        }
    };
    bar.finish_and_clear();
    println!("pairing closed ({}): {} paired, {} wrong codes", closed.1, closed.0.paired, closed.0.wrong);
    Ok(())
}
