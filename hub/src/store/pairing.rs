//! Pairing in the store: windows (so a CLI in another process can open one and the running hub
//! answers in it), the clicker a pairing makes, and retiring clickers without losing their history.

use firmware::pake::PairCode;
use firmware::protocol::{DeviceId, RoomCode};
use sqlx::Row;

use super::{Device, Store, StoreError, corrupt};
use crate::fleet::pairing::{Mode, Window};

/// A window as the technician sees it afterwards, open or closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowRow {
    /// The window.
    pub window: Window,
    /// When it closed, and why.
    pub closed: Option<(i64, String)>,
}

/// Why a window closed.
pub mod reason {
    /// Its time ran out.
    pub const TIME_UP: &str = "time_up";
    /// Someone closed it early.
    pub const CLOSED: &str = "closed";
    /// Too many wrong codes.
    pub const WRONG_CODES: &str = "wrong_codes";
    /// Its one clicker (a student's, a loaner) is paired.
    pub const DONE: &str = "done";
    /// Every student of the class has a clicker.
    pub const CLASS_COMPLETE: &str = "class_complete";
    /// A newer window for the same room replaced it.
    pub const REPLACED: &str = "replaced";
}

fn window_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<WindowRow, StoreError> {
    let mode: String = r.get("mode");
    let window = Window {
        id: r.get("id"),
        room: RoomCode::parse(r.get("room")).map_err(corrupt("pairing room"))?,
        mode: Mode::from_columns(&mode, r.get("target"), r.get("replaces"))
            .ok_or_else(|| StoreError::Corrupt(format!("pairing mode {mode:?}")))?,
        code: PairCode::parse(r.get("code")).ok_or_else(|| StoreError::Corrupt("pairing code".into()))?,
        until_ms: r.get("until_ms"),
        wrong: r.get::<i64, _>("wrong").clamp(0, u32::MAX as i64) as u32,
        paired: r.get::<i64, _>("paired").clamp(0, u32::MAX as i64) as u32,
    };
    let closed = r
        .get::<Option<i64>, _>("closed_ms")
        .map(|at| (at, r.get::<Option<String>, _>("close_reason").unwrap_or_default()));
    Ok(WindowRow { window, closed })
}

/// A new clicker from a pairing, to store.
#[derive(Debug, Clone)]
pub struct Paired {
    /// The clicker (id, key, room, student).
    pub device: Device,
    /// Lent for one session.
    pub loaner: bool,
    /// The window it was paired in.
    pub window: i64,
    /// A clicker it replaces, retired in the same transaction.
    pub replaces: Option<DeviceId>,
}

impl Store {
    /// Opens a pairing window; a window already open in the room is closed as replaced. Returns its id.
    pub async fn open_pairing_window(
        &self,
        room: &RoomCode,
        mode: &Mode,
        code: &PairCode,
        now_ms: i64,
        until_ms: i64,
        by: &str,
    ) -> Result<i64, StoreError> {
        let mut tx = self.write().await?;
        sqlx::query("UPDATE pairing_windows SET closed_ms = ?, close_reason = ? WHERE room = ? AND closed_ms IS NULL")
            .bind(now_ms)
            .bind(reason::REPLACED)
            .bind(room.as_str())
            .execute(&mut *tx)
            .await?;
        let (m, target, replaces) = mode.to_columns();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO pairing_windows (room, mode, target, replaces, code, opened_ms, until_ms, opened_by) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(room.as_str())
        .bind(m)
        .bind(target)
        .bind(replaces)
        .bind(code.letters().as_str())
        .bind(now_ms)
        .bind(until_ms)
        .bind(by)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Closes a window (if still open) with a reason.
    pub async fn close_pairing_window(&self, id: i64, now_ms: i64, why: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE pairing_windows SET closed_ms = ?, close_reason = ? WHERE id = ? AND closed_ms IS NULL")
            .bind(now_ms)
            .bind(why)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The windows still open at `now_ms`.
    pub async fn open_pairing_windows(&self, now_ms: i64) -> Result<Vec<Window>, StoreError> {
        // Only reads: the engine asks every second, and must not wait for the write lock.
        let rows = sqlx::query("SELECT * FROM pairing_windows WHERE closed_ms IS NULL AND until_ms > ? ORDER BY id")
            .bind(now_ms)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| window_from_row(r).map(|w| w.window)).collect()
    }

    /// Closes every window whose time is up (as `time_up`, at its end).
    pub async fn close_due_pairing_windows(&self, now_ms: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE pairing_windows SET closed_ms = until_ms, close_reason = ? WHERE closed_ms IS NULL AND until_ms <= ?")
            .bind(reason::TIME_UP)
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// One window, open or closed.
    pub async fn pairing_window(&self, id: i64) -> Result<Option<WindowRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM pairing_windows WHERE id = ?").bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(window_from_row).transpose()
    }

    /// Counts a wrong code against a window.
    pub async fn pairing_wrong_code(&self, id: i64, wrong: u32) -> Result<(), StoreError> {
        sqlx::query("UPDATE pairing_windows SET wrong = MAX(wrong, ?) WHERE id = ?")
            .bind(i64::from(wrong))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Stores a paired clicker, counts it in its window and retires the clicker it replaces, in one
    /// transaction.
    pub async fn add_paired(&self, p: &Paired, now_ms: i64) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        if let Some(old) = &p.replaces {
            sqlx::query("UPDATE devices SET retired_ms = ? WHERE id = ? AND retired_ms IS NULL")
                .bind(now_ms)
                .bind(old.as_str())
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO devices (id, key_hex, room, student, created_ms, loaner, paired_in) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(p.device.id.as_str())
        .bind(p.device.key.to_hex().as_str())
        .bind(p.device.room.as_str())
        .bind(p.device.student.as_deref())
        .bind(now_ms)
        .bind(i64::from(p.loaner))
        .bind(p.window)
        .execute(&mut *tx)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::DeviceExists(p.device.id.to_string()),
            e => e.into(),
        })?;
        sqlx::query("UPDATE pairing_windows SET paired = paired + 1 WHERE id = ?")
            .bind(p.window)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The next student of a class, in roster order, without a clicker in service: (sourcedId, name).
    pub async fn next_unpaired_student(&self, class: &str) -> Result<Option<(String, String)>, StoreError> {
        let taken = self.students_with_clickers().await?;
        Ok(self.class_students(class).await?.into_iter().find(|(_, name)| !taken.contains(name)))
    }

    /// How many students of a class have no clicker in service yet.
    pub async fn unpaired_students(&self, class: &str) -> Result<usize, StoreError> {
        let taken = self.students_with_clickers().await?;
        Ok(self.class_students(class).await?.iter().filter(|(_, name)| !taken.contains(name)).count())
    }

    async fn students_with_clickers(&self) -> Result<std::collections::HashSet<String>, StoreError> {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT student FROM devices WHERE retired_ms IS NULL AND loaner = 0 AND student IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(names.into_iter().collect())
    }

    /// Retires a clicker (unpaired, or broken): it is no longer heard, and its answers and check-ins
    /// stay with its student. False when there is no such clicker in service.
    pub async fn retire_device(&self, id: &DeviceId, now_ms: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE devices SET retired_ms = ? WHERE id = ? AND retired_ms IS NULL")
            .bind(now_ms)
            .bind(id.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Retires a room's loaners (its session ended); returns them.
    pub async fn retire_loaners(&self, room: &RoomCode, now_ms: i64) -> Result<Vec<DeviceId>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "UPDATE devices SET retired_ms = ? WHERE room = ? AND loaner = 1 AND retired_ms IS NULL RETURNING id",
        )
        .bind(now_ms)
        .bind(room.as_str())
        .fetch_all(&self.pool)
        .await?;
        ids.iter().map(|id| DeviceId::parse(id).map_err(corrupt("device id"))).collect()
    }
}
