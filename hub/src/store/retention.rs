//! Retention: raw answers, check-ins, statements and imported online events older than the configured
//! number of days are removed; what stays are counts — each question's tally and each session's
//! attendance and response figures — kept before the raw rows go.

use std::collections::BTreeMap;

use sqlx::Row;

use super::{Store, StoreError};
use crate::classroom::attendance::Mark;
use crate::classroom::summary::summarize;

/// What a purge removed and kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Answers removed.
    pub answers: u64,
    /// Check-ins removed.
    pub check_ins: u64,
    /// xAPI statements removed.
    pub statements: u64,
    /// Imported online events removed.
    pub online_events: u64,
    /// Question tallies kept.
    pub tallies_kept: usize,
    /// Session summaries kept.
    pub summaries_kept: usize,
}

impl Store {
    /// Removes raw data received before `cutoff_ms`, after keeping the counts that stay.
    pub async fn purge_before(&self, cutoff_ms: i64, now_ms: i64) -> Result<Purged, StoreError> {
        let mut purged = Purged::default();
        // Sessions touched by old rows, summarised first (from the raw rows, while they exist).
        let sessions: Vec<i64> = sqlx::query(
            "SELECT DISTINCT q.session_id AS s FROM presses p JOIN questions q ON q.id = p.question_id WHERE p.received_ms < ?1 \
             UNION SELECT DISTINCT session_id FROM checkins WHERE received_ms < ?1 AND session_id IS NOT NULL",
        )
        .bind(cutoff_ms)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
        let mut summaries = Vec::new();
        for id in sessions {
            let Some(session) = self.session(id).await? else { continue };
            let attendance = self.attendance(&session).await?;
            let mut marks: BTreeMap<&str, i64> = BTreeMap::new();
            for a in &attendance {
                let mark = a.mark().unwrap_or(Mark::Absent);
                *marks.entry(mark.as_str()).or_default() += 1;
            }
            let (questions, answers) = self.session_answers(id).await?;
            let students: Vec<String> = attendance.iter().map(|a| a.student.clone()).collect();
            let sum = summarize(questions, &students, &answers);
            summaries.push((id, marks, sum));
        }
        let questions: Vec<(i64, i64)> = sqlx::query(
            "SELECT DISTINCT p.question_id AS q, qq.options AS options FROM presses p JOIN questions qq ON qq.id = p.question_id \
             WHERE p.received_ms < ?",
        )
        .bind(cutoff_ms)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| (r.get("q"), r.get("options")))
        .collect();
        let mut tallies = Vec::new();
        for (q, options) in questions {
            let latest = sqlx::query(
                "SELECT answer FROM presses p WHERE question_id = ? AND seq = \
                 (SELECT MAX(seq) FROM presses p2 WHERE p2.device_id = p.device_id AND p2.question_id = p.question_id)",
            )
            .bind(q)
            .fetch_all(&self.pool)
            .await?;
            let mut counts = vec![0i64; options.clamp(0, 5) as usize];
            for r in &latest {
                let answer: String = r.get("answer");
                for b in answer.bytes() {
                    if let Some(c) = counts.get_mut(usize::from(b.wrapping_sub(b'A'))) {
                        *c += 1;
                    }
                }
            }
            tallies.push((q, serde_json::to_string(&counts).unwrap_or_default(), latest.len() as i64));
        }
        let mut tx = self.write().await?;
        for (id, marks, sum) in &summaries {
            let m = |k: &str| marks.get(k).copied().unwrap_or(0);
            sqlx::query(
                "INSERT INTO session_summaries (session_id, present, late, absent, excused, questions, response_rate_pct, \
                 correct_rate_pct, kept_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session_id) DO NOTHING",
            )
            .bind(id)
            .bind(m("present"))
            .bind(m("late"))
            .bind(m("absent"))
            .bind(m("excused"))
            .bind(i64::from(sum.questions))
            .bind(sum.response_rate_pct.map(i64::from))
            .bind(sum.correct_rate_pct.map(i64::from))
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        }
        for (q, counts, answered) in &tallies {
            sqlx::query(
                "INSERT INTO question_tallies (question_id, counts, answered, kept_ms) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (question_id) DO NOTHING",
            )
            .bind(q)
            .bind(counts)
            .bind(answered)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        }
        purged.summaries_kept = summaries.len();
        purged.tallies_kept = tallies.len();
        for (sql, slot) in [
            ("DELETE FROM presses WHERE received_ms < ?", &mut purged.answers),
            ("DELETE FROM checkins WHERE received_ms < ?", &mut purged.check_ins),
            ("DELETE FROM xapi_statements WHERE stored_ms < ?", &mut purged.statements),
            ("DELETE FROM online_events WHERE at_ms < ?", &mut purged.online_events),
        ] {
            *slot = sqlx::query(sql).bind(cutoff_ms).execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(purged)
    }

    /// A question's tally kept after its answers were purged: (counts per option, answered).
    pub async fn kept_tally(&self, question: i64) -> Result<Option<(Vec<i64>, i64)>, StoreError> {
        let row = sqlx::query("SELECT counts, answered FROM question_tallies WHERE question_id = ?")
            .bind(question)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| (serde_json::from_str(r.get::<&str, _>("counts")).unwrap_or_default(), r.get("answered"))))
    }
}

#[cfg(test)]
mod tests {
    use firmware::protocol::{Choices, DeviceId, QuestionKind, QuestionSpec, RoomCode, Seq};

    use super::*;
    use crate::store::Record;

    const DAY: i64 = 86_400_000;

    #[tokio::test]
    async fn old_answers_go_their_tally_and_the_session_summary_stay_and_recent_ones_are_untouched() {
        let dir = std::env::temp_dir().join(format!(
            "classhub-retention-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        let store = Store::open(&dir).await.unwrap();
        let room = RoomCode::parse("b-204").unwrap();
        let old = store.start_session(&room, "3A", 10 * DAY, 600_000).await.unwrap();
        let spec = QuestionSpec::new(QuestionKind::Single, 4).unwrap();
        let q_old = store.open_question(old, spec, None, None, 10 * DAY).await.unwrap();
        store.end_session(old, 10 * DAY + 3_600_000).await.unwrap();
        let recent = store.start_session(&room, "3A", 500 * DAY, 600_000).await.unwrap();
        let q_new = store.open_question(recent, spec, None, None, 500 * DAY).await.unwrap();
        let press = |d: &str, seq: u64, q: u32, a: &str, at: i64| Record::Press {
            device: DeviceId::parse(d).unwrap(),
            seq: Seq(seq),
            question: q,
            answer: Choices::parse(a).unwrap(),
            at_ms: at,
        };
        let batch = [
            press("c-1", 1, q_old, "A", 10 * DAY + 1),
            press("c-1", 2, q_old, "B", 10 * DAY + 2), // changed to B: the tally counts the latest
            press("c-2", 1, q_old, "B", 10 * DAY + 3),
            press("c-3", 1, q_old, "C", 10 * DAY + 4),
            press("c-1", 3, q_new, "D", 500 * DAY + 1),
        ];
        store.commit(&batch, &[]).await.unwrap();
        let purged = store.purge_before(100 * DAY, 501 * DAY).await.unwrap();
        assert_eq!((purged.answers, purged.tallies_kept, purged.summaries_kept), (4, 1, 1));
        assert_eq!(store.kept_tally(i64::from(q_old)).await.unwrap(), Some((vec![0, 2, 1, 0], 3)));
        assert!(store.presses(q_old).await.unwrap().is_empty());
        assert_eq!(store.presses(q_new).await.unwrap().len(), 1, "recent answers stay");
        let again = store.purge_before(100 * DAY, 502 * DAY).await.unwrap();
        assert_eq!(again, Purged::default(), "nothing left to purge");
    }
}
