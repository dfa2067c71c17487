//! The clickers as the dashboard lists them: health and assignment, without keys.

use firmware::protocol::DeviceId;
use sqlx::Row;

use super::{Store, StoreError};

/// One clicker's assignment and health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetRow {
    /// Its id.
    pub id: String,
    /// Its room.
    pub room: String,
    /// Its student, if assigned.
    pub student: Option<String>,
    /// The last battery reading (mV).
    pub battery_mv: Option<i64>,
    /// The last signal strength (dBm).
    pub rssi: Option<i64>,
    /// Its firmware version.
    pub firmware: Option<String>,
    /// When it was last heard from.
    pub last_seen_ms: Option<i64>,
    /// Whether it is connected.
    pub online: bool,
    /// Lent for one session.
    pub loaner: bool,
}

impl Store {
    /// Every clicker, or those of one room, by id.
    pub async fn fleet(&self, room: Option<&str>) -> Result<Vec<FleetRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, room, student, battery_mv, rssi, firmware, last_seen_ms, online, loaner FROM devices \
             WHERE retired_ms IS NULL AND (? IS NULL OR room = ?) ORDER BY id",
        )
        .bind(room)
        .bind(room)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| FleetRow {
                id: r.get("id"),
                room: r.get("room"),
                student: r.get("student"),
                battery_mv: r.get("battery_mv"),
                rssi: r.get("rssi"),
                firmware: r.get("firmware"),
                last_seen_ms: r.get("last_seen_ms"),
                online: r.get::<i64, _>("online") != 0,
                loaner: r.get::<i64, _>("loaner") != 0,
            })
            .collect())
    }

    /// Each clicker's battery readings of the last `window_ms` before `now_ms`: id → (at, mV).
    pub async fn battery_readings(
        &self,
        now_ms: i64,
        window_ms: i64,
    ) -> Result<std::collections::HashMap<String, Vec<(i64, u32)>>, StoreError> {
        let rows = sqlx::query("SELECT device_id, at_ms, mv FROM battery_readings WHERE at_ms >= ?")
            .bind(now_ms - window_ms)
            .fetch_all(&self.pool)
            .await?;
        let mut out: std::collections::HashMap<String, Vec<(i64, u32)>> = std::collections::HashMap::new();
        for r in &rows {
            out.entry(r.get("device_id"))
                .or_default()
                .push((r.get("at_ms"), r.get::<i64, _>("mv").clamp(0, 10_000) as u32));
        }
        Ok(out)
    }

    /// Records a battery reading (the ingest writes them with each hello).
    pub async fn add_battery_reading(&self, device: &str, at_ms: i64, mv: u32) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO battery_readings (device_id, at_ms, mv) VALUES (?, ?, ?)")
            .bind(device)
            .bind(at_ms)
            .bind(i64::from(mv))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Assigns a clicker to a student (`None`: to no one). False when there is no such clicker.
    pub async fn set_student(&self, id: &DeviceId, student: Option<&str>) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE devices SET student = ? WHERE id = ? AND retired_ms IS NULL")
            .bind(student)
            .bind(id.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
