//! The real `classhub` binary, SIGKILLed in the middle of a burst of 200 clickers and started again:
//! every answer ever acked `stored` is in the database exactly once, and every clicker ends stored.
//! Then SIGTERM stops it cleanly.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use firmware::State;
use firmware::protocol::{AckStatus, Button, QuestionKind, QuestionSpec, RoomCode};
use firmware::sim::{self, BrokerAddr, Class, ClassConfig, Plan};
use hub::store::{Device, Store};

const CLICKERS: usize = 200;
const SEED: &str = "crash";

/// Starts `classhub serve` on `data`; returns the child and the broker address from its ready line.
fn serve(data: &Path, mqtt_listen: &str) -> (Child, BrokerAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_classhub"))
        .args(["serve", "--mqtt-listen", mqtt_listen, "--http", "127.0.0.1:0", "--data"])
        .arg(data)
        .env("CLASSHUB_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("classhub starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("a ready line");
    let mqtt = line.split_whitespace().find_map(|w| w.strip_prefix("mqtt=")).expect("mqtt= in the ready line");
    (child, BrokerAddr::parse(mqtt).expect("a broker address"))
}

/// Registers the class, starts a session and opens a question, straight in the store.
async fn prepare(data: &Path, room: &RoomCode) -> u32 {
    let store = Store::open(data).await.unwrap();
    for i in 1..=CLICKERS {
        let id = sim::identity(SEED, i);
        store
            .add_device(&Device { id: id.device, key: id.key, room: room.clone(), student: None, newest_seq: None })
            .await
            .unwrap();
    }
    let session = store.start_session(room, "4B", hub::store::now_ms(), 600_000).await.unwrap();
    let spec = QuestionSpec::new(QuestionKind::Single, 4).unwrap();
    let q = store.open_question(session, spec, None, None, hub::store::now_ms()).await.unwrap();
    store.close().await;
    q
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_killed_mid_burst_loses_no_acknowledged_answer() {
    let data =
        std::env::temp_dir().join(format!("classhub-crash-{}-{:08x}", std::process::id(), rand::random::<u32>()));
    let room = RoomCode::parse("crash-room").unwrap();
    let q = prepare(&data, &room).await;

    let (mut hub, broker) = serve(&data, "127.0.0.1:0");
    let class = std::sync::Arc::new(Class::start(ClassConfig::new(broker.clone(), room.clone(), SEED, CLICKERS)));
    class.wait_until(|s| s.sees_open_question(), Duration::from_secs(20)).await.expect("200 online, question seen");

    // All 200 press within 300 ms.
    let burst = tokio::spawn({
        let class = class.clone();
        async move { class.play(&Plan::Everyone(Button::B), 300, 1).await }
    });
    // Kill the hub once some answers are acked and others are still on their way.
    for _ in 0..400 {
        let stored = class.snapshots().iter().filter(|s| s.state == State::Stored).count();
        if stored >= 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    hub.kill().expect("SIGKILL");
    hub.wait().expect("reaped");
    let acked_before: HashMap<String, firmware::protocol::Seq> = class
        .clickers()
        .iter()
        .filter_map(|c| match c.snapshot().last_ack {
            Some((seq, AckStatus::Stored)) => Some((c.identity.device.to_string(), seq)),
            _ => None,
        })
        .collect();
    assert!(!acked_before.is_empty(), "some answers were acked before the crash");
    assert!(acked_before.len() < CLICKERS, "and some were not: the kill came mid-burst");

    // Same data, same port: the clickers reconnect on their own and retry.
    let (mut hub, _) = serve(&data, &format!("127.0.0.1:{}", broker.port));
    burst.await.unwrap();
    class.wait_until(|s| s.state == State::Stored, Duration::from_secs(60)).await.expect("every clicker ends stored");

    // SIGTERM: a clean stop.
    let pid = hub.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = tokio::task::spawn_blocking(move || hub.wait()).await.unwrap().unwrap();
    assert!(status.success(), "SIGTERM stops the hub cleanly: {status:?}");

    let store = Store::open(&data).await.unwrap();
    let presses = store.presses(q).await.unwrap();
    assert_eq!(presses.len(), CLICKERS, "one press per clicker, none lost, none twice");
    for (device, seq) in &acked_before {
        let rows = presses.iter().filter(|(d, s, _)| d.as_str() == device && s == seq).count();
        assert_eq!(rows, 1, "{device}'s answer was acked stored before the crash and is stored once");
    }
    for c in class.clickers() {
        let Some((seq, _)) = c.snapshot().last_ack else { panic!("{} never acked", c.identity.device) };
        assert!(
            presses.iter().any(|(d, s, _)| *d == c.identity.device && *s == seq),
            "{}'s acked answer is stored",
            c.identity.device
        );
    }
    store.close().await;
    let _ = std::fs::remove_dir_all(&data);
}
