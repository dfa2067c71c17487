//! A hub stopped and started again on the same data directory carries on where it was.

use std::time::Duration;

use classhub_tests::{TestApp, unique_room};
use firmware::State;
use firmware::protocol::Button;
use firmware::sim::{Class, Plan};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_the_session_question_and_answers_are_there() {
    let app = TestApp::spawn("restart").await;
    let data = app.data.clone();
    let room = unique_room("restart");
    let cfg = app.register_class(&room, "restart", 6).await;
    let q = app.open_single(&room, 4).await;
    let class = Class::start(cfg.clone());
    class.wait_until(|s| s.sees_open_question(), Duration::from_secs(10)).await.expect("online");
    class.play(&Plan::Everyone(Button::D), 200, 1).await;
    class.wait_until(|s| s.state == State::Stored, Duration::from_secs(10)).await.expect("stored");
    drop(class);
    app.stop().await;

    let app = TestApp::spawn_on(data, std::env::var("CLASSHUB_TEST_MQTT_URL").ok()).await;
    let live = app.engine.live(&room).expect("the room is known again");
    assert_eq!(live.session.as_ref().map(|s| s.class_name.as_str()), Some("3A"), "the session still runs");
    let question = live.question.expect("the question is back");
    assert_eq!((question.id, question.answered, question.counts.clone()), (q, 6, vec![0, 0, 0, 6]));
    assert_eq!(live.expected, 6, "the devices are registered still");

    // The clickers (new boots, same keys) carry on: one changes its mind and is counted.
    let mut cfg = cfg;
    cfg.broker = app.mqtt.clone();
    let class = Class::start(cfg);
    class.wait_until(|s| s.sees_open_question(), Duration::from_secs(10)).await.expect("online again");
    class.clickers()[0].press(Button::A).await;
    class.clickers()[0].wait_for(|s| s.state == State::Stored, Duration::from_secs(10)).await.expect("stored");
    let counts = app.engine.live(&room).unwrap().question.unwrap().counts;
    assert_eq!(counts, [1, 0, 0, 5]);
    app.stop().await;
}
