//! The live event stream: one update first, then a few a second however fast answers arrive.

use std::time::Duration;

use classhub_tests::{TestApp, unique_room};
use firmware::State;
use firmware::protocol::Button;
use firmware::sim::{Class, Plan};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_eight_answers_in_a_burst_reach_a_viewer_as_a_few_coalesced_updates() {
    let app = TestApp::spawn("sse").await;
    let room = unique_room("sse");
    let cfg = app.register_class(&room, "sse", 28).await;
    app.open_single(&room, 4).await;
    let class = Class::start(cfg);
    class.wait_until(|s| s.sees_open_question(), Duration::from_secs(10)).await.expect("online");

    let mut stream = tokio::net::TcpStream::connect(app.http).await.unwrap();
    let req = format!(
        "GET /api/v1/rooms/{room}/events HTTP/1.1\r\nHost: hub\r\nCookie: {}\r\nAccept: text/event-stream\r\n\r\n",
        app.cookie
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let reader = tokio::spawn(async move {
        let mut text = String::new();
        let mut buf = [0u8; 4096];
        let deadline = tokio::time::Instant::now() + Duration::from_secs(4);
        while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            if n == 0 {
                break;
            }
            text.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        text
    });

    class.play(&Plan::Everyone(Button::A), 300, 5).await;
    class.wait_until(|s| s.state == State::Stored, Duration::from_secs(10)).await.expect("stored");
    let text = reader.await.unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("text/event-stream"));
    let updates: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).expect("each update is the live JSON"))
        .collect();
    let last = updates.last().expect("at least one update");
    assert_eq!(last["question"]["answered"], 28, "the viewer ends at 28 of 28");
    assert!(updates.len() >= 2, "a first state, then changes: {}", updates.len());
    let every = hub::config::Settings::default().http.live_every_ms as usize;
    assert!(updates.len() <= 4_000 / every + 2, "coalesced: {} updates in 4 s for 28 answers", updates.len());
    assert!(updates.len() < 28, "fewer updates than answers: {}", updates.len());
    app.stop().await;
}
