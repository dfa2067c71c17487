//! Card check-in at the hub's reader: a student taps a school card as a second way to check in, one
//! a borrowed clicker cannot fake. The reader is anything behind [`CardReader`] — the MFRC522 on the
//! Pi's SPI (through the mfrc522 driver, wired up in `fleet::pi`), or a scripted one in tests.

use std::collections::HashMap;
use std::time::Duration;

use firmware::protocol::RoomCode;
use mfrc522::comm::Interface;
use mfrc522::{Initialized, Mfrc522};
use tokio::sync::{mpsc, watch};

use crate::engine::EngineHandle;
use crate::store::{self, Store, StoreError};

/// A card's UID: 4, 7 or 10 bytes. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CardUid(pub Vec<u8>);

impl CardUid {
    /// Parses the UID as hex (8, 14 or 20 digits, any case, colons or spaces allowed).
    pub fn parse_hex(s: &str) -> Option<CardUid> {
        let digits: Vec<u8> = s.bytes().filter(|b| !b" :-".contains(b)).collect();
        if ![8, 14, 20].contains(&digits.len()) {
            return None;
        }
        let hex = std::str::from_utf8(&digits).ok()?;
        (0..digits.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
            .collect::<Option<_>>()
            .map(CardUid)
    }
}

impl std::fmt::Debug for CardUid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CardUid(<redacted>)")
    }
}

/// A card reader, polled: the card in the field now, if any.
pub trait CardReader {
    /// A failure of the reader or its bus.
    type Error: std::fmt::Debug;
    /// The card in the field now, if any.
    fn poll(&mut self) -> Result<Option<CardUid>, Self::Error>;
}

impl<COMM: Interface> CardReader for Mfrc522<COMM, Initialized>
where
    COMM::Error: std::fmt::Debug,
{
    type Error = mfrc522::Error<COMM::Error>;

    fn poll(&mut self) -> Result<Option<CardUid>, Self::Error> {
        let atqa = match self.new_card_present() {
            Ok(atqa) => atqa,
            // No card answered: the usual case.
            Err(mfrc522::Error::Timeout) => return Ok(None),
            Err(e) => return Err(e),
        };
        let uid = self.select(&atqa)?;
        // Put the card to sleep so one tap reads once; a card already gone is no failure.
        let _ = self.hlta();
        Ok(Some(CardUid(uid.as_bytes().to_vec())))
    }
}

/// The same card seen again within this long is the same tap (held on the reader, or tapped twice).
pub const REPEAT_MS: u64 = 5_000;

/// Sans-IO: turns cards seen into taps.
#[derive(Debug, Default)]
pub struct Taps {
    last_seen: HashMap<CardUid, u64>,
}

impl Taps {
    /// A card seen at `now_ms`: true when it is a new tap.
    pub fn seen(&mut self, card: &CardUid, now_ms: u64) -> bool {
        self.last_seen.retain(|_, at| now_ms.saturating_sub(*at) < REPEAT_MS);
        self.last_seen.insert(card.clone(), now_ms).is_none()
    }
}

/// What a tap did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tapped {
    /// The student is checked in to the running session.
    CheckedIn(String),
    /// A known card, but no session runs in the room.
    NoSession(String),
    /// A card no student has.
    UnknownCard,
}

/// Checks in the card's student to the room's running session.
pub async fn tap(store: &Store, engine: &EngineHandle, room: &RoomCode, card: &CardUid) -> Result<Tapped, StoreError> {
    let Some(student) = store.card_student(&card.0).await? else { return Ok(Tapped::UnknownCard) };
    let Some(session) = engine.live(room).and_then(|l| l.session) else { return Ok(Tapped::NoSession(student)) };
    store.add_card_checkin(session.id, &student, store::now_ms()).await?;
    Ok(Tapped::CheckedIn(student))
}

/// Polls `reader` on a thread of its own (its bus calls block) every 50 ms and checks in each tap,
/// until `stopping` turns true.
pub async fn run<R: CardReader + Send + 'static>(
    mut reader: R,
    room: RoomCode,
    store: Store,
    engine: EngineHandle,
    mut stopping: watch::Receiver<bool>,
) {
    let (tx, mut cards) = mpsc::channel::<CardUid>(16);
    let poller = std::thread::spawn(move || {
        let mut failing = false;
        while !tx.is_closed() {
            match reader.poll() {
                Ok(Some(card)) => {
                    failing = false;
                    if tx.blocking_send(card).is_err() {
                        return;
                    }
                }
                Ok(None) => failing = false,
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!("card reader: {e:?}");
                }
                Err(_) => {}
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let start = tokio::time::Instant::now();
    let mut taps = Taps::default();
    loop {
        let card = tokio::select! {
            card = cards.recv() => card,
            _ = stopping.changed() => None,
        };
        let Some(card) = card else { break };
        if !taps.seen(&card, start.elapsed().as_millis() as u64) {
            continue;
        }
        match tap(&store, &engine, &room, &card).await {
            Ok(Tapped::CheckedIn(student)) => tracing::info!(room = %room, "checked in by card: {student}"),
            Ok(Tapped::NoSession(_)) => tracing::info!(room = %room, "a card was tapped, but no lesson runs"),
            Ok(Tapped::UnknownCard) => tracing::info!(room = %room, "an unknown card was tapped"),
            Err(e) => tracing::warn!("card check-in: {e}"),
        }
    }
    drop(cards);
    let _ = tokio::task::spawn_blocking(move || poller.join()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_card_held_on_the_reader_is_one_tap_and_counts_again_later() {
        let (anna, bram) = (CardUid(vec![1, 2, 3, 4]), CardUid(vec![5, 6, 7, 8]));
        let mut taps = Taps::default();
        assert!(taps.seen(&anna, 0));
        assert!(!taps.seen(&anna, 50));
        assert!(!taps.seen(&anna, 4_000));
        assert!(taps.seen(&bram, 4_100), "another card is its own tap");
        assert!(taps.seen(&anna, 4_000 + REPEAT_MS), "five seconds after it was last seen");
    }

    #[test]
    fn uids_parse_from_hex_in_the_usual_spellings_and_never_print() {
        assert_eq!(CardUid::parse_hex("04:A2:2B:1A").unwrap().0, [4, 0xa2, 0x2b, 0x1a]);
        assert_eq!(CardUid::parse_hex("04a22b1a5f6e80").unwrap().0.len(), 7);
        assert!(CardUid::parse_hex("04a2").is_none());
        assert!(CardUid::parse_hex("zzzzzzzz").is_none());
        assert_eq!(format!("{:?}", CardUid(vec![1, 2, 3, 4])), "CardUid(<redacted>)");
    }
}
