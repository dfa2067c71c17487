//! Button debouncing by time: a level counts only once it has held still for the settle time, so
//! contact chatter on press and release gives exactly one edge each.

use crate::time::Millis;

/// A debounced change of a button.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// The button went down and stayed down.
    Pressed,
    /// The button came up and stayed up.
    Released,
}

/// One button's debouncer. Feed it the raw level (`true` = pressed) on every sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Debouncer {
    settled: bool,
    raw: bool,
    raw_since: Millis,
}

impl Debouncer {
    /// Settle time that covers the chatter of common tactile switches (1–10 ms) with margin,
    /// while a quick deliberate press (50 ms and more) still counts.
    pub const DEFAULT_SETTLE_MS: u32 = 15;

    /// A released button.
    pub const fn new(now: Millis) -> Self {
        Debouncer { settled: false, raw: false, raw_since: now }
    }

    /// Takes one raw sample; returns an edge when the settled level changes.
    pub fn sample(&mut self, raw: bool, now: Millis, settle_ms: u32) -> Option<Edge> {
        if raw != self.raw {
            self.raw = raw;
            self.raw_since = now;
            return None;
        }
        if raw != self.settled && now.since(self.raw_since) >= settle_ms as u64 {
            self.settled = raw;
            return Some(if raw { Edge::Pressed } else { Edge::Released });
        }
        None
    }

    /// Whether the button is down, debounced.
    pub const fn is_pressed(&self) -> bool {
        self.settled
    }

    /// When the next sample could settle a change, if one is under way.
    pub fn settles_at(&self, settle_ms: u32) -> Option<Millis> {
        (self.raw != self.settled).then(|| self.raw_since.plus(settle_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `(ms, level)` steps sampled every millisecond up to `end_ms`; returns edges with times.
    fn run(pattern: &[(u64, bool)], end_ms: u64) -> std::vec::Vec<(u64, Edge)> {
        let mut d = Debouncer::new(Millis(0));
        let mut edges = std::vec::Vec::new();
        let mut level = false;
        for t in 0..=end_ms {
            if let Some(&(_, l)) = pattern.iter().rev().find(|(at, _)| *at <= t) {
                level = l;
            }
            if let Some(e) = d.sample(level, Millis(t), Debouncer::DEFAULT_SETTLE_MS) {
                edges.push((t, e));
            }
        }
        edges
    }

    #[test]
    fn a_clean_press_gives_one_press_and_one_release() {
        let edges = run(&[(10, true), (110, false)], 200);
        assert_eq!(edges, [(25, Edge::Pressed), (125, Edge::Released)]);
    }

    #[test]
    fn chatter_on_press_and_release_still_gives_one_of_each() {
        // A worn switch: 6 ms of chatter going down, 8 ms coming up.
        let mut p = std::vec![];
        for (i, t) in (10..16).enumerate() {
            p.push((t, i % 2 == 0));
        }
        p.push((16, true));
        for (i, t) in (90..98).enumerate() {
            p.push((t, i % 2 == 1));
        }
        p.push((98, false));
        let edges = run(&p, 200);
        assert_eq!(edges.len(), 2, "{edges:?}");
        assert_eq!(edges[0].1, Edge::Pressed);
        assert_eq!(edges[1].1, Edge::Released);
        assert!(edges[0].0 >= 16 + 15, "counted only after the chatter settled");
    }

    #[test]
    fn a_spike_shorter_than_the_settle_time_is_ignored() {
        // Electrical noise: 3 ms and 9 ms spikes.
        let edges = run(&[(10, true), (13, false), (50, true), (59, false)], 200);
        assert!(edges.is_empty(), "{edges:?}");
    }

    #[test]
    fn chatter_that_never_holds_still_never_counts() {
        let p: std::vec::Vec<_> = (0..100).map(|t| (t, (t / 7) % 2 == 0)).collect();
        assert!(run(&p, 99).is_empty());
    }

    #[test]
    fn it_says_when_to_sample_next() {
        let mut d = Debouncer::new(Millis(0));
        assert_eq!(d.settles_at(15), None);
        d.sample(true, Millis(5), 15);
        assert_eq!(d.settles_at(15), Some(Millis(20)));
        assert_eq!(d.sample(true, Millis(20), 15), Some(Edge::Pressed));
        assert!(d.is_pressed());
        assert_eq!(d.settles_at(15), None);
    }
}
