//! Pairing through the real hub: a technician pairs a class of 30 in roster order and teaches with
//! them; a bystander on the broker can neither replay nor guess its way in; a broken clicker is
//! replaced keeping its student's history; a loaner goes back at the end of the session.

use std::time::Duration;

use classhub_tests::{Observer, TestApp, unique_room};
use firmware::State;
use firmware::protocol::pairing::PairRefusal;
use firmware::protocol::{Button, RoomCode};
use firmware::sim::{self, Class, ClassConfig, PairFailed, Plan};
use hub::fleet::pairing::{MAX_WRONG, Mode};

const WAIT: Duration = Duration::from_secs(10);

/// A roster of one class, `k1`, with `n` students named "Leerling 01 Achternaam" and so on, in an
/// order the roster sorts (by family name).
async fn roster_of(app: &TestApp, n: usize) -> Vec<String> {
    let mut users = "sourcedId,role,username,givenName,familyName\n".to_owned();
    let mut enrollments = "sourcedId,classSourcedId,schoolSourcedId,userSourcedId,role\n".to_owned();
    for i in 1..=n {
        users += &format!("u{i},student,l{i},Leerling,Familie{i:02}\n");
        enrollments += &format!("e{i},k1,s1,u{i},student\n");
    }
    let files: std::collections::BTreeMap<String, String> = [
        ("orgs.csv", "sourcedId,name,type\ns1,Het Baken,school\n".to_owned()),
        ("classes.csv", "sourcedId,title,courseSourcedId,schoolSourcedId\nk1,3A wiskunde,c1,s1\n".to_owned()),
        ("courses.csv", "sourcedId,title,orgSourcedId\nc1,Wiskunde,s1\n".to_owned()),
        ("users.csv", users),
        ("enrollments.csv", enrollments),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let store = app.store().await;
    let read = hub::blend::roster::read(&files, &Default::default());
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    store.apply_roster(&read, || {}).await.unwrap();
    let names = store.class_students("k1").await.unwrap().into_iter().map(|(_, name)| name).collect();
    store.close().await;
    names
}

async fn open(app: &TestApp, room: &RoomCode, mode: Mode) -> (i64, String) {
    let w = app.engine.open_pairing(room.clone(), mode, 120, "test-admin").await.expect("window opens");
    let shown = app.engine.live(room).and_then(|l| l.pairing).expect("the live view shows the window");
    assert_eq!(shown.code, w.code.letters().as_str(), "the code the projector shows");
    (w.id, shown.code)
}

#[tokio::test]
async fn thirty_clickers_pair_in_roster_order_and_then_answer_a_question() {
    let app = TestApp::spawn("pair-class").await;
    let room = unique_room("pair");
    let students = roster_of(&app, 30).await;
    let (window, code) = open(&app, &room, Mode::ClassInOrder { class: "k1".into() }).await;

    let identities = sim::pair_in_order(&app.mqtt, &room, &code, 30, WAIT).await.expect("30 clickers pair");

    let store = app.store().await;
    let fleet = store.fleet(Some(room.as_str())).await.unwrap();
    assert_eq!(fleet.len(), 30);
    for (i, id) in identities.iter().enumerate() {
        let row = fleet.iter().find(|r| r.id == id.device.as_str()).expect("stored");
        assert_eq!(row.student.as_deref(), Some(students[i].as_str()), "clicker {i} went to the {i}th student");
    }
    let closed = store.pairing_window(window).await.unwrap().unwrap().closed.expect("closed");
    assert_eq!(closed.1, "class_complete", "the window closes once everyone has a clicker");
    assert!(app.engine.live(&room).unwrap().pairing.is_none());
    // A thirty-first clicker finds the window closed.
    let late = sim::pair_one(&app.mqtt, &room, &code, WAIT).await;
    assert_eq!(late.err(), Some(PairFailed::Refused(PairRefusal::Closed)));

    // The class answers with the keys pairing gave them.
    let q = app.open_single(&room, 4).await;
    let class = Class::start(ClassConfig { identities, ..ClassConfig::new(app.mqtt.clone(), room.clone(), "", 0) });
    class.wait_until(|s| s.sees_open_question(), WAIT).await.expect("online, question seen");
    class.play(&Plan::Counts(vec![(Button::B, 23), (Button::C, 7)]), 300, 1).await;
    class.wait_until(|s| s.state == State::Stored, WAIT).await.expect("every answer stored");
    let live = app.engine.live(&room).unwrap();
    assert_eq!((live.question.unwrap().answered, live.expected), (30, 30), "30 of 30 answered");
    assert_eq!(store.presses(q).await.unwrap().len(), 30);
    store.close().await;
    app.stop().await;
}

#[tokio::test]
async fn a_bystander_on_the_broker_can_neither_replay_nor_guess_a_pairing() {
    let app = TestApp::spawn("pair-attacks").await;
    let room = unique_room("pair");
    let (window, code) = open(&app, &room, Mode::Room).await;
    let wire = Observer::start(&app.mqtt, &format!("classhub/v1/{room}/pair/#")).await;

    let clicker = sim::pair_one(&app.mqtt, &room, &code, WAIT).await.expect("the real clicker pairs");
    let store = app.store().await;
    assert_eq!(store.fleet(Some(room.as_str())).await.unwrap().len(), 1);

    // Everything the exchange put on the air: the device key is not in it.
    let recorded = wire.seen_ending("");
    assert!(recorded.len() >= 4, "start, reply, confirm, done: {recorded:?}");
    let key = clicker.key.to_hex();
    assert!(recorded.iter().all(|m| !String::from_utf8_lossy(&m.payload).contains(key.as_str())));

    // Replay: the bystander sends the recorded start and confirmation again.
    for m in recorded.iter().filter(|m| m.topic.ends_with("/start") || m.topic.ends_with("/confirm")) {
        wire.publish(&m.topic, &m.payload, false).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(store.fleet(Some(room.as_str())).await.unwrap().len(), 1, "a replay pairs nothing");
    let dones = wire.seen_ending("/done");
    assert_eq!(dones.len(), 1, "the replay is not even answered: {dones:?}");
    assert_eq!(app.engine.live(&room).unwrap().pairing.unwrap().wrong, 0, "and spends none of the window's guesses");

    // Guessing: each wrong code is one guess, and the window closes after five.
    let first = if code.starts_with('A') { 'B' } else { 'A' };
    let wrong: String = std::iter::once(first).chain(code.chars().skip(1)).collect();
    for _ in 0..MAX_WRONG {
        let guess = sim::pair_one(&app.mqtt, &room, &wrong, WAIT).await;
        assert_eq!(guess.err(), Some(PairFailed::Refused(PairRefusal::WrongCode)));
    }
    assert!(app.engine.live(&room).unwrap().pairing.is_none(), "the window closed");
    let right_too_late = sim::pair_one(&app.mqtt, &room, &code, WAIT).await;
    assert_eq!(right_too_late.err(), Some(PairFailed::Refused(PairRefusal::Closed)));
    let row = store.pairing_window(window).await.unwrap().unwrap();
    assert_eq!((row.window.wrong, row.closed.unwrap().1.as_str()), (MAX_WRONG, "wrong_codes"));
    assert_eq!(store.fleet(Some(room.as_str())).await.unwrap().len(), 1);
    wire.stop().await;
    store.close().await;
    app.stop().await;
}

#[tokio::test]
async fn a_broken_clicker_is_replaced_keeping_its_history_and_a_loaner_goes_back_after_the_lesson() {
    let app = TestApp::spawn("pair-replace").await;
    let room = unique_room("pair");
    let anna = "Anna de Vries".to_owned();
    let (_, code) = open(&app, &room, Mode::Student { student: anna.clone(), replaces: None }).await;
    let old = sim::pair_one(&app.mqtt, &room, &code, WAIT).await.expect("Anna's clicker pairs");
    assert!(app.engine.live(&room).unwrap().pairing.is_none(), "a window for one student closes after one clicker");

    // Anna answers once, then her clicker breaks and is replaced.
    let q = app.open_single(&room, 4).await;
    let cfg = |ids| ClassConfig { identities: ids, ..ClassConfig::new(app.mqtt.clone(), room.clone(), "", 0) };
    let class = Class::start(cfg(vec![old.clone()]));
    class.wait_until(|s| s.sees_open_question(), WAIT).await.unwrap();
    class.play(&Plan::Everyone(Button::A), 0, 1).await;
    class.wait_until(|s| s.state == State::Stored, WAIT).await.unwrap();
    let (_, code) =
        open(&app, &room, Mode::Student { student: anna.clone(), replaces: Some(old.device.clone()) }).await;
    let new = sim::pair_one(&app.mqtt, &room, &code, WAIT).await.expect("the replacement pairs");

    let store = app.store().await;
    let fleet = store.fleet(Some(room.as_str())).await.unwrap();
    assert_eq!(
        fleet.iter().map(|r| (r.id.as_str(), r.student.as_deref())).collect::<Vec<_>>(),
        [(new.device.as_str(), Some(anna.as_str()))]
    );
    let presses = store.presses(q).await.unwrap();
    assert_eq!(presses.len(), 1, "Anna's earlier answer is still there");
    // The broken clicker, should it wake up, is no longer heard.
    class.play(&Plan::Everyone(Button::B), 0, 2).await;
    let unknown = "classhub_rejected_total{reason=\"unknown_device\"} ";
    let mut refused = false;
    for _ in 0..100 {
        let metrics = app.get("/metrics").await.1;
        if metrics.lines().any(|l| l.strip_prefix(unknown).is_some_and(|n| n != "0")) {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(refused, "the retired clicker is refused as unknown");
    assert_eq!(store.presses(q).await.unwrap().len(), 1);
    class.clickers()[0].power_off();

    // Bram forgot his clicker: a loaner for this lesson.
    let (_, code) = open(&app, &room, Mode::Loaner { student: "Bram Jansen".into() }).await;
    let loaner = sim::pair_one(&app.mqtt, &room, &code, WAIT).await.expect("the loaner pairs");
    let fleet = store.fleet(Some(room.as_str())).await.unwrap();
    assert!(fleet.iter().any(|r| r.id == loaner.device.as_str() && r.loaner));
    app.engine.end_session(room.clone()).await.unwrap();
    let fleet = store.fleet(Some(room.as_str())).await.unwrap();
    assert!(!fleet.iter().any(|r| r.id == loaner.device.as_str()), "the loaner went back with the session's end");

    // Unpairing retires a clicker.
    app.engine.unpair(new.device.clone()).await.unwrap();
    assert!(store.fleet(Some(room.as_str())).await.unwrap().is_empty());
    assert!(app.engine.unpair(new.device.clone()).await.is_err(), "twice is an error");
    store.close().await;
    app.stop().await;
}

#[tokio::test]
async fn a_technician_opens_pairing_on_the_devices_page_and_the_projector_shows_the_code() {
    let app = TestApp::spawn("pair-pages").await;
    let room = unique_room("pair");
    roster_of(&app, 3).await;
    // Bad forms are refused with a message, and open nothing.
    let no_class = app.post_form("/pairing", &format!("room={room}&mode=class&class=&seconds=60")).await;
    assert_eq!(no_class.status, 400);
    assert!(no_class.body.contains("choose a class"), "{}", no_class.body);
    let too_long = app.post_form("/pairing", &format!("room={room}&mode=room&seconds=999")).await;
    assert_eq!(too_long.status, 400);
    assert!(too_long.body.contains("1 to 254 seconds"));
    assert!(app.engine.live(&room).and_then(|l| l.pairing).is_none());

    let opened = app.post_form("/pairing", &format!("room={room}&mode=class&class=k1&seconds=90")).await;
    assert_eq!(opened.status, 303, "{}", opened.body);
    let devices = app.page("/devices").await;
    let code = app.engine.live(&room).and_then(|l| l.pairing).expect("open").code;
    let boxes: String = code.chars().map(|c| format!("<span>{c}</span>")).collect();
    assert!(devices.body.contains(&boxes), "the technician sees the code");
    assert!(devices.body.contains("<option value=\"k1\">3A wiskunde</option>"));

    let teacher = app.page(&format!("/rooms/{room}")).await;
    let link = teacher.body.split("href=\"/projector/").nth(1).and_then(|s| s.split('"').next()).expect("link");
    let projector = app.send("GET", &format!("/projector/{link}"), &[], "").await;
    assert!(projector.body.contains(&boxes) && projector.body.contains("0 gekoppeld"), "{}", projector.body);

    let first = sim::pair_one(&app.mqtt, &room, &code, WAIT).await.expect("pairs");
    let projector = app.send("GET", &format!("/projector/{link}"), &[], "").await;
    assert!(projector.body.contains("1 gekoppeld"));
    assert!(!projector.body.contains("Familie01"), "the projector never shows a name");
    let devices = app.page("/devices").await;
    assert!(devices.body.contains(first.device.as_str()) && devices.body.contains("Leerling Familie01"));

    assert_eq!(app.post_form(&format!("/rooms/{room}/pairing/close"), "").await.status, 303);
    assert!(app.engine.live(&room).and_then(|l| l.pairing).is_none(), "closed early");
    let replace = app.post_form(&format!("/devices/{}/replace", first.device), "").await;
    assert_eq!(replace.status, 303);
    assert!(app.engine.live(&room).and_then(|l| l.pairing).is_some(), "a window for the replacement");
    assert_eq!(app.post_form(&format!("/devices/{}/unpair", first.device), "").await.status, 303);
    assert_eq!(app.post_form(&format!("/devices/{}/unpair", first.device), "").await.status, 404);
    app.stop().await;
}
