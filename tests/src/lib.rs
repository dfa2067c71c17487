//! Helpers for classhub's end-to-end tests: a TestApp running the real hub, unique rooms, an MQTT
//! observer.

pub mod app;

pub use app::{HttpResponse, TEST_PASSWORD, TestApp};

pub mod browser;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use firmware::protocol::RoomCode;
use firmware::sim::BrokerAddr;
use firmware::sim::mqtt::Subscription;
use rumqttc::QoS;
use tokio::task::JoinHandle;

/// The Mosquitto every development and CI machine runs.
pub fn local_mosquitto() -> BrokerAddr {
    BrokerAddr { host: "127.0.0.1".into(), port: 1883 }
}

/// A room code no other test run uses, so tests can share a broker (and its retained messages).
pub fn unique_room(prefix: &str) -> RoomCode {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    // Cannot fail: the prefix is the caller's short literal plus digits and a dash.
    RoomCode::parse(&format!("{prefix}-{}-{nanos:09}", std::process::id())).expect("valid room code")
}

/// One message an [`Observer`] saw.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Its topic.
    pub topic: String,
    /// Its payload.
    pub payload: Vec<u8>,
    /// When it arrived, since the observer started.
    pub at: Duration,
}

/// A plain subscriber that records everything on a topic filter, with arrival times.
pub struct Observer {
    seen: Arc<Mutex<Vec<Seen>>>,
    subscription: Subscription,
    task: JoinHandle<()>,
}

impl Observer {
    /// Subscribes to `filter` on `broker`; returns once the broker has confirmed the subscription.
    pub async fn start(broker: &BrokerAddr, filter: &str) -> Observer {
        let id = format!("classhub-observer-{}-{}", std::process::id(), rand::random::<u32>());
        let (subscription, mut inbound) =
            Subscription::start(broker, id, filter).await.expect("the broker confirms the observer's subscription");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let start = tokio::time::Instant::now();
        let task = tokio::spawn({
            let seen = seen.clone();
            async move {
                while let Some(p) = inbound.recv().await {
                    let s = Seen { topic: p.topic.clone(), payload: p.payload.to_vec(), at: start.elapsed() };
                    seen.lock().unwrap().push(s);
                }
            }
        });
        Observer { seen, subscription, task }
    }

    /// Everything seen so far whose topic ends with `suffix`.
    pub fn seen_ending(&self, suffix: &str) -> Vec<Seen> {
        self.seen.lock().unwrap().iter().filter(|s| s.topic.ends_with(suffix)).cloned().collect()
    }

    /// Publishes through the observer's own connection.
    pub async fn publish(&self, topic: &str, payload: &[u8], retain: bool) {
        let client = &self.subscription.client;
        client.publish(topic, QoS::AtLeastOnce, retain, payload.to_vec()).await.expect("publish request");
    }

    /// Disconnects.
    pub async fn stop(self) {
        self.task.abort();
        self.subscription.stop().await;
    }
}
