//! The hot path's one transaction: a batch of answers and check-ins, and what the hellos and statuses
//! that came with them say about their clickers, written with one statement per table.
//!
//! Every statement is a round trip to SQLite's worker thread, and under a lecture-hall burst each
//! round trip waits for that thread to be scheduled on cores the broker and the clickers also want.
//! So a batch is never written a row at a time, nor in chunks: its rows go to SQLite as one JSON
//! array bound to one parameter and unpacked there by `json_each`, whatever the batch's size. The
//! few statements are fixed text, prepared once and reused from the connection's cache. A batch that
//! takes one statement (the lone answer of a quiet moment) is not wrapped in `BEGIN` and `COMMIT`:
//! SQLite commits and fsyncs a single statement by itself.

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use firmware::protocol::DeviceId;
use serde::Serialize;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use super::{DeviceUpdate, Record, Store, StoreError, now_ms};

/// Runs `sql`, whose one parameter is `rows` as a JSON array (each row an array of its values, read
/// in SQL as `value ->> 0`, `value ->> 1`, …); returns what the statement returned. No rows, no
/// statement.
async fn for_each_row<T: Serialize>(
    tx: &mut SqliteConnection,
    sql: &'static str,
    rows: &[T],
) -> Result<Vec<SqliteRow>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    // Cannot fail: the rows are tuples of strings, integers, booleans and options of those.
    let json = serde_json::to_string(rows).expect("rows of plain values serialize");
    Ok(sqlx::query(sql).bind(json).fetch_all(&mut *tx).await?)
}

/// What one batch's hellos and statuses leave behind per clicker: the newest hello's readings and
/// whether it is online at the end of the batch; and every battery reading, for the history.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct DeviceNews<'a> {
    /// Per clicker that said hello: firmware, battery mV, RSSI, online at the end.
    hellos: BTreeMap<&'a DeviceId, (&'a str, u16, i16, bool)>,
    /// Per clicker that only came or went: online at the end.
    presence: BTreeMap<&'a DeviceId, bool>,
    /// Every battery reading, in order.
    readings: Vec<(&'a DeviceId, u16)>,
}

impl<'a> DeviceNews<'a> {
    /// Folds the updates in the order they came: a hello marks its clicker online, a later
    /// offline status takes that back.
    pub(crate) fn fold(updates: &'a [DeviceUpdate]) -> DeviceNews<'a> {
        let mut news = DeviceNews::default();
        for update in updates {
            match update {
                DeviceUpdate::Hello { device, firmware, battery_mv, rssi } => {
                    news.presence.remove(device);
                    news.hellos.insert(device, (firmware.as_str(), *battery_mv, *rssi, true));
                    news.readings.push((device, *battery_mv));
                }
                DeviceUpdate::Presence { device, online } => match news.hellos.get_mut(device) {
                    Some(hello) => hello.3 = *online,
                    None => {
                        news.presence.insert(device, *online);
                    }
                },
            }
        }
        news
    }

    /// How many statements writing the news takes.
    fn statements(&self) -> usize {
        [self.hellos.is_empty(), self.presence.is_empty(), self.readings.is_empty()]
            .iter()
            .filter(|empty| !**empty)
            .count()
    }

    /// Writes the news at time `now` (epoch ms).
    async fn write(&self, tx: &mut SqliteConnection, now: i64) -> Result<(), StoreError> {
        let hellos: Vec<_> = self
            .hellos
            .iter()
            .map(|(device, (firmware, mv, rssi, online))| (device.as_str(), now, *firmware, *mv, *rssi, *online))
            .collect();
        for_each_row(
            tx,
            "UPDATE devices SET last_seen_ms = v.value ->> 1, firmware = v.value ->> 2, \
             battery_mv = v.value ->> 3, rssi = v.value ->> 4, online = v.value ->> 5 \
             FROM json_each(?) AS v WHERE devices.id = v.value ->> 0",
            &hellos,
        )
        .await?;
        let presence: Vec<_> = self.presence.iter().map(|(device, online)| (device.as_str(), now, *online)).collect();
        for_each_row(
            tx,
            "UPDATE devices SET last_seen_ms = v.value ->> 1, online = v.value ->> 2 \
             FROM json_each(?) AS v WHERE devices.id = v.value ->> 0",
            &presence,
        )
        .await?;
        let readings: Vec<_> = self.readings.iter().map(|(device, mv)| (device.as_str(), now, *mv)).collect();
        for_each_row(
            tx,
            "INSERT INTO battery_readings (device_id, at_ms, mv) \
             SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?)",
            &readings,
        )
        .await?;
        Ok(())
    }
}

/// A batch's answers and check-ins as the rows of their tables.
struct Records<'a> {
    presses: Vec<(&'a str, i64, u32, String, i64)>,
    checkins: Vec<(&'a str, i64, Option<i64>, i64)>,
}

impl<'a> Records<'a> {
    fn split(batch: &'a [Record]) -> Records<'a> {
        let (mut presses, mut checkins) = (Vec::new(), Vec::new());
        for record in batch {
            match record {
                // Sequence numbers are stored as SQLite's signed 64-bit integers, bit for bit.
                Record::Press { device, seq, question, answer, at_ms } => {
                    presses.push((device.as_str(), seq.0 as i64, *question, answer.to_string(), *at_ms))
                }
                Record::CheckIn { device, seq, session, at_ms } => {
                    checkins.push((device.as_str(), seq.0 as i64, *session, *at_ms))
                }
            }
        }
        Records { presses, checkins }
    }

    /// How many statements writing them takes.
    fn statements(&self) -> usize {
        usize::from(!self.presses.is_empty()) + usize::from(!self.checkins.is_empty())
    }

    /// Inserts them; RETURNING names the rows that were new (a conflict inserts nothing).
    async fn insert(&self, conn: &mut SqliteConnection) -> Result<HashSet<(String, i64)>, StoreError> {
        // `WHERE true` keeps SQLite from reading `ON CONFLICT` as part of the SELECT's join.
        let mut rows = for_each_row(
            conn,
            "INSERT INTO presses (device_id, seq, question_id, answer, received_ms) \
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each(?) WHERE true \
             ON CONFLICT DO NOTHING RETURNING device_id, seq",
            &self.presses,
        )
        .await?;
        rows.extend(
            for_each_row(
                conn,
                "INSERT INTO checkins (device_id, seq, session_id, received_ms) \
                 SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(?) WHERE true \
                 ON CONFLICT DO NOTHING RETURNING device_id, seq",
                &self.checkins,
            )
            .await?,
        );
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    }
}

impl Store {
    /// Commits a batch of accepted messages and device updates atomically (one fsync). Returns,
    /// per record, whether it was new (`false`: that device and sequence number were already
    /// stored).
    pub async fn commit(&self, batch: &[Record], updates: &[DeviceUpdate]) -> Result<Vec<bool>, StoreError> {
        let (news, records) = (DeviceNews::fold(updates), Records::split(batch));
        let inserted = if news.statements() + records.statements() <= 1 {
            // One statement is a transaction of its own (SQLite's autocommit, fsynced before it
            // returns): no BEGIN and COMMIT round trips for the lone answer of a quiet moment.
            let mut conn = self.writer.acquire().await?;
            news.write(&mut conn, now_ms()).await?;
            records.insert(&mut conn).await?
        } else {
            let mut tx = self.write().await?;
            news.write(&mut tx, now_ms()).await?;
            let inserted = records.insert(&mut tx).await?;
            tx.commit().await?;
            inserted
        };
        let fresh = batch
            .iter()
            .map(|r| {
                let (device, seq) = r.key();
                inserted.contains(&(device.as_str().to_owned(), seq.0 as i64))
            })
            .collect();
        // Cannot fail unless a holder of the lock panicked; the lock is held for one assignment.
        *self.last_write.lock().expect("last_write lock") = Some(Instant::now());
        Ok(fresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use firmware::protocol::{Choices, DeviceKey, QuestionKind, QuestionSpec, RoomCode, Seq};

    use crate::store::{Device, test_store};

    fn id(s: &str) -> DeviceId {
        DeviceId::parse(s).unwrap()
    }

    #[test]
    fn the_last_word_on_a_clicker_wins_and_every_reading_is_kept() {
        let (a, b, c) = (id("c-0001"), id("c-0002"), id("c-0003"));
        let hello = |d: &DeviceId, mv| DeviceUpdate::Hello {
            device: d.clone(),
            firmware: "1.0.0".into(),
            battery_mv: mv,
            rssi: -50,
        };
        let presence = |d: &DeviceId, online| DeviceUpdate::Presence { device: d.clone(), online };
        let updates = vec![
            hello(&a, 2900),
            presence(&a, false),
            presence(&b, false),
            hello(&b, 2800),
            hello(&a, 2850),
            presence(&c, true),
            presence(&c, false),
        ];
        let news = DeviceNews::fold(&updates);
        // a: its second hello came after it went offline, so it is online with the newest reading.
        assert_eq!(news.hellos[&a], ("1.0.0", 2850, -50, true));
        assert_eq!(news.hellos[&b], ("1.0.0", 2800, -50, true));
        assert!(!news.presence.contains_key(&b), "b's hello came after its status");
        assert!(!news.presence[&c], "c went offline last");
        assert_eq!(news.readings, vec![(&a, 2900), (&b, 2800), (&a, 2850)]);
    }

    #[tokio::test]
    async fn a_classroom_of_hellos_is_written_in_one_go() {
        let store = test_store("batch-hellos").await;
        let room = RoomCode::parse("b-204").unwrap();
        let ids: Vec<DeviceId> = (0..300).map(|i| id(&format!("c-{i:04}"))).collect();
        for d in &ids {
            let device =
                Device { id: d.clone(), key: DeviceKey([7; 16]), room: room.clone(), student: None, newest_seq: None };
            store.add_device(&device).await.unwrap();
        }
        let mut updates: Vec<DeviceUpdate> = ids
            .iter()
            .enumerate()
            .map(|(i, d)| DeviceUpdate::Hello {
                device: d.clone(),
                firmware: "1.2.0".into(),
                battery_mv: 2500 + i as u16,
                rssi: -40 - (i % 30) as i16,
            })
            .collect();
        // The last ten leave again before the batch is written.
        updates.extend(ids[290..].iter().map(|d| DeviceUpdate::Presence { device: d.clone(), online: false }));
        store.commit(&[], &updates).await.unwrap();

        let (seen, firmware, mv, rssi, online) = store.device_health(&ids[7]).await.unwrap().unwrap();
        assert!(seen.is_some());
        assert_eq!((firmware.as_deref(), mv, rssi, online), (Some("1.2.0"), Some(2507), Some(-47), true));
        let (_, _, mv, _, online) = store.device_health(&ids[295]).await.unwrap().unwrap();
        assert_eq!((mv, online), (Some(2795), false));
        let readings: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM battery_readings").fetch_one(&store.pool).await.unwrap();
        assert_eq!(readings, 300);

        // Later, clicker 3 goes offline and clicker 295 comes back, with no hello: presence only.
        let presence = [
            DeviceUpdate::Presence { device: ids[3].clone(), online: false },
            DeviceUpdate::Presence { device: ids[295].clone(), online: true },
        ];
        store.commit(&[], &presence).await.unwrap();
        let (_, firmware, mv, _, online) = store.device_health(&ids[3]).await.unwrap().unwrap();
        assert_eq!((firmware.as_deref(), mv, online), (Some("1.2.0"), Some(2503), false), "readings kept");
        assert!(store.device_health(&ids[295]).await.unwrap().unwrap().4);
    }

    #[tokio::test]
    async fn a_burst_goes_in_as_one_batch_and_a_repeat_is_known_as_such() {
        let store = test_store("batch-burst").await;
        let room = RoomCode::parse("b-204").unwrap();
        let session = store.start_session(&room, "3A", 1_000, 600_000).await.unwrap();
        let q = store.open_question(session, QuestionSpec::new(QuestionKind::Single, 4).unwrap(), None, None, 1_000);
        let q = q.await.unwrap();
        // 300 clickers on their third boot (seq = 3·2^32 + 1) answer B; one also checks in.
        let boot3 = Seq(3 << 32 | 1);
        let press = |i: usize, seq: Seq| Record::Press {
            device: id(&format!("c-{i:04}")),
            seq,
            question: q,
            answer: Choices::parse("B").unwrap(),
            at_ms: 2_000 + i as i64,
        };
        let mut batch: Vec<Record> = (0..300).map(|i| press(i, boot3)).collect();
        batch.push(Record::CheckIn { device: id("c-0007"), seq: Seq(boot3.0 + 1), session: None, at_ms: 2_500 });
        batch.push(Record::CheckIn {
            device: id("c-0008"),
            seq: Seq(boot3.0 + 1),
            session: Some(session),
            at_ms: 2_501,
        });
        // The largest number the protocol allows is kept bit for bit (SQLite's integers are signed).
        batch.push(press(9_999, Seq(u64::MAX)));
        let fresh = store.commit(&batch, &[]).await.unwrap();
        assert_eq!(fresh.len(), 303);
        assert!(fresh.iter().all(|f| *f), "everything in the first batch is new");

        // Clicker 7 missed its ack and sends the same press again, beside a newcomer.
        let again = [press(7, boot3), press(300, Seq(1)), press(9_999, Seq(u64::MAX))];
        assert_eq!(store.commit(&again, &[]).await.unwrap(), vec![false, true, false]);

        let stored = store.presses(q).await.unwrap();
        assert_eq!(stored.len(), 302, "the repeats were not stored twice");
        assert!(stored.contains(&(id("c-9999"), Seq(u64::MAX), Choices::parse("B").unwrap())));
        assert!(stored.contains(&(id("c-0007"), boot3, Choices::parse("B").unwrap())));
        assert!(store.holds(&id("c-0007"), Seq(boot3.0 + 1), &crate::store::Stored::CheckIn).await.unwrap());
        // What the engine reads at its next start: each clicker's newest number, also above 2^63.
        for d in ["c-0007", "c-9999"] {
            let device =
                Device { id: id(d), key: DeviceKey([7; 16]), room: room.clone(), student: None, newest_seq: None };
            store.add_device(&device).await.unwrap();
        }
        let newest: Vec<_> = store.devices().await.unwrap().into_iter().map(|d| (d.id, d.newest_seq)).collect();
        assert_eq!(newest, vec![(id("c-0007"), Some(Seq(boot3.0 + 1))), (id("c-9999"), Some(Seq(u64::MAX)))]);
        let checked_in: Option<i64> = sqlx::query_scalar("SELECT session_id FROM checkins WHERE device_id = 'c-0008'")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(checked_in, Some(session));
    }

    #[tokio::test]
    async fn a_transaction_that_sqlite_rolled_back_by_itself_does_not_stop_the_next_commit() {
        let store = test_store("batch-rolled-back").await;
        // What a full disk does inside a transaction: SQLite rolls back on its own, and the
        // ROLLBACK the pool sends when the transaction is dropped then fails.
        let mut tx = store.write().await.unwrap();
        sqlx::query("ROLLBACK").execute(&mut *tx).await.unwrap();
        drop(tx);
        let hello = DeviceUpdate::Presence { device: id("c-0001"), online: true };
        let news = [hello.clone(), DeviceUpdate::Presence { device: id("c-0002"), online: true }];
        store.commit(&[], &news).await.expect("a single statement");
        let both =
            [hello, DeviceUpdate::Hello { device: id("c-0002"), firmware: "1.0".into(), battery_mv: 2900, rssi: -50 }];
        store.commit(&[], &both).await.expect("a transaction");
    }
}
