//! The JSON payloads of protocol v1: one serde type per message, the same on clicker and hub.

use core::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ids::{Seq, decode_hex, write_hex};

/// One of the five answer buttons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Button {
    /// Button A (true on a true/false question, 1 on a scale).
    A,
    /// Button B (false on a true/false question, 2 on a scale).
    B,
    /// Button C.
    C,
    /// Button D.
    D,
    /// Button E.
    E,
}

impl Button {
    /// All five, in order.
    pub const ALL: [Button; 5] = [Button::A, Button::B, Button::C, Button::D, Button::E];

    /// 0 for A up to 4 for E.
    pub const fn index(self) -> u8 {
        self as u8
    }

    /// The button at `index` (0 = A).
    pub const fn from_index(index: u8) -> Option<Button> {
        match index {
            0 => Some(Button::A),
            1 => Some(Button::B),
            2 => Some(Button::C),
            3 => Some(Button::D),
            4 => Some(Button::E),
            _ => None,
        }
    }

    /// The letter printed on the button.
    pub const fn letter(self) -> char {
        (b'A' + self as u8) as char
    }

    /// The button printed with `letter`.
    pub fn from_letter(letter: char) -> Option<Button> {
        let c = letter as u32;
        if (b'A' as u32..=b'E' as u32).contains(&c) { Button::from_index((c - b'A' as u32) as u8) } else { None }
    }
}

/// The buttons an answer holds: one letter for most kinds, any set for multi-select.
/// On the wire a string of letters in alphabetical order, `"B"` or `"ACD"`; `""` is an emptied
/// multi-select. Any other spelling (`"CA"`, `"AA"`, `"b"`) is refused, so each answer has exactly
/// one spelling and its MAC one input.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Choices(u8);

impl Choices {
    /// No button.
    pub const NONE: Choices = Choices(0);

    /// Just this button.
    pub const fn one(b: Button) -> Choices {
        Choices(1 << b as u8)
    }

    /// Whether `b` is chosen.
    pub const fn contains(self, b: Button) -> bool {
        self.0 & (1 << b as u8) != 0
    }

    /// The same set with `b` flipped, as a multi-select press does.
    pub const fn toggled(self, b: Button) -> Choices {
        Choices(self.0 ^ (1 << b as u8))
    }

    /// How many buttons are chosen.
    pub const fn len(self) -> u32 {
        self.0.count_ones()
    }

    /// Whether none is chosen.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The bit set, A in bit 0.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// The only button, if exactly one is chosen.
    pub fn single(self) -> Option<Button> {
        if self.len() == 1 { Button::from_index(self.0.trailing_zeros() as u8) } else { None }
    }

    /// The chosen buttons in order.
    pub fn iter(self) -> impl Iterator<Item = Button> {
        Button::ALL.into_iter().filter(move |b| self.contains(*b))
    }

    /// The wire spelling: letters in order.
    pub fn as_letters(self) -> heapless::String<5> {
        // Cannot fail: at most five letters.
        self.iter().map(Button::letter).collect()
    }

    /// Parses the wire spelling, refusing every non-canonical one.
    pub fn parse(s: &str) -> Result<Choices, ChoicesError> {
        let mut bits = 0u8;
        let mut last: Option<u8> = None;
        for c in s.chars() {
            let b = Button::from_letter(c).ok_or(ChoicesError)?;
            if last.is_some_and(|l| l >= b as u8) {
                return Err(ChoicesError);
            }
            last = Some(b as u8);
            bits |= 1 << b as u8;
        }
        Ok(Choices(bits))
    }
}

impl fmt::Debug for Choices {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Choices({:?})", self.as_letters().as_str())
    }
}

impl fmt::Display for Choices {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_letters())
    }
}

/// An answer spelled other than in alphabetical capital letters A–E, each once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChoicesError;

impl fmt::Display for ChoicesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an answer is capital letters A-E, each at most once, in order")
    }
}

impl Serialize for Choices {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.as_letters())
    }
}

impl<'de> Deserialize<'de> for Choices {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s: heapless::String<5> = Deserialize::deserialize(d)?;
        Choices::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The kinds of question the protocol carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QuestionKind {
    /// One of 2–5 options, A–E.
    Single,
    /// True (A) or false (B).
    TrueFalse,
    /// Any set of 2–5 options; every press toggles one.
    Multi,
    /// A poll on a 1–5 scale: A = 1 … E = 5.
    Scale,
}

/// A question as the clicker needs it: its kind and how many buttons count.
/// On the wire it is two fields, `"kind"` and `"options"`, inside the message that carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QuestionSpec {
    kind: QuestionKind,
    options: u8,
}

/// A question shape the protocol cannot carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuestionError;

impl fmt::Display for QuestionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("single and multi take 2-5 options, truefalse exactly 2, scale exactly 5")
    }
}

impl QuestionSpec {
    /// A question of `kind` with `options` buttons in use (A first).
    pub fn new(kind: QuestionKind, options: u8) -> Result<Self, QuestionError> {
        let ok = match kind {
            QuestionKind::Single | QuestionKind::Multi => (2..=5).contains(&options),
            QuestionKind::TrueFalse => options == 2,
            QuestionKind::Scale => options == 5,
        };
        if ok { Ok(QuestionSpec { kind, options }) } else { Err(QuestionError) }
    }

    /// A true/false question.
    pub const fn true_false() -> Self {
        QuestionSpec { kind: QuestionKind::TrueFalse, options: 2 }
    }

    /// A 1–5 scale.
    pub const fn scale() -> Self {
        QuestionSpec { kind: QuestionKind::Scale, options: 5 }
    }

    /// The kind.
    pub const fn kind(self) -> QuestionKind {
        self.kind
    }

    /// How many buttons are in use, A first.
    pub const fn options(self) -> u8 {
        self.options
    }

    /// Whether `b` is one of this question's options.
    pub const fn offers(self, b: Button) -> bool {
        (b as u8) < self.options
    }

    /// Whether `c` is a valid answer: one offered button, or for multi-select any set of offered
    /// buttons (the empty set included: the student cleared their selection).
    pub fn accepts(self, c: Choices) -> bool {
        let offered = c.iter().all(|b| self.offers(b));
        match self.kind {
            QuestionKind::Multi => offered,
            _ => offered && c.len() == 1,
        }
    }
}

/// Whether a question takes answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QuestionState {
    /// Answers are taken.
    Open,
    /// Answers are acked `closed`.
    Closed,
}

/// `classhub/v1/<room>/question`, retained: the room's current question. An empty retained payload
/// means there is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "AnnouncementWire", into = "AnnouncementWire")]
pub struct QuestionAnnouncement {
    /// The question's id, echoed in every answer.
    pub q: u32,
    /// Kind and options (`"kind"` and `"options"` on the wire).
    pub spec: QuestionSpec,
    /// Open or closed.
    pub state: QuestionState,
}

// serde-json-core has no `#[serde(flatten)]`: messages that carry a question spell its two fields
// out in a private wire twin and check them on the way in.
#[derive(Serialize, Deserialize)]
struct AnnouncementWire {
    q: u32,
    kind: QuestionKind,
    options: u8,
    state: QuestionState,
}

impl From<QuestionAnnouncement> for AnnouncementWire {
    fn from(a: QuestionAnnouncement) -> Self {
        let QuestionAnnouncement { q, spec, state } = a;
        AnnouncementWire { q, kind: spec.kind, options: spec.options, state }
    }
}

impl TryFrom<AnnouncementWire> for QuestionAnnouncement {
    type Error = QuestionError;
    fn try_from(w: AnnouncementWire) -> Result<Self, QuestionError> {
        let spec = QuestionSpec::new(w.kind, w.options)?;
        Ok(QuestionAnnouncement { q: w.q, spec, state: w.state })
    }
}

/// Marks a message authenticated with the device's key; see [`super::mac`].
/// On the wire 16 lowercase hex digits: the first 8 bytes of an HMAC-SHA256.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct MacTag(pub [u8; 8]);

impl MacTag {
    /// The tag as 16 lowercase hex digits.
    pub fn to_hex(self) -> heapless::String<16> {
        let mut out = heapless::String::new();
        // Cannot fail: 8 bytes are exactly 16 hex digits.
        let _ = write_hex(&self.0, &mut out);
        out
    }
}

impl fmt::Debug for MacTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MacTag({})", self.to_hex())
    }
}

impl Serialize for MacTag {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for MacTag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s: heapless::String<16> = Deserialize::deserialize(d)?;
        decode_hex::<8>(&s).map(MacTag).map_err(serde::de::Error::custom)
    }
}

/// A firmware version such as `0.1.0`, at most 16 characters.
pub type FirmwareVersion = heapless::String<16>;

/// `.../hello`: sent by a clicker on every connect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Sequence number.
    pub seq: Seq,
    /// Firmware version.
    pub fw: FirmwareVersion,
    /// Battery voltage in millivolts.
    pub battery_mv: u16,
    /// Wi-Fi signal strength in dBm (negative; 0 when unknown).
    pub rssi: i16,
    /// The boot counter (also the high half of `seq`).
    pub boot: u32,
    /// MAC under the device key.
    pub mac: MacTag,
}

/// `.../answer`: one press for the open question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// Sequence number.
    pub seq: Seq,
    /// The question answered, from its announcement.
    pub q: u32,
    /// The buttons chosen.
    pub answer: Choices,
    /// MAC under the device key.
    pub mac: MacTag,
}

/// `.../checkin`: the student is here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckIn {
    /// Sequence number.
    pub seq: Seq,
    /// MAC under the device key.
    pub mac: MacTag,
}

/// Online or offline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Presence {
    /// Connected to the broker.
    Online,
    /// Gone: published by the broker as the clicker's last will, or by the clicker before sleeping.
    Offline,
}

/// `.../status`, retained: online on connect; offline as the last will.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// Online or offline.
    pub state: Presence,
}

/// The outcome the hub acknowledges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AckStatus {
    /// Committed to disk. The only status that turns the LED green.
    Stored,
    /// This (device, seq) was stored before; counted once.
    Duplicate,
    /// No question is open, or not the one answered.
    Closed,
    /// Refused, with a reason.
    Rejected,
}

/// Why the hub refused a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// The payload is not a valid message of its kind.
    Malformed,
    /// The payload is larger than [`super::MAX_PAYLOAD`].
    TooLarge,
    /// The device is not registered.
    UnknownDevice,
    /// The MAC does not verify under the device's key.
    BadMac,
    /// The device belongs to another room.
    WrongRoom,
    /// The sequence number is older than the device's newest.
    StaleSeq,
    /// The answer does not fit the question (a button it does not offer).
    InvalidAnswer,
    /// The device sent more than its share; try again later.
    RateLimited,
}

impl RejectReason {
    /// Every reason, for counters.
    pub const ALL: [RejectReason; 8] = [
        RejectReason::Malformed,
        RejectReason::TooLarge,
        RejectReason::UnknownDevice,
        RejectReason::BadMac,
        RejectReason::WrongRoom,
        RejectReason::StaleSeq,
        RejectReason::InvalidAnswer,
        RejectReason::RateLimited,
    ];

    /// The wire spelling, also used as a metrics label.
    pub const fn as_str(self) -> &'static str {
        match self {
            RejectReason::Malformed => "malformed",
            RejectReason::TooLarge => "too_large",
            RejectReason::UnknownDevice => "unknown_device",
            RejectReason::BadMac => "bad_mac",
            RejectReason::WrongRoom => "wrong_room",
            RejectReason::StaleSeq => "stale_seq",
            RejectReason::InvalidAnswer => "invalid_answer",
            RejectReason::RateLimited => "rate_limited",
        }
    }
}

impl AckStatus {
    /// The wire spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            AckStatus::Stored => "stored",
            AckStatus::Duplicate => "duplicate",
            AckStatus::Closed => "closed",
            AckStatus::Rejected => "rejected",
        }
    }
}

/// `.../ack`: the hub's word on one message, published only after the store committed.
/// It carries a MAC under the device key whenever the hub knows that key; a clicker trusts only
/// authenticated acks to end its retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// The sequence number acknowledged.
    pub seq: Seq,
    /// The outcome.
    pub status: AckStatus,
    /// Why, when `status` is `rejected`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<RejectReason>,
    /// MAC under the device key; absent when the hub does not know the device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<MacTag>,
}

/// What a projector display shows, after the teacher's choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DisplayPhase {
    /// Answers are coming in: the count, never the distribution.
    Open,
    /// Closed, not yet revealed.
    Closed,
    /// Revealed: the distribution and, if set, the correct answer.
    Revealed,
}

/// `classhub/v1/<room>/display`, retained: the projector's current state. Never names a student.
/// An empty retained payload means no question is on screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "DisplayWire", into = "DisplayWire")]
pub struct DisplayState {
    /// The question's id.
    pub q: u32,
    /// Kind and options (`"kind"` and `"options"` on the wire).
    pub spec: QuestionSpec,
    /// Open, closed or revealed.
    pub phase: DisplayPhase,
    /// Students who answered.
    pub answered: u32,
    /// Students expected.
    pub expected: u32,
    /// Answers per option, A first; empty until revealed.
    pub counts: heapless::Vec<u32, 5>,
    /// The correct answer, once revealed, if the question has one.
    pub correct: Option<Choices>,
    /// When a countdown ends, in milliseconds since the Unix epoch.
    pub closes_at_ms: Option<u64>,
}

#[derive(Serialize, Deserialize)]
struct DisplayWire {
    q: u32,
    kind: QuestionKind,
    options: u8,
    phase: DisplayPhase,
    answered: u32,
    expected: u32,
    #[serde(default)]
    counts: heapless::Vec<u32, 5>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    correct: Option<Choices>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    closes_at_ms: Option<u64>,
}

impl From<DisplayState> for DisplayWire {
    fn from(d: DisplayState) -> Self {
        let DisplayState { q, spec, phase, answered, expected, counts, correct, closes_at_ms } = d;
        let (kind, options) = (spec.kind, spec.options);
        DisplayWire { q, kind, options, phase, answered, expected, counts, correct, closes_at_ms }
    }
}

impl TryFrom<DisplayWire> for DisplayState {
    type Error = QuestionError;
    fn try_from(w: DisplayWire) -> Result<Self, QuestionError> {
        let spec = QuestionSpec::new(w.kind, w.options)?;
        let DisplayWire { q, phase, answered, expected, counts, correct, closes_at_ms, .. } = w;
        Ok(DisplayState { q, spec, phase, answered, expected, counts, correct, closes_at_ms })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_have_exactly_one_spelling() {
        let acd = Choices::parse("ACD").unwrap();
        assert!(acd.contains(Button::A) && acd.contains(Button::C) && acd.contains(Button::D));
        assert_eq!(acd.len(), 3);
        assert_eq!(acd.as_letters().as_str(), "ACD");
        assert_eq!(Choices::parse(""), Ok(Choices::NONE));
        for bad in ["CA", "AA", "b", "F", "A B", "ABCDEF"] {
            assert_eq!(Choices::parse(bad), Err(ChoicesError), "{bad:?}");
        }
    }

    #[test]
    fn a_multi_select_press_toggles_one_button() {
        let c = Choices::NONE.toggled(Button::B).toggled(Button::D).toggled(Button::B);
        assert_eq!(c, Choices::one(Button::D));
        assert_eq!(c.single(), Some(Button::D));
    }

    #[test]
    fn question_shapes_follow_their_kind() {
        assert!(QuestionSpec::new(QuestionKind::Single, 4).is_ok());
        assert!(QuestionSpec::new(QuestionKind::Single, 1).is_err());
        assert!(QuestionSpec::new(QuestionKind::Multi, 6).is_err());
        assert!(QuestionSpec::new(QuestionKind::TrueFalse, 3).is_err());
        assert!(QuestionSpec::new(QuestionKind::Scale, 4).is_err());

        let three = QuestionSpec::new(QuestionKind::Single, 3).unwrap();
        assert!(three.accepts(Choices::one(Button::C)));
        assert!(!three.accepts(Choices::one(Button::D)), "D is not offered");
        assert!(!three.accepts(Choices::parse("AB").unwrap()), "single takes one");
        assert!(!three.accepts(Choices::NONE));

        let multi = QuestionSpec::new(QuestionKind::Multi, 4).unwrap();
        assert!(multi.accepts(Choices::parse("ABD").unwrap()));
        assert!(multi.accepts(Choices::NONE), "an emptied selection is an answer");
        assert!(!multi.accepts(Choices::parse("AE").unwrap()));
        assert!(QuestionSpec::scale().accepts(Choices::one(Button::E)));
    }
}
