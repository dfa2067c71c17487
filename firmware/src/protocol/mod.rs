//! Wire protocol v1: topics, JSON payloads and message authentication, shared by clicker, hub,
//! simulator and tests. `docs/protocol.md` is the prose version of this module.
//!
//! Everything here is `no_std` and heap-free: the clicker encodes with serde-json-core into a stack
//! buffer, and the hub decodes the very same types with serde_json.

pub mod ids;
pub mod mac;
pub mod messages;
pub mod pairing;
pub mod topics;
pub mod update;

pub use ids::{ClaimId, DeviceId, DeviceKey, HexError, IdError, RoomCode, Seq};
pub use mac::{AuthError, Authenticated, MacError};
pub use messages::{
    Ack, AckStatus, Answer, Button, CheckIn, Choices, ChoicesError, DisplayPhase, DisplayState, FirmwareVersion, Hello,
    MacTag, Presence, QuestionAnnouncement, QuestionError, QuestionKind, QuestionSpec, QuestionState, RejectReason,
    Status,
};
pub use topics::{ClickerTopic, PairTopic, Topic};

/// The largest payload either side sends or accepts, in bytes. The hub rejects larger ones unread.
pub const MAX_PAYLOAD: usize = 256;

/// A payload buffer on the stack.
pub type Payload = heapless::Vec<u8, MAX_PAYLOAD>;

/// Why a payload could not be encoded or decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodecError {
    /// Larger than [`MAX_PAYLOAD`].
    TooLarge,
    /// Not JSON of the expected message.
    Malformed,
}

impl core::fmt::Display for CodecError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            CodecError::TooLarge => "payload larger than 256 bytes",
            CodecError::Malformed => "payload is not a valid message",
        })
    }
}

/// Encodes a message as JSON without a heap (serde-json-core).
pub fn encode<T: serde::Serialize>(msg: &T) -> Result<Payload, CodecError> {
    let mut buf = [0u8; MAX_PAYLOAD];
    let n = serde_json_core::to_slice(msg, &mut buf).map_err(|_| CodecError::TooLarge)?;
    // Cannot fail: `n` is at most the buffer's length, which is the Vec's capacity.
    Payload::from_slice(&buf[..n]).map_err(|_| CodecError::TooLarge)
}

/// Decodes a JSON message without a heap (serde-json-core). Trailing whitespace is allowed, other
/// trailing bytes are not.
pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    if bytes.len() > MAX_PAYLOAD {
        return Err(CodecError::TooLarge);
    }
    let (msg, used) = serde_json_core::from_slice::<T>(bytes).map_err(|_| CodecError::Malformed)?;
    if bytes[used..].iter().all(u8::is_ascii_whitespace) { Ok(msg) } else { Err(CodecError::Malformed) }
}
