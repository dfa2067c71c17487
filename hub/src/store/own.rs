//! Publishing the hub's own answers and check-ins as xAPI statements into the statement resource,
//! from where they were left off (a cursor per table, by rowid).

use std::collections::HashMap;

use sqlx::Row;

use super::{NewStatement, Store, StoreError};
use crate::blend::matching::normalize;
use crate::blend::own::{Own, pseudonym, statement};

/// The source name of the hub's own statements.
pub const OWN_SOURCE: &str = "classhub";

impl Store {
    /// A named position (how far a job has come).
    pub async fn cursor(&self, name: &str) -> Result<i64, StoreError> {
        let row =
            sqlx::query("SELECT position FROM cursors WHERE name = ?").bind(name).fetch_optional(&self.pool).await?;
        Ok(row.map_or(0, |r| r.get("position")))
    }

    /// Moves a named position on.
    pub async fn set_cursor(&self, name: &str, position: i64) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO cursors (name, position) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET position = excluded.position")
            .bind(name)
            .bind(position)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Turns up to `limit` new answers and check-ins into statements; returns how many were new.
    /// Publishing again is harmless: the statement ids are fixed by clicker and sequence number.
    pub async fn publish_own(&self, limit: i64) -> Result<usize, StoreError> {
        let secret = self.school_secret("pseudonym").await?;
        // The student's id: their roster sourcedId when their name is in the roster, else their name.
        let roster: HashMap<String, String> = self
            .roster_students()
            .await?
            .into_iter()
            .map(|s| (normalize(&format!("{} {}", s.given, s.family)), s.id))
            .collect();
        let who = |name: &str| {
            let key = normalize(name);
            pseudonym(&secret, roster.get(&key).map_or(&format!("name:{key}"), |id| id))
        };
        let iso = |ms: i64| jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_default();
        let mut batch = Vec::new();
        let presses_from = self.cursor("own:presses").await?;
        let presses = sqlx::query(
            "SELECT p.rowid AS r, p.device_id, p.seq, p.question_id, p.answer, p.received_ms, \
             COALESCE(d.student, p.device_id) AS who, s.class_name, s.room FROM presses p \
             JOIN questions q ON q.id = p.question_id JOIN sessions s ON s.id = q.session_id \
             LEFT JOIN devices d ON d.id = p.device_id WHERE p.rowid > ? ORDER BY p.rowid LIMIT ?",
        )
        .bind(presses_from)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut presses_to = presses_from;
        for r in &presses {
            presses_to = r.get("r");
            let event = Own::Answered { question: r.get("question_id"), answer: r.get("answer") };
            let (device, seq): (String, i64) = (r.get("device_id"), r.get("seq"));
            let json = statement(
                &event,
                &device,
                seq,
                &who(r.get("who")),
                &iso(r.get("received_ms")),
                r.get("class_name"),
                r.get("room"),
            );
            batch.push(NewStatement { id: json["id"].as_str().unwrap_or_default().to_owned(), json });
        }
        let checkins_from = self.cursor("own:checkins").await?;
        let checkins = sqlx::query(
            "SELECT c.rowid AS r, c.device_id, c.seq, c.session_id, c.received_ms, \
             COALESCE(d.student, c.device_id) AS who, s.class_name, s.room FROM checkins c \
             LEFT JOIN sessions s ON s.id = c.session_id LEFT JOIN devices d ON d.id = c.device_id \
             WHERE c.rowid > ? ORDER BY c.rowid LIMIT ?",
        )
        .bind(checkins_from)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut checkins_to = checkins_from;
        for r in &checkins {
            checkins_to = r.get("r");
            let Some(session) = r.get::<Option<i64>, _>("session_id") else { continue }; // outside a session
            let (device, seq): (String, i64) = (r.get("device_id"), r.get("seq"));
            let json = statement(
                &Own::Attended { session },
                &device,
                seq,
                &who(r.get("who")),
                &iso(r.get("received_ms")),
                &r.get::<Option<String>, _>("class_name").unwrap_or_default(),
                &r.get::<Option<String>, _>("room").unwrap_or_default(),
            );
            batch.push(NewStatement { id: json["id"].as_str().unwrap_or_default().to_owned(), json });
        }
        let before = self.statements_stored().await?;
        if !batch.is_empty() {
            // Ours are valid by construction; a conflict would mean a changed answer under an old
            // number, which the ingest never stores.
            let stored = super::now_ms();
            let mut completed = batch;
            for s in &mut completed {
                let authority = serde_json::json!({ "objectType": "Agent", "account": { "homePage": "urn:classhub:source", "name": OWN_SOURCE } });
                crate::blend::xapi::complete(&mut s.json, &iso(stored), &authority);
            }
            self.keep_statements(OWN_SOURCE, &completed, stored).await.map_err(|e| match e {
                super::StatementError::Store(e) => e,
                other => StoreError::Corrupt(other.to_string()),
            })?;
        }
        self.set_cursor("own:presses", presses_to).await?;
        self.set_cursor("own:checkins", checkins_to).await?;
        Ok(self.statements_stored().await? - before)
    }
}
