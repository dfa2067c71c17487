//! Firmware in the store: signed images, rollouts to rooms and each clicker's step, so a rollout
//! started by the CLI is taken up by the running hub and survives its restart.

use std::collections::BTreeMap;

use firmware::ota::image::{HEADER_LEN, Header, Version};
use firmware::protocol::{DeviceId, RoomCode};
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{Store, StoreError, corrupt};
use crate::fleet::rollout::{Phase, Plan, Step, Target};

/// A rollout as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutRow {
    /// Its id.
    pub id: i64,
    /// The room.
    pub room: RoomCode,
    /// The image.
    pub image_id: i64,
    /// The version it brings.
    pub version: String,
    /// Its plan.
    pub plan: Plan,
    /// `new`, `waiting_for_lesson`, `running`, `halted` or `done`.
    pub phase: String,
    /// The stage under way.
    pub stage: u8,
    /// Why it halted.
    pub detail: Option<String>,
    /// When it started.
    pub started_ms: i64,
    /// When it ended.
    pub ended_ms: Option<i64>,
}

/// One clicker's line in a rollout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutDevice {
    /// The clicker.
    pub device: String,
    /// Its stage.
    pub stage: u8,
    /// Its step (`waiting` … `done`, `failed`).
    pub step: String,
    /// The next chunk it asked for.
    pub next: u32,
    /// Why it failed.
    pub error: Option<String>,
}

/// Checks an uploaded image: a classhub header, a payload of the length it says and the hash it
/// says. (The signature is the clickers' to check: they hold the key.)
pub fn check_image(image: &[u8]) -> Result<Header, String> {
    let raw: &[u8; HEADER_LEN] =
        image.get(..HEADER_LEN).and_then(|h| h.try_into().ok()).ok_or("too short for a firmware image")?;
    let header =
        Header::parse(raw).map_err(|_| "not a classhub firmware image (sign it with `classhub firmware sign`)")?;
    let payload = &image[HEADER_LEN..];
    if payload.len() as u64 != u64::from(header.len) {
        return Err(format!("the header says {} bytes of payload, the file has {}", header.len, payload.len()));
    }
    if <[u8; 32]>::from(Sha256::digest(payload)) != header.sha256 {
        return Err("the payload does not match its SHA-256: the file is damaged".into());
    }
    Ok(header)
}

fn rollout_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<RolloutRow, StoreError> {
    Ok(RolloutRow {
        id: r.get("id"),
        room: RoomCode::parse(r.get("room")).map_err(corrupt("rollout room"))?,
        image_id: r.get("image_id"),
        version: r.get("version"),
        plan: Plan {
            first_stage: r.get::<i64, _>("first_stage").clamp(0, 10_000) as usize,
            max_failure_pct: r.get::<i64, _>("max_failure_pct").clamp(0, 100) as u8,
        },
        phase: r.get("phase"),
        stage: r.get::<i64, _>("stage").clamp(1, 2) as u8,
        detail: r.get("detail"),
        started_ms: r.get("started_ms"),
        ended_ms: r.get("ended_ms"),
    })
}

macro_rules! rollout_select {
    ($where:literal) => {
        concat!(
            "SELECT r.id, r.room, r.image_id, i.version, r.first_stage, r.max_failure_pct, r.phase, r.stage, r.detail, \
             r.started_ms, r.ended_ms FROM rollouts r JOIN firmware_images i ON i.id = r.image_id ",
            $where
        )
    };
}

impl Store {
    /// Keeps a checked image; returns its id and version.
    pub async fn add_firmware_image(&self, image: &[u8], by: &str, now_ms: i64) -> Result<(i64, Version), StoreError> {
        let header = check_image(image).map_err(StoreError::BadImage)?;
        let sha = crate::hex(&header.sha256);
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO firmware_images (version, sha256, image, added_ms, added_by) VALUES (?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(header.version.to_text().as_str())
        .bind(sha)
        .bind(image)
        .bind(now_ms)
        .bind(by)
        .fetch_one(&self.pool)
        .await?;
        Ok((id, header.version))
    }

    /// An image's bytes.
    pub async fn firmware_image(&self, id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(sqlx::query("SELECT image FROM firmware_images WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.get("image")))
    }

    /// Starts a rollout of an image to a room; one still open there ends as replaced.
    pub async fn start_rollout(
        &self,
        room: &RoomCode,
        image_id: i64,
        plan: Plan,
        now_ms: i64,
        by: &str,
    ) -> Result<i64, StoreError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "UPDATE rollouts SET phase = 'halted', detail = 'replaced by a newer rollout', ended_ms = ? \
             WHERE room = ? AND ended_ms IS NULL",
        )
        .bind(now_ms)
        .bind(room.as_str())
        .execute(&mut *tx)
        .await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO rollouts (room, image_id, first_stage, max_failure_pct, started_ms, started_by) \
             VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(room.as_str())
        .bind(image_id)
        .bind(plan.first_stage as i64)
        .bind(i64::from(plan.max_failure_pct))
        .bind(now_ms)
        .bind(by)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The rollouts not yet ended, the newest of each room.
    pub async fn open_rollouts(&self) -> Result<Vec<RolloutRow>, StoreError> {
        let rows = sqlx::query(rollout_select!(
            "WHERE r.id IN (SELECT MAX(id) FROM rollouts WHERE ended_ms IS NULL GROUP BY room) ORDER BY r.id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rollout_from_row).collect()
    }

    /// A rollout and its clickers.
    pub async fn rollout(&self, id: i64) -> Result<Option<(RolloutRow, Vec<RolloutDevice>)>, StoreError> {
        let Some(row) = sqlx::query(rollout_select!("WHERE r.id = ?")).bind(id).fetch_optional(&self.pool).await?
        else {
            return Ok(None);
        };
        let devices = sqlx::query(
            "SELECT device_id, stage, step, next_chunk, error FROM rollout_devices WHERE rollout_id = ? \
             ORDER BY stage, device_id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| RolloutDevice {
            device: r.get("device_id"),
            stage: r.get::<i64, _>("stage").clamp(1, 2) as u8,
            step: r.get("step"),
            next: r.get::<i64, _>("next_chunk").clamp(0, u32::MAX as i64) as u32,
            error: r.get("error"),
        })
        .collect();
        Ok(Some((rollout_from_row(&row)?, devices)))
    }

    /// The latest rollout of each room, newest first.
    pub async fn latest_rollouts(&self) -> Result<Vec<RolloutRow>, StoreError> {
        let rows = sqlx::query(rollout_select!(
            "WHERE r.id IN (SELECT MAX(id) FROM rollouts GROUP BY room) ORDER BY r.id DESC"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rollout_from_row).collect()
    }

    /// A rollout's clickers as the engine restores them.
    pub async fn rollout_targets(&self, id: i64) -> Result<BTreeMap<DeviceId, Target>, StoreError> {
        let rows =
            sqlx::query("SELECT device_id, stage, step, next_chunk, error FROM rollout_devices WHERE rollout_id = ?")
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
        let mut out = BTreeMap::new();
        for r in &rows {
            let step: String = r.get("step");
            out.insert(
                DeviceId::parse(r.get("device_id")).map_err(corrupt("rollout device"))?,
                Target {
                    stage: r.get::<i64, _>("stage").clamp(1, 2) as u8,
                    step: Step::parse(&step).ok_or_else(|| StoreError::Corrupt(format!("rollout step {step:?}")))?,
                    next: r.get::<i64, _>("next_chunk").clamp(0, u32::MAX as i64) as u32,
                    error: r.get("error"),
                    touched_ms: 0,
                    offers: 0,
                },
            );
        }
        Ok(out)
    }

    /// Keeps a rollout's phase and the clickers that changed, in one transaction.
    pub async fn save_rollout(
        &self,
        id: i64,
        phase: &Phase,
        stage: u8,
        targets: &[(DeviceId, Target)],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let detail = match phase {
            Phase::Halted(why) => Some(why.as_str()),
            _ => None,
        };
        // A rollout already ended (replaced by a newer one) stays ended.
        sqlx::query(
            "UPDATE rollouts SET phase = ?, stage = ?, detail = ?, ended_ms = ? WHERE id = ? AND ended_ms IS NULL",
        )
        .bind(phase.as_str())
        .bind(i64::from(stage))
        .bind(detail)
        .bind(phase.ended().then_some(now_ms))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        for (device, t) in targets {
            sqlx::query(
                "INSERT INTO rollout_devices (rollout_id, device_id, stage, step, next_chunk, error, updated_ms) \
                 VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (rollout_id, device_id) DO UPDATE SET \
                 stage = excluded.stage, step = excluded.step, next_chunk = excluded.next_chunk, \
                 error = excluded.error, updated_ms = excluded.updated_ms",
            )
            .bind(id)
            .bind(device.as_str())
            .bind(i64::from(t.stage))
            .bind(t.step.as_str())
            .bind(i64::from(t.next))
            .bind(t.error.as_deref())
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A room's clickers in service with the firmware each last reported.
    pub async fn room_firmware(&self, room: &RoomCode) -> Result<Vec<(DeviceId, Option<String>)>, StoreError> {
        let rows = sqlx::query("SELECT id, firmware FROM devices WHERE room = ? AND retired_ms IS NULL ORDER BY id")
            .bind(room.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((DeviceId::parse(r.get("id")).map_err(corrupt("device id"))?, r.get("firmware"))))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::rollout::Phase;
    use crate::store::test_store;

    #[tokio::test]
    async fn a_replaced_rollout_stays_ended_and_only_the_newest_of_a_room_is_open() {
        let store = test_store("rollouts").await;
        let room = RoomCode::parse("b-204").unwrap();
        let image = firmware::sim::ota::image(&[1; 32], Version::parse("0.2.0").unwrap(), b"payload");
        let (image_id, _) = store.add_firmware_image(&image, "test", 0).await.unwrap();
        let first = store.start_rollout(&room, image_id, Plan::default(), 1, "test").await.unwrap();
        let second = store.start_rollout(&room, image_id, Plan::default(), 2, "test").await.unwrap();
        // The engine, which read the first before it was replaced, saves it as running.
        store.save_rollout(first, &Phase::Running(1), 1, &[], 3).await.unwrap();
        let open: Vec<i64> = store.open_rollouts().await.unwrap().iter().map(|r| r.id).collect();
        assert_eq!(open, [second]);
        let (row, _) = store.rollout(first).await.unwrap().unwrap();
        assert_eq!((row.phase.as_str(), row.detail.as_deref()), ("halted", Some("replaced by a newer rollout")));
        assert!(check_image(b"short").is_err() && check_image(&image).is_ok());
    }
}
