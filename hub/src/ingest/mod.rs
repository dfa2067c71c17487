//! MQTT in: a clicker message parsed once at the edge into one [`Inbound`] value, or refused with the
//! reason the ack will carry.

pub mod limit;

use firmware::protocol::pairing::{PairConfirm, PairStart};
use firmware::protocol::topics::{self, Parsed};
use firmware::protocol::update::FwProgress;
use firmware::protocol::{
    self, Answer, CheckIn, ClaimId, ClickerTopic, CodecError, DeviceId, Hello, MAX_PAYLOAD, PairTopic, RejectReason,
    RoomCode, Status,
};

/// A clicker message, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A hello.
    Hello(Hello),
    /// An answer.
    Answer(Answer),
    /// A check-in.
    CheckIn(CheckIn),
    /// Online or offline.
    Status(Status),
    /// How far a firmware update got.
    FwProgress(FwProgress),
}

/// Where a message came from, by its topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct From {
    /// The room in the topic.
    pub room: RoomCode,
    /// The device in the topic.
    pub device: DeviceId,
}

/// Why a message was refused before anything else looked at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Not a clicker topic at all (or our own ack): nothing to answer.
    Ignore,
    /// A clicker topic with a payload that cannot be read: answer with this reason.
    Reject(From, RejectReason),
}

/// Parses one message from the broker.
pub fn parse(topic: &str, payload: &[u8]) -> Result<(From, Inbound), Refused> {
    let Ok(Parsed::Clicker { room, device, kind }) = topics::parse(topic) else { return Err(Refused::Ignore) };
    let from = From { room, device };
    if payload.len() > MAX_PAYLOAD {
        return match kind {
            ClickerTopic::Answer | ClickerTopic::CheckIn => Err(Refused::Reject(from, RejectReason::TooLarge)),
            _ => Err(Refused::Ignore),
        };
    }
    let reject = |e: CodecError| {
        let reason = match e {
            CodecError::TooLarge => RejectReason::TooLarge,
            CodecError::Malformed => RejectReason::Malformed,
        };
        Refused::Reject(from.clone(), reason)
    };
    let body = match kind {
        ClickerTopic::Answer => Inbound::Answer(protocol::decode(payload).map_err(reject)?),
        ClickerTopic::CheckIn => Inbound::CheckIn(protocol::decode(payload).map_err(reject)?),
        ClickerTopic::Hello => Inbound::Hello(protocol::decode(payload).map_err(|_| Refused::Ignore)?),
        ClickerTopic::Status => Inbound::Status(protocol::decode(payload).map_err(|_| Refused::Ignore)?),
        ClickerTopic::FwProgress => Inbound::FwProgress(protocol::decode(payload).map_err(|_| Refused::Ignore)?),
        ClickerTopic::Ack | ClickerTopic::FwOffer | ClickerTopic::FwChunk => return Err(Refused::Ignore),
    };
    Ok((from, body))
}

/// A pairing message from an unpaired clicker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairInbound {
    /// Its key share.
    Start(PairStart),
    /// Its confirmation.
    Confirm(PairConfirm),
}

/// A pairing message with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairMessage {
    /// The room in the topic.
    pub room: RoomCode,
    /// The exchange.
    pub claim: ClaimId,
    /// What it says.
    pub body: PairInbound,
}

/// Parses a pairing message (start or confirm); `None` for anything else, including the hub's own
/// replies and pairing messages that cannot be read (an unpaired clicker has no key to be answered
/// with, so there is nothing to say to it).
pub fn parse_pair(topic: &str, payload: &[u8]) -> Option<PairMessage> {
    let Ok(Parsed::Pair { room, claim, kind }) = topics::parse(topic) else { return None };
    let body = match kind {
        PairTopic::Start => PairInbound::Start(protocol::decode(payload).ok()?),
        PairTopic::Confirm => PairInbound::Confirm(protocol::decode(payload).ok()?),
        PairTopic::Reply | PairTopic::Done => return None,
    };
    Some(PairMessage { room, claim, body })
}

/// The pairing filters the hub listens to in every room (it answers only where a window is open).
pub fn pair_subscriptions() -> [String; 2] {
    [PairTopic::Start, PairTopic::Confirm].map(|k| topics::pair_filter(k).to_string())
}

/// The topic filters for one room the hub serves: everything its clickers send, but not the hub's
/// own acks. A hub subscribes only to its own rooms, so hubs can share a district broker.
pub fn subscriptions(room: &RoomCode) -> [String; 5] {
    [ClickerTopic::Answer, ClickerTopic::CheckIn, ClickerTopic::Hello, ClickerTopic::Status, ClickerTopic::FwProgress]
        .map(|k| format!("{}/{room}/clicker/+/{}", topics::ROOT, k.as_str()))
}

/// The rooms the hub serves, shared by the engine (which adds rooms) and the MQTT loop (which
/// subscribes to all of them again after every reconnect).
#[derive(Debug, Clone, Default)]
pub struct Rooms(std::sync::Arc<std::sync::Mutex<std::collections::BTreeSet<RoomCode>>>);

impl Rooms {
    /// Adds a room; true if it is new.
    pub fn add(&self, room: &RoomCode) -> bool {
        // Cannot fail unless a holder of the lock panicked.
        self.0.lock().expect("rooms lock").insert(room.clone())
    }

    /// Every room.
    pub fn all(&self) -> Vec<RoomCode> {
        self.0.lock().expect("rooms lock").iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_good_answer_parses() {
        let (from, body) = parse(
            "classhub/v1/b-204/clicker/c-0001/answer",
            br#"{"seq":12884901890,"q":17,"answer":"B","mac":"3257cb00e9bffe52"}"#,
        )
        .unwrap();
        assert_eq!(from.device.as_str(), "c-0001");
        assert!(matches!(body, Inbound::Answer(a) if a.q == 17));
    }

    #[test]
    fn bad_input_is_refused_with_a_reason() {
        let t = "classhub/v1/b-204/clicker/c-0001/answer";
        assert!(matches!(parse(t, b"{not json"), Err(Refused::Reject(_, RejectReason::Malformed))));
        assert!(matches!(parse(t, &[b' '; 300]), Err(Refused::Reject(_, RejectReason::TooLarge))));
        assert_eq!(parse("classhub/v1/b-204/clicker/c-0001/ack", b"{}"), Err(Refused::Ignore));
        assert_eq!(parse("elsewhere/x", b"{}"), Err(Refused::Ignore));
    }

    #[test]
    fn the_hub_subscribes_to_its_rooms_but_not_its_own_acks() {
        let subs = subscriptions(&RoomCode::parse("b-204").unwrap());
        assert!(subs.contains(&"classhub/v1/b-204/clicker/+/answer".to_owned()));
        assert!(!subs.iter().any(|s| s.ends_with("/ack")));
    }
}
