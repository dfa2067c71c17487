//! The store: SQLite through sqlx, WAL mode, migrations from `hub/migrations`, every time in epoch
//! milliseconds. SQL lives here and nowhere else, so another backend can follow without touching the
//! classroom core.

use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use firmware::protocol::{Choices, DeviceId, DeviceKey, QuestionKind, QuestionSpec, RoomCode, Seq};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use sqlx::{Connection, Row, Sqlite, SqlitePool};

use crate::classroom::{Phase, Question, Session};

mod accounts;
mod attendance;
mod batch;
pub use attendance::SessionRow;
mod engagement;
mod fleet;
mod identities;
mod online;
mod own;
mod pairing;
pub use own::OWN_SOURCE;
pub use pairing::{Paired, WindowRow, reason as close_reason};
mod retention;
mod roster;
pub use retention::Purged;
mod student;
pub use online::OnlineCounts;
pub use student::Footprint;
mod xapi;
pub use fleet::FleetRow;
pub use roster::{ImportCounts, email_hash};
pub use xapi::{NewStatement, Query as StatementQuery, StatementError};
mod cards;
mod rollouts;
pub use rollouts::{RolloutDevice, RolloutRow, check_image};
mod checkpoint;
pub use checkpoint::CheckpointPolicy;

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data directory could not be made.
    #[error("cannot create data directory {0}: {1}")]
    DataDir(String, std::io::Error),
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A row holds something this version cannot read.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// A device id is already taken.
    #[error("device {0} already exists")]
    DeviceExists(String),
    /// A user name is already taken.
    #[error("user {0} already exists")]
    UserExists(String),
    /// An uploaded firmware image is not usable.
    #[error("{0}")]
    BadImage(String),
}

/// A registered clicker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Its id.
    pub id: DeviceId,
    /// Its key.
    pub key: DeviceKey,
    /// Its room.
    pub room: RoomCode,
    /// Its student, if assigned.
    pub student: Option<String>,
    /// The newest sequence number accepted from it.
    pub newest_seq: Option<Seq>,
}

/// One accepted message, to commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A press answering a question.
    Press {
        /// From.
        device: DeviceId,
        /// Its sequence number.
        seq: Seq,
        /// The question answered.
        question: u32,
        /// The buttons.
        answer: Choices,
        /// When received.
        at_ms: i64,
    },
    /// A check-in.
    CheckIn {
        /// From.
        device: DeviceId,
        /// Its sequence number.
        seq: Seq,
        /// The session running in the device's room, if any.
        session: Option<i64>,
        /// When received.
        at_ms: i64,
    },
}

/// What a hello or a status says about a clicker, written in the batch's transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceUpdate {
    /// A hello: firmware, battery, signal.
    Hello {
        /// From.
        device: DeviceId,
        /// Firmware version.
        firmware: String,
        /// Battery in mV.
        battery_mv: u16,
        /// Signal in dBm.
        rssi: i16,
    },
    /// Online or offline.
    Presence {
        /// Which.
        device: DeviceId,
        /// Online?
        online: bool,
    },
}

impl Record {
    /// The device and sequence number.
    pub fn key(&self) -> (&DeviceId, Seq) {
        match self {
            Record::Press { device, seq, .. } | Record::CheckIn { device, seq, .. } => (device, *seq),
        }
    }
}

/// A message as the store holds it, without its number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// A press.
    Press {
        /// The question.
        question: u32,
        /// The buttons.
        answer: Choices,
    },
    /// A check-in.
    CheckIn,
}

/// A store in a fresh temporary folder, for tests.
#[cfg(test)]
pub(crate) async fn test_store(name: &str) -> Store {
    let dir =
        std::env::temp_dir().join(format!("classhub-{name}-{}-{:08x}", std::process::id(), rand::random::<u32>()));
    // Cannot fail on a fresh temporary folder unless the disk is full.
    Store::open(&dir).await.expect("a test store opens")
}

/// The milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn kind_str(k: QuestionKind) -> &'static str {
    match k {
        QuestionKind::Single => "single",
        QuestionKind::TrueFalse => "truefalse",
        QuestionKind::Multi => "multi",
        QuestionKind::Scale => "scale",
    }
}

fn parse_kind(s: &str) -> Result<QuestionKind, StoreError> {
    Ok(match s {
        "single" => QuestionKind::Single,
        "truefalse" => QuestionKind::TrueFalse,
        "multi" => QuestionKind::Multi,
        "scale" => QuestionKind::Scale,
        other => return Err(StoreError::Corrupt(format!("question kind {other:?}"))),
    })
}

fn corrupt<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> StoreError + '_ {
    move |e| StoreError::Corrupt(format!("{what}: {e}"))
}

/// The classroom database.
#[derive(Debug, Clone)]
pub struct Store {
    /// Reads, and writes of a single statement.
    pool: SqlitePool,
    /// The one connection every write transaction ([`Store::write`]) runs on. SQLite takes one
    /// writer at a time anyway: here they queue in order, instead of in SQLite's busy handler, which
    /// sleeps whole milliseconds between tries (eight LMS clients posting at once waited up to
    /// 110 ms that way; now 15 ms).
    writer: SqlitePool,
    /// When `commit` last wrote, so checkpoints can wait for a quiet moment.
    last_write: Arc<Mutex<Option<Instant>>>,
}

impl Store {
    /// Opens (or creates) `classhub.db` in `dir`, in WAL mode with full fsync on commit (an ack
    /// promises the answer survives a power cut), and runs the migrations.
    pub async fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::DataDir(dir.display().to_string(), e))?;
        let opts = SqliteConnectOptions::new()
            .filename(dir.join("classhub.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true)
            // No checkpoint inside a commit (it would stall that batch's acks): `checkpoint` runs
            // them from a quiet moment instead.
            .pragma("wal_autocheckpoint", "0")
            // Deleted rows are overwritten, not left in free pages: an erased student is gone.
            .pragma("secure_delete", "ON")
            // A batch's RETURNING rows come back from SQLite's thread in one go, not 50 at a time.
            .row_buffer_size(1024);
        // A local file needs no ping before each use: that would be one more round trip per commit.
        let pools = SqlitePoolOptions::new().test_before_acquire(false);
        let writer = pools
            .clone()
            .max_connections(1)
            // As long as SQLite's busy handler waited before there was a writer connection.
            .acquire_timeout(Duration::from_secs(5))
            // A transaction SQLite rolled back by itself (a full disk, an I/O error) makes the
            // pool's own ROLLBACK fail, and the connection would refuse every later BEGIN: replace
            // it. A dropped transaction's ROLLBACK may still be queued, so let it run first.
            .before_acquire(|conn, _| {
                Box::pin(async move {
                    if conn.is_in_transaction() {
                        conn.ping().await?;
                    }
                    Ok(!conn.is_in_transaction())
                })
            })
            .connect_with(opts.clone())
            .await?;
        sqlx::migrate!("./migrations").run(&writer).await?;
        let pool = pools.max_connections(4).connect_with(opts).await?;
        Ok(Store { pool, writer, last_write: Arc::default() })
    }

    /// Copies the write-ahead log into the database as far as readers allow, without blocking writers
    /// (SQLite's PASSIVE checkpoint). The app runs it when [`CheckpointPolicy`] says so.
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&self.pool).await?;
        Ok(())
    }

    /// Copies the whole log into the database and empties it (SQLite's TRUNCATE checkpoint): after
    /// an erasure, no old copy of a page is left in the log either. `false` when a reader of an
    /// older snapshot (a running hub, say) kept it from finishing within the busy timeout: the log
    /// then still holds what the checkpoint could not copy.
    pub async fn checkpoint_truncate(&self) -> Result<bool, StoreError> {
        // One row: busy (1 if it could not finish), frames in the log, frames copied.
        let busy: i64 = sqlx::query_scalar("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&self.pool).await?;
        Ok(busy == 0)
    }

    /// When answers or device updates were last committed (`None`: not since the store opened).
    pub fn last_write(&self) -> Option<Instant> {
        // Cannot fail unless a holder of the lock panicked; the lock is held for one assignment.
        *self.last_write.lock().expect("last_write lock")
    }

    /// A write transaction on the store's one writer connection: write transactions queue for it in
    /// order. It takes SQLite's write lock at once (`BEGIN IMMEDIATE`), so that a single-statement
    /// write on another connection makes it wait (busy timeout) instead of failing when a read turns
    /// into a write. Never call it while holding another: the second would wait for the first.
    pub async fn write(&self) -> Result<sqlx::Transaction<'static, Sqlite>, StoreError> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// Registers a clicker.
    pub async fn add_device(&self, d: &Device) -> Result<(), StoreError> {
        let result = sqlx::query(
            "INSERT INTO devices (id, key_hex, room, student, created_ms) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(d.id.as_str())
        .bind(d.key.to_hex().as_str())
        .bind(d.room.as_str())
        .bind(d.student.as_deref())
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::DeviceExists(d.id.to_string()));
        }
        Ok(())
    }

    /// What the hub last heard from a clicker: (last seen ms, firmware, battery mV, RSSI, online).
    pub async fn device_health(
        &self,
        id: &DeviceId,
    ) -> Result<Option<(Option<i64>, Option<String>, Option<i64>, Option<i64>, bool)>, StoreError> {
        let row = sqlx::query("SELECT last_seen_ms, firmware, battery_mv, rssi, online FROM devices WHERE id = ?")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| {
            (
                r.get("last_seen_ms"),
                r.get("firmware"),
                r.get("battery_mv"),
                r.get("rssi"),
                r.get::<i64, _>("online") != 0,
            )
        }))
    }

    /// Every registered clicker.
    pub async fn devices(&self) -> Result<Vec<Device>, StoreError> {
        let rows = sqlx::query(
            // Sequence numbers are stored as SQLite's signed integers, bit for bit: those from 2^63
            // up read as negative, so a log's newest is its largest negative number if it has one.
            "SELECT id, key_hex, room, student, \
             COALESCE((SELECT MAX(seq) FROM presses WHERE device_id = devices.id AND seq < 0), \
                      (SELECT MAX(seq) FROM presses WHERE device_id = devices.id)) AS newest_press, \
             COALESCE((SELECT MAX(seq) FROM checkins WHERE device_id = devices.id AND seq < 0), \
                      (SELECT MAX(seq) FROM checkins WHERE device_id = devices.id)) AS newest_checkin \
             FROM devices WHERE retired_ms IS NULL ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Device {
                    id: DeviceId::parse(r.get("id")).map_err(corrupt("device id"))?,
                    key: DeviceKey::parse(r.get("key_hex")).map_err(corrupt("device key"))?,
                    room: RoomCode::parse(r.get("room")).map_err(corrupt("room"))?,
                    student: r.get("student"),
                    newest_seq: [r.get::<Option<i64>, _>("newest_press"), r.get("newest_checkin")]
                        .into_iter()
                        .flatten()
                        .map(|s| Seq(s as u64))
                        .max(),
                })
            })
            .collect()
    }

    /// Whether this device's message `seq` is stored with exactly this content.
    pub async fn holds(&self, device: &DeviceId, seq: Seq, what: &Stored) -> Result<bool, StoreError> {
        let row = match what {
            Stored::Press { question, answer } => {
                sqlx::query("SELECT 1 FROM presses WHERE device_id = ? AND seq = ? AND question_id = ? AND answer = ?")
                    .bind(device.as_str())
                    .bind(seq.0 as i64)
                    .bind(*question as i64)
                    .bind(answer.to_string())
                    .fetch_optional(&self.pool)
                    .await?
            }
            Stored::CheckIn => {
                sqlx::query("SELECT 1 FROM checkins WHERE device_id = ? AND seq = ?")
                    .bind(device.as_str())
                    .bind(seq.0 as i64)
                    .fetch_optional(&self.pool)
                    .await?
            }
        };
        Ok(row.is_some())
    }

    /// Starts a session; returns its id.
    pub async fn start_session(
        &self,
        room: &RoomCode,
        class_name: &str,
        at_ms: i64,
        checkin_window_ms: i64,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO sessions (room, class_name, started_ms, checkin_window_ms) VALUES (?, ?, ?, ?) RETURNING id",
        )
        .bind(room.as_str())
        .bind(class_name)
        .bind(at_ms)
        .bind(checkin_window_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.get(0))
    }

    /// Ends a session, closing its open question.
    pub async fn end_session(&self, id: i64, at_ms: i64) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query("UPDATE questions SET closed_ms = ? WHERE session_id = ? AND closed_ms IS NULL")
            .bind(at_ms)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE sessions SET ended_ms = ? WHERE id = ?").bind(at_ms).bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Opens a question in a session, closing any question still open there; returns its id.
    pub async fn open_question(
        &self,
        session: i64,
        spec: QuestionSpec,
        correct: Option<Choices>,
        timer_s: Option<u32>,
        at_ms: i64,
    ) -> Result<u32, StoreError> {
        let mut tx = self.write().await?;
        sqlx::query("UPDATE questions SET closed_ms = ? WHERE session_id = ? AND closed_ms IS NULL")
            .bind(at_ms)
            .bind(session)
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query(
            "INSERT INTO questions (session_id, kind, options, correct, timer_s, opened_ms) VALUES (?, ?, ?, ?, ?, ?) \
             RETURNING id",
        )
        .bind(session)
        .bind(kind_str(spec.kind()))
        .bind(spec.options() as i64)
        .bind(correct.map(|c| c.to_string()))
        .bind(timer_s.map(i64::from))
        .bind(at_ms)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        let id: i64 = row.get(0);
        u32::try_from(id).map_err(corrupt("question id"))
    }

    /// Records a question closing or being revealed.
    pub async fn set_question_phase(&self, id: u32, phase: Phase, at_ms: i64) -> Result<(), StoreError> {
        let sql = match phase {
            Phase::Open => return Ok(()),
            Phase::Closed => "UPDATE questions SET closed_ms = COALESCE(closed_ms, ?) WHERE id = ?",
            Phase::Revealed => {
                "UPDATE questions SET closed_ms = COALESCE(closed_ms, ?1), revealed_ms = ?1 WHERE id = ?2"
            }
        };
        sqlx::query(sql).bind(at_ms).bind(id as i64).execute(&self.pool).await?;
        Ok(())
    }

    /// Every running session with its latest question and that question's answers, latest per
    /// device, to rebuild the classroom after a restart.
    pub async fn running_sessions(&self) -> Result<Vec<(RoomCode, Session, Vec<(DeviceId, Choices)>)>, StoreError> {
        let sessions = sqlx::query("SELECT id, room, class_name, started_ms FROM sessions WHERE ended_ms IS NULL")
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::new();
        for s in sessions {
            let id: i64 = s.get("id");
            let room = RoomCode::parse(s.get("room")).map_err(corrupt("room"))?;
            let q = sqlx::query(
                "SELECT id, kind, options, correct, timer_s, opened_ms, closed_ms, revealed_ms FROM questions \
                 WHERE session_id = ? ORDER BY id DESC LIMIT 1",
            )
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
            let mut answers = Vec::new();
            let question = match q {
                None => None,
                Some(q) => {
                    let qid: i64 = q.get("id");
                    let spec = QuestionSpec::new(parse_kind(q.get("kind"))?, q.get::<i64, _>("options") as u8)
                        .map_err(corrupt("question"))?;
                    let correct = q
                        .get::<Option<String>, _>("correct")
                        .map(|c| Choices::parse(&c).map_err(corrupt("correct answer")))
                        .transpose()?;
                    let closes_at_ms =
                        q.get::<Option<i64>, _>("timer_s").map(|t| (q.get::<i64, _>("opened_ms") + t * 1000) as u64);
                    let mut question = Question::open(qid as u32, spec, correct, closes_at_ms);
                    question.phase = if q.get::<Option<i64>, _>("revealed_ms").is_some() {
                        Phase::Revealed
                    } else if q.get::<Option<i64>, _>("closed_ms").is_some() {
                        Phase::Closed
                    } else {
                        Phase::Open
                    };
                    let rows = sqlx::query(
                        "SELECT p.device_id, p.answer FROM presses p \
                         JOIN (SELECT device_id, MAX(seq) AS seq FROM presses WHERE question_id = ? GROUP BY device_id) l \
                         ON p.device_id = l.device_id AND p.seq = l.seq",
                    )
                    .bind(qid)
                    .fetch_all(&self.pool)
                    .await?;
                    for r in rows {
                        let device = DeviceId::parse(r.get("device_id")).map_err(corrupt("device id"))?;
                        let answer = Choices::parse(r.get("answer")).map_err(corrupt("answer"))?;
                        answers.push((device, answer));
                    }
                    Some(question)
                }
            };
            let session = Session { id, class_name: s.get("class_name"), started_ms: s.get("started_ms"), question };
            out.push((room, session, answers));
        }
        Ok(out)
    }

    /// Every press stored for a question: (device, seq, answer), in order of arrival.
    pub async fn presses(&self, question: u32) -> Result<Vec<(DeviceId, Seq, Choices)>, StoreError> {
        let rows =
            sqlx::query("SELECT device_id, seq, answer FROM presses WHERE question_id = ? ORDER BY received_ms, seq")
                .bind(question as i64)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    DeviceId::from_str(r.get("device_id")).map_err(corrupt("device id"))?,
                    Seq(r.get::<i64, _>("seq") as u64),
                    Choices::parse(r.get("answer")).map_err(corrupt("answer"))?,
                ))
            })
            .collect()
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }
}
