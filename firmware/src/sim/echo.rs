//! A bare responder: acks every authenticated answer and check-in `stored` at once, without storing
//! anything. The baseline the hub is measured against, and a stand-in hub for device-side tests.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::BrokerAddr;
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
    client: AsyncClient,
    task: JoinHandle<()>,
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
        let mut opts = MqttOptions::new(id, broker.host.clone(), broker.port);
        opts.set_keep_alive(Duration::from_secs(30));
        opts.set_inflight(1_000);
        let (client, mut events) = AsyncClient::new(opts, 10_000);
        client
            .subscribe(topics::room_clickers_filter(room).as_str(), QoS::AtLeastOnce)
            .await
            .map_err(|e| e.to_string())?;
        let counts = Arc::new(EchoCounts::default());
        let (ready_tx, ready_rx) = oneshot::channel();
        let task = tokio::spawn({
            let (client, counts) = (client.clone(), counts.clone());
            async move {
                let mut ready = Some(ready_tx);
                loop {
                    match events.poll().await {
                        Ok(Event::Incoming(Packet::SubAck(_))) => {
                            if let Some(r) = ready.take() {
                                let _ = r.send(());
                            }
                        }
                        Ok(Event::Incoming(Packet::Publish(p))) => {
                            if let Some((topic, ack)) = respond(&keys, &p.topic, &p.payload) {
                                counts.acked.fetch_add(1, Ordering::Relaxed);
                                // Cannot fail: an Ack is far below the payload limit.
                                let payload = protocol::encode(&ack).map(|p| p.to_vec()).unwrap_or_default();
                                let _ = client.publish(topic.as_str(), QoS::AtLeastOnce, false, payload).await;
                            } else if !p.topic.ends_with("/ack")
                                && !p.topic.ends_with("/status")
                                && !p.topic.ends_with("/hello")
                            {
                                counts.refused.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Ok(_) => {}
                        Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                    }
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(10), ready_rx)
            .await
            .map_err(|_| format!("no subscription acknowledgement from {broker}"))?
            .map_err(|_| "responder stopped".to_owned())?;
        Ok(Echo { client, task, counts })
    }

    /// Disconnects.
    pub async fn stop(self) {
        let _ = self.client.disconnect().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.task.abort();
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
