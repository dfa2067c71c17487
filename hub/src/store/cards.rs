//! School cards in the store: which student a card belongs to (by a keyed hash of its UID) and the
//! check-ins made with it.

use sqlx::Row;

use super::{Store, StoreError};

impl Store {
    /// The keyed hash a card is stored under: HMAC-SHA256 of its UID under the school's secret, so a
    /// copy of the database does not list card numbers.
    pub async fn card_hash(&self, uid: &[u8]) -> Result<String, StoreError> {
        Ok(super::roster::keyed_hash(&self.school_secret("card").await?, uid))
    }

    /// Registers (or moves) a card to a student.
    pub async fn add_card(&self, uid: &[u8], student: &str, now_ms: i64) -> Result<(), StoreError> {
        let hash = self.card_hash(uid).await?;
        sqlx::query(
            "INSERT INTO cards (card_hash, student, added_ms) VALUES (?, ?, ?) \
             ON CONFLICT (card_hash) DO UPDATE SET student = excluded.student, added_ms = excluded.added_ms",
        )
        .bind(hash)
        .bind(student)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The student a card belongs to.
    pub async fn card_student(&self, uid: &[u8]) -> Result<Option<String>, StoreError> {
        let hash = self.card_hash(uid).await?;
        Ok(sqlx::query("SELECT student FROM cards WHERE card_hash = ?")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.get("student")))
    }

    /// Keeps a card check-in.
    pub async fn add_card_checkin(&self, session: i64, student: &str, at_ms: i64) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO card_checkins (session_id, student, at_ms) VALUES (?, ?, ?)")
            .bind(session)
            .bind(student)
            .bind(at_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
