//! A lesson through the real hub: simulated clickers press, the hub stores, acks, and counts.

use std::time::Duration;

use classhub_tests::{TestApp, unique_room};
use firmware::State;
use firmware::led::Colour;
use firmware::protocol::Button;
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

    let presses = app.store().await.presses(q).await.unwrap();
    assert_eq!(presses.len(), 28, "the database holds exactly the 28 presses");
    assert_eq!(presses.iter().filter(|(_, _, a)| a.to_string() == "B").count(), 23);
    assert_eq!(presses.iter().filter(|(_, _, a)| a.to_string() == "C").count(), 5);
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
