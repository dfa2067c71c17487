//! The hot path's one transaction: a batch of answers and check-ins, and what the hellos and statuses
//! that came with them say about their clickers, written with a few multi-row statements.
//!
//! Every statement is a round trip to SQLite's worker thread, so nothing here is written a row at a
//! time: 1,000 clickers saying hello used to be 2,000 statements in the transaction that the next
//! burst of answers had to wait for. Inserts go in chunks of fixed sizes, so the few statements
//! there are get prepared once and reused from the connection's cache.

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use firmware::protocol::DeviceId;
use sqlx::query_builder::Separated;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use super::{DeviceUpdate, Record, Store, StoreError, now_ms};

/// The chunk sizes a batch is cut into, largest first (a batch of 300 goes as 256 + 16·2 + 4·3).
const CHUNKS: [usize; 5] = [256, 64, 16, 4, 1];

/// Cuts `n` rows into chunks of the sizes in [`CHUNKS`], largest first.
fn chunk_sizes(mut n: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    for size in CHUNKS {
        while n >= size {
            sizes.push(size);
            n -= size;
        }
    }
    sizes
}

/// `rows` cut as [`chunk_sizes`] says.
fn chunks<T>(rows: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = rows;
    chunk_sizes(rows.len()).into_iter().map(move |size| {
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        chunk
    })
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

    async fn write(&self, tx: &mut SqliteConnection, now: i64) -> Result<(), StoreError> {
        let hellos: Vec<_> = self.hellos.iter().collect();
        in_chunks(
            tx,
            "UPDATE devices SET last_seen_ms = v.column2, firmware = v.column3, battery_mv = v.column4, \
             rssi = v.column5, online = v.column6 FROM (",
            &hellos,
            ") AS v WHERE devices.id = v.column1",
            |mut row, (device, (firmware, mv, rssi, online))| {
                row.push_bind(device.as_str().to_owned())
                    .push_bind(now)
                    .push_bind((*firmware).to_owned())
                    .push_bind(*mv as i64)
                    .push_bind(*rssi as i64)
                    .push_bind(*online as i64);
            },
        )
        .await?;
        let presence: Vec<_> = self.presence.iter().collect();
        in_chunks(
            tx,
            "UPDATE devices SET last_seen_ms = v.column2, online = v.column3 FROM (",
            &presence,
            ") AS v WHERE devices.id = v.column1",
            |mut row, (device, online)| {
                row.push_bind(device.as_str().to_owned()).push_bind(now).push_bind(**online as i64);
            },
        )
        .await?;
        in_chunks(
            tx,
            "INSERT INTO battery_readings (device_id, at_ms, mv) ",
            &self.readings,
            "",
            |mut row, (device, mv)| {
                row.push_bind(device.as_str().to_owned()).push_bind(now).push_bind(*mv as i64);
            },
        )
        .await?;
        Ok(())
    }
}

/// Runs `head VALUES (…), (…) tail` over `rows` in chunks of the sizes in [`CHUNKS`], `bind` filling
/// one row's values; returns what the statements returned.
async fn in_chunks<T>(
    tx: &mut SqliteConnection,
    head: &str,
    rows: &[T],
    tail: &str,
    mut bind: impl FnMut(Separated<'_, Sqlite, &'static str>, &T),
) -> Result<Vec<SqliteRow>, StoreError> {
    let mut returned = Vec::new();
    for chunk in chunks(rows) {
        let mut q = QueryBuilder::<Sqlite>::new(head);
        q.push_values(chunk, &mut bind);
        q.push(tail);
        returned.extend(q.build().fetch_all(&mut *tx).await?);
    }
    Ok(returned)
}

/// Inserts presses and check-ins; RETURNING names the rows that were new (a conflict inserts
/// nothing).
async fn insert_records(tx: &mut SqliteConnection, batch: &[Record]) -> Result<HashSet<(String, i64)>, StoreError> {
    let (mut presses, mut checkins) = (Vec::new(), Vec::new());
    for record in batch {
        match record {
            Record::Press { device, seq, question, answer, at_ms } => {
                presses.push((device, *seq, *question, answer, *at_ms))
            }
            Record::CheckIn { device, seq, session, at_ms } => checkins.push((device, *seq, *session, *at_ms)),
        }
    }
    const NEW: &str = " ON CONFLICT DO NOTHING RETURNING device_id, seq";
    let mut rows = in_chunks(
        tx,
        "INSERT INTO presses (device_id, seq, question_id, answer, received_ms) ",
        &presses,
        NEW,
        |mut row, (device, seq, question, answer, at_ms)| {
            row.push_bind(device.as_str().to_owned())
                .push_bind(seq.0 as i64)
                .push_bind(*question as i64)
                .push_bind(answer.to_string())
                .push_bind(*at_ms);
        },
    )
    .await?;
    rows.extend(
        in_chunks(
            tx,
            "INSERT INTO checkins (device_id, seq, session_id, received_ms) ",
            &checkins,
            NEW,
            |mut row, (device, seq, session, at_ms)| {
                row.push_bind(device.as_str().to_owned()).push_bind(seq.0 as i64).push_bind(*session).push_bind(*at_ms);
            },
        )
        .await?,
    );
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}

impl Store {
    /// Commits a batch of accepted messages and device updates in one transaction (one fsync).
    /// Returns, per record, whether it was new (`false`: that device and sequence number were
    /// already stored).
    pub async fn commit(&self, batch: &[Record], updates: &[DeviceUpdate]) -> Result<Vec<bool>, StoreError> {
        let mut tx = self.write().await?;
        DeviceNews::fold(updates).write(&mut tx, now_ms()).await?;
        let inserted = insert_records(&mut tx, batch).await?;
        let fresh = batch
            .iter()
            .map(|r| {
                let (device, seq) = r.key();
                inserted.contains(&(device.as_str().to_owned(), seq.0 as i64))
            })
            .collect();
        tx.commit().await?;
        // Cannot fail unless a holder of the lock panicked; the lock is held for one assignment.
        *self.last_write.lock().expect("last_write lock") = Some(Instant::now());
        Ok(fresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use firmware::protocol::{DeviceKey, RoomCode};

    use crate::store::{Device, test_store};

    fn id(s: &str) -> DeviceId {
        DeviceId::parse(s).unwrap()
    }

    #[test]
    fn a_batch_is_cut_into_chunks_of_a_few_fixed_sizes() {
        assert_eq!(chunk_sizes(0), Vec::<usize>::new());
        assert_eq!(chunk_sizes(1), vec![1]);
        assert_eq!(chunk_sizes(300), vec![256, 16, 16, 4, 4, 4]);
        for n in 0..2_000 {
            let sizes = chunk_sizes(n);
            assert_eq!(sizes.iter().sum::<usize>(), n);
            assert!(sizes.iter().all(|s| CHUNKS.contains(s)));
        }
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
    }
}
