//! `classhub bench live`: V viewers hold the room's live stream open while N clickers answer; for
//! each answer, the time from its ack (published right after its commit) until every viewer has an
//! update that counts it. The hub runs as its own process with its embedded broker.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use firmware::State;
use firmware::protocol::{Button, RoomCode};
use firmware::sim::{Class, ClassConfig, Plan};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use super::{peak_rss_mb, percentile, prepare_class, spawn_ready_with};

/// What `classhub bench live --json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct LiveReport {
    /// Open live streams.
    pub viewers: usize,
    /// Clickers answering.
    pub clickers: usize,
    /// Presses spread evenly over this many ms.
    pub spread_ms: u64,
    /// The hub's shortest time between two updates of one stream.
    pub live_every_ms: u64,
    /// Answers acked.
    pub acked: usize,
    /// Answers that some viewer never saw counted.
    pub unseen: usize,
    /// Updates a viewer received (median over the viewers).
    pub updates_per_viewer: usize,
    /// Median time from an answer's ack to the last viewer's update that counts it.
    pub p50_ms: f64,
    /// 99th percentile of the same.
    pub p99_ms: f64,
    /// The slowest.
    pub max_ms: f64,
    /// The hub's peak resident memory (hub and embedded broker).
    pub hub_rss_mb: f64,
}

impl std::fmt::Display for LiveReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "live: {} viewers, {} clickers over {} ms, updates at most every {} ms\n  acked {}  unseen {}  \
             updates/viewer {}  ack→every viewer p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms  hub RSS {:.1} MB",
            self.viewers,
            self.clickers,
            self.spread_ms,
            self.live_every_ms,
            self.acked,
            self.unseen,
            self.updates_per_viewer,
            self.p50_ms,
            self.p99_ms,
            self.max_ms,
            self.hub_rss_mb
        )
    }
}

/// (when, answered) for every update one viewer received.
type Seen = Arc<Mutex<Vec<(Instant, u32)>>>;

/// Logs in through the form; returns the cookie.
async fn log_in(http: &str, name: &str, password: &str) -> anyhow::Result<String> {
    let mut stream = tokio::net::TcpStream::connect(http).await?;
    let body = format!("username={name}&password={password}");
    let req = format!(
        "POST /login HTTP/1.1\r\nHost: {http}\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw);
    text.lines()
        .find_map(|l| l.to_ascii_lowercase().starts_with("set-cookie:").then(|| l[11..].trim().to_owned()))
        .and_then(|c| c.split(';').next().map(str::to_owned))
        .context("the hub gave no login cookie")
}

/// One viewer: the JSON live stream (HTTP/1.0, so the body comes unchunked), each update's
/// `answered` recorded with the time it arrived.
async fn view(http: String, room: RoomCode, cookie: String, seen: Seen) -> anyhow::Result<()> {
    let mut stream = tokio::net::TcpStream::connect(&http).await?;
    let req = format!("GET /api/v1/rooms/{room}/events HTTP/1.0\r\nHost: {http}\r\nCookie: {cookie}\r\n\r\n");
    stream.write_all(req.as_bytes()).await?;
    let mut pending = String::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        let at = Instant::now();
        pending.push_str(&String::from_utf8_lossy(&buf[..n]));
        while let Some(end) = pending.find('\n') {
            let line: String = pending.drain(..=end).collect();
            let Some(json) = line.strip_prefix("data:") else { continue };
            let live: serde_json::Value = serde_json::from_str(json.trim()).unwrap_or_default();
            let answered = live["question"]["answered"].as_u64().unwrap_or(0) as u32;
            seen.lock().expect("seen lock").push((at, answered));
        }
    }
}

/// Runs the live benchmark. `exe` is the `classhub` binary.
pub async fn live(
    exe: &std::path::Path,
    viewers: usize,
    clickers: usize,
    spread_ms: u64,
    live_every_ms: u64,
) -> anyhow::Result<LiveReport> {
    let dir =
        std::env::temp_dir().join(format!("classhub-bench-live-{}-{:08x}", std::process::id(), rand::random::<u32>()));
    let data = dir.join("data");
    let room = RoomCode::parse("bench").map_err(|e| anyhow::anyhow!("{e}"))?;
    let (seed, user, password) = ("bench", "bench", "bench-password-123");
    prepare_class(&data, &room, seed, clickers, Some((user, password))).await?;
    let data_arg = data.to_string_lossy().into_owned();
    let env = [("CLASSHUB_LIVE_EVERY_MS", live_every_ms.to_string())];
    let (hub, mqtt, http) = spawn_ready_with(
        exe,
        &["serve", "--mqtt-listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--data", &data_arg],
        &env,
    )?;
    let cookie = log_in(&http, user, password).await?;

    let seen: Vec<Seen> = (0..viewers).map(|_| Seen::default()).collect();
    let tasks: Vec<_> =
        seen.iter().map(|s| tokio::spawn(view(http.clone(), room.clone(), cookie.clone(), s.clone()))).collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.iter().any(|s| s.lock().expect("seen lock").is_empty()) {
        anyhow::ensure!(Instant::now() < deadline, "not every viewer got its first update");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let class = Class::start(ClassConfig::new(mqtt, room.clone(), seed, clickers));
    class
        .wait_until(|s| s.sees_open_question(), Duration::from_secs(30 + clickers as u64 / 50))
        .await
        .map_err(|e| anyhow::anyhow!("clickers did not all connect: {e}"))?;
    class.play_evenly(&Plan::Everyone(Button::B), spread_ms).await;
    let _ = class.wait_until(|s| s.state == State::Stored, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(live_every_ms + 500)).await; // the last coalesced update
    for t in &tasks {
        t.abort();
    }
    let hub_rss_mb = peak_rss_mb(hub.0.id()).unwrap_or(f64::NAN);
    drop(hub);
    let _ = std::fs::remove_dir_all(&dir);

    let mut acks: Vec<Instant> = class.snapshots().iter().filter_map(|s| s.acked_at).collect();
    acks.sort();
    let per_viewer: Vec<Vec<(Instant, u32)>> = seen.iter().map(|s| s.lock().expect("seen lock").clone()).collect();
    let mut delays = Vec::new();
    let mut unseen = 0;
    for (i, acked_at) in acks.iter().enumerate() {
        let k = i as u32 + 1; // this ack made the count reach at least k
        let last_viewer = per_viewer
            .iter()
            .map(|updates| updates.iter().find(|(_, answered)| *answered >= k).map(|(at, _)| *at))
            .try_fold(None::<Instant>, |latest, at| at.map(|at| Some(latest.map_or(at, |l: Instant| l.max(at)))));
        match last_viewer.flatten() {
            Some(at) => delays.push(at.saturating_duration_since(*acked_at).as_secs_f64() * 1000.0),
            None => unseen += 1,
        }
    }
    delays.sort_by(f64::total_cmp);
    let mut counts: Vec<usize> = per_viewer.iter().map(Vec::len).collect();
    counts.sort_unstable();
    Ok(LiveReport {
        viewers,
        clickers,
        spread_ms,
        live_every_ms,
        acked: acks.len(),
        unseen,
        updates_per_viewer: counts.get(counts.len() / 2).copied().unwrap_or(0),
        p50_ms: percentile(&delays, 0.50),
        p99_ms: percentile(&delays, 0.99),
        max_ms: delays.last().copied().unwrap_or(f64::NAN),
        hub_rss_mb,
    })
}
