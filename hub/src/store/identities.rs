//! Online identities and roster students in the store: the students matching works from, the
//! identities seen online (imports and xAPI actors), and the teachers' decisions.

use std::collections::BTreeMap;

use sqlx::Row;

use super::{Store, StoreError};
use crate::blend::matching::Student;

impl Store {
    /// Every roster student, for matching.
    pub async fn roster_students(&self) -> Result<Vec<Student>, StoreError> {
        let rows = sqlx::query(
            "SELECT sourced_id, given_name, family_name, username, email_hash FROM roster_users WHERE role = 'student' ORDER BY sourced_id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| Student {
                id: r.get("sourced_id"),
                given: r.get("given_name"),
                family: r.get("family_name"),
                username: r.get("username"),
                email_hash: r.get("email_hash"),
            })
            .collect())
    }

    /// Every online identity with how much it did: imported events and xAPI statements' actors.
    pub async fn all_online_identities(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let mut all: BTreeMap<String, i64> = self.online_identities().await?.into_iter().collect();
        let rows = sqlx::query(
            // The hub's own statements are about students already, under pseudonyms: not online activity.
            "SELECT agent, COUNT(*) AS n FROM xapi_statements WHERE agent IS NOT NULL AND voided = 0 AND source != 'classhub' GROUP BY agent",
        )
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            *all.entry(r.get("agent")).or_default() += r.get::<i64, _>("n");
        }
        Ok(all.into_iter().collect())
    }

    /// The teachers' decisions: identity → roster student (`None`: not a student).
    pub async fn identity_links(&self) -> Result<BTreeMap<String, Option<String>>, StoreError> {
        let rows = sqlx::query("SELECT identity, student FROM identity_links").fetch_all(&self.pool).await?;
        Ok(rows.iter().map(|r| (r.get("identity"), r.get("student"))).collect())
    }

    /// Records a teacher's decision on an identity (the newest counts).
    pub async fn link_identity(
        &self,
        identity: &str,
        student: Option<&str>,
        by: &str,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO identity_links (identity, student, decided_by, decided_ms) VALUES (?, ?, ?, ?) \
             ON CONFLICT (identity) DO UPDATE SET student = excluded.student, decided_by = excluded.decided_by, \
             decided_ms = excluded.decided_ms",
        )
        .bind(identity)
        .bind(student)
        .bind(by)
        .bind(at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
