//! The engine's side of pairing: windows opened by the pages, the CLI or the button, and each
//! clicker's exchange answered and, once it proves the code, stored and taken into the classroom.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use firmware::protocol::pairing::{Bytes, PairDone, PairRefusal};
use firmware::protocol::{self, ClaimId, PairTopic, RoomCode, topics};
use rumqttc::QoS;

use crate::fleet::pairing::{self as pairing, Confirmed, Mode, Started, Window};
use crate::ingest;
use crate::store::{self, Store, StoreError};

use super::{CommandError, Engine};

impl Engine {
    pub(super) async fn open_pairing(
        &mut self,
        room: &RoomCode,
        mode: Mode,
        seconds: u32,
        by: &str,
    ) -> Result<Window, CommandError> {
        let window = open_pairing_window(&self.store, room, mode, seconds, by).await?;
        self.pairing.open(window.clone());
        tracing::info!(room = %room, seconds, "pairing window opened by {by}");
        self.refresh_live(&BTreeSet::from([room.clone()]));
        Ok(window)
    }

    pub(super) async fn close_pairing(&mut self, room: &RoomCode) -> Result<(), CommandError> {
        let Some(w) = self.pairing.close(room) else { return Ok(()) };
        self.store.close_pairing_window(w.id, store::now_ms(), store::close_reason::CLOSED).await?;
        self.refresh_live(&BTreeSet::from([room.clone()]));
        Ok(())
    }

    /// Closes the windows whose time is up, takes the store's open windows (a CLI may have opened
    /// one), and drops stale exchanges.
    pub(super) async fn sync_pairing(&mut self) {
        let now = store::now_ms();
        let before: BTreeMap<RoomCode, (i64, u32, u32)> =
            self.pairing.windows().map(|w| (w.room.clone(), (w.id, w.paired, w.wrong))).collect();
        for w in self.pairing.expire(now) {
            let _ = self.store.close_pairing_window(w.id, w.until_ms, store::close_reason::TIME_UP).await;
        }
        match self.store.open_pairing_windows(now).await {
            Ok(open) => self.pairing.sync(open),
            Err(e) => tracing::warn!("reading pairing windows: {e}"),
        }
        let after: BTreeMap<RoomCode, (i64, u32, u32)> =
            self.pairing.windows().map(|w| (w.room.clone(), (w.id, w.paired, w.wrong))).collect();
        if before != after {
            for room in after.keys() {
                if self.rooms.add(room) {
                    for filter in ingest::subscriptions(room) {
                        let _ = self.mqtt.subscribe(filter, QoS::AtLeastOnce).await;
                    }
                }
            }
            self.refresh_live(&before.into_keys().chain(after.into_keys()).collect());
        }
    }

    pub(super) async fn publish_pair<T: serde::Serialize>(
        &self,
        room: &RoomCode,
        claim: &ClaimId,
        kind: PairTopic,
        msg: &T,
    ) {
        let topic = topics::pair(room, claim, kind);
        // Cannot fail: every pairing message is far below the payload limit.
        let payload = protocol::encode(msg).map(|b| b.to_vec()).unwrap_or_default();
        if self.mqtt.publish(topic.as_str(), QoS::AtLeastOnce, false, payload).await.is_err() {
            tracing::warn!("MQTT client closed; pairing {kind:?} not sent");
        }
    }

    /// One pairing message: a start is answered with the hub's share, a confirmation with a device
    /// id (stored first) or a refusal.
    pub(super) async fn on_pair(&mut self, msg: ingest::PairMessage) {
        let now = store::now_ms();
        let (room, claim) = (msg.room, msg.claim);
        let confirm = match msg.body {
            ingest::PairInbound::Start(start) => {
                // A window a CLI has just opened in another process: look in the store now rather
                // than at the next tick (at most every 200 ms, so a flood costs little).
                if self.pairing.window(&room).is_none()
                    && self.last_pairing_sync.is_none_or(|t| t.elapsed() >= Duration::from_millis(200))
                {
                    self.last_pairing_sync = Some(Instant::now());
                    self.sync_pairing().await;
                }
                match self.pairing.on_start(&room, claim, &start, now, &rand::random::<[u8; 64]>()) {
                    Started::Reply(reply) => self.publish_pair(&room, &claim, PairTopic::Reply, &reply).await,
                    Started::Refuse(why) => {
                        self.publish_pair(&room, &claim, PairTopic::Done, &PairDone::refused(why)).await
                    }
                    Started::Ignore => {}
                }
                return;
            }
            ingest::PairInbound::Confirm(confirm) => confirm,
        };
        let (window, keys) = match self.pairing.on_confirm(&room, claim, &confirm, now) {
            Confirmed::Accept { window, keys } => (window, keys),
            Confirmed::Wrong { window, wrong, closed } => {
                self.log.warn("wrong pairing code", format_args!("{wrong} in {room}'s window"));
                let _ = self.store.pairing_wrong_code(window, wrong).await;
                if closed {
                    tracing::warn!(room = %room, "pairing window closed after {wrong} wrong codes");
                    let _ = self.store.close_pairing_window(window, now, store::close_reason::WRONG_CODES).await;
                }
                self.refresh_live(&BTreeSet::from([room.clone()]));
                let refusal = PairDone::refused(PairRefusal::WrongCode);
                return self.publish_pair(&room, &claim, PairTopic::Done, &refusal).await;
            }
            Confirmed::Closed => {
                let refusal = PairDone::refused(PairRefusal::Closed);
                return self.publish_pair(&room, &claim, PairTopic::Done, &refusal).await;
            }
            Confirmed::Ignore => return,
        };
        let (student, replaces, loaner) = match &window.mode {
            Mode::Room => (None, None, false),
            Mode::Student { student, replaces } => (Some(student.clone()), replaces.clone(), false),
            Mode::Loaner { student } => (Some(student.clone()), None, true),
            Mode::ClassInOrder { class } => match self.store.next_unpaired_student(class).await {
                Ok(Some((_, name))) => (Some(name), None, false),
                Ok(None) => {
                    self.pairing.close(&room);
                    let _ = self.store.close_pairing_window(window.id, now, store::close_reason::CLASS_COMPLETE).await;
                    self.refresh_live(&BTreeSet::from([room.clone()]));
                    let refusal = PairDone::refused(PairRefusal::ClassComplete);
                    return self.publish_pair(&room, &claim, PairTopic::Done, &refusal).await;
                }
                Err(e) => return tracing::error!("pairing in {room}: {e}"),
            },
        };
        let mut stored = None;
        for _ in 0..3 {
            let mut device = crate::web::generate_device(room.clone(), student.clone());
            device.key = keys.device_key(&device.id);
            let paired = store::Paired { device, loaner, window: window.id, replaces: replaces.clone() };
            match self.store.add_paired(&paired, now).await {
                Ok(()) => {
                    stored = Some(paired.device);
                    break;
                }
                Err(StoreError::DeviceExists(_)) => continue,
                Err(e) => {
                    // Nothing is sent: the clicker gives up waiting and its student types the code again.
                    tracing::error!("storing a paired clicker in {room}: {e}");
                    return;
                }
            }
        }
        let Some(device) = stored else { return };
        tracing::info!(room = %room, device = %device.id, "clicker paired");
        let done = PairDone {
            device: Some(device.id.clone()),
            tag: Some(Bytes(keys.hub_confirms(&device.id))),
            refused: None,
        };
        if let Some(old) = &replaces {
            self.forget_device(old);
        }
        self.learn_device(device).await;
        let still_open = self.pairing.paired(&room).is_some();
        if !still_open {
            let _ = self.store.close_pairing_window(window.id, now, store::close_reason::DONE).await;
        } else if let Mode::ClassInOrder { class } = &window.mode
            && matches!(self.store.next_unpaired_student(class).await, Ok(None))
        {
            self.pairing.close(&room);
            let _ = self.store.close_pairing_window(window.id, now, store::close_reason::CLASS_COMPLETE).await;
        }
        self.refresh_live(&BTreeSet::from([room.clone()]));
        self.publish_pair(&room, &claim, PairTopic::Done, &done).await;
    }
}

/// Checks and stores a new pairing window with a fresh code: the engine's way and the CLI's (whose
/// window the running hub takes up within a second).
pub async fn open_pairing_window(
    store: &Store,
    room: &RoomCode,
    mode: Mode,
    seconds: u32,
    by: &str,
) -> Result<Window, CommandError> {
    if !(1..=pairing::MAX_SECONDS).contains(&seconds) {
        return Err(CommandError::Invalid(format!("a pairing window lasts 1 to {} seconds", pairing::MAX_SECONDS)));
    }
    match &mode {
        Mode::Student { student, .. } | Mode::Loaner { student } if student.trim().is_empty() => {
            return Err(CommandError::Invalid("choose a student".into()));
        }
        Mode::ClassInOrder { class } if store.class_students(class).await?.is_empty() => {
            return Err(CommandError::Invalid(format!("class {class:?} has no students in the roster")));
        }
        _ => {}
    }
    let code = firmware::pake::PairCode::from_random(rand::random::<u8>);
    let now = store::now_ms();
    let until_ms = now + i64::from(seconds) * 1000;
    let id = store.open_pairing_window(room, &mode, &code, now, until_ms, by).await?;
    Ok(Window { id, room: room.clone(), mode, code, until_ms, wrong: 0, paired: 0 })
}
