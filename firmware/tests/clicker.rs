//! The clicker state machine in lessons: a fake network, a fake clock, a hub played by the test.

mod common;

use common::Net;
use firmware::boot_counter::{FlashBootCounter, RamFlash};
use firmware::led::Colour;
use firmware::protocol::{
    self, Ack, AckStatus, Button, CheckIn, Choices, ClickerTopic, DeviceId, DeviceKey, Hello, QuestionAnnouncement,
    QuestionKind, QuestionSpec, QuestionState, RejectReason, RoomCode, Seq, mac, topics,
};
use firmware::{Clicker, Config, Millis, State, Timing};

/// One clicker on a desk, the test's hand on its buttons and the test as the hub.
struct Desk {
    clicker: Clicker,
    net: Net,
    now: Millis,
    room: RoomCode,
    device: DeviceId,
    key: DeviceKey,
}

fn config(device: &str) -> Config {
    Config {
        room: RoomCode::parse("b-204").unwrap(),
        device: DeviceId::parse(device).unwrap(),
        key: DeviceKey::parse("00112233445566778899aabbccddeeff").unwrap(),
        firmware: "0.1.0".try_into().unwrap(),
        timing: Timing::default(),
    }
}

impl Desk {
    /// A clicker booted on a fresh flash, connected, with the hub's retained question delivered.
    fn online() -> Desk {
        let mut flash = FlashBootCounter::new(RamFlash::<4096, 1024>::new(), 0).unwrap();
        let mut d = Desk::booted(&mut flash);
        d.net.come_up();
        d.tick(0);
        d
    }

    fn booted(counter: &mut FlashBootCounter<RamFlash<4096, 1024>>) -> Desk {
        let cfg = config("c-0001");
        let (room, device, key) = (cfg.room.clone(), cfg.device.clone(), cfg.key.clone());
        let mut net = Net::default();
        let mut clicker = Clicker::new(cfg, Millis(0));
        assert_eq!(clicker.state(Millis(0)), State::Booting);
        clicker.boot(counter, &mut net, Millis(0)).unwrap();
        Desk { clicker, net, now: Millis(0), room, device, key }
    }

    fn tick(&mut self, ms: u32) {
        self.now = self.now.plus(ms);
        self.clicker.poll(self.now, &mut self.net);
    }

    fn state(&self) -> State {
        self.clicker.state(self.now)
    }

    fn press(&mut self, b: Button) {
        self.clicker.press(b, self.now, &mut self.net);
    }

    fn ask(&mut self, q: u32, spec: QuestionSpec, state: QuestionState) {
        let payload = protocol::encode(&QuestionAnnouncement { q, spec, state }).unwrap();
        let topic = topics::question(&self.room);
        self.net.deliver(&topic, &payload);
        self.tick(1);
    }

    fn ask_single(&mut self, q: u32, options: u8) {
        self.ask(q, QuestionSpec::new(QuestionKind::Single, options).unwrap(), QuestionState::Open);
    }

    /// The hub's ack for `seq`, signed with `key`.
    fn ack_with(&mut self, seq: Seq, status: AckStatus, reason: Option<RejectReason>, key: Option<&DeviceKey>) {
        let mut ack = Ack { seq, status, reason, mac: None };
        if let Some(key) = key {
            mac::sign(key, &self.device, &mut ack);
        }
        let topic = topics::clicker(&self.room, &self.device, ClickerTopic::Ack);
        self.net.deliver(&topic, &protocol::encode(&ack).unwrap());
        self.tick(1);
    }

    fn ack(&mut self, status: AckStatus) {
        let seq = self.clicker.in_flight_seq().expect("something in flight");
        let key = self.key.clone();
        self.ack_with(seq, status, None, Some(&key));
    }
}

#[test]
fn on_connect_it_subscribes_says_online_and_hello() {
    let d = Desk::online();
    assert_eq!(d.state(), State::Idle);
    assert_eq!(d.net.connects, 1);
    assert!(d.net.subscriptions.contains(&"classhub/v1/b-204/clicker/c-0001/ack".to_owned()));
    assert!(d.net.subscriptions.contains(&"classhub/v1/b-204/question".to_owned()));
    let status = &d.net.published[0];
    assert_eq!(
        (status.0.as_str(), status.1.as_slice(), status.2),
        ("classhub/v1/b-204/clicker/c-0001/status", &br#"{"state":"online"}"#[..], true)
    );
    let hello: Hello = serde_json::from_slice(d.net.of_kind(ClickerTopic::Hello)[0]).unwrap();
    assert_eq!((hello.boot, hello.rssi, hello.fw.as_str()), (1, -61, "0.1.0"));
    assert_eq!(hello.seq, Seq::new(1, 1));
    assert_eq!(mac::verify(&d.key, &d.device, &hello), Ok(()));
}

#[test]
fn a_press_is_pending_until_the_hub_stores_it_then_green() {
    let mut d = Desk::online();
    d.ask_single(17, 4);
    assert_eq!(d.state(), State::QuestionOpen);
    assert_eq!(d.clicker.led(d.now), Colour::Blue);

    d.press(Button::B);
    assert_eq!(d.state(), State::Pending);
    let sent = d.net.answers();
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].q, sent[0].answer), (17, Choices::one(Button::B)));
    assert_eq!(mac::verify(&d.key, &d.device, &sent[0]), Ok(()));

    d.ack(AckStatus::Stored);
    assert_eq!(d.state(), State::Stored);
    assert_eq!(d.clicker.led(d.now), Colour::Green);
    d.tick(60_000);
    assert_eq!(d.state(), State::Stored, "green while the question stays open");
    d.ask(17, QuestionSpec::new(QuestionKind::Single, 4).unwrap(), QuestionState::Closed);
    assert_eq!(d.state(), State::Idle);
}

#[test]
fn without_an_ack_it_retries_the_same_seq_with_growing_waits_and_never_shows_stored() {
    let mut d = Desk::online();
    d.ask_single(1, 2);
    d.press(Button::A);
    let mut sent_at = vec![d.now.0];
    for _ in 0..60_000 {
        d.tick(1);
        if d.net.answers().len() > sent_at.len() {
            sent_at.push(d.now.0);
        }
        assert_ne!(d.state(), State::Stored);
    }
    let answers = d.net.answers();
    assert!(answers.iter().all(|a| a.seq == answers[0].seq), "a retry is the same message");
    let gaps: Vec<u64> = sent_at.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.len() >= 5, "{gaps:?}");
    assert!(gaps[0] < 600 && gaps[3] > 2_000, "waits grow: {gaps:?}");
    assert!(gaps.iter().all(|&g| g <= 12_500), "and stop growing at the cap: {gaps:?}");
    assert_eq!(d.clicker.stats().retries as usize, answers.len() - 1);
}

#[test]
fn changing_the_answer_sends_both_presses_in_order() {
    let mut d = Desk::online();
    d.ask_single(5, 4);
    d.press(Button::B);
    d.press(Button::C); // before B's ack: waits behind it
    assert_eq!(d.net.answers().len(), 1);
    d.ack(AckStatus::Stored);
    assert_eq!(d.state(), State::Pending, "C is on its way");
    d.ack(AckStatus::Stored);
    assert_eq!(d.state(), State::Stored);
    let a = d.net.answers();
    assert_eq!(a.iter().map(|a| a.answer.to_string()).collect::<Vec<_>>(), ["B", "C"]);
    assert!(a[1].seq > a[0].seq);
}

#[test]
fn a_duplicate_ack_is_as_good_as_stored() {
    let mut d = Desk::online();
    d.ask_single(5, 4);
    d.press(Button::D);
    d.ack(AckStatus::Duplicate);
    assert_eq!(d.state(), State::Stored);
}

#[test]
fn closed_shows_red_for_a_while_then_the_question_state() {
    let mut d = Desk::online();
    d.ask_single(5, 4);
    d.press(Button::A);
    d.ack(AckStatus::Closed);
    assert_eq!(d.state(), State::Closed);
    assert_eq!(d.clicker.led(d.now), Colour::Red);
    d.tick(3_100);
    assert_eq!(d.state(), State::QuestionOpen);
}

#[test]
fn a_rejection_names_its_reason() {
    let mut d = Desk::online();
    d.ask_single(5, 4);
    d.press(Button::A);
    let seq = d.clicker.in_flight_seq().unwrap();
    let key = d.key.clone();
    d.ack_with(seq, AckStatus::Rejected, Some(RejectReason::WrongRoom), Some(&key));
    assert_eq!(d.state(), State::Rejected(RejectReason::WrongRoom));
    assert_eq!(d.clicker.waiting(), 0, "an authenticated refusal ends the retries");
}

#[test]
fn an_ack_that_does_not_verify_never_turns_the_led_green() {
    let mut d = Desk::online();
    d.ask_single(5, 4);
    d.press(Button::A);
    let seq = d.clicker.in_flight_seq().unwrap();
    let other = DeviceKey::parse("ffeeddccbbaa99887766554433221100").unwrap();
    d.ack_with(seq, AckStatus::Stored, None, Some(&other));
    d.ack_with(seq, AckStatus::Stored, None, None);
    assert_eq!(d.state(), State::Pending);
    assert_eq!(d.clicker.stats().untrusted_acks, 2);
    // An unsigned refusal (the hub does not know this clicker) is shown, and retries go on.
    d.ack_with(seq, AckStatus::Rejected, Some(RejectReason::UnknownDevice), None);
    assert_eq!(d.clicker.in_flight_seq(), Some(seq));
    for _ in 0..200 {
        d.tick(100);
    }
    assert!(d.net.answers().len() > 3, "still retrying");
}

#[test]
fn an_ack_for_another_seq_is_ignored() {
    let mut d = Desk::online();
    d.ask_single(5, 4);
    d.press(Button::A);
    let seq = d.clicker.in_flight_seq().unwrap();
    let key = d.key.clone();
    d.ack_with(Seq(seq.0 + 1), AckStatus::Stored, None, Some(&key));
    assert_eq!(d.state(), State::Pending);
}

#[test]
fn presses_without_an_open_question_or_outside_its_options_send_nothing() {
    let mut d = Desk::online();
    d.press(Button::A);
    assert_eq!(d.state(), State::Closed);
    d.ask_single(9, 3);
    d.press(Button::D);
    assert_eq!(d.state(), State::Rejected(RejectReason::InvalidAnswer));
    assert!(d.net.answers().is_empty());
}

#[test]
fn multi_select_presses_toggle_and_send_the_whole_set() {
    let mut d = Desk::online();
    d.ask(3, QuestionSpec::new(QuestionKind::Multi, 5).unwrap(), QuestionState::Open);
    for b in [Button::A, Button::D, Button::A, Button::E] {
        d.press(b);
        d.ack(AckStatus::Stored);
    }
    let sets: Vec<String> = d.net.answers().iter().map(|a| a.answer.to_string()).collect();
    assert_eq!(sets, ["A", "AD", "D", "DE"]);
}

#[test]
fn true_false_and_scale_questions_take_their_buttons() {
    let mut d = Desk::online();
    d.ask(4, QuestionSpec::true_false(), QuestionState::Open);
    d.press(Button::C);
    assert_eq!(d.state(), State::Rejected(RejectReason::InvalidAnswer), "true/false has A and B only");
    d.press(Button::B);
    d.ack(AckStatus::Stored);
    d.ask(5, QuestionSpec::scale(), QuestionState::Open);
    assert_eq!(d.state(), State::QuestionOpen, "a new question needs a new answer");
    d.press(Button::E);
    d.ack(AckStatus::Stored);
    let a = d.net.answers();
    assert_eq!((a[0].q, a[0].answer.to_string()), (4, "B".to_owned()));
    assert_eq!((a[1].q, a[1].answer.to_string()), (5, "E".to_owned()));
}

#[test]
fn a_check_in_is_acked_and_shows_green_briefly() {
    let mut d = Desk::online();
    d.clicker.check_in(d.now, &mut d.net);
    let c: CheckIn = serde_json::from_slice(d.net.of_kind(ClickerTopic::CheckIn)[0]).unwrap();
    assert_eq!(mac::verify(&d.key, &d.device, &c), Ok(()));
    d.ack(AckStatus::Stored);
    assert_eq!(d.state(), State::Stored);
    d.tick(3_100);
    assert_eq!(d.state(), State::Idle);
}

#[test]
fn presses_while_offline_wait_and_leave_in_order_on_reconnect() {
    let mut d = Desk::online();
    d.ask_single(8, 5);
    d.net.up = false;
    d.tick(1);
    assert_eq!(d.state(), State::Offline);
    assert_eq!(d.clicker.led(Millis(0)), Colour::Amber);
    for b in [Button::A, Button::B, Button::C] {
        d.press(b);
        d.tick(100);
    }
    assert!(d.net.answers().is_empty());
    assert_eq!(d.clicker.waiting(), 3);

    d.net.come_up();
    d.tick(1);
    for _ in 0..3 {
        d.ack(AckStatus::Stored);
    }
    let a = d.net.answers();
    assert_eq!(a.iter().map(|a| a.answer.to_string()).collect::<Vec<_>>(), ["A", "B", "C"]);
    let hello: Hello = serde_json::from_slice(d.net.of_kind(ClickerTopic::Hello)[1]).unwrap();
    assert!(hello.seq < a[0].seq && a[0].seq < a[1].seq && a[1].seq < a[2].seq, "numbers rise on the wire");
    assert_eq!(d.state(), State::Stored);
}

#[test]
fn a_long_outage_keeps_the_newest_32_and_counts_the_rest() {
    let mut d = Desk::online();
    d.ask(8, QuestionSpec::new(QuestionKind::Multi, 5).unwrap(), QuestionState::Open);
    d.net.up = false;
    d.tick(1);
    for i in 0..40 {
        d.press(Button::ALL[i % 5]);
    }
    assert_eq!(d.clicker.waiting(), 32);
    assert_eq!(d.clicker.dropped(), 8);
}

#[test]
fn a_message_in_flight_when_the_link_drops_goes_again_with_the_same_seq() {
    let mut d = Desk::online();
    d.ask_single(8, 5);
    d.press(Button::C);
    let seq = d.clicker.in_flight_seq().unwrap();
    d.net.up = false;
    d.tick(5_000);
    d.net.come_up();
    d.tick(1);
    let a = d.net.answers();
    assert_eq!(a.last().unwrap().seq, seq);
    d.ack(AckStatus::Duplicate);
    assert_eq!(d.state(), State::Stored);
}

#[test]
fn a_reboot_never_reuses_a_sequence_number() {
    let mut counter = FlashBootCounter::new(RamFlash::<4096, 1024>::new(), 0).unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let mut d = Desk::booted(&mut counter);
        d.net.come_up();
        d.tick(0);
        d.ask_single(1, 2);
        for _ in 0..3 {
            d.press(Button::A);
            d.ack(AckStatus::Stored);
        }
        let hello: Hello = serde_json::from_slice(d.net.of_kind(ClickerTopic::Hello)[0]).unwrap();
        seen.push(hello.seq);
        seen.extend(d.net.answers().iter().map(|a| a.seq));
        // The battery is pulled: the clicker and its RAM are gone, the flash stays.
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, seen, "every number is new and they only rise: {seen:?}");
    assert_eq!(seen.last().unwrap().boot(), 3);
}

#[test]
fn a_failed_boot_counter_is_a_fault_and_nothing_is_sent() {
    struct Broken;
    impl firmware::ports::BootCounter for Broken {
        type Error = &'static str;
        fn next_boot(&mut self) -> Result<u32, &'static str> {
            Err("flash worn out")
        }
    }
    let mut net = Net::default();
    let mut c = Clicker::new(config("c-0002"), Millis(0));
    assert!(c.boot(&mut Broken, &mut net, Millis(0)).is_err());
    net.come_up();
    c.poll(Millis(1), &mut net);
    c.press(Button::A, Millis(2), &mut net);
    assert_eq!(c.state(Millis(3)), State::Fault);
    assert!(net.published.is_empty());
}

#[test]
fn it_sleeps_after_ten_quiet_minutes_and_a_press_wakes_it() {
    let mut d = Desk::online();
    d.tick(9 * 60_000);
    assert_eq!(d.state(), State::Idle);
    d.tick(60_001);
    assert_eq!(d.state(), State::Asleep);
    assert_eq!(d.clicker.led(d.now), Colour::Off);
    assert_eq!(d.net.disconnects, 1);
    assert!(d.net.published.iter().any(|(t, p, r)| t.ends_with("/status") && p == br#"{"state":"offline"}"# && *r));

    d.press(Button::B);
    assert_eq!(d.state(), State::Connecting, "the waking press is not an answer");
    d.net.come_up();
    d.tick(1);
    assert_eq!(d.state(), State::Idle);
    assert!(d.net.answers().is_empty());
    assert_eq!(d.net.connects, 2);
}

#[test]
fn it_does_not_sleep_with_something_unacknowledged() {
    let mut d = Desk::online();
    d.ask_single(1, 2);
    d.press(Button::A);
    d.tick(20 * 60_000);
    assert_eq!(d.state(), State::Pending);
}

#[test]
fn a_low_battery_adds_magenta_flashes() {
    let mut d = Desk::online();
    d.clicker.battery(2_200);
    assert!(d.clicker.low_battery());
    assert_eq!(d.clicker.led(Millis(4_000)), Colour::Magenta);
    d.clicker.battery(2_900);
    assert_eq!(d.clicker.led(Millis(4_000)), Colour::Off);
}

#[test]
fn the_whole_clicker_state_fits_in_4_kib() {
    let size = std::mem::size_of::<Clicker>();
    println!("size_of::<Clicker>() = {size} bytes");
    assert!(size < 4096, "{size} bytes");
}
