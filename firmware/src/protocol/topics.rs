//! Every classhub MQTT topic, built and parsed here and nowhere else.
//!
//! ```text
//! classhub/v1/<room>/clicker/<device>/hello     clicker → hub   firmware, battery, RSSI, boot counter
//! classhub/v1/<room>/clicker/<device>/answer    clicker → hub   a press for the open question
//! classhub/v1/<room>/clicker/<device>/checkin   clicker → hub   "I am here"
//! classhub/v1/<room>/clicker/<device>/status    clicker → hub   online / offline (retained, last will)
//! classhub/v1/<room>/clicker/<device>/ack       hub → clicker   stored / duplicate / closed / rejected
//! classhub/v1/<room>/clicker/<device>/fwoffer   hub → clicker   a firmware image on offer
//! classhub/v1/<room>/clicker/<device>/fwchunk   hub → clicker   one chunk of it
//! classhub/v1/<room>/clicker/<device>/fwprogress clicker → hub  how far the update got
//! classhub/v1/<room>/question                   hub → clickers  the current question (retained)
//! classhub/v1/<room>/display                    hub → displays  what the projector shows (retained)
//! classhub/v1/<room>/pair/<claim>/start          clicker → hub   an unpaired clicker's key share
//! classhub/v1/<room>/pair/<claim>/reply          hub → clicker   the hub's key share
//! classhub/v1/<room>/pair/<claim>/confirm        clicker → hub   proof the clicker knows the code
//! classhub/v1/<room>/pair/<claim>/done           hub → clicker   the device id and the hub's proof
//! ```
//!
//! `<claim>` is 16 hex digits a clicker draws at random for one pairing exchange (see
//! [`super::pairing`]).

use core::fmt::Write;

use super::ids::{ClaimId, DeviceId, RoomCode};

/// The root of every topic; the protocol version lives here.
pub const ROOT: &str = "classhub/v1";

/// Room codes (32) and device ids (24) bound every topic to this length.
pub const MAX_TOPIC_LEN: usize = 96;

/// A topic string, built without a heap.
pub type Topic = heapless::String<MAX_TOPIC_LEN>;

/// What a clicker topic carries, the last level of `classhub/v1/<room>/clicker/<device>/<kind>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClickerTopic {
    /// Clicker → hub: firmware version, battery, RSSI and boot counter, sent on every connect.
    Hello,
    /// Clicker → hub: an answer to the open question.
    Answer,
    /// Clicker → hub: a check-in for attendance.
    CheckIn,
    /// Clicker → hub: online, or offline by last will (retained).
    Status,
    /// Hub → clicker: the outcome of one answer or check-in.
    Ack,
    /// Hub → clicker: a firmware image is on offer.
    FwOffer,
    /// Hub → clicker: one chunk of it.
    FwChunk,
    /// Clicker → hub: how far the update got.
    FwProgress,
}

impl ClickerTopic {
    /// Every clicker topic kind.
    pub const ALL: [ClickerTopic; 8] = [
        ClickerTopic::Hello,
        ClickerTopic::Answer,
        ClickerTopic::CheckIn,
        ClickerTopic::Status,
        ClickerTopic::Ack,
        ClickerTopic::FwOffer,
        ClickerTopic::FwChunk,
        ClickerTopic::FwProgress,
    ];

    /// The topic level, also the message kind inside a MAC.
    pub const fn as_str(self) -> &'static str {
        match self {
            ClickerTopic::Hello => "hello",
            ClickerTopic::Answer => "answer",
            ClickerTopic::CheckIn => "checkin",
            ClickerTopic::Status => "status",
            ClickerTopic::Ack => "ack",
            ClickerTopic::FwOffer => "fwoffer",
            ClickerTopic::FwChunk => "fwchunk",
            ClickerTopic::FwProgress => "fwprogress",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

fn build(args: core::fmt::Arguments<'_>) -> Topic {
    let mut t = Topic::new();
    // Cannot fail: every part is a validated id of bounded length and the sum fits MAX_TOPIC_LEN.
    let _ = t.write_fmt(args);
    t
}

/// `classhub/v1/<room>/clicker/<device>/<kind>`.
pub fn clicker(room: &RoomCode, device: &DeviceId, kind: ClickerTopic) -> Topic {
    build(format_args!("{ROOT}/{room}/clicker/{device}/{}", kind.as_str()))
}

/// `classhub/v1/<room>/question`: the current question, retained, hub → clickers.
pub fn question(room: &RoomCode) -> Topic {
    build(format_args!("{ROOT}/{room}/question"))
}

/// `classhub/v1/<room>/display`: the projector's state, retained, hub → displays.
pub fn display(room: &RoomCode) -> Topic {
    build(format_args!("{ROOT}/{room}/display"))
}

/// What a pairing topic carries, the last level of `classhub/v1/<room>/pair/<claim>/<kind>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PairTopic {
    /// Clicker → hub: its key share.
    Start,
    /// Hub → clicker: the hub's key share.
    Reply,
    /// Clicker → hub: its confirmation.
    Confirm,
    /// Hub → clicker: the outcome.
    Done,
}

impl PairTopic {
    /// Every pairing topic kind.
    pub const ALL: [PairTopic; 4] = [PairTopic::Start, PairTopic::Reply, PairTopic::Confirm, PairTopic::Done];

    /// The topic level.
    pub const fn as_str(self) -> &'static str {
        match self {
            PairTopic::Start => "start",
            PairTopic::Reply => "reply",
            PairTopic::Confirm => "confirm",
            PairTopic::Done => "done",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// `classhub/v1/<room>/pair/<claim>/<kind>`.
pub fn pair(room: &RoomCode, claim: &ClaimId, kind: PairTopic) -> Topic {
    build(format_args!("{ROOT}/{room}/pair/{claim}/{}", kind.as_str()))
}

/// `classhub/v1/+/pair/+/<kind>`: one kind of pairing message in every room (the hub listens to
/// starts and confirmations everywhere, and answers only where a window is open).
pub fn pair_filter(kind: PairTopic) -> Topic {
    build(format_args!("{ROOT}/+/pair/+/{}", kind.as_str()))
}

/// A clicker's MQTT client id, `<room>:<device>`: unique on a broker that several rooms share.
pub fn client_id(room: &RoomCode, device: &DeviceId) -> heapless::String<64> {
    let mut id = heapless::String::new();
    // Cannot fail: 32 + 1 + 24 bytes fit in 64.
    let _ = write!(id, "{room}:{device}");
    id
}

/// The hub's subscription for everything clickers send, in every room: `classhub/v1/+/clicker/+/+`.
/// The hub's own acks match it too; [`parse`] tells them apart.
pub const HUB_FILTER: &str = "classhub/v1/+/clicker/+/+";

/// The hub's subscription for one room's clickers: `classhub/v1/<room>/clicker/+/+`.
pub fn room_clickers_filter(room: &RoomCode) -> Topic {
    build(format_args!("{ROOT}/{room}/clicker/+/+"))
}

/// A topic taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A clicker's own topic.
    Clicker {
        /// The room in the topic.
        room: RoomCode,
        /// The device in the topic.
        device: DeviceId,
        /// What the topic carries.
        kind: ClickerTopic,
    },
    /// A room's retained question.
    Question(RoomCode),
    /// A room's retained display state.
    Display(RoomCode),
    /// A pairing exchange's topic.
    Pair {
        /// The room in the topic.
        room: RoomCode,
        /// The exchange.
        claim: ClaimId,
        /// What the topic carries.
        kind: PairTopic,
    },
}

/// Why a topic is not a classhub v1 topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicError {
    /// Not under `classhub/v1/`.
    NotClasshub,
    /// The room level is not a valid room code.
    BadRoom,
    /// The device level is not a valid device id.
    BadDevice,
    /// The levels after the room are not a known shape.
    Unknown,
}

/// Parses a topic into its room, device and kind.
pub fn parse(topic: &str) -> Result<Parsed, TopicError> {
    let rest = topic.strip_prefix(ROOT).and_then(|r| r.strip_prefix('/')).ok_or(TopicError::NotClasshub)?;
    let mut levels = rest.split('/');
    let room = levels.next().ok_or(TopicError::Unknown)?;
    let room = RoomCode::parse(room).map_err(|_| TopicError::BadRoom)?;
    let parsed = match (levels.next(), levels.next(), levels.next()) {
        (Some("question"), None, None) => Parsed::Question(room),
        (Some("display"), None, None) => Parsed::Display(room),
        (Some("clicker"), Some(device), Some(kind)) => {
            let device = DeviceId::parse(device).map_err(|_| TopicError::BadDevice)?;
            let kind = ClickerTopic::parse(kind).ok_or(TopicError::Unknown)?;
            Parsed::Clicker { room, device, kind }
        }
        (Some("pair"), Some(claim), Some(kind)) => {
            let claim = ClaimId::parse(claim).map_err(|_| TopicError::BadDevice)?;
            let kind = PairTopic::parse(kind).ok_or(TopicError::Unknown)?;
            Parsed::Pair { room, claim, kind }
        }
        _ => return Err(TopicError::Unknown),
    };
    if levels.next().is_some() {
        return Err(TopicError::Unknown);
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room() -> RoomCode {
        RoomCode::parse("b-204").unwrap()
    }

    fn dev() -> DeviceId {
        DeviceId::parse("c-0001").unwrap()
    }

    #[test]
    fn every_topic_lives_under_the_versioned_root() {
        assert_eq!(clicker(&room(), &dev(), ClickerTopic::Answer).as_str(), "classhub/v1/b-204/clicker/c-0001/answer");
        assert_eq!(question(&room()).as_str(), "classhub/v1/b-204/question");
        assert_eq!(display(&room()).as_str(), "classhub/v1/b-204/display");
        assert_eq!(room_clickers_filter(&room()).as_str(), "classhub/v1/b-204/clicker/+/+");
    }

    #[test]
    fn client_ids_name_room_and_device() {
        assert_eq!(client_id(&room(), &dev()).as_str(), "b-204:c-0001");
    }

    #[test]
    fn built_topics_parse_back() {
        for kind in ClickerTopic::ALL {
            let t = clicker(&room(), &dev(), kind);
            assert_eq!(parse(&t), Ok(Parsed::Clicker { room: room(), device: dev(), kind }));
        }
        assert_eq!(parse(&question(&room())), Ok(Parsed::Question(room())));
        assert_eq!(parse(&display(&room())), Ok(Parsed::Display(room())));
        let claim = ClaimId([0xab; 8]);
        for kind in PairTopic::ALL {
            let t = pair(&room(), &claim, kind);
            assert_eq!(parse(&t), Ok(Parsed::Pair { room: room(), claim, kind }));
        }
        assert_eq!(pair_filter(PairTopic::Start).as_str(), "classhub/v1/+/pair/+/start");
        assert_eq!(pair(&room(), &claim, PairTopic::Done).as_str(), "classhub/v1/b-204/pair/abababababababab/done");
    }

    #[test]
    fn the_longest_ids_still_fit_a_topic() {
        let room = RoomCode::parse(&"r".repeat(RoomCode::MAX_LEN)).unwrap();
        let dev = DeviceId::parse(&"d".repeat(DeviceId::MAX_LEN)).unwrap();
        let t = clicker(&room, &dev, ClickerTopic::CheckIn);
        assert!(t.ends_with("/checkin"), "{t}");
        assert!(matches!(parse(&t), Ok(Parsed::Clicker { .. })));
    }

    #[test]
    fn foreign_and_malformed_topics_are_refused() {
        assert_eq!(parse("classhub/v2/b-204/question"), Err(TopicError::NotClasshub));
        assert_eq!(parse("other/b-204"), Err(TopicError::NotClasshub));
        assert_eq!(parse("classhub/v1/b 204/question"), Err(TopicError::BadRoom));
        assert_eq!(parse("classhub/v1/b-204/clicker/c+1/answer"), Err(TopicError::BadDevice));
        assert_eq!(parse("classhub/v1/b-204/clicker/c-1/vote"), Err(TopicError::Unknown));
        assert_eq!(parse("classhub/v1/b-204/clicker/c-1/answer/x"), Err(TopicError::Unknown));
        assert_eq!(parse("classhub/v1/b-204"), Err(TopicError::Unknown));
    }
}
