//! One student's data, for the GDPR's right of access and right to erasure: everything held about
//! a roster student, found by their sourcedId, their name on clickers and in attendance, and the
//! online identities that are theirs (by a teacher's decision or by matching).

use serde_json::{Map, Value, json};
use sqlx::{Column, Row, SqliteConnection};

use super::{Store, StoreError, email_hash};
use crate::blend::matching::{Index, Match, normalize};

/// Where one student's data is: the keys to find it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Footprint {
    /// The roster's sourcedId.
    pub id: String,
    /// "Given Family".
    pub name: String,
    /// Clickers assigned to them.
    pub devices: Vec<String>,
    /// Names they carry on clickers and in attendance (as written there).
    pub names: Vec<String>,
    /// Online identities that are theirs.
    pub identities: Vec<String>,
}

async fn rows_as_json(
    conn: &mut SqliteConnection,
    sql: &'static str,
    binds: &[String],
) -> Result<Vec<Value>, StoreError> {
    let mut q = sqlx::query(sql);
    for b in binds {
        q = q.bind(b);
    }
    let rows = q.fetch_all(&mut *conn).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let mut m = Map::new();
            for (i, c) in r.columns().iter().enumerate() {
                let v = r
                    .try_get::<i64, _>(i)
                    .map(Value::from)
                    .or_else(|_| r.try_get::<f64, _>(i).map(Value::from))
                    .or_else(|_| r.try_get::<String, _>(i).map(Value::from))
                    .unwrap_or(Value::Null);
                m.insert(c.name().to_owned(), v);
            }
            Value::Object(m)
        })
        .collect())
}

impl Store {
    /// Where a roster student's data is; `None` when the roster has no such student.
    pub async fn footprint(&self, id: &str) -> Result<Option<Footprint>, StoreError> {
        let students = self.roster_students().await?;
        let Some(me) = students.iter().find(|s| s.id == id) else { return Ok(None) };
        let name = format!("{} {}", me.given, me.family);
        let key = normalize(&name);
        let devices =
            sqlx::query("SELECT id, student FROM devices WHERE student IS NOT NULL").fetch_all(&self.pool).await?;
        let mut names = vec![name.clone()];
        let mut mine = Vec::new();
        for d in &devices {
            let student: String = d.get("student");
            if normalize(&student) == key {
                mine.push(d.get::<String, _>("id"));
                if !names.contains(&student) {
                    names.push(student);
                }
            }
        }
        let index = Index::new(&students);
        let secret = self.school_secret("email").await?;
        let links = self.identity_links().await?;
        let identities = self
            .all_online_identities()
            .await?
            .into_iter()
            .map(|(identity, _)| identity)
            .filter(|identity| match links.get(identity) {
                Some(decided) => decided.as_deref() == Some(id),
                None => index.find(identity, |a| email_hash(&secret, a)) == Match::Student(id.to_owned()),
            })
            .collect();
        Ok(Some(Footprint { id: id.to_owned(), name, devices: mine, names, identities }))
    }

    /// Everything held about the student, as JSON.
    pub async fn export_student(&self, f: &Footprint) -> Result<Value, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let mut out = Map::new();
        let one = |v: &str| vec![v.to_owned()];
        out.insert(
            "roster".into(),
            json!(rows_as_json(&mut conn, "SELECT * FROM roster_users WHERE sourced_id = ?", &one(&f.id)).await?),
        );
        out.insert(
            "enrollments".into(),
            json!(rows_as_json(&mut conn, "SELECT * FROM roster_enrollments WHERE user = ?", &one(&f.id)).await?),
        );
        let (mut devices, mut presses, mut checkins) = (Vec::new(), Vec::new(), Vec::new());
        for d in &f.devices {
            devices.extend(rows_as_json(&mut conn, "SELECT id, room, student, created_ms, last_seen_ms, firmware, battery_mv FROM devices WHERE id = ?", &one(d)).await?);
            presses.extend(rows_as_json(&mut conn, "SELECT * FROM presses WHERE device_id = ?", &one(d)).await?);
            checkins.extend(rows_as_json(&mut conn, "SELECT * FROM checkins WHERE device_id = ?", &one(d)).await?);
        }
        out.insert("clickers".into(), json!(devices));
        out.insert("answers".into(), json!(presses));
        out.insert("check_ins".into(), json!(checkins));
        let (mut overrides, mut flags, mut cards, mut card_checkins) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for n in &f.names {
            overrides.extend(
                rows_as_json(&mut conn, "SELECT * FROM attendance_overrides WHERE student = ?", &one(n)).await?,
            );
            flags.extend(rows_as_json(&mut conn, "SELECT * FROM student_flags WHERE student = ?", &one(n)).await?);
            cards.extend(rows_as_json(&mut conn, "SELECT added_ms FROM cards WHERE student = ?", &one(n)).await?);
            card_checkins.extend(
                rows_as_json(&mut conn, "SELECT session_id, at_ms FROM card_checkins WHERE student = ?", &one(n))
                    .await?,
            );
        }
        out.insert("school_cards".into(), json!(cards));
        out.insert("card_check_ins".into(), json!(card_checkins));
        out.insert("attendance_changes".into(), json!(overrides));
        out.insert("notes".into(), json!(flags));
        let (mut online, mut statements, mut links) = (Vec::new(), Vec::new(), Vec::new());
        for i in &f.identities {
            online.extend(
                rows_as_json(
                    &mut conn,
                    "SELECT origin, identity, at_ms, kind, activity, count FROM online_events WHERE identity = ?",
                    &one(i),
                )
                .await?,
            );
            for s in rows_as_json(&mut conn, "SELECT json FROM xapi_statements WHERE agent = ?", &one(i)).await? {
                statements.push(s["json"].as_str().and_then(|j| serde_json::from_str(j).ok()).unwrap_or(Value::Null));
            }
            links.extend(rows_as_json(&mut conn, "SELECT * FROM identity_links WHERE identity = ?", &one(i)).await?);
        }
        out.insert("online_identities".into(), json!(f.identities));
        out.insert("online_activity".into(), json!(online));
        out.insert("xapi_statements".into(), json!(statements));
        out.insert("identity_decisions".into(), json!(links));
        Ok(Value::Object(out))
    }

    /// Removes the student everywhere, in one transaction. Their clickers stay (school property),
    /// with no student and without the student's answers and check-ins.
    pub async fn erase_student(&self, f: &Footprint) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM roster_users WHERE sourced_id = ?").bind(&f.id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM roster_enrollments WHERE user = ?").bind(&f.id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM identity_links WHERE student = ?").bind(&f.id).execute(&mut *tx).await?;
        for d in &f.devices {
            sqlx::query("DELETE FROM presses WHERE device_id = ?").bind(d).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM checkins WHERE device_id = ?").bind(d).execute(&mut *tx).await?;
            sqlx::query("UPDATE devices SET student = NULL WHERE id = ?").bind(d).execute(&mut *tx).await?;
        }
        for n in &f.names {
            sqlx::query("DELETE FROM attendance_overrides WHERE student = ?").bind(n).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM student_flags WHERE student = ?").bind(n).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM cards WHERE student = ?").bind(n).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM card_checkins WHERE student = ?").bind(n).execute(&mut *tx).await?;
            sqlx::query("UPDATE pairing_windows SET target = '' WHERE target = ? AND mode IN ('student', 'loaner')")
                .bind(n)
                .execute(&mut *tx)
                .await?;
        }
        for i in &f.identities {
            sqlx::query("DELETE FROM online_events WHERE identity = ?").bind(i).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM xapi_statements WHERE agent = ?").bind(i).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM identity_links WHERE identity = ?").bind(i).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every table and column holding `needle` (case aside): what an erasure test scans with.
    pub async fn find_anywhere(&self, needle: &str) -> Result<Vec<(String, String)>, StoreError> {
        let tables = sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != '_sqlx_migrations'")
            .fetch_all(&self.pool)
            .await?;
        let mut found = Vec::new();
        let needle = needle.to_lowercase();
        for t in &tables {
            let table: String = t.get("name");
            // Table names come from sqlite_master itself, not from input.
            let rows =
                sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM \"{table}\""))).fetch_all(&self.pool).await?;
            for r in &rows {
                for (i, c) in r.columns().iter().enumerate() {
                    let text =
                        r.try_get::<String, _>(i).ok().or_else(|| r.try_get::<i64, _>(i).ok().map(|v| v.to_string()));
                    if text.is_some_and(|t| t.to_lowercase().contains(&needle)) {
                        found.push((table.clone(), c.name().to_owned()));
                    }
                }
            }
        }
        Ok(found)
    }
}
