//! xAPI in the store: the sources and their credentials, statements kept all-or-nothing per request,
//! voiding, and the statement resource's queries with paging by stored order.

use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{QueryBuilder, Row, Sqlite};

use super::{Store, StoreError};
use crate::blend::xapi::{self, VOIDED};

/// Why a batch of statements was not kept.
#[derive(Debug, thiserror::Error)]
pub enum StatementError {
    /// A statement with that id exists with other content (409).
    #[error("statement {0} exists with other content")]
    Conflict(String),
    /// A voiding statement points at another voiding statement (400).
    #[error("statement {0} voids a voiding statement")]
    VoidsAVoid(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for StatementError {
    fn from(e: sqlx::Error) -> Self {
        StatementError::Store(StoreError::Db(e))
    }
}

/// A statement to keep, completed by the LRS.
#[derive(Debug, Clone)]
pub struct NewStatement {
    /// Its id.
    pub id: String,
    /// The whole statement.
    pub json: Value,
}

/// The statement resource's filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// The actor's key ([`xapi::agent_key`]).
    pub agent: Option<String>,
    /// The verb id.
    pub verb: Option<String>,
    /// The activity id.
    pub activity: Option<String>,
    /// The context registration.
    pub registration: Option<String>,
    /// Stored strictly after (ms).
    pub since_ms: Option<i64>,
    /// Stored at or before (ms).
    pub until_ms: Option<i64>,
    /// Oldest first.
    pub ascending: bool,
    /// At most this many.
    pub limit: u32,
    /// The activity may be anywhere in the statement (context activities, a SubStatement), not only
    /// its object.
    pub related_activities: bool,
    /// The agent may be anywhere in the statement (object, authority, context, a SubStatement).
    pub related_agents: bool,
    /// Continue after this stored position (from `more`).
    pub after: Option<i64>,
}

/// The JSON field and value an agent key ([`xapi::agent_key`]) is found by (for an account, its
/// name; the home page is checked by the key's own filter when not related).
fn agent_field(key: &str) -> (&'static str, String) {
    if let Some(v) = key.strip_prefix("mbox:") {
        ("mbox", v.to_lowercase())
    } else if let Some(v) = key.strip_prefix("sha1:") {
        ("mbox_sha1sum", v.to_lowercase())
    } else if let Some(v) = key.strip_prefix("openid:") {
        ("openid", v.to_lowercase())
    } else {
        (
            "name",
            key.strip_prefix("account:")
                .and_then(|a| a.rsplit_once('|'))
                .map_or(String::new(), |(_, n)| n.to_lowercase()),
        )
    }
}

fn sha256_hex(s: &str) -> String {
    crate::hex(&Sha256::digest(s.as_bytes()))
}

impl Store {
    /// Adds a source that may send statements; returns its key and secret (shown once).
    pub async fn add_xapi_source(&self, name: &str, at_ms: i64) -> Result<(String, String), StoreError> {
        let (key, secret) = (crate::auth::random_hex(12), crate::auth::random_hex(24));
        let done = sqlx::query(
            "INSERT INTO xapi_sources (name, key, secret_sha256, created_ms) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(&key)
        .bind(sha256_hex(&secret))
        .bind(at_ms)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::UserExists(format!("source {name}")));
        }
        Ok((key, secret))
    }

    /// The source these Basic credentials belong to, if they are right.
    pub async fn xapi_source(&self, key: &str, secret: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT name, secret_sha256 FROM xapi_sources WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.and_then(|r| {
            let stored: String = r.get("secret_sha256");
            // Both sides are hex digests of equal length: compare without an early exit.
            let given = sha256_hex(secret);
            let equal = stored.len() == given.len()
                && stored.bytes().zip(given.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
            equal.then(|| r.get("name"))
        }))
    }

    /// Keeps a batch all-or-nothing. A statement whose id exists with the same content is left as it
    /// is; other content is a conflict. Returns the ids in order.
    pub async fn keep_statements(
        &self,
        source: &str,
        batch: &[NewStatement],
        stored_ms: i64,
    ) -> Result<Vec<String>, StatementError> {
        let mut tx = self.write().await?;
        for s in batch {
            let existing = sqlx::query("SELECT json FROM xapi_statements WHERE id = ?")
                .bind(&s.id)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(row) = existing {
                let old: Value = serde_json::from_str(row.get::<&str, _>("json")).unwrap_or_default();
                if xapi::same(&old, &s.json) {
                    continue;
                }
                return Err(StatementError::Conflict(s.id.clone()));
            }
            let j = &s.json;
            let verb = j["verb"]["id"].as_str().unwrap_or_default();
            let object_type = j["object"]["objectType"].as_str().unwrap_or("Activity");
            let activity = (object_type == "Activity").then(|| j["object"]["id"].as_str()).flatten();
            let voids = (verb == VOIDED).then(|| j["object"]["id"].as_str()).flatten();
            if let Some(target) = voids {
                let target_verb: Option<String> = sqlx::query("SELECT verb FROM xapi_statements WHERE id = ?")
                    .bind(target)
                    .fetch_optional(&mut *tx)
                    .await?
                    .map(|r| r.get("verb"));
                if target_verb.as_deref() == Some(VOIDED) {
                    return Err(StatementError::VoidsAVoid(s.id.clone()));
                }
                sqlx::query("UPDATE xapi_statements SET voided = 1 WHERE id = ?")
                    .bind(target)
                    .execute(&mut *tx)
                    .await?;
            }
            let timestamp_ms = j["timestamp"].as_str().and_then(xapi::parse_timestamp).unwrap_or(stored_ms);
            sqlx::query(
                "INSERT INTO xapi_statements (id, source, stored_ms, timestamp_ms, agent, verb, activity, registration, voids, json) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&s.id)
            .bind(source)
            .bind(stored_ms)
            .bind(timestamp_ms)
            .bind(xapi::agent_key(&j["actor"]))
            .bind(verb)
            .bind(activity)
            .bind(j["context"]["registration"].as_str())
            .bind(voids)
            .bind(j.to_string())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(batch.iter().map(|s| s.id.clone()).collect())
    }

    /// Up to `limit` statements from `source` kept after stored position `after`, oldest first, and
    /// the position of the last one.
    pub async fn statements_after(
        &self,
        source: &str,
        after: i64,
        limit: usize,
    ) -> Result<(Vec<Value>, i64), StoreError> {
        let rows =
            sqlx::query("SELECT seq, json FROM xapi_statements WHERE source = ? AND seq > ? ORDER BY seq LIMIT ?")
                .bind(source)
                .bind(after)
                .bind(limit as i64)
                .fetch_all(&self.pool)
                .await?;
        let last = rows.last().map_or(after, |r| r.get("seq"));
        Ok((rows.iter().map(|r| serde_json::from_str(r.get::<&str, _>("json")).unwrap_or_default()).collect(), last))
    }

    /// How many statements are kept (voided ones included).
    pub async fn statements_stored(&self) -> Result<usize, StoreError> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM xapi_statements").fetch_one(&self.pool).await?.get::<i64, _>("n")
            as usize)
    }

    /// One statement by id: a kept one (`voided` false) or a voided one (`voided` true).
    pub async fn statement(&self, id: &str, voided: bool) -> Result<Option<Value>, StoreError> {
        let row = sqlx::query("SELECT json FROM xapi_statements WHERE id = ? AND voided = ?")
            .bind(id)
            .bind(i64::from(voided))
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| serde_json::from_str(r.get::<&str, _>("json")).unwrap_or_default()))
    }

    /// Statements matching `q` (never voided ones), and the stored position to continue after when
    /// there are more.
    pub async fn statements(&self, q: &Query) -> Result<(Vec<Value>, Option<i64>), StoreError> {
        let limit = q.limit.clamp(1, 1000) as usize;
        let mut b = QueryBuilder::<Sqlite>::new("SELECT seq, json FROM xapi_statements WHERE voided = 0");
        for (column, value) in [("verb", &q.verb), ("registration", &q.registration)] {
            if let Some(v) = value {
                b.push(format!(" AND {column} = ")).push_bind(v.clone());
            }
        }
        match (&q.activity, q.related_activities) {
            (Some(a), false) => {
                b.push(" AND activity = ").push_bind(a.clone());
            }
            (Some(a), true) => {
                b.push(" AND EXISTS (SELECT 1 FROM json_tree(xapi_statements.json) WHERE key = 'id' AND value = ")
                    .push_bind(a.clone())
                    .push(")");
            }
            (None, _) => {}
        }
        match (&q.agent, q.related_agents) {
            (Some(key), false) => {
                b.push(" AND agent = ").push_bind(key.clone());
            }
            (Some(key), true) => {
                // An agent anywhere: any object in the statement whose identifier makes the same key.
                let (field, value) = agent_field(key);
                b.push(format!(" AND EXISTS (SELECT 1 FROM json_tree(xapi_statements.json) WHERE key = '{field}' AND lower(value) = "))
                    .push_bind(value)
                    .push(")");
            }
            (None, _) => {}
        }
        if let Some(since) = q.since_ms {
            b.push(" AND stored_ms > ").push_bind(since);
        }
        if let Some(until) = q.until_ms {
            b.push(" AND stored_ms <= ").push_bind(until);
        }
        if let Some(after) = q.after {
            b.push(if q.ascending { " AND seq > " } else { " AND seq < " }).push_bind(after);
        }
        b.push(if q.ascending { " ORDER BY seq ASC" } else { " ORDER BY seq DESC" });
        b.push(" LIMIT ").push_bind(limit as i64 + 1);
        let rows = b.build().fetch_all(&self.pool).await?;
        let more = (rows.len() > limit).then(|| rows[limit - 1].get::<i64, _>("seq"));
        let statements = rows
            .iter()
            .take(limit)
            .map(|r| serde_json::from_str(r.get::<&str, _>("json")).unwrap_or_default())
            .collect();
        Ok((statements, more))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[tokio::test]
    async fn eight_sources_writing_at_once_all_get_their_statements_kept() {
        let dir =
            std::env::temp_dir().join(format!("classhub-xapi-{}-{:08x}", std::process::id(), rand::random::<u32>()));
        let store = Store::open(&dir).await.unwrap();
        let mut tasks = Vec::new();
        for client in 0..8 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for round in 0..10 {
                    let batch: Vec<NewStatement> = (0..5)
                        .map(|i| NewStatement {
                            id: xapi::new_uuid(),
                            json: json!({ "actor": { "mbox": format!("mailto:s{client}@school.nl") },
                                "verb": { "id": "http://adlnet.gov/expapi/verbs/experienced" },
                                "object": { "id": format!("https://lms.school.nl/{round}/{i}") } }),
                        })
                        .collect();
                    store.keep_statements("lms", &batch, 1_000).await.expect("kept, not busy");
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let (all, _) = store.statements(&Query { limit: 1000, ..Query::default() }).await.unwrap();
        assert_eq!(all.len(), 400);
    }
}
