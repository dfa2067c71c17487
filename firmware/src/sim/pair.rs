//! Unpaired simulated clickers pairing over MQTT: each types the code on its buttons and runs the
//! real pairing core ([`crate::pairing`]) against the hub, then holds an identity like any clicker.

use std::time::Duration;

use rand::Rng as _;

use super::mqtt::Subscription;
use super::{BrokerAddr, Identity};
use crate::pairing::{PairState, Pairing};
use crate::protocol::pairing::PairRefusal;
use crate::protocol::{Button, RoomCode};

/// Why a simulated clicker did not pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairFailed {
    /// The code is not seven letters A–E.
    BadCode,
    /// The broker could not be reached.
    Broker(String),
    /// The hub refused.
    Refused(PairRefusal),
    /// No answer in time.
    Timeout,
}

impl std::fmt::Display for PairFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PairFailed::BadCode => f.write_str("a pairing code is seven letters A-E"),
            PairFailed::Broker(e) => write!(f, "broker: {e}"),
            PairFailed::Refused(why) => write!(f, "the hub refused: {}", why.as_str()),
            PairFailed::Timeout => f.write_str("no answer from the hub in time"),
        }
    }
}

/// One unpaired clicker in `room` types `code` and pairs; returns the identity the hub issued.
pub async fn pair_one(
    broker: &BrokerAddr,
    room: &RoomCode,
    code: &str,
    timeout: Duration,
) -> Result<Identity, PairFailed> {
    let buttons: Vec<Button> =
        code.chars().map(Button::from_letter).collect::<Option<_>>().ok_or(PairFailed::BadCode)?;
    let mut pairing = Pairing::new(room.clone());
    let mut random = [0u8; 72];
    rand::rng().fill(&mut random[..]);
    let start = buttons.iter().fold(None, |_, b| pairing.press(*b, &random)).ok_or(PairFailed::BadCode)?;
    // Cannot fail: an exchange is under way once the start message exists.
    let [reply_topic, _] = pairing.subscriptions().ok_or(PairFailed::BadCode)?;
    let filter = reply_topic.trim_end_matches("reply").to_owned() + "+";
    let client_id = format!("unpaired-{}", &filter[filter.len() - 18..filter.len() - 2]);
    let (sub, mut inbox) = Subscription::start(broker, client_id, &filter).await.map_err(PairFailed::Broker)?;
    let publish = |p: crate::pairing::Publish| {
        let client = sub.client.clone();
        async move { client.publish(p.topic.as_str(), rumqttc::QoS::AtLeastOnce, false, p.payload.to_vec()).await }
    };
    let outcome = async {
        publish(start).await.map_err(|e| PairFailed::Broker(e.to_string()))?;
        while let Some(msg) = inbox.recv().await {
            if let Some(out) = pairing.on_message(&msg.topic, &msg.payload) {
                publish(out).await.map_err(|e| PairFailed::Broker(e.to_string()))?;
            }
            match pairing.state() {
                PairState::Paired(c) => return Ok(Identity { device: c.device, key: c.key }),
                PairState::Refused(why) => return Err(PairFailed::Refused(why)),
                PairState::Typing(_) | PairState::Waiting => {}
            }
        }
        Err(PairFailed::Broker("connection closed".into()))
    };
    let result = tokio::time::timeout(timeout, outcome).await.unwrap_or(Err(PairFailed::Timeout));
    sub.stop().await;
    result
}

/// `n` unpaired clickers pair one after another (as a technician hands them out in roster order);
/// stops at the first that fails.
pub async fn pair_in_order(
    broker: &BrokerAddr,
    room: &RoomCode,
    code: &str,
    n: usize,
    timeout: Duration,
) -> Result<Vec<Identity>, (usize, PairFailed)> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(pair_one(broker, room, code, timeout).await.map_err(|e| (i, e))?);
    }
    Ok(out)
}
