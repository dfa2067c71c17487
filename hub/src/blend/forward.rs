//! Forwarding the hub's own statements to an external LRS (a district's, say): an outbox read from a
//! cursor, sent in batches, retried with exponential backoff and jitter while the LRS is away. The
//! statement ids are fixed, so a batch sent twice is stored once.

use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

use crate::store::{OWN_SOURCE, Store, StoreError};

/// Where to forward, and how hard to try.
#[derive(Debug, Clone)]
pub struct Forwarder {
    /// The LRS's base, e.g. `http://lrs.school.local/xapi` (`/statements` is added).
    pub url: String,
    /// HTTP Basic key and secret at that LRS.
    pub credentials: (String, String),
    /// Statements per request.
    pub batch: usize,
    /// The first wait after a failure; it doubles up to `max_wait`.
    pub first_wait: Duration,
    /// The longest wait.
    pub max_wait: Duration,
}

/// Why a batch was not taken.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The LRS could not be reached.
    #[error("LRS unreachable: {0}")]
    Unreachable(String),
    /// The LRS answered with an error.
    #[error("LRS answered {0}")]
    Refused(u16),
}

/// The wait before try number `failures + 1`: doubling from `first`, at most `max`, and `jitter`
/// (from −1 to 1) moves it by up to a fifth, so many hubs coming back do not all call at once.
pub fn backoff(failures: u32, first: Duration, max: Duration, jitter: f64) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let base = first.saturating_mul(1u32 << (failures - 1).min(20)).min(max);
    base.mul_f64(1.0 + 0.2 * jitter.clamp(-1.0, 1.0))
}

impl Forwarder {
    /// Sends the next batch after the cursor; returns how many were taken (0: nothing to send).
    pub async fn send_next(&self, store: &Store, http: &reqwest::Client) -> Result<usize, ForwardError> {
        let after = store.cursor("forward").await?;
        let (statements, last) = store.statements_after(OWN_SOURCE, after, self.batch).await?;
        if statements.is_empty() {
            return Ok(0);
        }
        let auth =
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", self.credentials.0, self.credentials.1));
        let response = http
            .post(format!("{}/statements", self.url.trim_end_matches('/')))
            .header("Authorization", format!("Basic {auth}"))
            .header("X-Experience-API-Version", "1.0.3")
            .header("Content-Type", "application/json")
            .body(Value::Array(statements.clone()).to_string())
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| ForwardError::Unreachable(e.to_string()))?;
        if !response.status().is_success() {
            return Err(ForwardError::Refused(response.status().as_u16()));
        }
        store.set_cursor("forward", last).await?;
        Ok(statements.len())
    }

    /// Forwards until `stop` turns true: everything waiting at once, then every `every`; after a
    /// failure, waits by [`backoff`].
    pub async fn run(self, store: Store, every: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        let http = reqwest::Client::new();
        let mut failures = 0u32;
        loop {
            let wait = match self.send_next(&store, &http).await {
                Ok(n) if n == self.batch => Duration::ZERO,
                Ok(_) => {
                    failures = 0;
                    every
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    let wait = backoff(failures, self.first_wait, self.max_wait, rand::random::<f64>() * 2.0 - 1.0);
                    tracing::warn!("forwarding statements: {e}; trying again in {:.1} s", wait.as_secs_f64());
                    wait
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_up_to_five_minutes_and_jitter_moves_it_a_fifth() {
        let (first, max) = (Duration::from_secs(1), Duration::from_secs(300));
        assert_eq!(backoff(0, first, max, 0.0), Duration::ZERO);
        assert_eq!(backoff(1, first, max, 0.0), Duration::from_secs(1));
        assert_eq!(backoff(4, first, max, 0.0), Duration::from_secs(8));
        assert_eq!(backoff(30, first, max, 0.0), Duration::from_secs(300));
        assert_eq!(backoff(4, first, max, 1.0), Duration::from_millis(9_600));
        assert_eq!(backoff(4, first, max, -1.0), Duration::from_millis(6_400));
    }
}
