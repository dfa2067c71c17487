//! Online activity in the store: imported events kept idempotently (a Moodle log line once, a
//! Canvas user-and-item row updated as its views grow).

use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{Store, StoreError};
use crate::blend::activity::{Event, Origin};

/// What an import of online activity did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OnlineCounts {
    /// New events.
    pub added: usize,
    /// Canvas rows whose views or last access moved on.
    pub updated: usize,
    /// Events already there.
    pub unchanged: usize,
}

fn dedup(e: &Event) -> String {
    let key = match e.origin {
        Origin::MoodleLogs => format!("moodle\n{}\n{}\n{}\n{}", e.identity, e.at_ms, e.kind, e.activity),
        Origin::CanvasAccess => format!("canvas\n{}\n{}", e.identity, e.activity),
    };
    crate::hex(&Sha256::digest(key.as_bytes()))
}

impl Store {
    /// Keeps imported events in one transaction.
    pub async fn keep_online_events(&self, events: &[Event]) -> Result<OnlineCounts, StoreError> {
        let mut tx = self.write().await?;
        let mut counts = OnlineCounts::default();
        for e in events {
            let key = dedup(e);
            let existing = sqlx::query("SELECT at_ms, count, kind FROM online_events WHERE dedup = ?")
                .bind(&key)
                .fetch_optional(&mut *tx)
                .await?;
            match existing {
                Some(r)
                    if r.get::<i64, _>("at_ms") == e.at_ms
                        && r.get::<i64, _>("count") == i64::from(e.count)
                        && r.get::<String, _>("kind") == e.kind =>
                {
                    counts.unchanged += 1
                }
                Some(_) => {
                    sqlx::query("UPDATE online_events SET at_ms = ?, count = ?, kind = ? WHERE dedup = ?")
                        .bind(e.at_ms)
                        .bind(i64::from(e.count))
                        .bind(&e.kind)
                        .bind(&key)
                        .execute(&mut *tx)
                        .await?;
                    counts.updated += 1;
                }
                None => {
                    sqlx::query(
                        "INSERT INTO online_events (origin, identity, at_ms, kind, activity, count, dedup) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    )
                    .bind(e.origin.as_str())
                    .bind(&e.identity)
                    .bind(e.at_ms)
                    .bind(&e.kind)
                    .bind(&e.activity)
                    .bind(i64::from(e.count))
                    .bind(&key)
                    .execute(&mut *tx)
                    .await?;
                    counts.added += 1;
                }
            }
        }
        tx.commit().await?;
        Ok(counts)
    }

    /// The online identities seen, with how many events each has.
    pub async fn online_identities(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows =
            sqlx::query("SELECT identity, SUM(count) AS n FROM online_events GROUP BY identity ORDER BY identity")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.iter().map(|r| (r.get("identity"), r.get("n"))).collect())
    }
}
