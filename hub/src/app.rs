//! Build, then run: [`App::build`] binds every listener (MQTT, HTTP) and records the real ports, so
//! port 0 works in tests; [`App::run_until_stopped`] runs until the shutdown future completes, then
//! stops taking messages, lets the engine finish the batch in hand, and closes cleanly.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use firmware::sim::BrokerAddr;
use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::broker::{BrokerTuning, EmbeddedBroker};
use crate::config::Settings;
use crate::engine::{Command, Engine, EngineHandle, Raw};
use crate::ingest;
use crate::metrics::Metrics;
use crate::store::{CheckpointPolicy, Store};
use crate::web::{self, AppState, BrokerInfo};

/// A built hub, listeners bound, not yet running.
pub struct App {
    broker: Option<EmbeddedBroker>,
    mqtt_addr: BrokerAddr,
    http: TcpListener,
    http_addr: SocketAddr,
    store: Store,
    metrics: Arc<Metrics>,
    client: AsyncClient,
    events: rumqttc::EventLoop,
    engine: Engine,
    commands: mpsc::Receiver<Command>,
    handle: EngineHandle,
    connected: Arc<AtomicBool>,
    rooms: ingest::Rooms,
    login_ttl: Duration,
    live_every: Duration,
    first_admin_password: Option<String>,
    tz: jiff::tz::TimeZone,
    retention_days: u32,
    forward: Option<(crate::blend::forward::Forwarder, Duration)>,
    pi: crate::config::PiSettings,
}

/// A socket address as a browser or client should dial it: an unspecified IP becomes loopback.
fn dialable(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() { SocketAddr::from(([127, 0, 0, 1], addr.port())) } else { addr }
}

impl App {
    /// Starts the embedded broker (unless an external one is configured), opens the store, binds
    /// HTTP and loads the engine.
    pub async fn build(settings: &Settings) -> anyhow::Result<App> {
        let (broker, mqtt_addr) = match &settings.mqtt.url {
            Some(url) => (None, BrokerAddr::parse(url).map_err(anyhow::Error::msg)?),
            None => {
                let broker = EmbeddedBroker::start(settings.mqtt.listen, BrokerTuning::default())
                    .with_context(|| format!("starting the embedded MQTT broker on {}", settings.mqtt.listen))?;
                let addr = dialable(broker.local_addr());
                (Some(broker), BrokerAddr { host: addr.ip().to_string(), port: addr.port() })
            }
        };
        let store = Store::open(&settings.data_dir)
            .await
            .with_context(|| format!("opening the store in {}", settings.data_dir.display()))?;
        let tz = jiff::tz::TimeZone::get(&settings.classroom.timezone)
            .with_context(|| format!("time zone {:?}", settings.classroom.timezone))?;
        let first_admin_password = web::session::first_admin(&store).await.context("making the first account")?;
        let http = TcpListener::bind(settings.http.listen)
            .await
            .with_context(|| format!("binding HTTP on {}", settings.http.listen))?;
        let http_addr = dialable(http.local_addr()?);

        let id = format!("classhub-hub-{}-{:08x}", std::process::id(), rand::random::<u32>());
        let mut opts = MqttOptions::new(id, mqtt_addr.host.clone(), mqtt_addr.port);
        opts.set_keep_alive(Duration::from_secs(30));
        opts.set_inflight(1_000);
        opts.set_max_packet_size(64 * 1024, 64 * 1024);
        let (client, events) = AsyncClient::new(opts, 10_000);
        let metrics = Arc::new(Metrics::default());
        let rooms = ingest::Rooms::default();
        let (mut engine, handle, commands) =
            Engine::load(store.clone(), client.clone(), metrics.clone(), rooms.clone()).await?;
        engine.set_checkin_window(settings.classroom.checkin_window_ms());
        Ok(App {
            broker,
            mqtt_addr,
            http,
            http_addr,
            store,
            metrics,
            client,
            events,
            engine,
            commands,
            handle,
            connected: Arc::new(AtomicBool::new(false)),
            login_ttl: Duration::from_secs(settings.http.login_hours.max(1) * 3600),
            live_every: Duration::from_millis(settings.http.live_every_ms.max(50)),
            first_admin_password,
            tz,
            retention_days: settings.privacy.retention_days,
            forward: settings.xapi.forward_url.clone().map(|url| {
                let forwarder = crate::blend::forward::Forwarder {
                    url,
                    credentials: (settings.xapi.forward_key.clone(), settings.xapi.forward_secret.clone()),
                    batch: 50,
                    first_wait: Duration::from_secs(1),
                    max_wait: Duration::from_secs(300),
                };
                (forwarder, Duration::from_millis(settings.xapi.forward_every_ms.max(100)))
            }),
            rooms,
            pi: settings.pi.clone(),
        })
    }

    /// The MQTT broker's address.
    pub fn mqtt(&self) -> &BrokerAddr {
        &self.mqtt_addr
    }

    /// The HTTP address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// `classhub ready http=... mqtt=...`, the line printed once listening.
    pub fn ready_line(&self) -> String {
        format!("classhub ready http=http://{} mqtt={}", self.http_addr, self.mqtt_addr)
    }

    /// On the very first start (no accounts yet): the password of the `admin` account just made,
    /// to be shown once.
    pub fn first_admin_password(&self) -> Option<&str> {
        self.first_admin_password.as_deref()
    }

    /// A handle to the engine, for the demo and tests.
    pub fn engine(&self) -> EngineHandle {
        self.handle.clone()
    }

    /// Runs until `shutdown` completes.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let App {
            broker,
            mqtt_addr,
            http,
            store,
            metrics,
            client,
            mut events,
            engine,
            commands,
            handle,
            connected,
            rooms,
            ..
        } = self;
        let (inbound_tx, inbound_rx) = mpsc::channel::<Raw>(20_000);
        // The stop path takes the sender away, which closes the engine's inbound at once.
        let forward = Arc::new(std::sync::Mutex::new(Some(inbound_tx)));

        // MQTT in: forward clicker messages to the engine until told to stop; keep polling after
        // that, so the engine's last acks still go out, until the client disconnects.
        let mqtt_task = tokio::spawn({
            let (client, connected, forward) = (client.clone(), connected.clone(), forward.clone());
            let rooms = rooms.clone();
            async move {
                loop {
                    match events.poll().await {
                        Ok(Event::Incoming(Packet::ConnAck(_))) => {
                            connected.store(true, Ordering::Relaxed);
                            for filter in ingest::pair_subscriptions() {
                                let _ = client.try_subscribe(filter, QoS::AtLeastOnce);
                            }
                            for room in rooms.all() {
                                for filter in ingest::subscriptions(&room) {
                                    let _ = client.try_subscribe(filter, QoS::AtLeastOnce);
                                }
                            }
                        }
                        Ok(Event::Incoming(Packet::Publish(p))) => {
                            // Cannot fail unless a holder of the lock panicked.
                            let tx = forward.lock().expect("forward lock").clone();
                            if let Some(tx) = tx {
                                let raw = Raw { topic: p.topic, payload: p.payload, at: Instant::now() };
                                let _ = tx.send(raw).await;
                            }
                        }
                        Ok(Event::Outgoing(Outgoing::Disconnect)) => return,
                        Ok(_) => {}
                        Err(e) => {
                            if connected.swap(false, Ordering::Relaxed) {
                                tracing::warn!("MQTT connection to the broker lost: {e}");
                            }
                            if forward.lock().expect("forward lock").is_none() {
                                return;
                            }
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                }
            }
        });

        let engine_task = tokio::spawn(engine.run(inbound_rx, commands));
        let checkpoints = tokio::spawn({
            let store = store.clone();
            async move {
                let policy = CheckpointPolicy::default();
                let mut last_checkpoint = Instant::now();
                let mut every = tokio::time::interval(Duration::from_millis(250));
                loop {
                    every.tick().await;
                    if !policy.due(Instant::now(), store.last_write(), last_checkpoint) {
                        continue;
                    }
                    last_checkpoint = Instant::now();
                    // The quiet moment also turns new answers and check-ins into xAPI statements.
                    if let Err(e) = store.publish_own(5_000).await {
                        tracing::warn!("publishing the hub's own statements: {e}");
                    }
                    if let Err(e) = store.checkpoint().await {
                        tracing::warn!("WAL checkpoint: {e}");
                    }
                }
            }
        });
        let retention = tokio::spawn({
            let (store, days) = (store.clone(), self.retention_days);
            async move {
                if days == 0 {
                    return;
                }
                // Once a day, the first a minute after the start.
                let mut daily = tokio::time::interval_at(
                    tokio::time::Instant::now() + Duration::from_secs(60),
                    Duration::from_secs(24 * 3600),
                );
                loop {
                    daily.tick().await;
                    let now = crate::store::now_ms();
                    match store.purge_before(now - i64::from(days) * 86_400_000, now).await {
                        Ok(p) => tracing::info!(
                            answers = p.answers,
                            check_ins = p.check_ins,
                            statements = p.statements,
                            online_events = p.online_events,
                            "retention: removed what is older than {days} days"
                        ),
                        Err(e) => tracing::warn!("retention: {e}"),
                    }
                }
            }
        });
        let (stopping_tx, stopping_rx) = tokio::sync::watch::channel(false);
        let forwarding = self
            .forward
            .map(|(forwarder, every)| tokio::spawn(forwarder.run(store.clone(), every, stopping_rx.clone())));
        #[cfg(feature = "pi")]
        let hardware =
            crate::fleet::pi::start(&self.pi, handle.clone(), connected.clone(), store.clone(), stopping_rx.clone())
                .context("the Pi's LED, button and card reader")?;
        #[cfg(not(feature = "pi"))]
        if !self.pi.room.is_empty() {
            tracing::warn!(
                "[pi] room is set, but this classhub was built without the `pi` feature: no LED, button or reader"
            );
        }
        let broker_kind = if broker.is_some() { "embedded" } else { "external" };
        let state = AppState {
            engine: handle,
            store: store.clone(),
            metrics: metrics.clone(),
            broker: BrokerInfo { kind: broker_kind, url: mqtt_addr.to_string(), connected },
            started: Instant::now(),
            throttle: Arc::default(),
            login_ttl: self.login_ttl,
            live_every: self.live_every,
            stopping: stopping_rx,
            tz: self.tz.clone(),
        };
        // Live streams never end by themselves: tell them to, or the graceful shutdown would wait for
        // every open teacher page and projector.
        let shutdown = async move {
            shutdown.await;
            let _ = stopping_tx.send(true);
        };
        let server = axum::serve(http, web::app(state)).with_graceful_shutdown(shutdown);
        let served = server.await;
        tracing::info!("stopping: no new messages; finishing what is in hand");
        forward.lock().expect("forward lock").take();
        // The engine ends once MQTT in has stopped and the web's engine handles are gone.
        let _ = tokio::time::timeout(Duration::from_secs(10), engine_task).await;
        let _ = client.disconnect().await;
        let _ = tokio::time::timeout(Duration::from_secs(5), mqtt_task).await;
        #[cfg(feature = "pi")]
        for task in hardware {
            let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
        }
        checkpoints.abort();
        retention.abort();
        if let Some(f) = forwarding {
            let _ = tokio::time::timeout(Duration::from_secs(5), f).await;
        }
        if let Some(broker) = &broker {
            metrics.broker_dropped.store(broker.dropped_messages(), Ordering::Relaxed);
        }
        store.close().await;
        if let Some(broker) = broker {
            broker.shutdown();
        }
        served.context("HTTP server")
    }
}
