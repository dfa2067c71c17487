//! A class of virtual clickers and the plans they play: everyone, a share, blocks, random answers,
//! answer changes, check-ins, spread over a seeded jitter.

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::clicker::{Finger, SimClicker, Snapshot};
use super::{BrokerAddr, Identity, identity};
use crate::clicker::Timing;
use crate::protocol::{Button, DeviceId, RoomCode};

/// What a class of simulated clickers does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Every clicker presses this button.
    Everyone(Button),
    /// The first `percent` % of the clickers press this button; the rest do nothing.
    Share {
        /// How many, in percent.
        percent: u8,
        /// Which button.
        button: Button,
    },
    /// Clickers press in blocks, in order: `[(B, 23), (C, 5)]` has the first 23 press B and the
    /// next 5 press C.
    Counts(Vec<(Button, usize)>),
    /// Every clicker presses a random button among the open question's options.
    Random,
    /// Every clicker presses `first`, then changes its mind to `then`.
    Change {
        /// The first press.
        first: Button,
        /// The second.
        then: Button,
    },
    /// Every clicker checks in.
    CheckIn,
}

impl Plan {
    /// Parses `everyone:B`, `share:80:B`, `counts:B=23,C=5`, `random`, `change:B:C` or `checkin`.
    pub fn parse(s: &str) -> Result<Plan, String> {
        let button = |b: &str| {
            let mut chars = b.chars();
            match (chars.next().and_then(Button::from_letter), chars.next()) {
                (Some(b), None) => Ok(b),
                _ => Err(format!("not a button A-E: {b:?}")),
            }
        };
        let parts: Vec<&str> = s.split(':').collect();
        match parts.as_slice() {
            ["everyone", b] => Ok(Plan::Everyone(button(b)?)),
            ["share", p, b] => {
                let percent: u8 = p.parse().ok().filter(|p| *p <= 100).ok_or(format!("bad percent {p:?}"))?;
                Ok(Plan::Share { percent, button: button(b)? })
            }
            ["counts", list] => list
                .split(',')
                .map(|item| {
                    let (b, n) = item.split_once('=').ok_or(format!("expected B=23, got {item:?}"))?;
                    Ok((button(b)?, n.parse().map_err(|_| format!("bad count {n:?}"))?))
                })
                .collect::<Result<_, String>>()
                .map(Plan::Counts),
            ["random"] => Ok(Plan::Random),
            ["change", a, b] => Ok(Plan::Change { first: button(a)?, then: button(b)? }),
            ["checkin"] => Ok(Plan::CheckIn),
            _ => Err(format!(
                "unknown plan {s:?}: use everyone:B, share:80:B, counts:B=23,C=5, random, change:B:C or checkin"
            )),
        }
    }

    /// What clicker `index` of `n` presses under this plan (empty: nothing). `None` stands for the
    /// check-in button.
    fn presses(&self, index: usize, n: usize, rng: &mut StdRng, snapshot: &Snapshot) -> Vec<Option<Button>> {
        match self {
            Plan::Everyone(b) => vec![Some(*b)],
            Plan::Share { percent, button } => {
                if index * 100 < n * *percent as usize {
                    vec![Some(*button)]
                } else {
                    vec![]
                }
            }
            Plan::Counts(blocks) => {
                let mut start = 0;
                for (b, count) in blocks {
                    if (start..start + count).contains(&index) {
                        return vec![Some(*b)];
                    }
                    start += count;
                }
                vec![]
            }
            Plan::Random => {
                let options = snapshot.question.map_or(5, |q| q.spec.options());
                vec![Button::from_index(rng.random_range(0..options))]
            }
            Plan::Change { first, then } => vec![Some(*first), Some(*then)],
            Plan::CheckIn => vec![None],
        }
    }
}

/// How a class is set up.
#[derive(Debug, Clone)]
pub struct ClassConfig {
    /// Where the broker is.
    pub broker: BrokerAddr,
    /// The room.
    pub room: RoomCode,
    /// One identity per clicker.
    pub identities: Vec<Identity>,
    /// Clicker timings.
    pub timing: Timing,
    /// How fingers press.
    pub finger: Finger,
    /// Whether they take firmware updates, and from what factory image.
    pub ota: Option<super::Ota>,
}

impl ClassConfig {
    /// `n` clickers with identities derived from `seed` (see [`identity`]), default timings.
    pub fn new(broker: BrokerAddr, room: RoomCode, seed: &str, n: usize) -> Self {
        let identities = (1..=n).map(|i| identity(seed, i)).collect();
        ClassConfig { broker, room, identities, timing: Timing::default(), finger: Finger::default(), ota: None }
    }
}

/// A class of simulated clickers.
pub struct Class {
    clickers: Vec<Arc<SimClicker>>,
}

/// Some clickers did not reach the state waited for in time.
#[derive(Debug, Clone)]
pub struct NotReached {
    /// How many did not.
    pub missing: usize,
    /// Their snapshots.
    pub examples: Vec<(DeviceId, Snapshot)>,
}

impl std::fmt::Display for NotReached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} clickers did not get there, e.g. {:?}", self.missing, self.examples.first())
    }
}

impl Class {
    /// Starts every clicker (they boot and connect on their own tasks).
    pub fn start(cfg: ClassConfig) -> Self {
        let clickers = cfg
            .identities
            .into_iter()
            .map(|id| {
                let (broker, room, ota) = (cfg.broker.clone(), cfg.room.clone(), cfg.ota.clone());
                Arc::new(SimClicker::start_with_updates(broker, room, id, cfg.timing, cfg.finger, ota))
            })
            .collect();
        Class { clickers }
    }

    /// The clickers.
    pub fn clickers(&self) -> &[Arc<SimClicker>] {
        &self.clickers
    }

    /// Snapshots of all clickers.
    pub fn snapshots(&self) -> Vec<Snapshot> {
        self.clickers.iter().map(|c| c.snapshot()).collect()
    }

    /// Waits until `pred` holds for every clicker.
    pub async fn wait_until(
        &self,
        pred: impl Fn(&Snapshot) -> bool + Copy,
        timeout: Duration,
    ) -> Result<(), NotReached> {
        let deadline = tokio::time::Instant::now() + timeout;
        for c in &self.clickers {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if c.wait_for(pred, left).await.is_err() {
                let examples: Vec<_> = self
                    .clickers
                    .iter()
                    .filter(|c| !pred(&c.snapshot()))
                    .map(|c| (c.identity.device.clone(), c.snapshot()))
                    .collect();
                return Err(NotReached { missing: examples.len(), examples: examples.into_iter().take(3).collect() });
            }
        }
        Ok(())
    }

    /// Plays a plan: each clicker starts its presses at a random moment within `jitter_ms`
    /// (seeded by `seed`, so a run can be repeated). Returns once every press was made (not acked).
    pub async fn play(&self, plan: &Plan, jitter_ms: u64, seed: u64) {
        self.play_with(plan, seed, |_, _, rng| if jitter_ms == 0 { 0 } else { rng.random_range(0..=jitter_ms) }).await
    }

    /// Plays a plan with the clickers' starts spread evenly over `spread_ms` (all at once for 0).
    pub async fn play_evenly(&self, plan: &Plan, spread_ms: u64) {
        self.play_with(plan, 0, |i, n, _| spread_ms * i as u64 / n.max(1) as u64).await
    }

    async fn play_with(&self, plan: &Plan, seed: u64, delay_of: impl Fn(usize, usize, &mut StdRng) -> u64) {
        let mut rng = StdRng::seed_from_u64(seed);
        let n = self.clickers.len();
        let mut tasks = Vec::with_capacity(n);
        for (i, clicker) in self.clickers.iter().enumerate() {
            let presses = plan.presses(i, n, &mut rng, &clicker.snapshot());
            if presses.is_empty() {
                continue;
            }
            let delay = delay_of(i, n, &mut rng);
            let clicker = clicker.clone();
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(delay)).await;
                for press in presses {
                    match press {
                        Some(b) => clicker.press(b).await,
                        None => clicker.check_in().await,
                    }
                }
            }));
        }
        for t in tasks {
            // A press task only fails if it was cancelled, when the runtime shuts down.
            let _ = t.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clicker::{State, Stats};

    #[test]
    fn plans_parse() {
        assert_eq!(Plan::parse("everyone:B"), Ok(Plan::Everyone(Button::B)));
        assert_eq!(Plan::parse("share:80:C"), Ok(Plan::Share { percent: 80, button: Button::C }));
        assert_eq!(Plan::parse("counts:B=23,C=5"), Ok(Plan::Counts(vec![(Button::B, 23), (Button::C, 5)])));
        assert_eq!(Plan::parse("change:A:D"), Ok(Plan::Change { first: Button::A, then: Button::D }));
        assert!(Plan::parse("everyone:F").is_err());
        assert!(Plan::parse("share:120:A").is_err());
    }

    #[test]
    fn counts_give_blocks_in_order() {
        let plan = Plan::Counts(vec![(Button::B, 23), (Button::C, 5)]);
        let mut rng = StdRng::seed_from_u64(0);
        let snap = Snapshot {
            state: State::Idle,
            led: None,
            question: None,
            waiting: 0,
            dropped: 0,
            in_flight: None,
            stats: Stats::default(),
            last_ack: None,
            sent_at: None,
            acked_at: None,
            firmware: crate::ota::image::Version { major: 0, minor: 1, patch: 0 },
            reboots: 0,
        };
        let all: Vec<_> = (0..30).map(|i| plan.presses(i, 30, &mut rng, &snap)).collect();
        assert_eq!(all.iter().filter(|p| **p == [Some(Button::B)]).count(), 23);
        assert_eq!(all.iter().filter(|p| **p == [Some(Button::C)]).count(), 5);
        assert!(all[28].is_empty() && all[29].is_empty());
    }
}
