//! An unpaired clicker's side of pairing, sans-IO: presses type the code shown on the projector,
//! then one key exchange with the hub ([`crate::pake`]) turns it into a device id and a device key.
//! Messages and randomness in, messages out; the board or the simulator moves them.

use crate::pake::{CODE_LEN, Exchange, Keys, PairCode, tags_equal};
use crate::protocol::pairing::{Bytes, PairConfirm, PairDone, PairRefusal, PairReply, PairStart};
use crate::protocol::topics::{self, Parsed, Topic};
use crate::protocol::{self, Button, ClaimId, DeviceId, DeviceKey, PairTopic, Payload, RoomCode};

/// What pairing gives a clicker, to keep in flash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The device id the hub issued.
    pub device: DeviceId,
    /// The device's own key.
    pub key: DeviceKey,
}

/// Where pairing stands, for the LED.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairState {
    /// Typing the code: this many presses so far.
    Typing(usize),
    /// The code is typed; waiting for the hub.
    Waiting,
    /// Paired.
    Paired(Credentials),
    /// The hub said no (or the reply was not the hub's); a press starts typing again.
    Refused(PairRefusal),
}

/// A message to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    /// Where.
    pub topic: Topic,
    /// What.
    pub payload: Payload,
}

enum Step {
    Typing(heapless::Vec<Button, CODE_LEN>),
    AwaitReply { claim: ClaimId, exchange: Exchange },
    AwaitDone { claim: ClaimId, keys: Keys },
    Over(PairState),
}

/// The clicker's pairing state machine for one room.
pub struct Pairing {
    room: RoomCode,
    step: Step,
}

/// Random bytes for one exchange: 8 for the claim id, 64 for the secret.
pub type ExchangeRandom = [u8; 72];

impl Pairing {
    /// An unpaired clicker in `room`.
    pub fn new(room: RoomCode) -> Pairing {
        Pairing { room, step: Step::Typing(heapless::Vec::new()) }
    }

    /// Where pairing stands.
    pub fn state(&self) -> PairState {
        match &self.step {
            Step::Typing(typed) => PairState::Typing(typed.len()),
            Step::AwaitReply { .. } | Step::AwaitDone { .. } => PairState::Waiting,
            Step::Over(s) => s.clone(),
        }
    }

    /// The topics to subscribe to while an exchange is under way: the hub's reply and outcome.
    pub fn subscriptions(&self) -> Option<[Topic; 2]> {
        let claim = match &self.step {
            Step::AwaitReply { claim, .. } | Step::AwaitDone { claim, .. } => claim,
            _ => return None,
        };
        Some([PairTopic::Reply, PairTopic::Done].map(|k| topics::pair(&self.room, claim, k)))
    }

    /// A button press. The last press of the code starts the exchange: subscribe to
    /// [`Pairing::subscriptions`], then publish what this returns. Presses while waiting are
    /// ignored; after a refusal a press starts a new code.
    pub fn press(&mut self, button: Button, random: &ExchangeRandom) -> Option<Publish> {
        if matches!(self.step, Step::Over(PairState::Refused(_))) {
            self.step = Step::Typing(heapless::Vec::new());
        }
        let Step::Typing(typed) = &mut self.step else { return None };
        // Cannot fail: the code is started as soon as the vector is full.
        let _ = typed.push(button);
        if typed.len() < CODE_LEN {
            return None;
        }
        let mut code = [Button::A; CODE_LEN];
        code.copy_from_slice(typed);
        let mut claim = [0u8; 8];
        claim.copy_from_slice(&random[..8]);
        let mut secret = [0u8; 64];
        secret.copy_from_slice(&random[8..]);
        let claim = ClaimId(claim);
        let Ok(exchange) = Exchange::start(&PairCode(code), &self.room, &claim.0, &secret) else {
            self.step = Step::Typing(heapless::Vec::new());
            return None;
        };
        let payload = protocol::encode(&PairStart { share: Bytes(exchange.share()) }).ok()?;
        let topic = topics::pair(&self.room, &claim, PairTopic::Start);
        self.step = Step::AwaitReply { claim, exchange };
        Some(Publish { topic, payload })
    }

    /// Gives up waiting (the board calls it when the hub has not answered in time): back to typing.
    pub fn give_up(&mut self) {
        if matches!(self.step, Step::AwaitReply { .. } | Step::AwaitDone { .. }) {
            self.step = Step::Typing(heapless::Vec::new());
        }
    }

    /// A message on one of [`Pairing::subscriptions`]. A reply is answered with a confirmation to
    /// publish; a `done` ends the exchange. Anything else, or anything for another exchange, is
    /// ignored.
    pub fn on_message(&mut self, topic: &str, payload: &[u8]) -> Option<Publish> {
        let Ok(Parsed::Pair { room, claim, kind }) = topics::parse(topic) else { return None };
        if room != self.room {
            return None;
        }
        let step = core::mem::replace(&mut self.step, Step::Typing(heapless::Vec::new()));
        let (next, out) = match (step, kind) {
            (Step::AwaitReply { claim: mine, exchange }, PairTopic::Reply) if mine == claim => {
                match protocol::decode::<PairReply>(payload) {
                    Ok(reply) => match exchange.finish(&reply.share.0, &self.room, &claim.0, true) {
                        Ok(keys) => {
                            let confirm = PairConfirm { tag: Bytes(keys.clicker_confirms()) };
                            let out = protocol::encode(&confirm).ok().map(|payload| Publish {
                                topic: topics::pair(&self.room, &claim, PairTopic::Confirm),
                                payload,
                            });
                            (Step::AwaitDone { claim, keys }, out)
                        }
                        Err(_) => (Step::Over(PairState::Refused(PairRefusal::WrongCode)), None),
                    },
                    // A reply that cannot be read changes nothing: the real one may still come.
                    Err(_) => (Step::AwaitReply { claim: mine, exchange }, None),
                }
            }
            (Step::AwaitReply { claim: mine, .. }, PairTopic::Done) if mine == claim => {
                // Refused before any exchange (no window open, busy): anyone could send that, so it
                // only means "try again", never more.
                let why =
                    protocol::decode::<PairDone>(payload).ok().and_then(|d| d.refused).unwrap_or(PairRefusal::Closed);
                (Step::Over(PairState::Refused(why)), None)
            }
            (Step::AwaitDone { claim: mine, keys }, PairTopic::Done) if mine == claim => {
                let done = protocol::decode::<PairDone>(payload).ok();
                match done {
                    Some(PairDone { device: Some(device), tag: Some(tag), .. })
                        if tags_equal(&keys.hub_confirms(&device), &tag.0) =>
                    {
                        let key = keys.device_key(&device);
                        (Step::Over(PairState::Paired(Credentials { device, key })), None)
                    }
                    Some(PairDone { refused: Some(why), .. }) => (Step::Over(PairState::Refused(why)), None),
                    // A forged or garbled outcome: the exchange is spoilt, start again.
                    _ => (Step::Over(PairState::Refused(PairRefusal::WrongCode)), None),
                }
            }
            (step, _) => (step, None),
        };
        self.step = next;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room() -> RoomCode {
        RoomCode::parse("b-204").unwrap()
    }

    fn random(seed: u8) -> ExchangeRandom {
        core::array::from_fn(|i| (i as u8).wrapping_mul(13).wrapping_add(seed) ^ 0xa5)
    }

    /// Types `code`, returning the start message.
    fn type_code(p: &mut Pairing, code: &str) -> Option<Publish> {
        let mut out = None;
        for c in code.chars() {
            out = p.press(Button::from_letter(c).unwrap(), &random(1));
        }
        out
    }

    /// The hub's side, done by hand: reply to `start` with `hub_code`.
    fn hub_reply(start: &Publish, hub_code: &str) -> (ClaimId, Keys, Publish) {
        let Ok(Parsed::Pair { claim, .. }) = topics::parse(&start.topic) else { panic!("not a pair topic") };
        let share = protocol::decode::<PairStart>(&start.payload).unwrap().share;
        let hub = Exchange::start(&PairCode::parse(hub_code).unwrap(), &room(), &claim.0, &[9; 64]).unwrap();
        let reply = protocol::encode(&PairReply { share: Bytes(hub.share()) }).unwrap();
        let keys = hub.finish(&share.0, &room(), &claim.0, false).unwrap();
        (claim, keys, Publish { topic: topics::pair(&room(), &claim, PairTopic::Reply), payload: reply })
    }

    #[test]
    fn seven_presses_start_the_exchange_and_the_right_code_pairs() {
        let mut p = Pairing::new(room());
        assert_eq!(p.press(Button::B, &random(1)), None);
        assert_eq!(p.state(), PairState::Typing(1));
        let start = type_code(&mut p, "DAECAB").expect("the seventh press starts");
        assert_eq!(p.state(), PairState::Waiting);
        assert!(start.topic.ends_with("/start"));
        assert!(p.subscriptions().unwrap()[0].ends_with("/reply"));

        let (claim, hub_keys, reply) = hub_reply(&start, "BDAECAB");
        let confirm = p.on_message(&reply.topic, &reply.payload).expect("a confirmation");
        let tag = protocol::decode::<PairConfirm>(&confirm.payload).unwrap().tag;
        assert!(tags_equal(&tag.0, &hub_keys.clicker_confirms()), "the hub accepts it");

        let device = DeviceId::parse("c-00000042").unwrap();
        let done =
            PairDone { device: Some(device.clone()), tag: Some(Bytes(hub_keys.hub_confirms(&device))), refused: None };
        let topic = topics::pair(&room(), &claim, PairTopic::Done);
        p.on_message(&topic, &protocol::encode(&done).unwrap());
        assert_eq!(
            p.state(),
            PairState::Paired(Credentials { device: device.clone(), key: hub_keys.device_key(&device) })
        );
    }

    #[test]
    fn a_forged_outcome_does_not_pair() {
        let mut p = Pairing::new(room());
        let start = type_code(&mut p, "BDAECAB").unwrap();
        let (claim, _, reply) = hub_reply(&start, "BDAECAB");
        p.on_message(&reply.topic, &reply.payload).unwrap();
        // A bystander sends its own device id with a made-up tag.
        let forged =
            PairDone { device: Some(DeviceId::parse("c-evil").unwrap()), tag: Some(Bytes([0; 16])), refused: None };
        p.on_message(&topics::pair(&room(), &claim, PairTopic::Done), &protocol::encode(&forged).unwrap());
        assert_eq!(p.state(), PairState::Refused(PairRefusal::WrongCode));
        assert_eq!(p.press(Button::A, &random(2)), None, "a press starts typing again");
        assert_eq!(p.state(), PairState::Typing(1));
    }

    #[test]
    fn messages_for_another_exchange_or_room_are_ignored() {
        let mut p = Pairing::new(room());
        let start = type_code(&mut p, "BDAECAB").unwrap();
        let (_, _, reply) = hub_reply(&start, "BDAECAB");
        let other = topics::pair(&room(), &ClaimId([7; 8]), PairTopic::Reply);
        assert_eq!(p.on_message(&other, &reply.payload), None);
        let elsewhere = reply.topic.replace("b-204", "b-205");
        assert_eq!(p.on_message(&elsewhere, &reply.payload), None);
        assert_eq!(p.on_message(&reply.topic, b"{garbage"), None);
        assert_eq!(p.state(), PairState::Waiting, "still waiting for the real reply");
        assert!(p.on_message(&reply.topic, &reply.payload).is_some());
    }

    #[test]
    fn a_closed_window_refuses_and_the_clicker_can_try_again() {
        let mut p = Pairing::new(room());
        let start = type_code(&mut p, "BDAECAB").unwrap();
        let done_topic = start.topic.replace("/start", "/done");
        p.on_message(&done_topic, &protocol::encode(&PairDone::refused(PairRefusal::Closed)).unwrap());
        assert_eq!(p.state(), PairState::Refused(PairRefusal::Closed));
        assert!(type_code(&mut p, "BDAECAB").is_some());
        p.give_up();
        assert_eq!(p.state(), PairState::Typing(0));
    }
}
