//! The embedded MQTT broker: rmqtt on its own thread and tokio runtime, tuned for clickers, with an
//! in-memory store of retained messages and a count of the messages it dropped.
//!
//! [`EmbeddedBroker::start`] binds the listener before it returns, so port 0 works and the real port
//! is known at once ([`EmbeddedBroker::local_addr`]). rmqtt has no shutdown call: stopping drops its
//! `run()` future, shuts its runtime down and joins the thread ([`EmbeddedBroker::shutdown`], also on
//! drop). Each broker has its own `ServerContext`, so several can run in one process (the tests do).
//!
//! Tuning follows the measurements in DESIGN.md ("Brokers"): TCP_NODELAY on every accepted socket, a
//! per-client queue longer than the largest burst (a full queue evicts its oldest QoS 1 message, which
//! the `MessageDropped` hook counts), and no CPU-load check (rmqtt refuses CONNECTs above 90 % CPU
//! otherwise). Clients connect anonymously for now; per-clicker credentials and ACLs come later as
//! further hooks registered here.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use rmqtt::context::ServerContext;
use rmqtt::hook::{Handler, HookResult, Parameter, ReturnType, Type};
use rmqtt::net::Builder;
use rmqtt::retain::{DefaultRetainStorage, RetainStorage};
use rmqtt::router::DefaultRouter;
use rmqtt::server::MqttServer;
use rmqtt::shared::DefaultShared;
use rmqtt::types::{Retain, TopicFilter, TopicName};
use tokio::runtime::Runtime;
use tokio::sync::oneshot;

/// How long a stopping broker waits for its runtime's tasks before abandoning them.
const RUNTIME_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(1);

/// What can go wrong starting the embedded broker.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The broker's own tokio runtime could not be built.
    #[error("could not build the broker's runtime")]
    Runtime(#[source] io::Error),
    /// The broker's OS thread could not be spawned.
    #[error("could not spawn the broker thread")]
    Thread(#[source] io::Error),
    /// The MQTT listener could not be bound (port in use, no such address, no permission).
    #[error("could not listen for MQTT on {addr}")]
    Bind {
        /// The address that was asked for.
        addr: SocketAddr,
        /// Why binding failed; `kind()` is `AddrInUse` when another process holds the port.
        #[source]
        source: io::Error,
    },
    /// The broker thread ended before it reported its listener bound (it panicked).
    #[error("the broker thread stopped while starting")]
    Stopped,
}

/// Settings of the embedded broker that matter for a classroom; the rest are rmqtt's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrokerTuning {
    /// Messages queued per client before the oldest is dropped. Keep it above the largest burst
    /// the hub's own subscription can receive (every clicker answering at once).
    pub max_mqueue_len: usize,
    /// Concurrent MQTT sessions; a CONNECT beyond this is refused with "server unavailable". Also
    /// bounds the listener's queue of pending handshakes. 0 means no session limit.
    pub max_connections: usize,
    /// QoS 1 messages in flight to one client. The hub's one subscription carries every clicker's
    /// answers: rmqtt's default of 16 would hold a lecture-hall burst to 16 per round trip.
    pub max_inflight: std::num::NonZeroU16,
}

impl Default for BrokerTuning {
    fn default() -> Self {
        // Cannot fail: 1024 is not zero.
        let max_inflight = std::num::NonZeroU16::new(1024).expect("not zero");
        Self { max_mqueue_len: 10_000, max_connections: 5_000, max_inflight }
    }
}

/// An rmqtt broker running on its own OS thread with its own tokio runtime.
///
/// Dropping it stops the broker, like [`EmbeddedBroker::shutdown`].
pub struct EmbeddedBroker {
    local_addr: SocketAddr,
    dropped: Arc<AtomicU64>,
    running: Option<Running>,
}

/// What it takes to stop a running broker.
struct Running {
    stop: oneshot::Sender<()>,
    thread: JoinHandle<()>,
}

impl EmbeddedBroker {
    /// Binds `listen` (port 0 allowed) before returning; runs rmqtt on its own OS thread with its
    /// own tokio runtime.
    ///
    /// A plain function, callable from inside or outside a tokio runtime; it blocks the caller only
    /// while the broker thread builds its context and binds (milliseconds).
    pub fn start(listen: SocketAddr, tuning: BrokerTuning) -> Result<EmbeddedBroker, BrokerError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .thread_name("classhub-broker-rt")
            .enable_all()
            .build()
            .map_err(BrokerError::Runtime)?;
        let dropped = Arc::new(AtomicU64::new(0));
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let (stop, stop_rx) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("classhub-broker".into())
            .spawn({
                let dropped = dropped.clone();
                move || serve(runtime, listen, tuning, dropped, ready_tx, stop_rx)
            })
            .map_err(BrokerError::Thread)?;

        match ready_rx.recv() {
            Ok(Ok(local_addr)) => {
                tracing::info!(%local_addr, ?tuning, "embedded MQTT broker listening");
                Ok(EmbeddedBroker { local_addr, dropped, running: Some(Running { stop, thread }) })
            }
            Ok(Err(e)) => {
                join(thread);
                Err(e)
            }
            Err(mpsc::RecvError) => {
                join(thread);
                Err(BrokerError::Stopped)
            }
        }
    }

    /// The address the broker really listens on (the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Messages the broker dropped so far (full client queues, expired messages, refused
    /// deliveries), as its `MessageDropped` hook counted them.
    pub fn dropped_messages(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Stops the broker: drops its `run()` future (closing the listener), shuts its runtime down
    /// (closing every client connection) and joins its thread. Returns once the port is free.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(Running { stop, thread }) = self.running.take() {
            // An error means the broker thread has already ended (its run future returned); the
            // join below still waits for it.
            let _ = stop.send(());
            join(thread);
            tracing::info!(local_addr = %self.local_addr, "embedded MQTT broker stopped");
        }
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for EmbeddedBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedBroker")
            .field("local_addr", &self.local_addr)
            .field("dropped_messages", &self.dropped_messages())
            .field("running", &self.running.is_some())
            .finish()
    }
}

/// Waits for the broker thread, logging a panic instead of passing it on.
fn join(thread: JoinHandle<()>) {
    if thread.join().is_err() {
        tracing::error!("the embedded MQTT broker thread panicked");
    }
}

/// The broker thread: builds and binds inside `runtime`, reports to `ready`, then serves until
/// `stop` fires (or its sender is dropped) and tears the runtime down.
fn serve(
    runtime: Runtime,
    listen: SocketAddr,
    tuning: BrokerTuning,
    dropped: Arc<AtomicU64>,
    ready: mpsc::SyncSender<Result<SocketAddr, BrokerError>>,
    stop: oneshot::Receiver<()>,
) {
    let (scx, server) = match runtime.block_on(build(listen, tuning, dropped)) {
        Ok((scx, server, local_addr)) => {
            // Cannot fail: `start` holds the receiver until it has this answer.
            let _ = ready.send(Ok(local_addr));
            (scx, server)
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };

    runtime.block_on(async move {
        tokio::select! {
            result = server.run() => match result {
                Ok(()) => tracing::error!("the embedded MQTT broker stopped serving on its own"),
                Err(e) => tracing::error!(error = %e, "the embedded MQTT broker failed"),
            },
            _ = stop => {}
        }
    });
    let handle = runtime.handle().clone();
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN_TIMEOUT);
    // Dropping rmqtt's sessions spawns a clean-up task, which needs a runtime context; on a runtime
    // that is shut down such a task is cancelled at once, which is what we want here.
    let _context = handle.enter();
    release(&scx);
}

/// Binds the listener, then builds a tuned `ServerContext` with our retained-message store and drop
/// counter. Must run inside the broker's runtime: rmqtt registers the socket and spawns tasks there.
async fn build(
    listen: SocketAddr,
    tuning: BrokerTuning,
    dropped: Arc<AtomicU64>,
) -> Result<(ServerContext, MqttServer, SocketAddr), BrokerError> {
    let bind_error = |e: rmqtt::Error| BrokerError::Bind { addr: listen, source: into_io(e) };
    let listener = Builder::new()
        .name("classhub/tcp")
        .laddr(listen)
        // Rebinding right after a stop must work although closed connections sit in TIME_WAIT;
        // on Linux this does not let two listeners share a port.
        .reuseaddr(Some(true))
        .nodelay(true)
        .max_inflight(tuning.max_inflight)
        // Any client may connect until per-clicker credentials arrive (ClientAuthenticate hook).
        .allow_anonymous(true)
        .max_connections(tuning.max_connections)
        .max_mqueue_len(tuning.max_mqueue_len)
        .bind()
        .and_then(|l| l.tcp())
        .map_err(bind_error)?;
    let local_addr = listener.local_addr().map_err(bind_error)?;

    // Built only once the port is ours: a context is never freed unless `release` runs on it.
    let scx = ServerContext::new()
        .busy_check_enable(false)
        .mqtt_max_sessions(isize::try_from(tuning.max_connections).unwrap_or(isize::MAX))
        .build()
        .await;
    *scx.extends.retain_mut().await = Box::new(RetainedMessages::default());
    let hooks = scx.extends.hook_mgr().register();
    hooks.add(Type::MessageDropped, Box::new(CountDrops(dropped))).await;
    hooks.start().await;

    // rmqtt keys listener settings by an id that defaults to the configured port; with port 0
    // that is not unique, so use the real one.
    let server = MqttServer::new(scx.clone()).listener_by_id(listener, local_addr.port()).build();
    Ok((scx, server, local_addr))
}

/// rmqtt reports errors as `anyhow::Error`; socket errors inside keep their `io::ErrorKind`.
fn into_io(e: rmqtt::Error) -> io::Error {
    e.downcast::<io::Error>().unwrap_or_else(io::Error::other)
}

/// Breaks the reference cycles rmqtt builds into every context (its shared state and router hold
/// the context that holds them), so a stopped broker's memory is freed, not leaked. Runs after the
/// runtime is shut down, so no task holds these locks any more.
fn release(scx: &ServerContext) {
    if let Ok(mut shared) = scx.extends.shared.try_write() {
        *shared = Box::new(DefaultShared::new(None));
    }
    if let Ok(mut router) = scx.extends.router.try_write() {
        *router = Box::new(DefaultRouter::new(None));
    }
}

/// Counts every message rmqtt drops (the hub exports the count in /metrics).
struct CountDrops(Arc<AtomicU64>);

#[async_trait]
impl Handler for CountDrops {
    async fn hook(&self, param: &Parameter, acc: Option<HookResult>) -> ReturnType {
        if let Parameter::MessageDropped(to, _from, publish, reason) = param {
            self.0.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(topic = %publish.topic, ?to, %reason, "broker dropped a message");
        }
        (true, acc)
    }
}

/// Retained messages, in memory, on rmqtt's own topic tree (`RetainTree`, which matches `+`, `#`
/// and `$`-topics as MQTT says). rmqtt's `DefaultRetainStorage` has the tree but its trait methods
/// only log "use the rmqtt-retainer plugin"; this store calls the working methods underneath.
#[derive(Default)]
struct RetainedMessages {
    tree: DefaultRetainStorage,
}

#[async_trait]
impl RetainStorage for RetainedMessages {
    fn enable(&self) -> bool {
        true
    }

    /// Stores `retain` for `topic`; an empty payload deletes the topic's retained message.
    async fn set(&self, topic: &TopicName, retain: Retain, _expiry: Option<Duration>) -> rmqtt::Result<()> {
        // rmqtt passes the listener's default message expiry (5 minutes) for every retained
        // publish, which would make the display topic vanish mid-lesson. In MQTT a retained message
        // expires only when it carries its own Message Expiry Interval (v5), so only that counts.
        let expiry = retain
            .publish
            .properties
            .as_ref()
            .and_then(|p| p.message_expiry_interval)
            .map(|secs| Duration::from_secs(secs.get().into()));
        self.tree.set_with_timeout(topic, retain, expiry).await
    }

    async fn get(&self, topic_filter: &TopicFilter) -> rmqtt::Result<Vec<(TopicName, Retain)>> {
        self.tree.get_message(topic_filter).await
    }

    async fn get_all_paginated(
        &self,
        offset: usize,
        limit: usize,
    ) -> rmqtt::Result<(Vec<(TopicName, Retain, Option<Duration>)>, bool)> {
        self.tree.get_all_paginated(offset, limit).await
    }

    async fn count(&self) -> isize {
        RetainStorage::count(&self.tree).await
    }

    async fn max(&self) -> isize {
        RetainStorage::max(&self.tree).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn default_tuning_matches_the_measured_setup() {
        let tuning = super::BrokerTuning::default();
        assert_eq!(
            tuning,
            super::BrokerTuning {
                max_mqueue_len: 10_000,
                max_connections: 5_000,
                max_inflight: std::num::NonZeroU16::new(1024).unwrap()
            }
        );
    }

    #[test]
    fn starts_and_stops_outside_any_runtime() {
        let listen = std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, 0));
        let broker = super::EmbeddedBroker::start(listen, super::BrokerTuning::default()).expect("the broker starts");
        assert_ne!(broker.local_addr().port(), 0);
        broker.shutdown();
    }
    /// The retained-message store on its own: rmqtt's topic tree behind our `RetainStorage`.
    mod retained_store {
        use std::num::NonZeroU32;

        use rmqtt::codec::types::QoS;
        use rmqtt::codec::v5::PublishProperties;
        use rmqtt::types::{CodecPublish, From, Id, Publish};

        use super::super::*;

        fn retained(topic: &str, payload: &str) -> Retain {
            let id = Id::new(0, 0, None, None, "test".into(), None);
            let publish = CodecPublish {
                dup: false,
                retain: true,
                qos: QoS::AtLeastOnce,
                topic: topic.into(),
                packet_id: None,
                payload: payload.as_bytes().to_vec().into(),
                properties: None,
            };
            Retain { msg_id: None, from: From::from_custom(id), publish: Publish::from(publish) }
        }

        async fn store(topics: &[&str]) -> RetainedMessages {
            let store = RetainedMessages::default();
            for topic in topics {
                store.set(&(*topic).into(), retained(topic, topic), None).await.expect("valid topic");
            }
            store
        }

        /// The topics `filter` finds, sorted; each retained payload is its own topic.
        async fn matching(store: &RetainedMessages, filter: &str) -> Vec<String> {
            let mut found: Vec<String> = store
                .get(&filter.into())
                .await
                .expect("valid filter")
                .into_iter()
                .map(|(topic, retain)| {
                    assert_eq!(retain.publish.payload.as_ref(), topic.as_bytes(), "payload belongs to its topic");
                    topic.to_string()
                })
                .collect();
            found.sort();
            found
        }

        const TOPICS: &[&str] = &[
            "classhub/v1",
            "classhub/v1/r1/display",
            "classhub/v1/r1/clicker/d1/ack",
            "classhub/v1/r2/display",
            "classhub/v2/r1/display",
            "other",
            "a//b",
            "/lead",
            "$SYS/broker",
        ];

        #[tokio::test]
        async fn exact_filters_find_only_their_topic() {
            let store = store(TOPICS).await;
            assert_eq!(matching(&store, "classhub/v1/r1/display").await, ["classhub/v1/r1/display"]);
            assert_eq!(matching(&store, "classhub/v1").await, ["classhub/v1"]);
            assert_eq!(matching(&store, "a//b").await, ["a//b"]);
            assert_eq!(matching(&store, "/lead").await, ["/lead"]);
            assert!(matching(&store, "classhub/v1/r1").await.is_empty());
            assert!(matching(&store, "classhub").await.is_empty());
        }

        #[tokio::test]
        async fn multi_level_wildcard_includes_the_parent_level() {
            let store = store(TOPICS).await;
            assert_eq!(
                matching(&store, "classhub/v1/#").await,
                ["classhub/v1", "classhub/v1/r1/clicker/d1/ack", "classhub/v1/r1/display", "classhub/v1/r2/display"]
            );
            assert_eq!(
                matching(&store, "classhub/v1/r1/#").await,
                ["classhub/v1/r1/clicker/d1/ack", "classhub/v1/r1/display"]
            );
            assert_eq!(matching(&store, "other/#").await, ["other"]);
            assert!(matching(&store, "nothing/#").await.is_empty());
        }

        #[tokio::test]
        async fn single_level_wildcard_matches_exactly_one_level() {
            let store = store(TOPICS).await;
            assert_eq!(
                matching(&store, "classhub/v1/+/display").await,
                ["classhub/v1/r1/display", "classhub/v1/r2/display"]
            );
            assert_eq!(
                matching(&store, "classhub/+/r1/display").await,
                ["classhub/v1/r1/display", "classhub/v2/r1/display"]
            );
            assert_eq!(matching(&store, "classhub/+").await, ["classhub/v1"]);
            assert_eq!(matching(&store, "+").await, ["other"]);
            assert_eq!(matching(&store, "a/+/b").await, ["a//b"]);
            assert_eq!(matching(&store, "+/lead").await, ["/lead"]);
            assert!(matching(&store, "classhub/v1/+").await.is_empty());
            assert_eq!(matching(&store, "+/+/+/clicker/+/ack").await, ["classhub/v1/r1/clicker/d1/ack"]);
            assert_eq!(
                matching(&store, "+/v1/#").await,
                ["classhub/v1", "classhub/v1/r1/clicker/d1/ack", "classhub/v1/r1/display", "classhub/v1/r2/display"]
            );
        }

        #[tokio::test]
        async fn wildcards_at_the_root_skip_dollar_topics() {
            let store = store(TOPICS).await;
            let everything = matching(&store, "#").await;
            assert_eq!(everything.len(), TOPICS.len() - 1);
            assert!(!everything.iter().any(|t| t.starts_with('$')));
            assert!(!matching(&store, "+/broker").await.contains(&"$SYS/broker".to_string()));
            assert_eq!(matching(&store, "$SYS/#").await, ["$SYS/broker"]);
            assert_eq!(matching(&store, "$SYS/+").await, ["$SYS/broker"]);
        }

        #[tokio::test]
        async fn a_new_retained_message_replaces_the_old_and_an_empty_one_deletes() {
            let store = store(&["classhub/v1/r1/display"]).await;
            let topic: TopicName = "classhub/v1/r1/display".into();
            store.set(&topic, retained("classhub/v1/r1/display", "second"), None).await.expect("valid topic");
            let found = store.get(&"classhub/v1/#".into()).await.expect("valid filter");
            assert_eq!(found.len(), 1);
            assert_eq!(found[0].1.publish.payload.as_ref(), b"second");
            assert_eq!(store.count().await, 1);

            store.set(&topic, retained("classhub/v1/r1/display", ""), None).await.expect("valid topic");
            assert!(store.get(&"classhub/v1/#".into()).await.expect("valid filter").is_empty());
            assert_eq!(store.count().await, 0);
            // Deleting what is not there is fine, and leaves the count alone.
            store.set(&topic, retained("classhub/v1/r1/display", ""), None).await.expect("valid topic");
            assert_eq!(store.count().await, 0);
        }

        #[tokio::test]
        async fn the_listener_default_expiry_does_not_expire_retained_messages() {
            let store = RetainedMessages::default();
            let topic: TopicName = "classhub/v1/r1/display".into();
            // What rmqtt passes for an MQTT 3.1.1 publish is the listener default; zero would expire at once.
            store.set(&topic, retained(&topic, "shown"), Some(Duration::ZERO)).await.expect("valid topic");
            assert_eq!(matching_payloads(&store, "classhub/v1/r1/display").await, ["shown"]);
        }

        #[tokio::test]
        async fn a_message_expiry_interval_of_its_own_is_kept() {
            let store = RetainedMessages::default();
            let topic: TopicName = "classhub/v1/r1/display".into();
            let mut message = retained(&topic, "for a while");
            message.publish.properties = Some(PublishProperties {
                message_expiry_interval: NonZeroU32::new(3600),
                ..PublishProperties::default()
            });
            store.set(&topic, message, None).await.expect("valid topic");
            let (items, more) = store.get_all_paginated(0, 10).await.expect("listing works");
            assert!(!more);
            let remaining = items[0].2.expect("an expiry was kept");
            assert!(remaining > Duration::from_secs(3500) && remaining <= Duration::from_secs(3600));
        }

        async fn matching_payloads(store: &RetainedMessages, filter: &str) -> Vec<String> {
            store
                .get(&filter.into())
                .await
                .expect("valid filter")
                .into_iter()
                .map(|(_, r)| String::from_utf8_lossy(&r.publish.payload).into_owned())
                .collect()
        }
    }

    /// The broker seen from outside, through real MQTT clients on 127.0.0.1 port 0: retained
    /// messages, QoS 1 delivery, several brokers in one process, the drop counter and a clean stop.
    mod over_mqtt {
        use std::collections::VecDeque;
        use std::net::{Ipv4Addr, SocketAddr};
        use std::time::Duration;

        use super::super::{BrokerError, BrokerTuning, EmbeddedBroker};
        use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, Publish, QoS};

        /// How long any single step may take before the test fails.
        const STEP: Duration = Duration::from_secs(5);

        const DISPLAY: &str = "classhub/v1/r1/display";

        fn any_port() -> SocketAddr {
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
        }

        fn start_broker() -> EmbeddedBroker {
            EmbeddedBroker::start(any_port(), BrokerTuning::default()).expect("the broker starts")
        }

        /// A rumqttc client driven step by step; publishes that arrive while it waits for something else are
        /// kept for [`TestClient::next_publish`].
        struct TestClient {
            client: AsyncClient,
            events: EventLoop,
            received: VecDeque<Publish>,
        }

        impl TestClient {
            async fn connect(broker: &EmbeddedBroker, id: &str) -> TestClient {
                let addr = broker.local_addr();
                let options = MqttOptions::new(id, addr.ip().to_string(), addr.port());
                let (client, events) = AsyncClient::new(options, 64);
                let mut this = TestClient { client, events, received: VecDeque::new() };
                this.until(|p| matches!(p, Packet::ConnAck(_))).await;
                this
            }

            /// The next packet from the broker.
            async fn next_packet(&mut self) -> Packet {
                let wait = async {
                    loop {
                        if let Event::Incoming(packet) = self.events.poll().await.expect("the connection stays up") {
                            return packet;
                        }
                    }
                };
                tokio::time::timeout(STEP, wait).await.expect("the broker sends something in time")
            }

            /// Reads packets until `wanted` accepts one.
            async fn until(&mut self, wanted: fn(&Packet) -> bool) {
                loop {
                    match self.next_packet().await {
                        packet if wanted(&packet) => return,
                        Packet::Publish(p) => self.received.push_back(p),
                        _ => {}
                    }
                }
            }

            async fn subscribe(&mut self, filter: &str) {
                self.client.subscribe(filter, QoS::AtLeastOnce).await.expect("request queued");
                self.until(|p| matches!(p, Packet::SubAck(_))).await;
            }

            /// Publishes at QoS 1 and waits for the broker's PUBACK.
            async fn publish(&mut self, topic: &str, payload: &str, retain: bool) {
                self.client
                    .publish(topic, QoS::AtLeastOnce, retain, payload.as_bytes().to_vec())
                    .await
                    .expect("request queued");
                self.until(|p| matches!(p, Packet::PubAck(_))).await;
            }

            async fn next_publish(&mut self) -> Publish {
                if let Some(p) = self.received.pop_front() {
                    return p;
                }
                loop {
                    if let Packet::Publish(p) = self.next_packet().await {
                        return p;
                    }
                }
            }
        }

        fn text(p: &Publish) -> &str {
            std::str::from_utf8(&p.payload).expect("utf-8 payload")
        }

        #[tokio::test]
        async fn a_retained_message_reaches_later_subscribers_until_an_empty_one_clears_it() {
            let broker = start_broker();
            let mut teacher = TestClient::connect(&broker, "teacher").await;
            teacher.publish(DISPLAY, "question 1", true).await;

            let mut projector = TestClient::connect(&broker, "projector").await;
            projector.subscribe(DISPLAY).await;
            let shown = projector.next_publish().await;
            assert_eq!((shown.topic.as_str(), text(&shown), shown.retain), (DISPLAY, "question 1", true));

            let mut dashboard = TestClient::connect(&broker, "dashboard").await;
            dashboard.subscribe("classhub/v1/#").await;
            let shown = dashboard.next_publish().await;
            assert_eq!((shown.topic.as_str(), text(&shown), shown.retain), (DISPLAY, "question 1", true));

            teacher.publish(DISPLAY, "", true).await;
            // A retained marker one level below the display topic: rmqtt sends the retained messages a
            // filter finds parents first, so a display message still retained would arrive before the
            // marker. (Were that order ever to change, this check could only pass wrongly, never fail.)
            let marker = format!("{DISPLAY}/marker");
            teacher.publish(&marker, "marker", true).await;
            let mut latecomer = TestClient::connect(&broker, "latecomer").await;
            latecomer.subscribe("classhub/v1/#").await;
            let first = latecomer.next_publish().await;
            assert_eq!((first.topic.as_str(), text(&first)), (marker.as_str(), "marker"));

            broker.shutdown();
        }

        #[tokio::test]
        async fn a_qos1_publish_reaches_a_subscriber() {
            let broker = start_broker();
            let mut hub = TestClient::connect(&broker, "hub").await;
            hub.subscribe("classhub/v1/+/clicker/+/answer").await;

            let mut clicker = TestClient::connect(&broker, "clicker-d1").await;
            clicker.publish("classhub/v1/r1/clicker/d1/answer", r#"{"seq":1,"choice":"B"}"#, false).await;

            let answer = hub.next_publish().await;
            assert_eq!(answer.topic, "classhub/v1/r1/clicker/d1/answer");
            assert_eq!(text(&answer), r#"{"seq":1,"choice":"B"}"#);
            assert_eq!(answer.qos, QoS::AtLeastOnce);
            assert!(!answer.retain);
            assert_eq!(broker.dropped_messages(), 0);
            broker.shutdown();
        }

        #[tokio::test]
        async fn two_brokers_run_side_by_side_and_keep_their_clients_apart() {
            let a = start_broker();
            let b = start_broker();
            assert_ne!(a.local_addr().port(), b.local_addr().port());

            let mut listener_b = TestClient::connect(&b, "listener").await;
            listener_b.subscribe("classhub/v1/#").await;
            let mut listener_a = TestClient::connect(&a, "listener").await;
            listener_a.subscribe("classhub/v1/#").await;

            let mut clicker_a = TestClient::connect(&a, "clicker").await;
            clicker_a.publish("classhub/v1/r1/clicker/d1/answer", "from a", false).await;
            let mut clicker_b = TestClient::connect(&b, "clicker").await;
            clicker_b.publish("classhub/v1/r1/clicker/d1/answer", "from b", false).await;

            assert_eq!(text(&listener_a.next_publish().await), "from a");
            assert_eq!(text(&listener_b.next_publish().await), "from b");

            // A port a running broker holds cannot be taken by another.
            match EmbeddedBroker::start(a.local_addr(), BrokerTuning::default()) {
                Err(BrokerError::Bind { source, .. }) => assert_eq!(source.kind(), std::io::ErrorKind::AddrInUse),
                other => panic!("expected the port to be in use, got {other:?}"),
            }
            a.shutdown();
            b.shutdown();
        }

        #[tokio::test]
        async fn a_full_client_queue_is_counted_as_dropped_messages() {
            let sixteen = std::num::NonZeroU16::new(16).expect("not zero");
            let tuning = BrokerTuning { max_mqueue_len: 1, max_inflight: sixteen, ..BrokerTuning::default() };
            let broker = EmbeddedBroker::start(any_port(), tuning).expect("the broker starts");
            // Subscribes, then stops reading: rmqtt sends 16 messages unacknowledged, queues one more and
            // drops the rest.
            let mut stalled = TestClient::connect(&broker, "stalled").await;
            stalled.subscribe("classhub/v1/#").await;
            let mut clicker = TestClient::connect(&broker, "clicker").await;
            for seq in 0..40 {
                clicker.publish("classhub/v1/r1/clicker/d1/answer", &seq.to_string(), false).await;
            }
            let counted = async {
                while broker.dropped_messages() == 0 {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            };
            tokio::time::timeout(STEP, counted).await.expect("drops are counted");
            drop(stalled);
            broker.shutdown();
        }

        #[tokio::test]
        async fn shutdown_closes_connections_ends_the_thread_and_frees_the_port() {
            let broker = start_broker();
            let addr = broker.local_addr();
            let mut client = TestClient::connect(&broker, "client").await;
            client.subscribe("classhub/v1/#").await;

            tokio::time::timeout(STEP, tokio::task::spawn_blocking(move || broker.shutdown()))
                .await
                .expect("shutdown returns in time (it joins the broker thread)")
                .expect("shutdown does not panic");

            let closed = async {
                loop {
                    if client.events.poll().await.is_err() {
                        return;
                    }
                }
            };
            tokio::time::timeout(STEP, closed).await.expect("the client sees its connection closed");
            assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "nothing listens on {addr} any more");

            // The same address again, despite the closed connection's TIME_WAIT; then dropping stops it too.
            let again = EmbeddedBroker::start(addr, BrokerTuning::default()).expect("the port is free again");
            assert_eq!(again.local_addr(), addr);
            drop(again);
            let third = EmbeddedBroker::start(addr, BrokerTuning::default()).expect("drop frees the port too");
            third.shutdown();
        }
    }
}
