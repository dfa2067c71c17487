//! The simulator against the Mosquitto on 127.0.0.1:1883: a class of 30 virtual clickers presses,
//! an observer checks every answer on the wire, and a responder (or its absence) decides the LEDs.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use classhub_tests::{Observer, local_mosquitto, unique_room};
use firmware::State;
use firmware::led::Colour;
use firmware::protocol::{
    self, Answer, Button, QuestionAnnouncement, QuestionKind, QuestionSpec, QuestionState, RoomCode, mac, topics,
};
use firmware::sim::{Class, ClassConfig, Plan, echo::Echo};

const SEED: &str = "sim-mosquitto-test";

async fn open_question(observer: &Observer, room: &RoomCode, q: u32) {
    let question = QuestionAnnouncement {
        q,
        spec: QuestionSpec::new(QuestionKind::Single, 4).unwrap(),
        state: QuestionState::Open,
    };
    observer.publish(&topics::question(room), &protocol::encode(&question).unwrap(), true).await;
}

async fn clear_question(observer: &Observer, room: &RoomCode) {
    observer.publish(&topics::question(room), b"", true).await;
}

/// Every answer on the wire, decoded and checked against its device's key; panics on a bad one.
fn verified_answers(observer: &Observer, cfg: &ClassConfig) -> Vec<(String, Answer)> {
    let keys: HashMap<_, _> = cfg.identities.iter().map(|i| (i.device.clone(), i.key.clone())).collect();
    observer
        .seen_ending("/answer")
        .into_iter()
        .map(|seen| {
            let Ok(topics::Parsed::Clicker { device, .. }) = topics::parse(&seen.topic) else {
                panic!("answer on a malformed topic {}", seen.topic)
            };
            let answer: Answer = serde_json::from_slice(&seen.payload).expect("well-formed answer JSON");
            mac::verify(&keys[&device], &device, &answer).expect("the MAC verifies under the device's key");
            (device.to_string(), answer)
        })
        .collect()
}

/// A lesson on the local Mosquitto: an observer on the room's clicker topics, optionally a responder
/// that acks, an open question, and a class of `n` clickers that all see it.
struct Lesson {
    room: RoomCode,
    cfg: ClassConfig,
    observer: Observer,
    echo: Option<Echo>,
    class: Class,
}

impl Lesson {
    async fn start(prefix: &str, n: usize, with_responder: bool, q: u32) -> Lesson {
        let broker = local_mosquitto();
        let room = unique_room(prefix);
        let observer = Observer::start(&broker, topics::room_clickers_filter(&room).as_str()).await;
        let cfg = ClassConfig::new(broker.clone(), room.clone(), SEED, n);
        let echo = if with_responder {
            let keys = cfg.identities.iter().map(|i| (i.device.clone(), i.key.clone())).collect();
            Some(Echo::start(&broker, &room, keys).await.expect("responder connects"))
        } else {
            None
        };
        open_question(&observer, &room, q).await;
        let class = Class::start(cfg.clone());
        class.wait_until(|s| s.sees_open_question(), Duration::from_secs(10)).await.expect("all online, question seen");
        Lesson { room, cfg, observer, echo, class }
    }

    fn refused(&self) -> u64 {
        self.echo.as_ref().map_or(0, |e| e.counts.refused.load(std::sync::atomic::Ordering::Relaxed))
    }

    async fn finish(self) {
        clear_question(&self.observer, &self.room).await;
        if let Some(echo) = self.echo {
            echo.stop().await;
        }
        self.observer.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Mosquitto on 127.0.0.1:1883"]
async fn thirty_clickers_press_b_and_the_responder_turns_every_led_green() {
    let lesson = Lesson::start("sim30", 30, true, 1).await;
    let class = &lesson.class;
    class.play(&Plan::Everyone(Button::B), 300, 7).await;
    class.wait_until(|s| s.state == State::Stored, Duration::from_secs(15)).await.expect("every clicker stored");
    let snaps = class.snapshots();
    assert!(snaps.iter().all(|s| s.led == Some(Colour::Green)), "and every LED is green: {snaps:?}");

    let answers = verified_answers(&lesson.observer, &lesson.cfg);
    let devices: HashSet<_> = answers.iter().map(|(d, _)| d.clone()).collect();
    assert_eq!(devices.len(), 30, "an answer from each of the 30 clickers");
    assert!(answers.iter().all(|(_, a)| a.q == 1 && a.answer.to_string() == "B"));
    let echo = lesson.echo.as_ref().expect("responder");
    assert_eq!(echo.counts.acked.load(std::sync::atomic::Ordering::Relaxed), answers.len() as u64);
    assert_eq!(lesson.refused(), 0);
    lesson.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Mosquitto on 127.0.0.1:1883"]
async fn without_a_responder_clickers_retry_with_backoff_and_never_show_stored() {
    let lesson = Lesson::start("noack", 30, false, 2).await;
    let class = &lesson.class;
    class.play(&Plan::Everyone(Button::C), 200, 3).await;

    // Watch for four seconds: nobody is green, ever.
    for _ in 0..80 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(class.snapshots().iter().all(|s| s.state != State::Stored && s.led != Some(Colour::Green)));
    }
    assert!(class.snapshots().iter().all(|s| s.state == State::Pending));

    let seen = lesson.observer.seen_ending("/answer");
    let answers = verified_answers(&lesson.observer, &lesson.cfg);
    for identity in &lesson.cfg.identities {
        let device = identity.device.to_string();
        let mine: Vec<_> = seen.iter().zip(&answers).filter(|(_, (d, _))| *d == device).collect();
        assert!(mine.len() >= 3, "{device} sent its answer {} times in 4 s", mine.len());
        assert!(mine.iter().all(|(_, (_, a))| a.seq == (mine[0].1).1.seq), "{device}: every retry is the same message");
        let gaps: Vec<Duration> = mine.windows(2).map(|w| w[1].0.at - w[0].0.at).collect();
        assert!(gaps.windows(2).all(|g| g[1] > g[0]), "{device}: the waits grow: {gaps:?}");
    }
    lesson.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Mosquitto on 127.0.0.1:1883"]
async fn clickers_change_their_answer_and_check_in_and_every_press_arrives_in_order() {
    let lesson = Lesson::start("change", 12, true, 3).await;
    let class = &lesson.class;
    class.play(&Plan::Change { first: Button::B, then: Button::D }, 200, 11).await;
    class.play(&Plan::CheckIn, 200, 12).await;
    class.wait_until(|s| s.waiting == 0, Duration::from_secs(15)).await.expect("everything acked");

    let answers = verified_answers(&lesson.observer, &lesson.cfg);
    for identity in &lesson.cfg.identities {
        let device = identity.device.to_string();
        let mut mine: Vec<&Answer> = answers.iter().filter(|(d, _)| *d == device).map(|(_, a)| a).collect();
        mine.dedup_by_key(|a| a.seq); // a retry repeats the same message
        let letters: Vec<String> = mine.iter().map(|a| a.answer.to_string()).collect();
        assert_eq!(letters, ["B", "D"], "{device}: both presses, in order");
        assert!(mine[0].seq < mine[1].seq);
    }
    let check_ins: HashSet<String> = lesson
        .observer
        .seen_ending("/checkin")
        .iter()
        .map(|s| s.topic.split('/').nth(4).unwrap_or_default().to_owned())
        .collect();
    assert_eq!(check_ins.len(), 12, "every clicker checked in");
    assert_eq!(lesson.refused(), 0);
    lesson.finish().await;
}
