//! A flood from one device is refused without hurting the rest: a token bucket per device, time as
//! an input. A working clicker sends one message and waits for its ack (retries start at 0.4 s), so it
//! never comes near the limit.

use std::collections::HashMap;
use std::time::Instant;

use firmware::protocol::DeviceId;

/// Messages a device may send at once.
pub const BURST: f64 = 20.0;
/// Messages per second a device may keep sending.
pub const PER_SECOND: f64 = 10.0;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// One token bucket per device.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: HashMap<DeviceId, Bucket>,
}

impl RateLimiter {
    /// Whether `device` may send a message at `now` (and takes a token if so).
    pub fn allow(&mut self, device: &DeviceId, now: Instant) -> bool {
        let bucket = self.buckets.entry(device.clone()).or_insert(Bucket { tokens: BURST, at: now });
        let refill = now.saturating_duration_since(bucket.at).as_secs_f64() * PER_SECOND;
        bucket.tokens = (bucket.tokens + refill).min(BURST);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_flood_is_cut_at_the_burst_and_refills_with_time() {
        let mut limiter = RateLimiter::default();
        let flooder = DeviceId::parse("c-flood").unwrap();
        let student = DeviceId::parse("c-0001").unwrap();
        let t0 = Instant::now();
        let allowed = (0..100).filter(|_| limiter.allow(&flooder, t0)).count();
        assert_eq!(allowed, BURST as usize);
        assert!(limiter.allow(&student, t0), "another clicker is not affected");
        assert!(!limiter.allow(&flooder, t0 + Duration::from_millis(50)));
        assert!(limiter.allow(&flooder, t0 + Duration::from_millis(150)), "one token back after 0.1 s");
    }

    #[test]
    fn a_clicker_retrying_with_backoff_is_never_limited() {
        let mut limiter = RateLimiter::default();
        let clicker = DeviceId::parse("c-0002").unwrap();
        let t0 = Instant::now();
        let mut t = 0u64;
        for attempt in 0..50 {
            assert!(limiter.allow(&clicker, t0 + Duration::from_millis(t)));
            t += (400u64 << attempt.min(5)).min(10_000);
        }
    }
}
