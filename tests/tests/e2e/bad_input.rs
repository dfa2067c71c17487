//! What the hub does with duplicates, changed answers, closed questions and every kind of bad input:
//! a clear ack where one can be given, a counter in /metrics, and never a crash or a wrong tally.

use std::time::Duration;

use classhub_tests::app::identity;
use classhub_tests::{Observer, TestApp, unique_room};
use firmware::protocol::{
    self, Ack, AckStatus, Answer, Choices, ClickerTopic, DeviceId, DeviceKey, MacTag, RejectReason, RoomCode, Seq, mac,
    topics,
};
use firmware::sim::Identity;
use serde_json::Value;

/// A hand-made clicker: the test signs and publishes its messages and reads its acks.
struct Hand<'a> {
    observer: &'a Observer,
    room: RoomCode,
    id: Identity,
    /// Acks already read: each read takes the next ack, in order.
    read: std::cell::Cell<usize>,
}

impl Hand<'_> {
    fn answer(&self, seq: Seq, q: u32, letters: &str, key: &DeviceKey) -> Vec<u8> {
        let mut a = Answer { seq, q, answer: Choices::parse(letters).unwrap(), mac: MacTag([0; 8]) };
        mac::sign(key, &self.id.device, &mut a);
        protocol::encode(&a).unwrap().to_vec()
    }

    async fn send(&self, room: &RoomCode, kind: ClickerTopic, payload: &[u8]) {
        self.observer.publish(&topics::clicker(room, &self.id.device, kind), payload, false).await;
    }

    async fn press(&self, seq: Seq, q: u32, letters: &str) {
        let payload = self.answer(seq, q, letters, &self.id.key);
        self.send(&self.room, ClickerTopic::Answer, &payload).await;
    }

    /// Waits for the next ack, checks it is for `seq` and its MAC when it has one.
    async fn ack(&self, seq: Seq) -> Ack {
        for _ in 0..200 {
            let acks = self.observer.seen_ending(&format!("{}/ack", self.id.device));
            if let Some(seen) = acks.get(self.read.get()) {
                self.read.set(self.read.get() + 1);
                let ack: Ack = serde_json::from_slice(&seen.payload).expect("a well-formed ack");
                assert_eq!(ack.seq, seq, "acks come in order");
                if ack.mac.is_some() {
                    mac::verify(&self.id.key, &self.id.device, &ack).expect("the hub signs with the device's key");
                }
                return ack;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("no ack for seq {seq}");
    }
}

fn metric(text: &str, line_start: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_changes_closed_questions_and_bad_input_each_get_their_answer() {
    let app = TestApp::spawn("badinput").await;
    let room = unique_room("bad");
    let other_room = unique_room("other");
    let cfg = app.register_class(&room, "bad-input", 2).await;
    // The hub serves a second room too, where our clicker does not belong.
    let neighbour = DeviceId::parse("neighbour-1").unwrap();
    let device = hub::store::Device {
        id: neighbour,
        key: DeviceKey([1; 16]),
        room: other_room.clone(),
        student: None,
        newest_seq: None,
    };
    app.engine.add_device(device).await.unwrap();
    let q = app.open_single(&room, 3).await;
    let observer = Observer::start(&app.mqtt, &format!("classhub/v1/{room}/clicker/+/ack")).await;
    let hand =
        Hand { observer: &observer, room: room.clone(), id: cfg.identities[0].clone(), read: Default::default() };

    // A press is stored; the same message again is a duplicate, counted once.
    hand.press(Seq::new(1, 1), q, "B").await;
    assert_eq!(hand.ack(Seq::new(1, 1)).await.status, AckStatus::Stored);
    hand.press(Seq::new(1, 1), q, "B").await;
    assert_eq!(hand.ack(Seq::new(1, 1)).await.status, AckStatus::Duplicate);

    // The student changes to C: both presses are kept, the tally counts C.
    hand.press(Seq::new(1, 2), q, "C").await;
    assert_eq!(hand.ack(Seq::new(1, 2)).await.status, AckStatus::Stored);
    let live: Value = serde_json::from_str(&app.get(&format!("/api/v1/rooms/{room}/live")).await.1).unwrap();
    assert_eq!(live["question"]["counts"], serde_json::json!([0, 0, 1]));
    assert_eq!(live["question"]["answered"], 1);

    // Bad input, one of each kind.
    hand.press(Seq::new(1, 3), q, "D").await; // D is not offered
    let ack = hand.ack(Seq::new(1, 3)).await;
    assert_eq!((ack.status, ack.reason), (AckStatus::Rejected, Some(RejectReason::InvalidAnswer)));

    let forged = hand.answer(Seq::new(1, 4), q, "A", &DeviceKey([9; 16]));
    hand.send(&room, ClickerTopic::Answer, &forged).await;
    assert_eq!(hand.ack(Seq::new(1, 4)).await.reason, Some(RejectReason::BadMac));

    hand.press(Seq::new(1, 1), q, "A").await; // a stored number, reused for other content
    assert_eq!(hand.ack(Seq::new(1, 1)).await.reason, Some(RejectReason::StaleSeq), "not a retransmission");
    hand.press(Seq::new(0, 9), q, "A").await; // older than anything stored, never seen
    assert_eq!(hand.ack(Seq::new(0, 9)).await.reason, Some(RejectReason::StaleSeq));

    let wrong_room = Observer::start(&app.mqtt, &format!("classhub/v1/{other_room}/clicker/+/ack")).await;
    let elsewhere = Hand {
        observer: &wrong_room,
        room: other_room.clone(),
        id: cfg.identities[0].clone(),
        read: Default::default(),
    };
    elsewhere.press(Seq::new(1, 5), q, "A").await;
    assert_eq!(elsewhere.ack(Seq::new(1, 5)).await.reason, Some(RejectReason::WrongRoom));

    let stranger = Hand {
        observer: &observer,
        room: room.clone(),
        id: Identity { device: DeviceId::parse("stranger-1").unwrap(), key: identity("x", 1).key },
        read: Default::default(),
    };
    stranger.press(Seq::new(1, 1), q, "A").await;
    let ack = stranger.ack(Seq::new(1, 1)).await;
    assert_eq!((ack.reason, ack.mac), (Some(RejectReason::UnknownDevice), None), "unsigned: the hub has no key");

    hand.send(&room, ClickerTopic::Answer, b"{\"seq\": 1, this is not json").await;
    hand.send(&room, ClickerTopic::Answer, &[b' '; 300]).await;

    // The question closes: answers after that are acked closed.
    app.engine.close_question(room.clone()).await.unwrap();
    hand.press(Seq::new(1, 6), q, "A").await;
    assert_eq!(hand.ack(Seq::new(1, 6)).await.status, AckStatus::Closed);

    // Every reason is counted, nothing bad reached the tally or the store.
    let metrics = app.get("/metrics").await.1;
    for (reason, n) in [
        ("invalid_answer", 1),
        ("bad_mac", 1),
        ("stale_seq", 2),
        ("wrong_room", 1),
        ("unknown_device", 1),
        ("malformed", 1),
        ("too_large", 1),
    ] {
        assert_eq!(
            metric(&metrics, &format!("classhub_rejected_total{{reason=\"{reason}\"}}")),
            n,
            "{reason}\n{metrics}"
        );
    }
    assert_eq!(metric(&metrics, "classhub_answers_stored_total"), 2);
    assert_eq!(metric(&metrics, "classhub_duplicates_total"), 1);
    assert_eq!(metric(&metrics, "classhub_closed_total"), 1);
    let live: Value = serde_json::from_str(&app.get(&format!("/api/v1/rooms/{room}/live")).await.1).unwrap();
    assert_eq!(live["question"]["counts"], serde_json::json!([0, 0, 1]));
    assert_eq!(app.store().await.presses(q).await.unwrap().len(), 2, "two presses stored, nothing else");
    let (status, _) = app.get("/healthz").await;
    assert_eq!(status, 200, "the hub is still healthy");

    wrong_room.stop().await;
    observer.stop().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_one_clicker_is_refused_and_the_class_goes_on() {
    let app = TestApp::spawn("flood").await;
    let room = unique_room("flood");
    let cfg = app.register_class(&room, "flood", 2).await;
    let q = app.open_single(&room, 4).await;
    let observer = Observer::start(&app.mqtt, &format!("classhub/v1/{room}/clicker/+/ack")).await;
    let flooder =
        Hand { observer: &observer, room: room.clone(), id: cfg.identities[0].clone(), read: Default::default() };
    let student =
        Hand { observer: &observer, room: room.clone(), id: cfg.identities[1].clone(), read: Default::default() };

    // 200 well-signed answers as fast as the broker takes them.
    for n in 1..=200 {
        flooder.press(Seq::new(1, n), q, if n % 2 == 0 { "A" } else { "B" }).await;
    }
    student.press(Seq::new(1, 1), q, "C").await;
    assert_eq!(student.ack(Seq::new(1, 1)).await.status, AckStatus::Stored, "the rest of the class is served");

    let mut limited = 0;
    for _ in 0..100 {
        let metrics = app.get("/metrics").await.1;
        limited = metric(&metrics, "classhub_rejected_total{reason=\"rate_limited\"}");
        if limited >= 150 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(limited >= 150, "most of the flood is refused: {limited}");
    // Someone sending in the student's name with the wrong key cannot use up the student's budget.
    for n in 2..=100 {
        let forged = student.answer(Seq::new(1, n), q, "A", &DeviceKey([7; 16]));
        student.send(&room, ClickerTopic::Answer, &forged).await;
    }
    student.press(Seq::new(1, 101), q, "D").await;
    let mut stored_d = false;
    for _ in 0..100 {
        let presses = app.store().await.presses(q).await.unwrap();
        if presses.iter().any(|(d, s, _)| *d == student.id.device && *s == Seq::new(1, 101)) {
            stored_d = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(stored_d, "the student's real answer is still stored");
    let stored = app.store().await.presses(q).await.unwrap();
    assert!(stored.len() <= 2 + 40, "the flood did not fill the store: {}", stored.len());
    let (status, _) = app.get("/healthz").await;
    assert_eq!(status, 200);
    observer.stop().await;
    app.stop().await;
}
