//! The hub's own hardware, on virtual pins and a scripted card reader (the same code drives rppal's
//! pins and the MFRC522 on a Pi): the pairing button and status LED, and card check-in.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use classhub_tests::{TestApp, unique_room};
use firmware::Millis;
use firmware::sim::VirtualPin;
use hub::fleet::nfc::{self, CardReader, CardUid};
use hub::fleet::panel::{self, Panel};

/// The share of 20 ms samples over one second in which the LED is lit.
async fn lit_share(led: &VirtualPin) -> f64 {
    let mut lit = 0;
    for _ in 0..50 {
        lit += u32::from(led.get());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    f64::from(lit) / 50.0
}

#[tokio::test]
async fn holding_the_hubs_button_two_seconds_opens_pairing_and_the_led_says_so() {
    let app = TestApp::spawn("panel").await;
    let room = unique_room("panel");
    let (button, led) = (VirtualPin::new(true), VirtualPin::new(false));
    let broker_up = Arc::new(AtomicBool::new(true));
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(panel::run(
        Panel::new(button.clone(), led.clone(), Millis(0)),
        room.clone(),
        app.engine.clone(),
        broker_up.clone(),
        stopping,
    ));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(lit_share(&led).await, 1.0, "ready: steady on");

    // A brush against the button does nothing; holding it two seconds opens a window.
    button.set(false);
    tokio::time::sleep(Duration::from_millis(300)).await;
    button.set(true);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(app.engine.live(&room).and_then(|l| l.pairing).is_none());
    button.set(false);
    let mut opened = false;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if app.engine.live(&room).and_then(|l| l.pairing).is_some() {
            opened = true;
            break;
        }
    }
    button.set(true);
    assert!(opened, "the held button opened a pairing window");
    let share = lit_share(&led).await;
    assert!((0.1..0.35).contains(&share), "pairing: a double flash every second, lit {share}");

    broker_up.store(false, std::sync::atomic::Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let share = lit_share(&led).await;
    assert!((0.35..0.65).contains(&share), "broker down: a fast blink, lit {share}");
    stop.send(true).unwrap();
    task.await.unwrap();
    app.stop().await;
}

/// A reader that shows the cards a test lines up, one per poll, then nothing.
struct ScriptedReader(VecDeque<Option<CardUid>>);

impl CardReader for ScriptedReader {
    type Error = std::convert::Infallible;
    fn poll(&mut self) -> Result<Option<CardUid>, Self::Error> {
        Ok(self.0.pop_front().flatten())
    }
}

#[tokio::test]
async fn anna_taps_her_card_and_the_attendance_shows_she_came_by_card_a_stranger_card_counts_for_no_one() {
    let app = TestApp::spawn("cards").await;
    let room = unique_room("cards");
    let anna = CardUid::parse_hex("04:A2:2B:1A").unwrap();
    let store = app.store().await;
    store.add_card(&anna.0, "Anna de Vries", 0).await.unwrap();
    let session = app.engine.start_session(room.clone(), "3A".into()).await.unwrap();

    // Anna holds her card on the reader for a few polls; then a card no one registered.
    let script = [Some(anna.clone()), Some(anna.clone()), None, Some(anna.clone()), Some(CardUid(vec![9, 9, 9, 9]))];
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let reader = ScriptedReader(script.into_iter().collect());
    let task = tokio::spawn(nfc::run(reader, room.clone(), store.clone(), app.engine.clone(), stopping));
    let mut rows = Vec::new();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        rows = store.find_anywhere("Anna de Vries").await.unwrap();
        if rows.iter().any(|(table, _)| table == "card_checkins") {
            break;
        }
    }
    assert!(rows.iter().any(|(table, _)| table == "card_checkins"), "{rows:?}");
    tokio::time::sleep(Duration::from_millis(400)).await;
    stop.send(true).unwrap();
    task.await.unwrap();

    let page = app.page(&format!("/sessions/{session}")).await;
    assert!(page.body.contains("<td>schoolpas</td>"), "{}", page.body);
    assert!(page.body.contains("Anna de Vries"));
    let row = store.session(session).await.unwrap().unwrap();
    let marks = store.attendance(&row).await.unwrap();
    assert_eq!(marks.len(), 1, "one tap, one student; the stranger's card counts for no one");
    assert!(marks[0].via.card && !marks[0].via.clicker);
    assert!(
        !store.find_anywhere("04a22b1a").await.unwrap().iter().any(|(t, _)| t == "cards"),
        "the card number itself is not kept"
    );
    store.close().await;
    app.stop().await;
}
