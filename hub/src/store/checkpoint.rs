//! When to copy the write-ahead log into the database: in a quiet moment, never in the middle of a
//! burst of answers (a checkpoint's own fsyncs would queue behind, and ahead of, the answers' commits).

use std::time::{Duration, Instant};

/// The rule the app's checkpoint task follows; pure, so tests give it the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointPolicy {
    /// How long nothing must have been written before a checkpoint may run.
    pub quiet: Duration,
    /// The shortest time between two checkpoints.
    pub at_most_every: Duration,
    /// The longest time between two checkpoints while writes keep coming (bounds the log's size).
    pub at_least_every: Duration,
}

impl Default for CheckpointPolicy {
    fn default() -> Self {
        CheckpointPolicy {
            quiet: Duration::from_secs(1),
            at_most_every: Duration::from_secs(5),
            at_least_every: Duration::from_secs(60),
        }
    }
}

impl CheckpointPolicy {
    /// Whether a checkpoint is due at `now`, given the last write and the last checkpoint.
    pub fn due(&self, now: Instant, last_write: Option<Instant>, last_checkpoint: Instant) -> bool {
        let Some(last_write) = last_write else { return false };
        if last_write < last_checkpoint {
            return false; // nothing new in the log
        }
        let since_checkpoint = now.saturating_duration_since(last_checkpoint);
        let quiet = now.saturating_duration_since(last_write) >= self.quiet;
        since_checkpoint >= self.at_least_every || (quiet && since_checkpoint >= self.at_most_every)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn nothing_written_nothing_to_copy() {
        let t0 = Instant::now();
        let policy = CheckpointPolicy::default();
        assert!(!policy.due(t0 + secs(600), None, t0));
        assert!(!policy.due(t0 + secs(600), Some(t0 - secs(1)), t0));
    }

    #[test]
    fn waits_while_a_class_is_answering() {
        let t0 = Instant::now();
        let policy = CheckpointPolicy::default();
        // Answers keep arriving every half second: 10 s after the last checkpoint it is still not quiet.
        assert!(!policy.due(t0 + secs(10), Some(t0 + Duration::from_millis(9_500)), t0));
        // One quiet second later it runs.
        assert!(policy.due(t0 + Duration::from_millis(10_500), Some(t0 + Duration::from_millis(9_500)), t0));
    }

    #[test]
    fn quiet_but_too_soon_after_the_last_one() {
        let t0 = Instant::now();
        let policy = CheckpointPolicy::default();
        assert!(!policy.due(t0 + secs(3), Some(t0 + secs(1)), t0));
        assert!(policy.due(t0 + secs(5), Some(t0 + secs(1)), t0));
    }

    #[test]
    fn a_lesson_that_never_pauses_still_gets_one_a_minute() {
        let t0 = Instant::now();
        let policy = CheckpointPolicy::default();
        assert!(!policy.due(t0 + secs(59), Some(t0 + secs(59)), t0));
        assert!(policy.due(t0 + secs(60), Some(t0 + secs(60)), t0));
    }

    #[tokio::test]
    async fn a_truncating_checkpoint_says_when_a_reader_kept_the_log_from_emptying() {
        use firmware::protocol::{DeviceId, DeviceKey, RoomCode};

        let store = crate::store::test_store("truncate").await;
        let device = |id: &str| crate::store::Device {
            id: DeviceId::parse(id).unwrap(),
            key: DeviceKey([7; 16]),
            room: RoomCode::parse("b-204").unwrap(),
            student: None,
            newest_seq: None,
        };
        store.add_device(&device("c-0001")).await.unwrap();
        assert!(store.checkpoint_truncate().await.unwrap(), "nobody reading: the log is emptied");

        // A reader in the middle of a read (another process's hub, say), and a write after it began.
        let mut reader = store.pool.begin().await.unwrap();
        let _: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM devices").fetch_one(&mut *reader).await.unwrap();
        store.add_device(&device("c-0002")).await.unwrap();
        assert!(!store.checkpoint_truncate().await.unwrap(), "the reader's snapshot must stay readable");

        reader.rollback().await.unwrap();
        assert!(store.checkpoint_truncate().await.unwrap(), "the reader is done");
    }
}
