//! What the engagement picture counts, read from the store: questions and answers per student per
//! session, online events and statements in a time range, and the no-online-access flags.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::Row;

use super::{Store, StoreError};
use crate::blend::engagement::Online;

impl Store {
    /// A session's questions, and per student (name, or clicker id) how many of them they answered.
    pub async fn answered_per_student(&self, session: i64) -> Result<(u32, BTreeMap<String, u32>), StoreError> {
        let asked: i64 = sqlx::query("SELECT COUNT(*) AS n FROM questions WHERE session_id = ?")
            .bind(session)
            .fetch_one(&self.pool)
            .await?
            .get("n");
        let rows = sqlx::query(
            "SELECT COALESCE(d.student, p.device_id) AS who, COUNT(DISTINCT p.question_id) AS n FROM presses p \
             JOIN questions q ON q.id = p.question_id LEFT JOIN devices d ON d.id = p.device_id \
             WHERE q.session_id = ? GROUP BY who",
        )
        .bind(session)
        .fetch_all(&self.pool)
        .await?;
        Ok((asked as u32, rows.iter().map(|r| (r.get("who"), r.get::<i64, _>("n") as u32)).collect()))
    }

    /// Online activity in `[from_ms, to_ms)` per identity: imported events (a Moodle event whose name
    /// says completed or submitted is a completion) and xAPI statements (by their timestamp; completed
    /// by `result.completion`, or a completed or passed verb; scored by `result.score.scaled`).
    pub async fn online_between(&self, from_ms: i64, to_ms: i64) -> Result<BTreeMap<String, Vec<Online>>, StoreError> {
        let mut out: BTreeMap<String, Vec<Online>> = BTreeMap::new();
        let rows = sqlx::query("SELECT identity, at_ms, count, kind FROM online_events WHERE at_ms >= ? AND at_ms < ?")
            .bind(from_ms)
            .bind(to_ms)
            .fetch_all(&self.pool)
            .await?;
        for r in &rows {
            let kind = r.get::<String, _>("kind").to_lowercase();
            let completed = ["completed", "completion", "submitted"].iter().any(|w| kind.contains(w));
            let e = Online { at_ms: r.get("at_ms"), count: r.get::<i64, _>("count") as u32, completed, score: None };
            out.entry(r.get("identity")).or_default().push(e);
        }
        let rows = sqlx::query(
            "SELECT agent, timestamp_ms, verb, json_extract(json, '$.result.completion') AS completion, \
             json_extract(json, '$.result.score.scaled') AS scaled FROM xapi_statements WHERE voided = 0 \
             AND agent IS NOT NULL AND source != 'classhub' AND timestamp_ms >= ? AND timestamp_ms < ?",
        )
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            let verb: String = r.get("verb");
            let completed = r.try_get::<i64, _>("completion").is_ok_and(|c| c == 1)
                || verb.ends_with("/completed")
                || verb.ends_with("/passed");
            let score = r.try_get::<Option<f64>, _>("scaled").ok().flatten();
            out.entry(r.get("agent")).or_default().push(Online {
                at_ms: r.get("timestamp_ms"),
                count: 1,
                completed,
                score,
            });
        }
        Ok(out)
    }

    /// A class's weights (percent: attendance, response, online days, online activity), if a teacher
    /// set them.
    pub async fn engagement_weights(&self, class_name: &str) -> Result<Option<[u32; 4]>, StoreError> {
        let row = sqlx::query(
            "SELECT attendance, response, online_days, online_activity FROM engagement_weights WHERE class_name = ?",
        )
        .bind(class_name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| [0, 1, 2, 3].map(|i| r.get::<i64, _>(i).clamp(0, 100) as u32)))
    }

    /// Sets a class's weights (percent).
    pub async fn set_engagement_weights(
        &self,
        class_name: &str,
        w: [u32; 4],
        by: &str,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO engagement_weights (class_name, attendance, response, online_days, online_activity, set_by, set_ms) \
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (class_name) DO UPDATE SET attendance = excluded.attendance, \
             response = excluded.response, online_days = excluded.online_days, online_activity = excluded.online_activity, \
             set_by = excluded.set_by, set_ms = excluded.set_ms",
        )
        .bind(class_name)
        .bind(i64::from(w[0]))
        .bind(i64::from(w[1]))
        .bind(i64::from(w[2]))
        .bind(i64::from(w[3]))
        .bind(by)
        .bind(at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Students marked as having no online access.
    pub async fn no_online_access(&self) -> Result<BTreeSet<String>, StoreError> {
        let rows =
            sqlx::query("SELECT student FROM student_flags WHERE no_online_access = 1").fetch_all(&self.pool).await?;
        Ok(rows.iter().map(|r| r.get("student")).collect())
    }

    /// Marks (or unmarks) a student as having no online access.
    pub async fn set_no_online_access(&self, student: &str, on: bool, by: &str, at_ms: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO student_flags (student, no_online_access, set_by, set_ms) VALUES (?, ?, ?, ?) \
             ON CONFLICT (student) DO UPDATE SET no_online_access = excluded.no_online_access, \
             set_by = excluded.set_by, set_ms = excluded.set_ms",
        )
        .bind(student)
        .bind(i64::from(on))
        .bind(by)
        .bind(at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
