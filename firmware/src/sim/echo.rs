//! A bare responder: acks every authenticated answer and check-in `stored` at once, without storing
//! anything. The baseline the hub is measured against, and a stand-in hub for device-side tests.

use rumqttc::QoS;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::task::JoinHandle;

use super::BrokerAddr;
use super::mqtt::Subscription;
use crate::protocol::topics::{self, Parsed};
use crate::protocol::{
    self, Ack, AckStatus, Answer, Authenticated, CheckIn, ClickerTopic, DeviceId, DeviceKey, RoomCode, mac,
};

/// Counters of what the responder saw.
#[derive(Debug, Default)]
pub struct EchoCounts {
    /// Answers and check-ins acked.
    pub acked: AtomicU64,
    /// Messages refused (unknown device, bad MAC, malformed).
    pub refused: AtomicU64,
}

/// A running responder.
pub struct Echo {
    subscription: Subscription,
    worker: JoinHandle<()>,
    /// What it has seen so far.
    pub counts: Arc<EchoCounts>,
}

impl Echo {
    /// Connects to `broker`, subscribes to `room`'s clickers and returns once the subscription holds.
    pub async fn start(
        broker: &BrokerAddr,
        room: &RoomCode,
        keys: HashMap<DeviceId, DeviceKey>,
    ) -> Result<Echo, String> {
        let id = format!("classhub-echo-{}-{}", room, std::process::id());
        let (subscription, mut inbound) = Subscription::start(broker, id, &topics::room_clickers_filter(room)).await?;
        let counts = Arc::new(EchoCounts::default());
        let worker = tokio::spawn({
            let (client, counts) = (subscription.client.clone(), counts.clone());
            async move {
                while let Some(p) = inbound.recv().await {
                    if let Some((topic, ack)) = respond(&keys, &p.topic, &p.payload) {
                        counts.acked.fetch_add(1, Ordering::Relaxed);
                        // Cannot fail: an Ack is far below the payload limit.
                        let payload = protocol::encode(&ack).map(|p| p.to_vec()).unwrap_or_default();
                        let _ = client.publish(topic.as_str(), QoS::AtLeastOnce, false, payload).await;
                    } else if p.topic.ends_with("/answer") || p.topic.ends_with("/checkin") {
                        counts.refused.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
        Ok(Echo { subscription, worker, counts })
    }

    /// Disconnects.
    pub async fn stop(self) {
        self.worker.abort();
        self.subscription.stop().await;
    }
}

fn signed_ack<M: Authenticated>(key: &DeviceKey, device: &DeviceId, msg: &M) -> Option<Ack> {
    mac::verify(key, device, msg).ok()?;
    let mut ack = Ack { seq: msg.seq(), status: AckStatus::Stored, reason: None, mac: None };
    mac::sign(key, device, &mut ack);
    Some(ack)
}

/// The ack for one clicker message, if it is an authenticated answer or check-in.
fn respond(keys: &HashMap<DeviceId, DeviceKey>, topic: &str, payload: &[u8]) -> Option<(protocol::Topic, Ack)> {
    let Ok(Parsed::Clicker { room, device, kind }) = topics::parse(topic) else { return None };
    let key = keys.get(&device)?;
    let ack = match kind {
        ClickerTopic::Answer => signed_ack(key, &device, &protocol::decode::<Answer>(payload).ok()?)?,
        ClickerTopic::CheckIn => signed_ack(key, &device, &protocol::decode::<CheckIn>(payload).ok()?)?,
        _ => return None,
    };
    Some((topics::clicker(&room, &device, ClickerTopic::Ack), ack))
}
