//! `classhub demo`: the hub with its embedded broker, a simulated class registered in room `demo`,
//! and a scripted lesson that keeps asking questions so the live views move.

use std::time::Duration;

use firmware::protocol::{Button, Choices, QuestionKind, QuestionSpec, RoomCode};
use firmware::sim::{self, Class, ClassConfig, Plan};

use crate::engine::{EngineHandle, NewQuestion};
use crate::store::{Device, Store, StoreError};

/// The demo's room.
pub const ROOM: &str = "demo";
/// The seed the demo's clicker keys derive from (see `firmware::sim::identity`).
pub const SEED: &str = "classhub-demo";

fn room() -> RoomCode {
    // Cannot fail: "demo" is a valid room code.
    RoomCode::parse(ROOM).expect("valid room code")
}

/// Registers `n` simulated clickers (keys derived from `seed`) in `room`, keeping those already
/// there, and starts a session unless one runs: straight in the store, before the hub is built and
/// loads it. Returns the running session's id.
pub async fn register_class(store: &Store, room: &RoomCode, seed: &str, n: usize) -> Result<i64, StoreError> {
    for i in 1..=n {
        let id = sim::identity(seed, i);
        let student = Some(format!("Leerling {i}"));
        let device = Device { id: id.device, key: id.key, room: room.clone(), student, newest_seq: None };
        match store.add_device(&device).await {
            Ok(()) | Err(StoreError::DeviceExists(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let running = store.running_sessions().await?;
    match running.iter().find(|(r, _, _)| r == room) {
        Some((_, session, _)) => Ok(session.id),
        None => {
            store
                .start_session(
                    room,
                    "Demo 3A",
                    crate::store::now_ms(),
                    crate::config::ClassroomSettings::default().checkin_window_ms(),
                )
                .await
        }
    }
}

/// Prepares the demo class in the store.
pub async fn prepare(store: &Store, n: usize) -> Result<(), StoreError> {
    register_class(store, &room(), SEED, n).await.map(|_| ())
}

/// The questions the demo lesson cycles through.
fn questions() -> Vec<NewQuestion> {
    let q = |kind, options, correct: Option<&str>| NewQuestion {
        // Cannot fail: the shapes below are valid.
        spec: QuestionSpec::new(kind, options).expect("valid demo question"),
        correct: correct.and_then(|c| Choices::parse(c).ok()),
        timer_s: None,
    };
    vec![
        q(QuestionKind::Single, 4, Some("B")),
        q(QuestionKind::TrueFalse, 2, Some("A")),
        q(QuestionKind::Multi, 4, Some("AC")),
        q(QuestionKind::Scale, 5, None),
    ]
}

/// Runs the simulated class and the lesson until the task is dropped.
pub async fn lesson(engine: EngineHandle, broker: sim::BrokerAddr, n: usize) {
    let class = Class::start(ClassConfig::new(broker, room(), SEED, n));
    if let Err(e) = class.wait_until(|s| s.online(), Duration::from_secs(15)).await {
        tracing::warn!("demo class: {e}");
    }
    for (round, question) in questions().into_iter().cycle().enumerate() {
        if let Err(e) = engine.open_question(room(), question).await {
            tracing::warn!("demo lesson: {e}");
            return;
        }
        let _ = class.wait_until(|s| s.sees_open_question(), Duration::from_secs(5)).await;
        class.play(&Plan::Random, 4_000, round as u64).await;
        if round % 3 == 2 {
            // Some students change their minds.
            class.play(&Plan::Share { percent: 30, button: Button::A }, 1_500, round as u64).await;
        }
        tokio::time::sleep(Duration::from_secs(4)).await;
        let _ = engine.close_question(room()).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let _ = engine.reveal(room()).await;
        tokio::time::sleep(Duration::from_secs(6)).await;
    }
}
