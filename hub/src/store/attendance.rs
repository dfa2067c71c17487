//! Attendance in the store: each session's window, first sightings from presses and check-ins, and
//! the teachers' overrides. The rules themselves live in `classroom::attendance`.

use std::collections::BTreeMap;

use sqlx::Row;

use super::{Store, StoreError, corrupt};
use crate::classroom::attendance::{Attendance, Mark, Override, Via, Window};
use crate::classroom::summary::LatestAnswer;

/// A session as attendance and its exports see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// Its id.
    pub id: i64,
    /// The room.
    pub room: String,
    /// The class.
    pub class_name: String,
    /// Its timing.
    pub window: Window,
}

fn session_from_row(r: &sqlx::sqlite::SqliteRow) -> SessionRow {
    SessionRow {
        id: r.get("id"),
        room: r.get("room"),
        class_name: r.get("class_name"),
        window: Window {
            started_ms: r.get("started_ms"),
            window_ms: r.get("checkin_window_ms"),
            ended_ms: r.get("ended_ms"),
        },
    }
}

/// The columns `session_from_row` reads (a macro, so queries stay static strings).
macro_rules! session_columns {
    () => {
        "id, room, class_name, started_ms, ended_ms, checkin_window_ms"
    };
}

impl Store {
    /// One session.
    pub async fn session(&self, id: i64) -> Result<Option<SessionRow>, StoreError> {
        let row = sqlx::query(concat!("SELECT ", session_columns!(), " FROM sessions WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(session_from_row))
    }

    /// Sessions that started in `[from_ms, to_ms)`, of one class or of all (`None`), oldest first.
    pub async fn sessions_between(
        &self,
        class_name: Option<&str>,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<SessionRow>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE (? IS NULL OR class_name = ?) AND started_ms >= ? AND started_ms < ? \
             ORDER BY started_ms, id"
        ))
        .bind(class_name)
        .bind(class_name)
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(session_from_row).collect())
    }

    /// Every student's attendance in a session: the room's clickers (by student, or by clicker
    /// while unassigned), anyone else seen in the session, and anyone overridden.
    pub async fn attendance(&self, session: &SessionRow) -> Result<Vec<Attendance>, StoreError> {
        let mut first_seen: BTreeMap<String, Option<i64>> = BTreeMap::new();
        // The clickers in service during the session, loaners aside (their student is seen anyway).
        let roster = sqlx::query(
            "SELECT COALESCE(student, id) AS who FROM devices \
             WHERE room = ? AND loaner = 0 AND (retired_ms IS NULL OR retired_ms > ?)",
        )
        .bind(&session.room)
        .bind(session.window.started_ms)
        .fetch_all(&self.pool)
        .await?;
        for r in &roster {
            first_seen.insert(r.get("who"), None);
        }
        let seen = sqlx::query(
            "SELECT COALESCE(d.student, s.device_id) AS who, MIN(s.at) AS first FROM ( \
                 SELECT device_id, received_ms AS at FROM checkins WHERE session_id = ?1 \
                 UNION ALL \
                 SELECT p.device_id, p.received_ms AS at FROM presses p \
                 JOIN questions q ON q.id = p.question_id WHERE q.session_id = ?1 \
             ) s LEFT JOIN devices d ON d.id = s.device_id GROUP BY who",
        )
        .bind(session.id)
        .fetch_all(&self.pool)
        .await?;
        let cards = sqlx::query(
            "SELECT student AS who, MIN(at_ms) AS first FROM card_checkins WHERE session_id = ? GROUP BY student",
        )
        .bind(session.id)
        .fetch_all(&self.pool)
        .await?;
        let mut ways: BTreeMap<String, Via> = BTreeMap::new();
        for (rows, by_card) in [(&seen, false), (&cards, true)] {
            for r in rows {
                let (who, at): (String, i64) = (r.get("who"), r.get("first"));
                let via = ways.entry(who.clone()).or_default();
                if by_card {
                    via.card = true
                } else {
                    via.clicker = true
                }
                let slot = first_seen.entry(who).or_insert(None);
                *slot = Some(slot.map_or(at, |s| s.min(at)));
            }
        }
        let mut overrides: BTreeMap<String, Vec<Override>> = BTreeMap::new();
        let rows = sqlx::query(
            "SELECT student, mark, by_user, at_ms FROM attendance_overrides WHERE session_id = ? ORDER BY id",
        )
        .bind(session.id)
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            let mark: String = r.get("mark");
            let mark = Mark::parse(&mark).ok_or_else(|| corrupt("attendance mark")(mark))?;
            let student: String = r.get("student");
            first_seen.entry(student.clone()).or_insert(None);
            overrides.entry(student).or_default().push(Override { mark, by: r.get("by_user"), at_ms: r.get("at_ms") });
        }
        Ok(first_seen
            .into_iter()
            .map(|(student, seen)| {
                let o = overrides.remove(&student).unwrap_or_default();
                let via = ways.remove(&student).unwrap_or_default();
                Attendance { via, ..Attendance::new(student, session.window, seen, o) }
            })
            .collect())
    }

    /// How many questions a session asked, and each student's latest answer to each.
    pub async fn session_answers(&self, session: i64) -> Result<(u32, Vec<LatestAnswer>), StoreError> {
        let questions: i64 = sqlx::query("SELECT COUNT(*) AS n FROM questions WHERE session_id = ?")
            .bind(session)
            .fetch_one(&self.pool)
            .await?
            .get("n");
        let rows = sqlx::query(
            "SELECT q.id AS question, q.correct AS correct, p.answer AS answer, \
             COALESCE(d.student, p.device_id) AS who \
             FROM presses p JOIN questions q ON q.id = p.question_id LEFT JOIN devices d ON d.id = p.device_id \
             WHERE q.session_id = ? AND p.seq = \
             (SELECT MAX(seq) FROM presses p2 WHERE p2.device_id = p.device_id AND p2.question_id = p.question_id)",
        )
        .bind(session)
        .fetch_all(&self.pool)
        .await?;
        let answers = rows
            .iter()
            .map(|r| LatestAnswer {
                question: r.get::<i64, _>("question") as u32,
                correct: r.get("correct"),
                answer: r.get("answer"),
                student: r.get("who"),
            })
            .collect();
        Ok((questions as u32, answers))
    }

    /// Records a teacher's override; every one is kept.
    pub async fn override_attendance(
        &self,
        session: i64,
        student: &str,
        mark: Mark,
        by: &str,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO attendance_overrides (session_id, student, mark, by_user, at_ms) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(session)
        .bind(student)
        .bind(mark.as_str())
        .bind(by)
        .bind(at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use firmware::protocol::{DeviceId, RoomCode, Seq};

    use super::*;
    use crate::store::{Device, Record};

    const MIN: i64 = 60_000;

    async fn store(name: &str) -> Store {
        crate::store::test_store(&format!("att-{name}")).await
    }

    fn checkin(device: &str, seq: u64, session: i64, at_ms: i64) -> Record {
        Record::CheckIn { device: DeviceId::parse(device).unwrap(), seq: Seq(seq), session: Some(session), at_ms }
    }

    #[tokio::test]
    async fn scripted_check_ins_make_present_late_and_absent_and_overrides_win() {
        let store = store("script").await;
        let room = RoomCode::parse("b-204").unwrap();
        for (id, student) in [("c-1", "Anna"), ("c-2", "Bram"), ("c-3", "Cem"), ("c-4", "Daan")] {
            let device = Device {
                id: DeviceId::parse(id).unwrap(),
                key: firmware::protocol::DeviceKey([7; 16]),
                room: room.clone(),
                student: Some(student.into()),
                newest_seq: None,
            };
            store.add_device(&device).await.unwrap();
        }
        let start = 1_700_000_000_000;
        let id = store.start_session(&room, "3A", start, 10 * MIN).await.unwrap();
        // Anna checks in after 2 minutes, Bram after 14, Cem after 9 and again after 30; Daan never.
        let batch = [
            checkin("c-1", 1, id, start + 2 * MIN),
            checkin("c-2", 1, id, start + 14 * MIN),
            checkin("c-3", 1, id, start + 9 * MIN),
            checkin("c-3", 2, id, start + 30 * MIN),
        ];
        store.commit(&batch, &[]).await.unwrap();

        let session = store.session(id).await.unwrap().unwrap();
        let marks = |a: &[Attendance]| a.iter().map(|a| (a.student.clone(), a.mark())).collect::<Vec<_>>();
        let running = store.attendance(&session).await.unwrap();
        assert_eq!(
            marks(&running),
            [
                ("Anna".into(), Some(Mark::Present)),
                ("Bram".into(), Some(Mark::Late)),
                ("Cem".into(), Some(Mark::Present)),
                ("Daan".into(), None)
            ]
        );

        store.end_session(id, start + 50 * MIN).await.unwrap();
        let session = store.session(id).await.unwrap().unwrap();
        let ended = store.attendance(&session).await.unwrap();
        assert_eq!(ended[3].mark(), Some(Mark::Absent), "never seen by the end: absent");

        store.override_attendance(id, "Daan", Mark::Absent, "docent", start + 51 * MIN).await.unwrap();
        store.override_attendance(id, "Daan", Mark::Excused, "admin", start + 52 * MIN).await.unwrap();
        let after = store.attendance(&session).await.unwrap();
        assert_eq!(after[3].mark(), Some(Mark::Excused));
        assert_eq!(after[3].earned, Some(Mark::Absent));
        let who: Vec<(&str, i64)> = after[3].overrides.iter().map(|o| (o.by.as_str(), o.at_ms)).collect();
        assert_eq!(
            who,
            [("docent", start + 51 * MIN), ("admin", start + 52 * MIN)],
            "every override keeps who and when"
        );

        let in_range = store.sessions_between(Some("3A"), start - 1, start + 1).await.unwrap();
        assert_eq!(in_range.len(), 1);
        assert!(store.sessions_between(Some("4B"), start - 1, start + 1).await.unwrap().is_empty());
    }
}
