//! `classhub bench xapi`: C clients post statements of about 1.8 KB in batches of B over their own
//! keep-alive connections to the hub (its own process) for a fixed number of statements; the figure
//! is statements stored per second, checked afterwards against the database.

use std::time::Duration;

use anyhow::Context;
use base64::Engine as _;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::{peak_rss_mb, percentile, spawn_ready_with};
use crate::store::Store;

/// What `classhub bench xapi --json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct XapiReport {
    /// Concurrent clients.
    pub clients: usize,
    /// Statements per request.
    pub batch: usize,
    /// The size of one statement, in bytes of JSON.
    pub statement_bytes: usize,
    /// Statements the clients had acknowledged (200).
    pub acked: usize,
    /// Requests that failed.
    pub failed: usize,
    /// Statements found in the database afterwards.
    pub stored: usize,
    /// Acknowledged statements per second.
    pub statements_per_s: f64,
    /// Median request time.
    pub p50_ms: f64,
    /// 99th percentile request time.
    pub p99_ms: f64,
    /// The hub's peak resident memory.
    pub hub_rss_mb: f64,
}

impl std::fmt::Display for XapiReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "xapi: {} clients, batches of {}, {} B a statement\n  acked {}  failed requests {}  stored {}  {:.0} statements/s  \
             request p50 {:.1} ms  p99 {:.1} ms  hub RSS {:.1} MB",
            self.clients,
            self.batch,
            self.statement_bytes,
            self.acked,
            self.failed,
            self.stored,
            self.statements_per_s,
            self.p50_ms,
            self.p99_ms,
            self.hub_rss_mb
        )
    }
}

/// A statement of about 1.8 KB, as an LMS sends for a quiz attempt.
pub fn sample_statement(client: usize, n: usize) -> Value {
    json!({
        "actor": { "objectType": "Agent", "name": format!("Leerling {client}-{n}"),
                   "account": { "homePage": "https://moodle.school.nl", "name": format!("s{client}x{}", n % 300) } },
        "verb": { "id": "http://adlnet.gov/expapi/verbs/answered", "display": { "nl-NL": "beantwoordde", "en-US": "answered" } },
        "object": {
            "objectType": "Activity",
            "id": format!("https://moodle.school.nl/mod/quiz/attempt.php?attempt={}&page={}", n, n % 7),
            "definition": {
                "name": { "nl-NL": "Toets hoofdstuk 3: verbanden en grafieken", "en-US": "Test chapter 3: relations and graphs" },
                "description": { "nl-NL": "Vraag over het aflezen van een grafiek met twee assen en het bepalen van de helling op een punt, met uitleg bij elk antwoord.",
                                 "en-US": "A question on reading a graph with two axes and finding the slope at a point, with an explanation for each answer." },
                "type": "http://adlnet.gov/expapi/activities/cmi.interaction",
                "interactionType": "choice",
                "correctResponsesPattern": ["b"],
                "moreInfo": "https://moodle.school.nl/mod/quiz/view.php?id=4711"
            }
        },
        "result": { "score": { "scaled": 0.75, "raw": 3, "min": 0, "max": 4 }, "success": true, "completion": true,
                    "response": "b", "duration": "PT1M12S" },
        "context": {
            "registration": "6d7f3c2a-1b4e-4c8d-9a0f-2e5b7c9d1a3e",
            "platform": "Moodle 4.3",
            "language": "nl-NL",
            "contextActivities": {
                "parent": [{ "id": "https://moodle.school.nl/mod/quiz/view.php?id=4711", "objectType": "Activity" }],
                "grouping": [{ "id": "https://moodle.school.nl/course/view.php?id=812", "objectType": "Activity" }],
                "category": [{ "id": "https://moodle.org/xapi/profile", "objectType": "Activity" }]
            },
            "extensions": {
                "https://moodle.school.nl/xapi/extensions/session": format!("sess-{client}-{n}"),
                "https://moodle.school.nl/xapi/extensions/attempt-page": n % 7,
                "https://moodle.school.nl/xapi/extensions/user-agent-hash": "3f0c2a9be1d24c6f8a7e5b4d3c2b1a09f8e7d6c5b4a39281"
            }
        },
        "timestamp": "2026-11-20T10:15:00+01:00"
    })
}

/// Reads one HTTP/1.1 response from a keep-alive connection: its status.
async fn read_status(stream: &mut TcpStream, buf: &mut Vec<u8>) -> anyhow::Result<u16> {
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
                buf.drain(..end + 4 + length);
                return Ok(status);
            }
        }
        let n = stream.read(&mut chunk).await?;
        anyhow::ensure!(n > 0, "the hub closed the connection");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Runs the xAPI benchmark: `statements` in all, from `clients` clients, `batch` per request.
pub async fn xapi(
    exe: &std::path::Path,
    clients: usize,
    batch: usize,
    statements: usize,
) -> anyhow::Result<XapiReport> {
    let dir =
        std::env::temp_dir().join(format!("classhub-bench-xapi-{}-{:08x}", std::process::id(), rand::random::<u32>()));
    let data = dir.join("data");
    let store = Store::open(&data).await?;
    let (key, secret) = store.add_xapi_source("bench", crate::store::now_ms()).await?;
    super::bench_account(&store, ("bench", &crate::auth::new_password())).await?;
    store.close().await;
    let auth = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{key}:{secret}")));
    let data_arg = data.to_string_lossy().into_owned();
    let (hub, _, http) = spawn_ready_with(
        exe,
        &["serve", "--mqtt-listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--data", &data_arg],
        &[],
    )?;
    let statement_bytes = sample_statement(0, 0).to_string().len();
    let per_client = statements.div_ceil(clients * batch);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..clients {
        let (http, auth) = (http.clone(), auth.clone());
        tasks.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(&http).await.context("connect to the hub")?;
            stream.set_nodelay(true)?;
            let (mut buf, mut times, mut acked, mut failed) = (Vec::new(), Vec::new(), 0usize, 0usize);
            for request in 0..per_client {
                let body: Vec<Value> = (0..batch).map(|i| sample_statement(client, request * batch + i)).collect();
                let body = serde_json::to_string(&body)?;
                let req = format!(
                    "POST /xapi/statements HTTP/1.1\r\nHost: {http}\r\nAuthorization: {auth}\r\nX-Experience-API-Version: 1.0.3\r\n\
                     Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let t = Instant::now();
                stream.write_all(req.as_bytes()).await?;
                match read_status(&mut stream, &mut buf).await? {
                    200 => acked += batch,
                    _ => failed += 1,
                }
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            anyhow::Ok((times, acked, failed))
        }));
    }
    let (mut times, mut acked, mut failed) = (Vec::new(), 0, 0);
    for t in tasks {
        let (t, a, f) = t.await??;
        times.extend(t);
        acked += a;
        failed += f;
    }
    let elapsed = started.elapsed();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let hub_rss_mb = peak_rss_mb(hub.0.id()).unwrap_or(f64::NAN);
    drop(hub);
    let store = Store::open(&data).await?;
    let stored = store.statements_stored().await?;
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    times.sort_by(f64::total_cmp);
    Ok(XapiReport {
        clients,
        batch,
        statement_bytes,
        acked,
        failed,
        stored,
        statements_per_s: acked as f64 / elapsed.as_secs_f64(),
        p50_ms: percentile(&times, 0.50),
        p99_ms: percentile(&times, 0.99),
        hub_rss_mb,
    })
}
