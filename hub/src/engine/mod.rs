//! The engine: the one task that owns the classroom core. Clicker messages arrive in batches from
//! MQTT, teacher actions as commands from the web; every change is committed before it is
//! acknowledged, counted, or shown.
//!
//! The path of one click: parse → authenticate (device, MAC, room, sequence) → the core judges →
//! the store commits (one transaction for the whole batch) → ack → live tally and display.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use firmware::protocol::{
    self, Ack, AckStatus, Authenticated, ClickerTopic, DeviceId, DeviceKey, Presence, RejectReason, RoomCode, Seq, mac,
    topics,
};
use rumqttc::{AsyncClient, QoS};
use tokio::sync::{mpsc, watch};

use crate::classroom::{Classroom, Live, LivePairing, Verdict};
use crate::fleet::pairing::Pairings;
use crate::fleet::rollout::Rollout;
use crate::ingest::{self, From, Inbound, Refused};
use crate::metrics::Metrics;
use crate::store::{self, Device, DeviceUpdate, Record, Store, StoreError};

mod handle;
mod lesson;
mod pair;
mod rollouts;

pub use handle::{Command, CommandError, EngineHandle, NewQuestion};
pub use pair::open_pairing_window;

/// One message as it came off the broker.
#[derive(Debug)]
pub struct Raw {
    /// Its topic.
    pub topic: String,
    /// Its payload.
    pub payload: bytes::Bytes,
    /// When the hub received it.
    pub at: Instant,
}

/// What the engine knows of a registered clicker.
#[derive(Debug, Clone)]
struct Known {
    key: DeviceKey,
    room: RoomCode,
    newest: Option<Seq>,
}

/// Logs a kind of bad input at most once a second, with how many were not logged.
#[derive(Debug, Default)]
struct QuietLog {
    last: HashMap<&'static str, (Instant, u64)>,
}

impl QuietLog {
    fn warn(&mut self, what: &'static str, detail: impl std::fmt::Display) {
        let now = Instant::now();
        let entry = self.last.entry(what).or_insert((now - Duration::from_secs(2), 0));
        if now.duration_since(entry.0) >= Duration::from_secs(1) {
            tracing::warn!(suppressed = entry.1, "{what}: {detail}");
            *entry = (now, 0);
        } else {
            entry.1 += 1;
        }
    }
}

/// The engine's state; [`Engine::run`] is its loop.
pub struct Engine {
    rooms: ingest::Rooms,
    store: Store,
    mqtt: AsyncClient,
    metrics: Arc<Metrics>,
    classroom: Classroom,
    devices: HashMap<DeviceId, Known>,
    live: watch::Sender<Arc<BTreeMap<RoomCode, Live>>>,
    log: QuietLog,
    online: HashSet<DeviceId>,
    last_reload: Option<Instant>,
    limiter: ingest::limit::RateLimiter,
    refusals: ingest::limit::RateLimiter,
    checkin_window_ms: i64,
    pairing: Pairings,
    last_pairing_sync: Option<Instant>,
    rollouts: BTreeMap<RoomCode, Rollout>,
    /// The newest firmware report's sequence number per clicker.
    fw_seq: HashMap<DeviceId, Seq>,
    /// Judged messages for the next transaction.
    staged: Staged,
    /// (device, sequence number) of every message staged or being committed.
    pending: HashSet<(DeviceId, Seq)>,
    /// Whether a transaction is under way (its outcome comes back on `committed`).
    committing: bool,
    committed_tx: mpsc::Sender<Committed>,
    committed: Option<mpsc::Receiver<Committed>>,
}

/// An ack to publish once the batch it depends on has committed.
struct PendingAck {
    room: RoomCode,
    device: DeviceId,
    ack: Ack,
    received: Instant,
}

/// Messages judged and waiting for their transaction.
#[derive(Default)]
struct Staged {
    records: Vec<(Record, RoomCode, Instant)>,
    updates: Vec<DeviceUpdate>,
}

impl Staged {
    fn is_empty(&self) -> bool {
        self.records.is_empty() && self.updates.is_empty()
    }
}

/// A transaction's outcome, sent back by its task: the batch and, per record, whether it was new.
type Committed = (Staged, Result<Vec<bool>, StoreError>);

/// Sends a transaction's outcome to the engine once: the result, or a failure if the task ends
/// without one (a panic), so its messages go unacknowledged and are retried.
struct ReportOnDrop {
    staged: Option<Staged>,
    done: mpsc::Sender<Committed>,
}

impl ReportOnDrop {
    fn send(&mut self, result: Result<Vec<bool>, StoreError>) {
        if let Some(staged) = self.staged.take() {
            // Cannot fail while the engine runs: it holds the receiver and has one transaction out.
            let _ = self.done.try_send((staged, result));
        }
    }
}

impl Drop for ReportOnDrop {
    fn drop(&mut self) {
        self.send(Err(StoreError::Corrupt("the commit task ended without an outcome".into())));
    }
}

/// The largest batch committed in one transaction.
const MAX_BATCH: usize = 1024;

impl Engine {
    /// Sets the check-in window given to sessions started from now on.
    pub fn set_checkin_window(&mut self, window_ms: i64) {
        self.checkin_window_ms = window_ms;
    }

    /// Loads devices and running sessions from the store.
    pub async fn load(
        store: Store,
        mqtt: AsyncClient,
        metrics: Arc<Metrics>,
        rooms: ingest::Rooms,
    ) -> Result<(Engine, EngineHandle, mpsc::Receiver<Command>), StoreError> {
        let mut classroom = Classroom::new();
        let mut devices = HashMap::new();
        for d in store.devices().await? {
            rooms.add(&d.room);
            classroom.add_device(&d.room, d.id.clone());
            devices.insert(d.id, Known { key: d.key, room: d.room, newest: d.newest_seq });
        }
        for (room, session, answers) in store.running_sessions().await? {
            let qid = session.question.as_ref().map(|q| q.id);
            // Cannot fail: a classroom rebuilt from the store has one running session per room.
            let _ = classroom.start_session(&room, session);
            if let Some(q) = qid {
                for (device, choices) in answers {
                    classroom.record_answer(&room, &device, q, choices);
                }
            }
        }
        let board: BTreeMap<RoomCode, Live> = classroom.rooms().map(|r| (r.clone(), classroom.live(r))).collect();
        let (live_tx, live_rx) = watch::channel(Arc::new(board));
        let (cmd_tx, cmd_rx) = mpsc::channel(64);
        let (committed_tx, committed_rx) = mpsc::channel(1);
        let engine = Engine {
            rooms,
            store,
            mqtt,
            metrics,
            classroom,
            devices,
            live: live_tx,
            log: QuietLog::default(),
            online: HashSet::new(),
            last_reload: None,
            limiter: ingest::limit::RateLimiter::default(),
            refusals: ingest::limit::RateLimiter::default(),
            checkin_window_ms: crate::config::ClassroomSettings::default().checkin_window_ms(),
            pairing: Pairings::default(),
            last_pairing_sync: None,
            rollouts: BTreeMap::new(),
            fw_seq: HashMap::new(),
            staged: Staged::default(),
            pending: HashSet::new(),
            committing: false,
            committed_tx,
            committed: Some(committed_rx),
        };
        Ok((engine, EngineHandle { commands: cmd_tx, live: live_rx }, cmd_rx))
    }

    /// Publishes every room's retained question and display state, and the live board.
    pub async fn announce_all(&mut self) {
        let rooms: BTreeSet<RoomCode> = self.classroom.rooms().cloned().collect();
        for room in &rooms {
            self.announce(room).await;
        }
        self.refresh_live(&rooms);
    }

    /// Runs until `inbound` closes (the hub is stopping and MQTT in has stopped), finishing what it
    /// holds: every message judged is committed and acked. Commands sent after that get `Stopped`.
    ///
    /// One transaction is under way at a time, in a task of its own; while it waits for the disk,
    /// the next messages are judged and staged, and go in the next transaction as soon as it ends.
    pub async fn run(mut self, mut inbound: mpsc::Receiver<Raw>, mut commands: mpsc::Receiver<Command>) {
        self.announce_all().await;
        // Pairing windows: those a CLI opened in another process, and those whose time is up.
        let mut pairing_tick = tokio::time::interval(Duration::from_secs(1));
        // Cannot fail: `run` consumes the engine, so the receiver is still there.
        let mut committed = self.committed.take().expect("run once");
        let mut open = true;
        loop {
            if !open && !self.committing && self.staged.is_empty() {
                return;
            }
            let deadline = self.classroom.next_deadline();
            let timer = async {
                match deadline {
                    Some(at) => {
                        let wait = (at as i64 - store::now_ms()).max(0) as u64;
                        tokio::time::sleep(Duration::from_millis(wait)).await
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                // While a transaction is out and a full batch waits for the next, stop taking
                // messages: a slow disk holds the broker back instead of filling memory.
                first = inbound.recv(), if open && !(self.committing && self.staged.records.len() >= MAX_BATCH) => {
                    let Some(first) = first else {
                        open = false;
                        continue;
                    };
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match inbound.try_recv() {
                            Ok(raw) => batch.push(raw),
                            Err(_) => break,
                        }
                    }
                    self.judge_batch(batch).await;
                    self.start_commit();
                }
                Some((staged, result)) = committed.recv() => {
                    self.committing = false;
                    self.finish_commit(staged, result).await;
                    self.start_commit();
                }
                Some(cmd) = commands.recv() => self.handle_command(cmd).await,
                () = timer => self.close_due().await,
                _ = pairing_tick.tick() => {
                    self.sync_pairing().await;
                    self.sync_rollouts().await;
                }
            }
        }
    }

    fn signed_ack(&self, device: &DeviceId, seq: Seq, status: AckStatus, reason: Option<RejectReason>) -> Ack {
        let mut ack = Ack { seq, status, reason, mac: None };
        if let Some(known) = self.devices.get(device) {
            mac::sign(&known.key, device, &mut ack);
        }
        ack
    }

    async fn publish_ack(&self, p: &PendingAck) {
        let topic = topics::clicker(&p.room, &p.device, ClickerTopic::Ack);
        // Cannot fail: an ack is far below the payload limit.
        let payload = protocol::encode(&p.ack).map(|b| b.to_vec()).unwrap_or_default();
        if self.mqtt.publish(topic.as_str(), QoS::AtLeastOnce, false, payload).await.is_err() {
            tracing::warn!("MQTT client closed; ack for {} not sent", p.device);
        }
        self.metrics.observe_ack(p.received.elapsed());
    }

    /// Authenticates a message that wants an ack. On refusal returns the ack to send.
    async fn authenticate<M: Authenticated + StoredAs>(
        &mut self,
        from: &From,
        msg: &M,
        in_batch: bool,
    ) -> Result<(), Ack> {
        let seq = msg.seq();
        if !self.devices.contains_key(&from.device) {
            self.reload_devices().await;
        }
        let Some(known) = self.devices.get(&from.device) else {
            self.log.warn("unknown device", &from.device);
            return Err(Ack { seq, status: AckStatus::Rejected, reason: Some(RejectReason::UnknownDevice), mac: None });
        };
        let refusal = if mac::verify(&known.key, &from.device, msg).is_err() {
            Some((RejectReason::BadMac, "bad MAC"))
        } else if known.room != from.room {
            Some((RejectReason::WrongRoom, "wrong room"))
        } else {
            None
        };
        let newest = known.newest;
        if let Some((reason, what)) = refusal {
            self.log.warn(what, format_args!("{} in {}", from.device, from.room));
            return Err(self.signed_ack(&from.device, seq, AckStatus::Rejected, Some(reason)));
        }
        if in_batch || newest.is_some_and(|n| seq <= n) {
            let stored = in_batch || self.store.holds(&from.device, seq, &msg.stored_as()).await.unwrap_or(false);
            if stored {
                return Err(self.signed_ack(&from.device, seq, AckStatus::Duplicate, None));
            }
            self.log.warn("stale sequence number", format_args!("{} seq {seq}", from.device));
            return Err(self.signed_ack(&from.device, seq, AckStatus::Rejected, Some(RejectReason::StaleSeq)));
        }
        Ok(())
    }

    /// Picks up clickers registered in the store by `classhub device add` while the hub runs; at
    /// most once a second, so a flood from unknown devices costs one query a second.
    async fn reload_devices(&mut self) {
        if self.last_reload.is_some_and(|t| t.elapsed() < Duration::from_secs(1)) {
            return;
        }
        self.last_reload = Some(Instant::now());
        let Ok(devices) = self.store.devices().await else { return };
        for d in devices {
            if !self.devices.contains_key(&d.id) {
                self.learn_device(d).await;
            }
        }
    }

    /// Takes a stored clicker into the classroom, subscribing to its room if that is new.
    async fn learn_device(&mut self, d: Device) {
        if self.rooms.add(&d.room) {
            for filter in ingest::subscriptions(&d.room) {
                let _ = self.mqtt.subscribe(filter, QoS::AtLeastOnce).await;
            }
        }
        self.classroom.add_device(&d.room, d.id.clone());
        let room = d.room.clone();
        self.devices.insert(d.id, Known { key: d.key, room: d.room, newest: d.newest_seq });
        self.refresh_live(&BTreeSet::from([room]));
    }

    /// Parses, authenticates and judges a batch: refusals are acked at once, the rest staged for the
    /// next transaction.
    async fn judge_batch(&mut self, batch: Vec<Raw>) {
        let oldest_ms = batch.iter().map(|r| r.at.elapsed().as_secs_f64() * 1e3).fold(0.0, f64::max);
        tracing::debug!(len = batch.len(), oldest_ms, "batch in");
        let mut records: Vec<(Record, RoomCode, Instant)> = Vec::new();
        let mut now_acks: Vec<PendingAck> = Vec::new();
        let mut updates: Vec<DeviceUpdate> = Vec::new();
        let at_ms = store::now_ms();
        for raw in batch {
            if let Some(msg) = ingest::parse_pair(&raw.topic, &raw.payload) {
                self.on_pair(msg).await;
                continue;
            }
            let (from, body) = match ingest::parse(&raw.topic, &raw.payload) {
                Ok(parsed) => parsed,
                Err(Refused::Ignore) => continue,
                Err(Refused::Reject(from, reason)) => {
                    self.metrics.reject(reason);
                    self.log.warn("unreadable message", format_args!("{} from {}", reason.as_str(), from.device));
                    // Without a readable payload there is no sequence number to acknowledge.
                    continue;
                }
            };
            let seq = match &body {
                Inbound::Status(st) => {
                    updates.extend(self.on_status(&from, st.state));
                    continue;
                }
                Inbound::Hello(h) => {
                    updates.extend(self.on_hello(&from, h));
                    continue;
                }
                Inbound::FwProgress(p) => {
                    self.on_fw_progress(&from, p).await;
                    continue;
                }
                Inbound::Answer(a) => a.seq,
                Inbound::CheckIn(c) => c.seq,
            };
            let duplicate_in_batch = self.pending.contains(&(from.device.clone(), seq));
            let (auth, record) = match body {
                Inbound::Answer(a) => (self.authenticate(&from, &a, duplicate_in_batch).await, Some(a)),
                Inbound::CheckIn(c) => (self.authenticate(&from, &c, duplicate_in_batch).await, None),
                Inbound::Status(_) | Inbound::Hello(_) | Inbound::FwProgress(_) => continue,
            };
            if let Err(ack) = auth {
                // Refusals are acked within a budget per device id: a flood of forged messages is
                // counted, not answered one by one.
                if !self.refusals.allow(&from.device, raw.at) {
                    self.metrics.reject(ack.reason.unwrap_or(RejectReason::RateLimited));
                    continue;
                }
                match ack.status {
                    AckStatus::Rejected => self.metrics.reject(ack.reason.unwrap_or(RejectReason::Malformed)),
                    AckStatus::Duplicate => {
                        self.metrics.duplicates.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    _ => {}
                }
                if duplicate_in_batch && ack.status == AckStatus::Duplicate {
                    // A copy of a message staged or being committed: the original's ack follows its
                    // commit. Acking the copy now could promise what a failing commit does not keep.
                    continue;
                }
                now_acks.push(PendingAck { room: from.room, device: from.device, ack, received: raw.at });
                continue;
            }
            // Only authenticated messages spend a device's budget, so nobody can silence a clicker
            // by sending in its name.
            if !self.limiter.allow(&from.device, raw.at) {
                self.metrics.reject(RejectReason::RateLimited);
                self.log.warn("rate limited", &from.device);
                let ack = self.signed_ack(&from.device, seq, AckStatus::Rejected, Some(RejectReason::RateLimited));
                now_acks.push(PendingAck { room: from.room, device: from.device, ack, received: raw.at });
                continue;
            }
            let entry = match record {
                Some(a) => match self.classroom.judge_answer(&from.room, a.q, a.answer) {
                    Verdict::Accept => {
                        Record::Press { device: from.device.clone(), seq, question: a.q, answer: a.answer, at_ms }
                    }
                    Verdict::Closed => {
                        self.metrics.closed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let ack = self.signed_ack(&from.device, seq, AckStatus::Closed, None);
                        now_acks.push(PendingAck { room: from.room, device: from.device, ack, received: raw.at });
                        continue;
                    }
                    Verdict::Invalid => {
                        self.metrics.reject(RejectReason::InvalidAnswer);
                        let ack =
                            self.signed_ack(&from.device, seq, AckStatus::Rejected, Some(RejectReason::InvalidAnswer));
                        now_acks.push(PendingAck { room: from.room, device: from.device, ack, received: raw.at });
                        continue;
                    }
                },
                None => {
                    let session = self.classroom.session(&from.room).map(|s| s.id);
                    Record::CheckIn { device: from.device.clone(), seq, session, at_ms }
                }
            };
            self.pending.insert((from.device.clone(), seq));
            records.push((entry, from.room, raw.at));
        }
        for p in &now_acks {
            self.publish_ack(p).await;
        }
        self.staged.records.extend(records);
        self.staged.updates.extend(updates);
    }

    /// Starts the next transaction in a task of its own, unless one is under way or nothing waits.
    fn start_commit(&mut self) {
        if self.committing || self.staged.is_empty() {
            return;
        }
        let staged = std::mem::take(&mut self.staged);
        let rows: Vec<Record> = staged.records.iter().map(|(r, _, _)| r.clone()).collect();
        let updates = staged.updates.clone();
        let store = self.store.clone();
        // Reports the outcome even if the task panics, so the engine never waits forever.
        let mut report = ReportOnDrop { staged: Some(staged), done: self.committed_tx.clone() };
        self.committing = true;
        tokio::spawn(async move {
            let started = Instant::now();
            let result = store.commit(&rows, &updates).await;
            tracing::debug!(
                messages = rows.len(),
                commit_ms = started.elapsed().as_secs_f64() * 1e3,
                "batch committed"
            );
            report.send(result);
        });
    }

    /// A transaction ended: count what is new, ack everything, show it.
    async fn finish_commit(&mut self, staged: Staged, result: Result<Vec<bool>, StoreError>) {
        let Staged { records, .. } = staged;
        let mut after_commit = Vec::with_capacity(records.len());
        for (record, _, _) in &records {
            let (d, s) = record.key();
            self.pending.remove(&(d.clone(), s));
        }
        let fresh = match result {
            Ok(fresh) => fresh,
            Err(e) => {
                // Nothing is acknowledged: the clickers retry, and nothing was counted.
                tracing::error!("commit of {} messages failed: {e}", records.len());
                return;
            }
        };
        self.metrics.batches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut touched = BTreeSet::new();
        for ((record, room, received), fresh) in records.into_iter().zip(fresh) {
            let (device, seq) = {
                let (d, s) = record.key();
                (d.clone(), s)
            };
            if let Some(known) = self.devices.get_mut(&device) {
                known.newest = Some(known.newest.map_or(seq, |n| n.max(seq)));
            }
            let status = if fresh {
                match &record {
                    Record::Press { question, answer, .. } => {
                        self.classroom.record_answer(&room, &device, *question, *answer);
                        self.metrics.answers_stored.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    Record::CheckIn { .. } => {
                        self.metrics.checkins_stored.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                AckStatus::Stored
            } else {
                self.metrics.duplicates.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                AckStatus::Duplicate
            };
            let ack = self.signed_ack(&device, seq, status, None);
            after_commit.push(PendingAck { room: room.clone(), device, ack, received });
            touched.insert(room);
        }
        self.refresh_live(&touched);
        let acks_start = Instant::now();
        for p in &after_commit {
            self.publish_ack(p).await;
        }
        tracing::debug!(acks = after_commit.len(), publish_ms = acks_start.elapsed().as_secs_f64() * 1e3, "acks out");
        for room in &touched {
            self.publish_display(room).await;
        }
    }

    fn on_hello(&mut self, from: &From, hello: &firmware::protocol::Hello) -> Option<DeviceUpdate> {
        // A hello is checked by its MAC only and never moves the device's newest sequence number: on
        // a reconnect it takes a number above the answer still in flight, which must stay welcome.
        let known = self.devices.get(&from.device)?;
        if mac::verify(&known.key, &from.device, hello).is_err() || known.room != from.room {
            self.log.warn("hello refused", &from.device);
            return None;
        }
        if let Some(r) = self.rollouts.get_mut(&from.room) {
            r.on_hello(&from.device, &hello.fw, store::now_ms());
        }
        Some(DeviceUpdate::Hello {
            device: from.device.clone(),
            firmware: hello.fw.to_string(),
            battery_mv: hello.battery_mv,
            rssi: hello.rssi,
        })
    }

    fn on_status(&mut self, from: &From, state: Presence) -> Option<DeviceUpdate> {
        if !self.devices.contains_key(&from.device) {
            return None;
        }
        // A retained status and a fresh one may both arrive: count devices, not messages.
        let changed = match state {
            Presence::Online => self.online.insert(from.device.clone()),
            Presence::Offline => self.online.remove(&from.device),
        };
        self.metrics.connected.store(self.online.len() as i64, std::sync::atomic::Ordering::Relaxed);
        changed.then(|| DeviceUpdate::Presence { device: from.device.clone(), online: state == Presence::Online })
    }

    fn refresh_live(&self, rooms: &BTreeSet<RoomCode>) {
        self.live.send_modify(|board| {
            let board = Arc::make_mut(board);
            for room in rooms {
                let mut live = self.classroom.live(room);
                live.pairing = self.pairing.window(room).map(|w| LivePairing {
                    code: w.code.letters().to_string(),
                    until_ms: w.until_ms,
                    paired: w.paired,
                    wrong: w.wrong,
                });
                board.insert(room.clone(), live);
            }
        });
    }
}

/// What a message looks like in the store, to tell a retransmission (same number, same content:
/// `duplicate`) from a reused number (`stale_seq`).
pub trait StoredAs {
    /// The stored form.
    fn stored_as(&self) -> store::Stored;
}

impl StoredAs for firmware::protocol::Answer {
    fn stored_as(&self) -> store::Stored {
        store::Stored::Press { question: self.q, answer: self.answer }
    }
}

impl StoredAs for firmware::protocol::CheckIn {
    fn stored_as(&self) -> store::Stored {
        store::Stored::CheckIn
    }
}
