//! The hub's counters and the ingest-to-ack latency histogram, written as Prometheus text.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use firmware::protocol::RejectReason;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0];

/// Everything the hub counts.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Answers committed.
    pub answers_stored: AtomicU64,
    /// Check-ins committed.
    pub checkins_stored: AtomicU64,
    /// Messages acked `duplicate`.
    pub duplicates: AtomicU64,
    /// Answers acked `closed`.
    pub closed: AtomicU64,
    rejected: [AtomicU64; RejectReason::ALL.len()],
    /// Clickers online (by their status topic).
    pub connected: AtomicI64,
    /// Messages the embedded broker dropped from a full queue.
    pub broker_dropped: AtomicU64,
    /// Batches committed.
    pub batches: AtomicU64,
    latency_buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_us: AtomicU64,
}

impl Metrics {
    /// Counts a rejection.
    pub fn reject(&self, reason: RejectReason) {
        // Cannot fail: `position` finds every reason in `ALL`.
        let i = RejectReason::ALL.iter().position(|r| *r == reason).unwrap_or(0);
        self.rejected[i].fetch_add(1, Relaxed);
    }

    /// Rejections so far for `reason`.
    pub fn rejected(&self, reason: RejectReason) -> u64 {
        let i = RejectReason::ALL.iter().position(|r| *r == reason).unwrap_or(0);
        self.rejected[i].load(Relaxed)
    }

    /// Records the time from a message's arrival at the hub to its ack being handed to the broker.
    pub fn observe_ack(&self, latency: Duration) {
        let s = latency.as_secs_f64();
        for (bound, bucket) in BUCKETS.iter().zip(&self.latency_buckets) {
            if s <= *bound {
                bucket.fetch_add(1, Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Relaxed);
        self.latency_sum_us.fetch_add(latency.as_micros() as u64, Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
        };
        counter("classhub_answers_stored_total", "Answers committed to the store.", self.answers_stored.load(Relaxed));
        counter(
            "classhub_checkins_stored_total",
            "Check-ins committed to the store.",
            self.checkins_stored.load(Relaxed),
        );
        counter("classhub_duplicates_total", "Messages acked duplicate.", self.duplicates.load(Relaxed));
        counter("classhub_closed_total", "Answers acked closed.", self.closed.load(Relaxed));
        counter("classhub_commit_batches_total", "Store transactions committed.", self.batches.load(Relaxed));
        counter(
            "classhub_broker_dropped_total",
            "Messages the embedded broker dropped.",
            self.broker_dropped.load(Relaxed),
        );
        let _ = writeln!(out, "# HELP classhub_rejected_total Messages rejected, by reason.");
        let _ = writeln!(out, "# TYPE classhub_rejected_total counter");
        for reason in RejectReason::ALL {
            let _ =
                writeln!(out, "classhub_rejected_total{{reason=\"{}\"}} {}", reason.as_str(), self.rejected(reason));
        }
        let _ = writeln!(out, "# HELP classhub_connected_clickers Clickers online by their status topic.");
        let _ = writeln!(out, "# TYPE classhub_connected_clickers gauge");
        let _ = writeln!(out, "classhub_connected_clickers {}", self.connected.load(Relaxed).max(0));
        let name = "classhub_ingest_to_ack_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} From a message reaching the hub to its ack going to the broker (commit included)."
        );
        let _ = writeln!(out, "# TYPE {name} histogram");
        for (bound, bucket) in BUCKETS.iter().zip(&self.latency_buckets) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {}", bucket.load(Relaxed));
        }
        let count = self.latency_count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {}", self.latency_sum_us.load(Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {count}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_carries_every_reason_and_the_histogram() {
        let m = Metrics::default();
        m.reject(RejectReason::BadMac);
        m.observe_ack(Duration::from_millis(3));
        let text = m.render();
        assert!(text.contains("classhub_rejected_total{reason=\"bad_mac\"} 1"));
        assert!(text.contains("classhub_rejected_total{reason=\"stale_seq\"} 0"));
        assert!(text.contains("classhub_ingest_to_ack_seconds_bucket{le=\"0.002\"} 0"));
        assert!(text.contains("classhub_ingest_to_ack_seconds_bucket{le=\"0.005\"} 1"));
        assert!(text.contains("classhub_ingest_to_ack_seconds_count 1"));
    }
}
