//! Slows down repeated wrong passwords: after a few free tries, each further failure for the same
//! user name doubles the wait before the next try, up to a minute. Sans-IO: time comes in.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Failed logins per user name.
#[derive(Debug)]
pub struct LoginThrottle {
    failures: HashMap<String, Failures>,
    free_tries: u32,
    max_wait: Duration,
    forget_after: Duration,
    capacity: usize,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle {
            failures: HashMap::new(),
            free_tries: 3,
            max_wait: Duration::from_secs(60),
            forget_after: Duration::from_secs(15 * 60),
            capacity: 10_000,
        }
    }
}

impl LoginThrottle {
    /// How long `name` must still wait before its next try at `now` (`None`: it may try now).
    pub fn wait(&self, name: &str, now: Instant) -> Option<Duration> {
        let f = self.failures.get(name)?;
        let over = f.count.checked_sub(self.free_tries)?;
        if over == 0 {
            return None;
        }
        let wait = Duration::from_secs(1u64 << (over - 1).min(16)).min(self.max_wait);
        let ready = f.last + wait;
        (ready > now).then(|| ready - now)
    }

    /// Records a wrong password for `name`.
    pub fn failed(&mut self, name: &str, now: Instant) {
        if self.failures.len() >= self.capacity {
            let forget_after = self.forget_after;
            self.failures.retain(|_, f| now.saturating_duration_since(f.last) < forget_after);
        }
        if self.failures.len() >= self.capacity && !self.failures.contains_key(name) {
            return; // a flood of made-up names: the known ones keep their counts
        }
        let f = self.failures.entry(name.to_owned()).or_insert(Failures { count: 0, last: now });
        if now.saturating_duration_since(f.last) >= self.forget_after {
            f.count = 0;
        }
        f.count += 1;
        f.last = now;
    }

    /// Records a good login: the count starts over.
    pub fn succeeded(&mut self, name: &str) {
        self.failures.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_free_tries_then_the_wait_doubles_up_to_a_minute() {
        let t0 = Instant::now();
        let mut throttle = LoginThrottle::default();
        for _ in 0..3 {
            assert_eq!(throttle.wait("jan", t0), None);
            throttle.failed("jan", t0);
        }
        assert_eq!(throttle.wait("jan", t0), None, "three wrong passwords cost nothing yet");
        throttle.failed("jan", t0);
        assert_eq!(throttle.wait("jan", t0), Some(Duration::from_secs(1)));
        assert_eq!(throttle.wait("jan", t0 + Duration::from_secs(1)), None);
        throttle.failed("jan", t0 + Duration::from_secs(1));
        assert_eq!(throttle.wait("jan", t0 + Duration::from_secs(1)), Some(Duration::from_secs(2)));
        let mut t = t0 + Duration::from_secs(1);
        for _ in 0..10 {
            t += Duration::from_secs(100);
            throttle.failed("jan", t);
        }
        assert_eq!(throttle.wait("jan", t), Some(Duration::from_secs(60)), "never more than a minute");
        assert_eq!(throttle.wait("piet", t), None, "another name is not slowed");
    }

    #[test]
    fn a_good_login_or_a_quiet_quarter_hour_starts_over() {
        let t0 = Instant::now();
        let mut throttle = LoginThrottle::default();
        for _ in 0..5 {
            throttle.failed("jan", t0);
        }
        assert!(throttle.wait("jan", t0).is_some());
        throttle.succeeded("jan");
        assert_eq!(throttle.wait("jan", t0), None);
        for _ in 0..5 {
            throttle.failed("jan", t0);
        }
        let later = t0 + Duration::from_secs(15 * 60);
        throttle.failed("jan", later);
        assert_eq!(throttle.wait("jan", later), None, "the count started over with this failure");
    }

    #[test]
    fn a_flood_of_made_up_names_keeps_memory_bounded() {
        let t0 = Instant::now();
        let mut throttle = LoginThrottle { capacity: 100, ..LoginThrottle::default() };
        for _ in 0..5 {
            throttle.failed("jan", t0);
        }
        for i in 0..10_000 {
            throttle.failed(&format!("x{i}"), t0);
        }
        assert!(throttle.failures.len() <= 100);
        assert!(throttle.wait("jan", t0).is_some(), "the real name is still slowed");
    }
}
