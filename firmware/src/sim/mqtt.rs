//! The simulator's transport: the core's [`Transport`] port over a rumqttc client, its event loop
//! on a tokio task of its own.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rumqttc::{AsyncClient, Event, LastWill, MqttOptions, Outgoing, Packet, QoS};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::BrokerAddr;
use crate::ports::{ConnectRequest, Inbound, Link, Transport};
use crate::protocol::{MAX_PAYLOAD, Payload, Topic};

/// What the event loop task shares with the transport.
#[derive(Default)]
struct Shared {
    up: AtomicBool,
    sessions: AtomicU32,
    inbox: Mutex<VecDeque<Inbound>>,
    dropped_inbound: AtomicU32,
}

/// An MQTT transport for one virtual clicker.
pub struct MqttTransport {
    broker: BrokerAddr,
    rssi: i16,
    wake: Arc<Notify>,
    shared: Arc<Shared>,
    client: Option<AsyncClient>,
    task: Option<JoinHandle<()>>,
    seen_sessions: u32,
}

/// The transport could not take a request (its queue to the event loop is full, or it is closed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttError(pub String);

impl MqttTransport {
    /// A transport to `broker`; `wake` is notified whenever a message arrives or the link changes.
    pub fn new(broker: BrokerAddr, rssi: i16, wake: Arc<Notify>) -> Self {
        MqttTransport { broker, rssi, wake, shared: Arc::default(), client: None, task: None, seen_sessions: 0 }
    }

    /// Messages dropped on arrival for being larger than the protocol allows.
    pub fn dropped_inbound(&self) -> u32 {
        self.shared.dropped_inbound.load(Ordering::Relaxed)
    }

    fn client(&self) -> Result<&AsyncClient, MqttError> {
        self.client.as_ref().ok_or_else(|| MqttError("not connected".into()))
    }
}

async fn event_loop(mut events: rumqttc::EventLoop, shared: Arc<Shared>, wake: Arc<Notify>) {
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                shared.sessions.fetch_add(1, Ordering::Relaxed);
                shared.up.store(true, Ordering::Release);
                wake.notify_one();
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let topic = Topic::try_from(p.topic.as_str());
                let payload = Payload::from_slice(&p.payload);
                match (topic, payload) {
                    (Ok(topic), Ok(payload)) if p.payload.len() <= MAX_PAYLOAD => {
                        // Cannot fail unless another thread panicked while holding the lock.
                        shared.inbox.lock().expect("inbox lock").push_back(Inbound { topic, payload });
                    }
                    _ => {
                        shared.dropped_inbound.fetch_add(1, Ordering::Relaxed);
                    }
                }
                wake.notify_one();
            }
            Ok(Event::Outgoing(Outgoing::Disconnect)) => {
                shared.up.store(false, Ordering::Release);
                wake.notify_one();
                return;
            }
            Ok(_) => {}
            Err(_) => {
                shared.up.store(false, Ordering::Release);
                wake.notify_one();
                // rumqttc reconnects on the next poll; don't spin while the broker is away.
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

impl Transport for MqttTransport {
    type Error = MqttError;

    fn connect(&mut self, req: &ConnectRequest<'_>) -> Result<(), MqttError> {
        self.disconnect()?;
        let mut opts = MqttOptions::new(req.client_id, self.broker.host.clone(), self.broker.port);
        opts.set_keep_alive(Duration::from_secs(req.keep_alive_s.max(5) as u64));
        opts.set_clean_session(true);
        opts.set_max_packet_size(4 * 1024, 4 * 1024);
        opts.set_last_will(LastWill::new(req.will_topic, req.will_payload.to_vec(), QoS::AtLeastOnce, true));
        let (client, events) = AsyncClient::new(opts, 64);
        self.task = Some(tokio::spawn(event_loop(events, self.shared.clone(), self.wake.clone())));
        self.client = Some(client);
        Ok(())
    }

    fn disconnect(&mut self) -> Result<(), MqttError> {
        if let Some(client) = self.client.take() {
            // Best effort: the event loop ends on the outgoing Disconnect, or is aborted below.
            let _ = client.try_disconnect();
        }
        if let Some(mut task) = self.task.take() {
            // Give the event loop a moment to send the Disconnect, then make sure it is gone.
            tokio::spawn(async move {
                if tokio::time::timeout(Duration::from_secs(1), &mut task).await.is_err() {
                    task.abort();
                }
            });
        }
        // A new connection gets fresh shared state, so the old event loop can no longer touch it.
        self.shared = Arc::default();
        self.seen_sessions = 0;
        Ok(())
    }

    fn link(&mut self) -> Link {
        if !self.shared.up.load(Ordering::Acquire) {
            return Link::Down;
        }
        let sessions = self.shared.sessions.load(Ordering::Relaxed);
        if sessions != self.seen_sessions {
            self.seen_sessions = sessions;
            Link::NewSession
        } else {
            Link::Up
        }
    }

    fn subscribe(&mut self, filter: &str) -> Result<(), MqttError> {
        self.client()?.try_subscribe(filter, QoS::AtLeastOnce).map_err(|e| MqttError(e.to_string()))
    }

    fn publish(&mut self, topic: &str, payload: &[u8], retain: bool) -> Result<(), MqttError> {
        self.client()?
            .try_publish(topic, QoS::AtLeastOnce, retain, payload.to_vec())
            .map_err(|e| MqttError(e.to_string()))
    }

    fn receive(&mut self) -> Option<Inbound> {
        // Cannot fail unless the event loop panicked while holding the lock.
        self.shared.inbox.lock().expect("inbox lock").pop_front()
    }

    fn rssi(&self) -> Option<i16> {
        Some(self.rssi)
    }
}

impl Drop for MqttTransport {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// A plain MQTT client subscribed to one filter, for responders and observers: what it receives
/// comes out of the channel [`Subscription::start`] returns.
pub struct Subscription {
    /// The client, to publish through the same connection.
    pub client: AsyncClient,
    task: JoinHandle<()>,
}

impl Subscription {
    /// Connects as `client_id`, subscribes to `filter` at QoS 1 and returns once the broker has
    /// confirmed the subscription, so nothing published afterwards is missed.
    pub async fn start(
        broker: &BrokerAddr,
        client_id: String,
        filter: &str,
    ) -> Result<(Subscription, tokio::sync::mpsc::UnboundedReceiver<rumqttc::Publish>), String> {
        let mut opts = MqttOptions::new(client_id, broker.host.clone(), broker.port);
        opts.set_keep_alive(Duration::from_secs(30));
        opts.set_inflight(1_000);
        let (client, mut events) = AsyncClient::new(opts, 10_000);
        client.subscribe(filter, QoS::AtLeastOnce).await.map_err(|e| e.to_string())?;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let mut ready = Some(ready_tx);
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        if let Some(r) = ready.take() {
                            let _ = r.send(());
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        if tx.send(p).is_err() {
                            return; // nobody listens any more
                        }
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
        });
        match tokio::time::timeout(Duration::from_secs(10), ready_rx).await {
            Ok(Ok(())) => Ok((Subscription { client, task }, rx)),
            _ => {
                task.abort();
                Err(format!("no subscription acknowledgement from {broker}"))
            }
        }
    }

    /// Disconnects cleanly.
    pub async fn stop(self) {
        let _ = self.client.disconnect().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.task.abort();
    }
}
