//! The engine's side of firmware rollouts: rollouts started in the store taken up, moved on every
//! second (never during a lesson), and each clicker's signed progress turned into chunks.

use std::collections::HashSet;
use std::sync::Arc;

use firmware::protocol::{self, ClickerTopic, RoomCode, mac, topics};
use rumqttc::QoS;

use crate::fleet::rollout::{self, Rollout};
use crate::ingest::From;
use crate::store::{self, StoreError};

use super::Engine;

impl Engine {
    /// Takes up rollouts started elsewhere (the CLI, the technician page), moves each on — nothing
    /// while a lesson runs in its room — and keeps what changed.
    pub(super) async fn sync_rollouts(&mut self) {
        let now = store::now_ms();
        match self.store.open_rollouts().await {
            Ok(rows) => {
                let open: HashSet<i64> = rows.iter().map(|r| r.id).collect();
                self.rollouts.retain(|_, r| open.contains(&r.id));
                for row in rows {
                    if self.rollouts.get(&row.room).is_some_and(|r| r.id == row.id) {
                        continue;
                    }
                    match self.load_rollout(&row, now).await {
                        Ok(r) => {
                            tracing::info!(room = %row.room, version = %row.version, "firmware rollout taken up");
                            self.rollouts.insert(row.room.clone(), r);
                        }
                        Err(e) => tracing::warn!(room = %row.room, "firmware rollout {}: {e}", row.id),
                    }
                }
            }
            Err(e) => tracing::warn!("reading rollouts: {e}"),
        }
        let mut out = Vec::new();
        for (room, r) in self.rollouts.iter_mut() {
            let lesson = self.classroom.session(room).is_some();
            let sends = r.tick(now, lesson, |d| self.online.contains(d));
            out.extend(sends.into_iter().map(|s| (room.clone(), s)));
        }
        for (room, send) in out {
            self.publish_fw(&room, send).await;
        }
        let ids: Vec<RoomCode> = self.rollouts.keys().cloned().collect();
        for room in ids {
            let Some(r) = self.rollouts.get_mut(&room) else { continue };
            let (changed, phase_changed) = r.take_changes();
            if changed.is_empty() && !phase_changed {
                continue;
            }
            if phase_changed {
                tracing::info!(room = %room, phase = r.phase.as_str(), "firmware rollout");
            }
            let (id, phase, stage) = (r.id, r.phase.clone(), r.stage());
            if let Err(e) = self.store.save_rollout(id, &phase, stage, &changed, now).await {
                tracing::warn!("keeping rollout {id}: {e}");
            }
            if phase.ended() {
                self.rollouts.remove(&room);
            }
        }
    }

    pub(super) async fn load_rollout(&self, row: &store::RolloutRow, now: i64) -> Result<Rollout, StoreError> {
        let image =
            self.store.firmware_image(row.image_id).await?.ok_or_else(|| StoreError::Corrupt("no image".into()))?;
        let version = firmware::ota::image::Version::parse(&row.version)
            .ok_or_else(|| StoreError::Corrupt(format!("firmware version {:?}", row.version)))?;
        let devices = self
            .store
            .room_firmware(&row.room)
            .await?
            .into_iter()
            .map(|(d, fw)| (d, fw.as_deref().and_then(firmware::ota::image::Version::parse)))
            .collect();
        let fresh = Rollout::new(row.id, row.room.clone(), version, Arc::new(image), row.plan, devices);
        let phase = match row.phase.as_str() {
            "new" => return Ok(fresh),
            "waiting_for_lesson" => rollout::Phase::WaitingForLesson,
            _ => rollout::Phase::Running(row.stage),
        };
        let targets = self.store.rollout_targets(row.id).await?;
        Ok(fresh.restore(phase, row.stage, targets, now))
    }

    pub(super) async fn publish_fw(&self, room: &RoomCode, send: rollout::Send) {
        let (device, kind, payload) = match &send {
            rollout::Send::Offer(d, offer) => (d, ClickerTopic::FwOffer, protocol::encode(offer)),
            rollout::Send::Chunk(d, chunk) => (d, ClickerTopic::FwChunk, protocol::encode(chunk)),
        };
        let topic = topics::clicker(room, device, kind);
        // Cannot fail: offers and chunks are sized to fit the payload limit.
        let payload = payload.map(|p| p.to_vec()).unwrap_or_default();
        if self.mqtt.publish(topic.as_str(), QoS::AtLeastOnce, false, payload).await.is_err() {
            tracing::warn!("MQTT client closed; firmware message not sent");
        }
    }

    /// A clicker's firmware progress: chunks for it, or a new step. Only a report with the
    /// clicker's MAC and a sequence number above its last report counts: a forged or replayed one
    /// could otherwise fail a clicker and halt a rollout.
    pub(super) async fn on_fw_progress(&mut self, from: &From, p: &firmware::protocol::update::FwProgress) {
        let Some(known) = self.devices.get(&from.device).filter(|k| k.room == from.room) else { return };
        if mac::verify(&known.key, &from.device, p).is_err() {
            self.log.warn("firmware report refused (bad MAC)", &from.device);
            return;
        }
        if self.fw_seq.get(&from.device).is_some_and(|last| p.seq <= *last) {
            return;
        }
        self.fw_seq.insert(from.device.clone(), p.seq);
        let lesson = self.classroom.session(&from.room).is_some();
        let Some(r) = self.rollouts.get_mut(&from.room) else { return };
        for send in r.on_progress(&from.device, p, store::now_ms(), lesson) {
            self.publish_fw(&from.room, send).await;
        }
    }
}
