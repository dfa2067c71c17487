//! The clicker on mocked embedded-hal pins: real chatter on the buttons, every LED write checked.

mod common;

use std::cell::Cell;
use std::rc::Rc;

use common::Net;
use embedded_hal_mock::eh1::digital::{Mock, State as Level, Transaction};
use firmware::boot_counter::{FlashBootCounter, RamFlash};
use firmware::led::{Colour, RgbLed};
use firmware::ports::Battery;
use firmware::protocol::{
    self, Ack, AckStatus, ClickerTopic, DeviceId, DeviceKey, QuestionAnnouncement, QuestionKind, QuestionSpec,
    QuestionState, RoomCode, mac, topics,
};
use firmware::{Buttons, Clock, Config, Device, Millis, State, Timing};

#[derive(Clone, Default)]
struct FakeClock(Rc<Cell<u64>>);

impl Clock for FakeClock {
    fn now(&self) -> Millis {
        Millis(self.0.get())
    }
}

struct Cells(u16);

impl Battery for Cells {
    fn millivolts(&mut self) -> Option<u16> {
        Some(self.0)
    }
}

/// Six button levels over time (active low: `true` = pressed) and the LED colours expected, in order.
struct Script {
    polls: std::ops::RangeInclusive<u64>,
    pressed: Box<dyn Fn(usize, u64) -> bool>,
}

fn button_mocks(script: &Script) -> ([Mock; 5], Mock) {
    let pin = |i: usize| {
        let reads: Vec<Transaction> = script
            .polls
            .clone()
            .map(|t| Transaction::get(if (script.pressed)(i, t) { Level::Low } else { Level::High }))
            .collect();
        Mock::new(&reads)
    };
    ([pin(0), pin(1), pin(2), pin(3), pin(4)], pin(5))
}

fn led_mocks(colours: &[Colour]) -> (Mock, Mock, Mock) {
    let channel = |pick: fn((bool, bool, bool)) -> bool| {
        let writes: Vec<Transaction> = colours
            .iter()
            .map(|c| Transaction::set(if pick(c.channels()) { Level::High } else { Level::Low }))
            .collect();
        Mock::new(&writes)
    };
    (channel(|c| c.0), channel(|c| c.1), channel(|c| c.2))
}

/// A chattering press: 4 ms of bounce going down at `at`, held 90 ms, 5 ms of bounce coming up.
fn chattering_press(at: u64, t: u64) -> bool {
    match t {
        _ if t < at => false,
        _ if t < at + 4 => (t - at).is_multiple_of(2),
        _ if t < at + 94 => true,
        _ if t < at + 99 => (t - at) % 2 == 1,
        _ => false,
    }
}

/// Takes the device apart, checks every pin mock was used exactly as expected, returns the network.
fn finish(dev: Device<Mock, Mock, FakeClock, Cells, Net>) -> Net {
    let (buttons, led, net) = dev.release();
    for mut pin in buttons.answer {
        pin.done();
    }
    buttons.check_in.expect("fitted").done();
    let (mut r, mut g, mut b) = led.release();
    r.done();
    g.done();
    b.done();
    net
}

fn config() -> Config {
    Config {
        room: RoomCode::parse("b-204").unwrap(),
        device: DeviceId::parse("c-0001").unwrap(),
        key: DeviceKey::parse("00112233445566778899aabbccddeeff").unwrap(),
        firmware: "0.1.0".try_into().unwrap(),
        timing: Timing::default(),
    }
}

#[test]
fn a_chattering_press_on_b_sends_one_answer_and_the_led_tells_the_truth() {
    // Button B (pin 1) is pressed at 20 ms with chatter; the hub acks at 150 ms.
    let script = Script { polls: 1..=150, pressed: Box::new(|pin, t| pin == 1 && chattering_press(20, t)) };
    let (answer, check_in) = button_mocks(&script);
    // amber (connecting at boot), off (idle), blue (question open), blue blink off at 125 ms
    // while pending, green once stored.
    let (r, g, b) = led_mocks(&[Colour::Amber, Colour::Off, Colour::Blue, Colour::Off, Colour::Green]);
    let clock = FakeClock::default();
    let buttons = Buttons { answer, check_in: Some(check_in), active_low: true };
    let mut dev =
        Device::new(config(), buttons, RgbLed::new(r, g, b, false), clock.clone(), Cells(2_900), Net::default());
    let mut flash = FlashBootCounter::new(RamFlash::<4096, 1024>::new(), 0).unwrap();
    dev.boot(&mut flash).unwrap();
    assert_eq!(dev.state(), State::Connecting);
    dev.transport_mut().come_up();

    let room = RoomCode::parse("b-204").unwrap();
    let question = QuestionAnnouncement {
        q: 7,
        spec: QuestionSpec::new(QuestionKind::Single, 4).unwrap(),
        state: QuestionState::Open,
    };
    for t in script.polls.clone() {
        clock.0.set(t);
        if t == 2 {
            dev.transport_mut().deliver(&topics::question(&room), &protocol::encode(&question).unwrap());
        }
        if t == 150 {
            let seq = dev.core().in_flight_seq().expect("B in flight");
            let mut ack = Ack { seq, status: AckStatus::Stored, reason: None, mac: None };
            mac::sign(&config().key, &config().device, &mut ack);
            let topic = topics::clicker(&room, &config().device, ClickerTopic::Ack);
            dev.transport_mut().deliver(&topic, &protocol::encode(&ack).unwrap());
        }
        let next = dev.poll().unwrap();
        assert!(next > Millis(t), "the next wake is in the future");
        if (40..140).contains(&t) {
            assert_eq!(dev.state(), State::Pending);
        }
    }
    assert_eq!(dev.state(), State::Stored);
    assert_eq!(dev.lit(), Some(Colour::Green));

    let net = finish(dev);
    let answers = net.answers();
    assert_eq!(answers.len(), 1, "one answer despite the chatter");
    assert_eq!(answers[0].answer.to_string(), "B");
}

#[test]
fn the_check_in_button_checks_in() {
    let script = Script { polls: 1..=130, pressed: Box::new(|pin, t| pin == 5 && chattering_press(10, t)) };
    let (answer, check_in) = button_mocks(&script);
    let (r, g, b) = led_mocks(&[Colour::Amber, Colour::Off, Colour::Blue, Colour::Off]);
    let clock = FakeClock::default();
    let buttons = Buttons { answer, check_in: Some(check_in), active_low: true };
    let mut dev =
        Device::new(config(), buttons, RgbLed::new(r, g, b, false), clock.clone(), Cells(2_900), Net::default());
    dev.boot(&mut FlashBootCounter::new(RamFlash::<4096, 1024>::new(), 0).unwrap()).unwrap();
    dev.transport_mut().come_up();
    for t in script.polls.clone() {
        clock.0.set(t);
        dev.poll().unwrap();
    }
    assert_eq!(dev.state(), State::Pending, "the check-in waits for its ack");
    let net = finish(dev);
    assert_eq!(net.of_kind(ClickerTopic::CheckIn).len(), 1);
}

#[test]
fn a_clicker_on_its_pins_stays_small() {
    type Dev = Device<Mock, Mock, FakeClock, Cells, Net>;
    println!("size_of::<Device<mock pins>>() = {} bytes", std::mem::size_of::<Dev>());
    assert!(std::mem::size_of::<Dev>() < 4096);
}
