//! The roster in the store: a read bundle applied in one transaction, row by row as added, updated,
//! removed or unchanged, so importing the same bundle twice changes nothing.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use super::{Store, StoreError};
use crate::blend::roster::{Known, Roster, Status, sort_key};

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    /// Rows new to the store.
    pub added: usize,
    /// Rows whose values changed.
    pub updated: usize,
    /// Rows removed (`tobedeleted`).
    pub removed: usize,
    /// Rows already as they were.
    pub unchanged: usize,
}

/// One row to write: its table, its sourcedId, its other columns.
struct Put<'a> {
    table: &'static str,
    id: &'a str,
    status: Status,
    columns: Vec<(&'static str, Option<String>)>,
}

enum Change {
    Added,
    Updated,
    Removed,
    Unchanged,
}

async fn put(conn: &mut SqliteConnection, p: Put<'_>) -> Result<Change, StoreError> {
    if p.status == Status::ToBeDeleted {
        let mut q = QueryBuilder::<Sqlite>::new(format!("DELETE FROM {} WHERE sourced_id = ", p.table));
        q.push_bind(p.id);
        let gone = q.build().execute(&mut *conn).await?.rows_affected();
        return Ok(if gone > 0 { Change::Removed } else { Change::Unchanged });
    }
    let names: Vec<&str> = p.columns.iter().map(|(n, _)| *n).collect();
    let mut q =
        QueryBuilder::<Sqlite>::new(format!("SELECT {} FROM {} WHERE sourced_id = ", names.join(", "), p.table));
    q.push_bind(p.id);
    let existing = q.build().fetch_optional(&mut *conn).await?;
    match existing {
        Some(row) if p.columns.iter().all(|(n, v)| row.get::<Option<String>, _>(*n) == *v) => Ok(Change::Unchanged),
        Some(_) => {
            let mut q = QueryBuilder::<Sqlite>::new(format!("UPDATE {} SET ", p.table));
            let mut set = q.separated(", ");
            for (name, value) in &p.columns {
                set.push(format!("{name} = "));
                set.push_bind_unseparated(value.clone());
            }
            q.push(" WHERE sourced_id = ");
            q.push_bind(p.id);
            q.build().execute(&mut *conn).await?;
            Ok(Change::Updated)
        }
        None => {
            let mut q = QueryBuilder::<Sqlite>::new(format!(
                "INSERT INTO {} (sourced_id, {}) VALUES (",
                p.table,
                names.join(", ")
            ));
            let mut values = q.separated(", ");
            values.push_bind(p.id);
            for (_, value) in &p.columns {
                values.push_bind(value.clone());
            }
            q.push(")");
            q.build().execute(&mut *conn).await?;
            Ok(Change::Added)
        }
    }
}

/// The keyed hash an e-mail address is kept as: HMAC-SHA256 under the school's secret, of the
/// trimmed, lower-cased address, hex.
pub fn email_hash(secret: &[u8], email: &str) -> String {
    keyed_hash(secret, email.trim().to_lowercase().as_bytes())
}

/// HMAC-SHA256 of `data` under `secret`, hex: how personal identifiers (e-mail addresses, card
/// numbers) are kept.
pub fn keyed_hash(secret: &[u8], data: &[u8]) -> String {
    // Cannot fail: HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
    mac.update(data);
    crate::hex(&mac.finalize().into_bytes())
}

impl Store {
    /// The school's secret called `name` (32 random bytes), made on first use.
    pub async fn school_secret(&self, name: &str) -> Result<Vec<u8>, StoreError> {
        let fresh = crate::auth::random_hex(32);
        sqlx::query("INSERT INTO school_secrets (name, secret_hex) VALUES (?, ?) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(&fresh)
            .execute(&self.pool)
            .await?;
        let hex: String = sqlx::query("SELECT secret_hex FROM school_secrets WHERE name = ?")
            .bind(name)
            .fetch_one(&self.pool)
            .await?
            .get("secret_hex");
        Ok((0..hex.len() / 2).filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()).collect())
    }

    /// The sourcedIds the store holds, for reading a delta bundle.
    pub async fn roster_known(&self) -> Result<Known, StoreError> {
        let ids = |sql: &'static str| async move {
            Ok::<_, StoreError>(
                sqlx::query(sql).fetch_all(&self.pool).await?.iter().map(|r| r.get::<String, _>(0)).collect::<Vec<_>>(),
            )
        };
        Ok(Known {
            orgs: ids("SELECT sourced_id FROM roster_orgs").await?,
            courses: ids("SELECT sourced_id FROM roster_courses").await?,
            classes: ids("SELECT sourced_id FROM roster_classes").await?,
            users: ids("SELECT sourced_id FROM roster_users").await?,
        })
    }

    /// Applies a read bundle in one transaction; `progress` is called after every row.
    pub async fn apply_roster(&self, r: &Roster, mut progress: impl FnMut()) -> Result<ImportCounts, StoreError> {
        let secret = self.school_secret("email").await?;
        let flag = |b: bool| Some(if b { "true" } else { "false" }.to_owned());
        let mut puts = Vec::new();
        for o in &r.orgs {
            puts.push(Put {
                table: "roster_orgs",
                id: &o.id,
                status: o.status,
                columns: vec![
                    ("name", Some(o.name.clone())),
                    ("kind", Some(o.kind.clone())),
                    ("parent", o.parent.clone()),
                ],
            });
        }
        for t in &r.terms {
            puts.push(Put {
                table: "roster_terms",
                id: &t.id,
                status: t.status,
                columns: vec![
                    ("title", Some(t.title.clone())),
                    ("kind", Some(t.kind.clone())),
                    ("start_date", Some(t.start.clone())),
                    ("end_date", Some(t.end.clone())),
                ],
            });
        }
        for c in &r.courses {
            puts.push(Put {
                table: "roster_courses",
                id: &c.id,
                status: c.status,
                columns: vec![("title", Some(c.title.clone())), ("org", Some(c.org.clone())), ("code", c.code.clone())],
            });
        }
        for c in &r.classes {
            puts.push(Put {
                table: "roster_classes",
                id: &c.id,
                status: c.status,
                columns: vec![
                    ("title", Some(c.title.clone())),
                    ("course", Some(c.course.clone())),
                    ("school", Some(c.school.clone())),
                    ("code", c.code.clone()),
                    ("location", c.location.clone()),
                ],
            });
        }
        for u in &r.users {
            puts.push(Put {
                table: "roster_users",
                id: &u.id,
                status: u.status,
                columns: vec![
                    ("role", Some(u.role.clone())),
                    ("username", Some(u.username.clone())),
                    ("given_name", Some(u.given_name.clone())),
                    ("family_name", Some(u.family_name.clone())),
                    ("identifier", u.identifier.clone()),
                    ("email_hash", u.email.as_deref().map(|e| email_hash(&secret, e))),
                    ("enabled", flag(u.enabled)),
                ],
            });
        }
        for e in &r.enrollments {
            puts.push(Put {
                table: "roster_enrollments",
                id: &e.id,
                status: e.status,
                columns: vec![
                    ("class", Some(e.class.clone())),
                    ("school", Some(e.school.clone())),
                    ("user", Some(e.user.clone())),
                    ("role", Some(e.role.clone())),
                    ("is_primary", flag(e.primary)),
                ],
            });
        }
        let mut tx = self.write().await?;
        let mut counts = ImportCounts::default();
        for p in puts {
            match put(&mut tx, p).await? {
                Change::Added => counts.added += 1,
                Change::Updated => counts.updated += 1,
                Change::Removed => counts.removed += 1,
                Change::Unchanged => counts.unchanged += 1,
            }
            progress();
        }
        // A bulk file lists everything there is: what the store holds beyond it is gone.
        for (file, ids) in &r.bulk {
            let table = match file.as_str() {
                "orgs.csv" => "roster_orgs",
                "academicSessions.csv" => "roster_terms",
                "courses.csv" => "roster_courses",
                "classes.csv" => "roster_classes",
                "users.csv" => "roster_users",
                "enrollments.csv" => "roster_enrollments",
                _ => continue,
            };
            let held: Vec<String> = QueryBuilder::<Sqlite>::new(format!("SELECT sourced_id FROM {table}"))
                .build()
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|row| row.get(0))
                .collect();
            for gone in held.iter().filter(|id| !ids.contains(*id)) {
                let mut q = QueryBuilder::<Sqlite>::new(format!("DELETE FROM {table} WHERE sourced_id = "));
                q.push_bind(gone);
                q.build().execute(&mut *tx).await?;
                counts.removed += 1;
            }
        }
        tx.commit().await?;
        Ok(counts)
    }

    /// The roster's classes by title: (sourcedId, title).
    pub async fn roster_classes(&self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT sourced_id, title FROM roster_classes ORDER BY title, sourced_id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| (r.get("sourced_id"), r.get("title"))).collect())
    }

    /// A class's students in roster order ([`sort_key`]): (sourcedId, "Given Family").
    pub async fn class_students(&self, class: &str) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT u.sourced_id AS id, u.given_name AS given, u.family_name AS family FROM roster_enrollments e \
             JOIN roster_users u ON u.sourced_id = e.user WHERE e.class = ? AND e.role = 'student'",
        )
        .bind(class)
        .fetch_all(&self.pool)
        .await?;
        let mut students: Vec<(String, String, String)> =
            rows.iter().map(|r| (r.get("id"), r.get("given"), r.get("family"))).collect();
        students.sort_by_cached_key(|(id, given, family)| (sort_key(family, given), id.clone()));
        Ok(students.into_iter().map(|(id, given, family)| (id, format!("{given} {family}"))).collect())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::blend::roster::read;

    fn bundle(users: &str) -> BTreeMap<String, String> {
        [
            ("orgs.csv", "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\ns1,,,Het Baken,school,,\n"),
            ("courses.csv", "sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,orgSourcedId,subjects,subjectCodes\nc1,,,,Wiskunde,WI,,s1,,\n"),
            ("classes.csv", "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods\nk1,,,3A wiskunde,,c1,3A-WI,scheduled,B-204,s1,,,,\n"),
            ("users.csv", users),
            ("enrollments.csv", "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate\ne1,,,k1,s1,u1,student,false,,\ne2,,,k1,s1,u2,student,false,,\n"),
        ]
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect()
    }

    const USERS: &str = "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password\n\
        u1,,,true,s1,student,anna,,Anna,de Vries,,1001,Anna@School.nl,,,,,\n\
        u2,,,true,s1,student,bram,,Bram,Jansen,,1002,,,,,,\n";

    #[tokio::test]
    async fn importing_twice_changes_nothing_and_a_change_is_applied() {
        let dir =
            std::env::temp_dir().join(format!("classhub-roster-{}-{:08x}", std::process::id(), rand::random::<u32>()));
        let store = Store::open(&dir).await.unwrap();
        let first = read(&bundle(USERS), &Known::default());
        assert!(first.errors.is_empty(), "{:?}", first.errors);
        let counts = store.apply_roster(&first, || {}).await.unwrap();
        assert_eq!(counts, ImportCounts { added: 7, updated: 0, removed: 0, unchanged: 0 });
        let again = store.apply_roster(&first, || {}).await.unwrap();
        assert_eq!(again, ImportCounts { added: 0, updated: 0, removed: 0, unchanged: 7 }, "idempotent");
        assert_eq!(
            store.class_students("k1").await.unwrap(),
            [("u2".to_owned(), "Bram Jansen".to_owned()), ("u1".to_owned(), "Anna de Vries".to_owned())],
            "roster order: Jansen before de Vries (under V)"
        );

        // Bram's family name is corrected; Anna's e-mail is kept only as a keyed hash.
        let changed =
            read(&bundle(&USERS.replace("Bram,Jansen", "Bram,Janssen")), &store.roster_known().await.unwrap());
        let counts = store.apply_roster(&changed, || {}).await.unwrap();
        assert_eq!((counts.updated, counts.unchanged), (1, 6));
        let stored: Vec<(String, Option<String>)> =
            sqlx::query("SELECT family_name, email_hash FROM roster_users ORDER BY sourced_id")
                .fetch_all(&store.pool)
                .await
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
        assert_eq!(stored[1].0, "Janssen");
        let secret = store.school_secret("email").await.unwrap();
        assert_eq!(
            stored[0].1.as_deref(),
            Some(email_hash(&secret, " anna@school.nl ").as_str()),
            "case and spaces do not matter"
        );
        let everything: String = sqlx::query("SELECT group_concat(sourced_id || role || username || given_name || family_name || COALESCE(identifier, '') || COALESCE(email_hash, ''), '|') FROM roster_users")
            .fetch_one(&store.pool)
            .await
            .unwrap()
            .get(0);
        assert!(!everything.to_lowercase().contains("school.nl"), "the address itself is nowhere");

        // A delta removes Bram's enrollment.
        let delta: BTreeMap<String, String> = [(
            "enrollments.csv".to_owned(),
            "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate\ne2,tobedeleted,,k1,s1,u2,student,false,,\n".to_owned(),
        )]
        .into();
        let delta = read(&delta, &store.roster_known().await.unwrap());
        assert_eq!(store.apply_roster(&delta, || {}).await.unwrap().removed, 1);
        assert_eq!(store.class_students("k1").await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_bulk_file_without_a_student_removes_them_and_a_delta_does_not() {
        let dir = std::env::temp_dir().join(format!(
            "classhub-roster-bulk-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        let store = Store::open(&dir).await.unwrap();
        let first = read(&bundle(USERS), &Known::default());
        store.apply_roster(&first, || {}).await.unwrap();

        let broken = read(&bundle(&USERS.replace("Bram,Jansen", "Bram,")), &store.roster_known().await.unwrap());
        assert_eq!(broken.errors.len(), 1, "{:?}", broken.errors);
        assert_eq!(store.apply_roster(&broken, || {}).await.unwrap().removed, 0, "a broken row is not a missing one");

        let without_bram: String = USERS.lines().filter(|l| !l.contains("bram")).map(|l| format!("{l}\n")).collect();
        let mut files = bundle(&without_bram);
        files.insert("manifest.csv".into(), "propertyName,value\nfile.users,delta\nfile.enrollments,delta\n".into());
        let delta = read(&files, &store.roster_known().await.unwrap());
        assert_eq!(
            store.apply_roster(&delta, || {}).await.unwrap().removed,
            0,
            "a delta file says nothing of rows it leaves out"
        );

        files.insert("manifest.csv".into(), "propertyName,value\nfile.users,bulk\nfile.enrollments,delta\n".into());
        let bulk = read(&files, &store.roster_known().await.unwrap());
        assert_eq!(store.apply_roster(&bulk, || {}).await.unwrap().removed, 1, "Bram left the school's system");
        assert!(!store.roster_known().await.unwrap().users.contains(&"u2".to_owned()));
    }
}
