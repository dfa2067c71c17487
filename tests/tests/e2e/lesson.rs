//! A lesson through the real hub: simulated clickers press, the hub stores, acks, and counts.

use std::time::Duration;

use classhub_tests::{Observer, TestApp, unique_room};
use firmware::State;
use firmware::led::Colour;
use firmware::protocol::Button;
use firmware::protocol::{DisplayPhase, DisplayState, topics};
use firmware::sim::{Class, Plan};
use serde_json::Value;

/// 28 clickers, 23 press B and 5 press C: the live view says 28 of 28 with 23/5, the database holds
/// exactly those presses, and every LED is green.
async fn twenty_eight_answer(app: TestApp) {
    let room = unique_room("lesson");
    let cfg = app.register_class(&room, "lesson", 28).await;
    let q = app.open_single(&room, 4).await;

    let class = Class::start(cfg);
    class.wait_until(|s| s.sees_open_question(), Duration::from_secs(10)).await.expect("28 online, question seen");
    class.play(&Plan::Counts(vec![(Button::B, 23), (Button::C, 5)]), 500, 1).await;
    class.wait_until(|s| s.state == State::Stored, Duration::from_secs(15)).await.expect("every clicker stored");
    assert!(class.snapshots().iter().all(|s| s.led == Some(Colour::Green)), "every LED shows stored");

    let (status, body) = app.get(&format!("/api/v1/rooms/{room}/live")).await;
    assert_eq!(status, 200, "{body}");
    let live: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(live["expected"], 28);
    assert_eq!(live["question"]["answered"], 28, "the teacher sees 28 of 28");
    assert_eq!(live["question"]["counts"], serde_json::json!([0, 23, 5, 0]));

    let store = app.store().await;
    let presses = store.presses(q).await.unwrap();
    assert_eq!(presses.len(), 28, "the database holds exactly the 28 presses");
    assert_eq!(presses.iter().filter(|(_, _, a)| a.to_string() == "B").count(), 23);
    assert_eq!(presses.iter().filter(|(_, _, a)| a.to_string() == "C").count(), 5);

    // The teacher closes and reveals: the retained display topic holds the projector's state.
    app.engine.close_question(room.clone()).await.unwrap();
    app.engine.reveal(room.clone()).await.unwrap();
    let projector = Observer::start(&app.mqtt, topics::display(&room).as_str()).await;
    let display = wait_for_display(&projector).await;
    assert_eq!((display.answered, display.expected), (28, 28));
    assert_eq!(display.counts.as_slice(), [0, 23, 5, 0]);
    assert_eq!(display.phase, DisplayPhase::Revealed);
    projector.stop().await;

    // Each clicker's hello is kept (firmware, battery, signal), and the last will marks it offline.
    let first = &class.clickers()[0];
    let (seen, fw, battery, rssi, online) = store.device_health(&first.identity.device).await.unwrap().unwrap();
    assert!(seen.is_some() && online);
    assert_eq!((fw.as_deref(), battery), (Some(env!("CARGO_PKG_VERSION")), Some(2950)));
    assert!(rssi.is_some_and(|r| r < 0));
    first.power_off();
    let mut offline = false;
    for _ in 0..200 {
        if let Some((_, _, _, _, false)) = store.device_health(&first.identity.device).await.unwrap() {
            offline = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(offline, "the broker's last will reached the hub");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_eight_students_twenty_three_answer_b_and_five_c() {
    twenty_eight_answer(TestApp::spawn("lesson28").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Mosquitto on 127.0.0.1:1883"]
async fn the_same_lesson_through_mosquitto() {
    let data = classhub_tests::app::fresh_data_dir("mosquitto");
    twenty_eight_answer(TestApp::spawn_on(data, Some("mqtt://127.0.0.1:1883".into())).await).await;
}

async fn wait_for_display(projector: &Observer) -> DisplayState {
    for _ in 0..100 {
        if let Some(seen) = projector.seen_ending("/display").last() {
            return serde_json::from_slice(&seen.payload).expect("a display state");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no retained display state")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clicker_registered_through_the_api_answers_and_is_counted() {
    let app = TestApp::spawn("api-device").await;
    let room = unique_room("api");
    let (status, body) = app.post("/api/v1/devices", &format!(r#"{{"room":"{room}","student":"Anna"}}"#)).await;
    assert_eq!(status, 201, "{body}");
    let made: Value = serde_json::from_str(&body).unwrap();
    let identity = firmware::sim::Identity {
        device: made["id"].as_str().unwrap().parse().unwrap(),
        key: firmware::protocol::DeviceKey::parse(made["key"].as_str().unwrap()).unwrap(),
    };
    assert_eq!(app.post("/api/v1/devices", r#"{"room":"b 204"}"#).await.0, 400, "a bad room is refused");
    assert_eq!(app.post(&format!("/api/v1/rooms/{room}/session"), r#"{"class_name":"4C"}"#).await.0, 201);
    let (status, body) =
        app.post(&format!("/api/v1/rooms/{room}/questions"), r#"{"kind":"truefalse","correct":"A"}"#).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        app.post(&format!("/api/v1/rooms/{room}/questions"), r#"{"kind":"single"}"#).await.0,
        400,
        "options missing"
    );
    assert_eq!(app.post(&format!("/api/v1/rooms/{room}/question/reveal"), "").await.0, 409, "reveal before close");

    let mut cfg = firmware::sim::ClassConfig::new(app.mqtt.clone(), room.clone(), "unused", 0);
    cfg.identities = vec![identity];
    let class = Class::start(cfg);
    class.wait_until(|s| s.sees_open_question(), Duration::from_secs(10)).await.expect("online");
    class.play(&Plan::Everyone(Button::A), 0, 1).await;
    class.wait_until(|s| s.state == State::Stored, Duration::from_secs(10)).await.expect("stored");
    let live: Value = serde_json::from_str(&app.get(&format!("/api/v1/rooms/{room}/live")).await.1).unwrap();
    assert_eq!((live["question"]["answered"].as_u64(), live["expected"].as_u64()), (Some(1), Some(1)));
    assert_eq!(app.post(&format!("/api/v1/rooms/{room}/question/close"), "").await.0, 204);
    assert_eq!(app.post(&format!("/api/v1/rooms/{room}/question/reveal"), "").await.0, 204);
    assert_eq!(app.request("DELETE", &format!("/api/v1/rooms/{room}/session"), None).await.0, 204);
    app.stop().await;
}
