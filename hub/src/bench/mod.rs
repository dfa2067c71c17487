//! `classhub bench burst`: the lecture-hall burst. N simulated clickers, each its own MQTT
//! connection, all connected first, press once, at the same instant or spread evenly; measured
//! against the hub (its own process) and, on the same kind of broker, against a bare echo responder
//! that acks without storing. `classhub bench live` (in [`live`]): how soon the live views follow.
//! `classhub bench xapi` (in [`xapi`]): statements stored per second.

pub mod live;
pub mod xapi;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use firmware::State;
use firmware::protocol::{AckStatus, Button, QuestionKind, QuestionSpec, RoomCode};
use firmware::sim::{self, BrokerAddr, Class, ClassConfig, Plan, Snapshot, echo::Echo};
use serde::Serialize;

use crate::store::Store;

/// Which broker the burst runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BenchBroker {
    /// The hub's embedded broker (echo: the same broker alone, `classhub broker`).
    Embedded,
    /// A private Mosquitto on a free loopback port, configured as on a Pi.
    Mosquitto,
    /// Any broker already running.
    External(BrokerAddr),
}

impl std::str::FromStr for BenchBroker {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "embedded" => Ok(BenchBroker::Embedded),
            "mosquitto" => Ok(BenchBroker::Mosquitto),
            url => BrokerAddr::parse(url).map(BenchBroker::External),
        }
    }
}

/// The Mosquitto configuration a Pi deployment uses (also in `docs/operations.md`).
pub fn mosquitto_conf(port: u16) -> String {
    format!(
        "listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\nmax_queued_messages 10000\n\
         max_inflight_messages 0\npersistence false\nlog_type error\n"
    )
}

/// The figures of one phase.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseReport {
    /// Clickers whose press was acked.
    pub acked: usize,
    /// Clickers that sent their answer and had no ack by the end.
    pub lost: usize,
    /// Clickers whose press the simulator failed to make (never sent): a load artefact of the
    /// simulator, not a loss; kept apart so `lost` stays honest.
    pub unsent: usize,
    /// Acks that said `duplicate`.
    pub duplicates: usize,
    /// Acks per second from the first send to the last ack.
    pub throughput_per_s: f64,
    /// Median send-to-ack time.
    pub p50_ms: f64,
    /// 99th percentile send-to-ack time.
    pub p99_ms: f64,
}

/// The whole report, as `--json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct BurstReport {
    /// The broker.
    pub broker: String,
    /// How many clickers.
    pub clickers: usize,
    /// The spread of the presses.
    pub spread_ms: u64,
    /// Against the hub.
    pub hub: PhaseReport,
    /// Against the echo responder.
    pub echo: PhaseReport,
    /// Hub throughput ÷ echo throughput.
    pub ratio: f64,
    /// Hub p99 − echo p99.
    pub added_p99_ms: f64,
    /// The hub process's peak resident memory.
    pub hub_rss_mb: f64,
    /// CPU time the hub process spent from the moment the clickers pressed until the last ack
    /// (with `embedded`, the broker's share included): on a 2-core machine that the clickers share,
    /// this is the time the hub takes from them.
    pub hub_cpu_ms: Option<f64>,
    /// The broker process's peak resident memory (the embedded broker alone, for `embedded`).
    pub broker_rss_mb: Option<f64>,
}

/// A child process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Peak resident memory of a process, in MB (Linux `VmHWM`).
fn peak_rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 =
        status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb / 1024.0)
}

/// CPU time a process's live threads have run so far, in ms (Linux `/proc/PID/task/*/schedstat`,
/// nanoseconds on the CPU).
fn cpu_ms(pid: u32) -> Option<f64> {
    let mut ns = 0.0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat")) else { continue };
        ns += stat.split_whitespace().next().and_then(|n| n.parse::<f64>().ok()).unwrap_or(0.0);
    }
    Some(ns / 1e6)
}

/// The machine's busy and total CPU time so far, in clock ticks (the first line of /proc/stat).
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat.lines().next()?.split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal ...: idle and iowait are the quiet part.
    let total: u64 = fields.iter().take(8).sum();
    let quiet = fields.get(3)? + fields.get(4)?;
    Some((total - quiet, total))
}

/// Waits until a tenth of a second passes with the machine's CPUs at most 10 % busy and the hub
/// process (if any) using under a millisecond of CPU, or `limit`. A hub still writing the last
/// hellos waits mostly on the disk, so the machine alone can look quiet while it is not.
async fn settle(hub: Option<u32>, limit: Duration) {
    let started = Instant::now();
    let sample = || (machine_ticks(), hub.and_then(cpu_ms));
    let mut last = sample();
    while started.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = sample();
        let machine_quiet = match (last.0, now.0) {
            (Some((busy0, total0)), Some((busy1, total1))) => {
                total1 > total0 && (busy1 - busy0) * 10 <= total1 - total0
            }
            _ => true,
        };
        let hub_quiet = match (last.1, now.1) {
            (Some(before), Some(after)) => after - before < 1.0,
            _ => true,
        };
        if machine_quiet && hub_quiet {
            return;
        }
        last = now;
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Runs `classhub ARGS` and reads its ready line: (process, mqtt address).
fn spawn_ready(exe: &Path, args: &[&str]) -> anyhow::Result<(Proc, BrokerAddr)> {
    spawn_ready_with(exe, args, &[]).map(|(p, mqtt, _)| (p, mqtt))
}

/// Runs `classhub ARGS` with extra environment and reads its ready line: (process, mqtt address,
/// http address).
fn spawn_ready_with(exe: &Path, args: &[&str], env: &[(&str, String)]) -> anyhow::Result<(Proc, BrokerAddr, String)> {
    let mut child = Command::new(exe)
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("CLASSHUB_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {}", exe.display()))?;
    let stdout = child.stdout.take().context("piped stdout")?;
    let proc = Proc(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let (mqtt, http) = ready_fields(&line)?;
    Ok((proc, mqtt, http))
}

/// The MQTT and HTTP addresses in a ready line. `classhub broker` announces only its MQTT address
/// (the HTTP one is then empty); a hub both.
fn ready_fields(line: &str) -> anyhow::Result<(BrokerAddr, String)> {
    let field = |name: &str| line.split_whitespace().find_map(|w| w.strip_prefix(name)).map(str::to_owned);
    let mqtt = field("mqtt=").with_context(|| format!("no ready line: {line:?}"))?;
    Ok((BrokerAddr::parse(&mqtt).map_err(anyhow::Error::msg)?, field("http=http://").unwrap_or_default()))
}

fn start_mosquitto(dir: &Path) -> anyhow::Result<(Proc, BrokerAddr)> {
    let port = free_port()?;
    let conf = dir.join("mosquitto.conf");
    std::fs::write(&conf, mosquitto_conf(port))?;
    let child = Command::new("mosquitto")
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting mosquitto (apt-get install mosquitto)")?;
    let proc = Proc(child);
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok((proc, BrokerAddr { host: "127.0.0.1".into(), port }));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("mosquitto did not listen on {port}")
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn phase_report(snaps: &[Snapshot]) -> PhaseReport {
    let mut latencies = Vec::new();
    let (mut first, mut last) = (None::<tokio::time::Instant>, None::<tokio::time::Instant>);
    let (mut acked, mut duplicates) = (0, 0);
    let unsent = snaps.iter().filter(|s| s.stats.sent == 0).count();
    for s in snaps {
        let (Some((_, status)), Some(sent), Some(got)) = (s.last_ack, s.sent_at, s.acked_at) else { continue };
        if !matches!(status, AckStatus::Stored | AckStatus::Duplicate) || got < sent {
            continue;
        }
        acked += 1;
        duplicates += usize::from(status == AckStatus::Duplicate);
        latencies.push(got.duration_since(sent).as_secs_f64() * 1000.0);
        first = Some(first.map_or(sent, |f| f.min(sent)));
        last = Some(last.map_or(got, |l| l.max(got)));
    }
    latencies.sort_by(f64::total_cmp);
    let span = match (first, last) {
        (Some(f), Some(l)) => l.duration_since(f).as_secs_f64(),
        _ => 0.0,
    };
    PhaseReport {
        acked,
        lost: snaps.len() - acked - unsent,
        unsent,
        duplicates,
        throughput_per_s: if span > 0.0 { acked as f64 / span } else { 0.0 },
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
    }
}

/// Connects every clicker, presses, and waits for every ack (or the time limit). With `watch`, also
/// returns the CPU time that process used from the presses to the end.
async fn run_phase(
    broker: &BrokerAddr,
    room: &RoomCode,
    seed: &str,
    n: usize,
    spread_ms: u64,
    watch: Option<u32>,
) -> anyhow::Result<(PhaseReport, Option<f64>)> {
    let mut cfg = ClassConfig::new(broker.clone(), room.clone(), seed, n);
    // A long, clean press, so that a busy machine does not miss it between two samples.
    cfg.finger = sim::Finger { hold_ms: 200, chatter: false };
    let class = Class::start(cfg);
    let connect_limit = Duration::from_secs(30 + n as u64 / 50);
    class
        .wait_until(|s| s.sees_open_question(), connect_limit)
        .await
        .map_err(|e| anyhow::anyhow!("clickers did not all connect and see the question: {e}"))?;
    // Students sit down before the first question: let the connection storm (hellos and statuses
    // still on their way through the broker and the hub) pass before anyone presses.
    settle(watch, Duration::from_secs(10)).await;
    let cpu_before = watch.and_then(cpu_ms);
    class.play_evenly(&Plan::Everyone(Button::B), spread_ms).await;
    let _ = class.wait_until(|s| s.state == State::Stored, Duration::from_secs(30)).await;
    let cpu = match (cpu_before, watch.and_then(cpu_ms)) {
        (Some(before), Some(after)) => Some(after - before),
        _ => None,
    };
    Ok((phase_report(&class.snapshots()), cpu))
}

/// Runs the burst. `exe` is the `classhub` binary (the hub runs as its own process).
pub async fn burst(exe: &Path, clickers: usize, spread_ms: u64, broker: BenchBroker) -> anyhow::Result<BurstReport> {
    let dir: PathBuf =
        std::env::temp_dir().join(format!("classhub-bench-{}-{:08x}", std::process::id(), rand::random::<u32>()));
    std::fs::create_dir_all(&dir)?;
    let seed = "bench";
    let hub_room = RoomCode::parse("bench").map_err(|e| anyhow::anyhow!("{e}"))?;
    let echo_room = RoomCode::parse("bench-echo").map_err(|e| anyhow::anyhow!("{e}"))?;

    let data = dir.join("data");
    let spec = prepare_class(&data, &hub_room, seed, clickers, None).await?;

    let data_arg = data.to_string_lossy().into_owned();
    let (broker_proc, hub_proc, hub_broker, name) = match &broker {
        BenchBroker::Embedded => {
            let (hub, addr) = spawn_ready(
                exe,
                &["serve", "--mqtt-listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--data", &data_arg],
            )?;
            (None, hub, addr, "embedded".to_owned())
        }
        BenchBroker::Mosquitto => {
            let (mosq, addr) = start_mosquitto(&dir)?;
            let url = addr.to_string();
            let (hub, _) =
                spawn_ready(exe, &["serve", "--mqtt-url", &url, "--http", "127.0.0.1:0", "--data", &data_arg])?;
            (Some(mosq), hub, addr, "mosquitto".to_owned())
        }
        BenchBroker::External(addr) => {
            let url = addr.to_string();
            let (hub, _) =
                spawn_ready(exe, &["serve", "--mqtt-url", &url, "--http", "127.0.0.1:0", "--data", &data_arg])?;
            (None, hub, addr.clone(), url)
        }
    };
    let (hub, hub_cpu_ms) = run_phase(&hub_broker, &hub_room, seed, clickers, spread_ms, Some(hub_proc.0.id())).await?;
    let hub_rss_mb = peak_rss_mb(hub_proc.0.id()).unwrap_or(f64::NAN);
    drop(hub_proc);

    // The echo phase: the same clickers, on the same broker (for `embedded`: that broker alone).
    let (echo_broker_proc, echo_broker) = match &broker {
        BenchBroker::Embedded => {
            let (p, a) = spawn_ready(exe, &["broker", "--listen", "127.0.0.1:0"])?;
            (Some(p), a)
        }
        _ => (None, hub_broker.clone()),
    };
    let keys: HashMap<_, _> = (1..=clickers).map(|i| sim::identity(seed, i)).map(|id| (id.device, id.key)).collect();
    let echo_responder = Echo::start(&echo_broker, &echo_room, keys).await.map_err(anyhow::Error::msg)?;
    let question =
        firmware::protocol::QuestionAnnouncement { q: 1, spec, state: firmware::protocol::QuestionState::Open };
    publish_retained(&echo_broker, &firmware::protocol::topics::question(&echo_room), &question).await?;
    let (echo, _) = run_phase(&echo_broker, &echo_room, seed, clickers, spread_ms, None).await?;
    echo_responder.stop().await;
    let broker_rss_mb = match (&broker_proc, &echo_broker_proc) {
        (Some(p), _) | (None, Some(p)) => peak_rss_mb(p.0.id()),
        _ => None,
    };
    drop(echo_broker_proc);
    drop(broker_proc);
    let _ = std::fs::remove_dir_all(&dir);

    Ok(BurstReport {
        broker: name,
        clickers,
        spread_ms,
        ratio: if echo.throughput_per_s > 0.0 { hub.throughput_per_s / echo.throughput_per_s } else { f64::NAN },
        added_p99_ms: hub.p99_ms - echo.p99_ms,
        hub,
        echo,
        hub_rss_mb,
        hub_cpu_ms,
        broker_rss_mb,
    })
}

/// The class and its open question, in the hub's store before it starts; with `user`, also an admin
/// account (name, password) to log in with.
async fn prepare_class(
    data: &Path,
    room: &RoomCode,
    seed: &str,
    clickers: usize,
    user: Option<(&str, &str)>,
) -> anyhow::Result<QuestionSpec> {
    let store = Store::open(data).await?;
    let session = crate::demo::register_class(&store, room, seed, clickers).await?;
    let spec = QuestionSpec::new(QuestionKind::Single, 4).map_err(|e| anyhow::anyhow!("{e}"))?;
    store.open_question(session, spec, None, None, crate::store::now_ms()).await?;
    let random = crate::auth::new_password();
    bench_account(&store, user.unwrap_or(("bench", &random))).await?;
    store.close().await;
    Ok(spec)
}

/// An admin account for the benchmark, so the hub's first start has no password to announce.
async fn bench_account(store: &Store, (name, password): (&str, &str)) -> anyhow::Result<()> {
    let name = crate::auth::Username::parse(name)?;
    store
        .add_user(&name, crate::auth::Role::Admin, &crate::auth::hash_password(password)?, crate::store::now_ms())
        .await?;
    Ok(())
}

async fn publish_retained<T: Serialize>(broker: &BrokerAddr, topic: &str, msg: &T) -> anyhow::Result<()> {
    let payload = firmware::protocol::encode(msg).map_err(|e| anyhow::anyhow!("{e}"))?.to_vec();
    let id = format!("classhub-bench-{}", std::process::id());
    let (sub, _rx) = sim::mqtt::Subscription::start(broker, id, topic).await.map_err(anyhow::Error::msg)?;
    sub.client.publish(topic, rumqttc::QoS::AtLeastOnce, true, payload).await?;
    sub.stop().await;
    Ok(())
}

impl std::fmt::Display for BurstReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "burst: {} clickers, spread {} ms, broker {}", self.clickers, self.spread_ms, self.broker)?;
        for (name, p) in [("hub", &self.hub), ("echo", &self.echo)] {
            writeln!(
                f,
                "  {name:<4} acked {:>5}  lost {:>4}  unsent {:>3}  dup {:>3}  {:>8.0} acks/s  p50 {:>7.1} ms  p99 {:>7.1} ms",
                p.acked, p.lost, p.unsent, p.duplicates, p.throughput_per_s, p.p50_ms, p.p99_ms
            )?;
        }
        write!(
            f,
            "  ratio {:.2}  added p99 {:.1} ms  hub CPU {} ms  hub RSS {:.1} MB  broker RSS {}",
            self.ratio,
            self.added_p99_ms,
            self.hub_cpu_ms.map_or("n/a".to_owned(), |m| format!("{m:.0}")),
            self.hub_rss_mb,
            self.broker_rss_mb.map_or("n/a".to_owned(), |m| format!("{m:.1} MB"))
        )
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ready_lines_of_a_hub_and_of_a_broker_alone_both_read() {
        let (mqtt, http) =
            super::ready_fields("classhub ready http=http://127.0.0.1:8080 mqtt=mqtt://127.0.0.1:1883\n").unwrap();
        assert_eq!((mqtt.port, http.as_str()), (1883, "127.0.0.1:8080"));
        let (mqtt, http) = super::ready_fields("classhub ready mqtt=mqtt://127.0.0.1:33891\n").unwrap();
        assert_eq!((mqtt.port, http.as_str()), (33891, ""));
        assert!(super::ready_fields("something else").is_err());
    }
}
