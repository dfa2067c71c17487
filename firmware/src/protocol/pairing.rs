//! Pairing messages: an unpaired clicker and the hub run one key exchange ([`crate::pake`]) keyed by
//! the code on the projector; the hub then issues a device id, and both derive the device key, which
//! never crosses the air.
//!
//! ```text
//! clicker                                   hub (pairing window open, code shown)
//!   typed code, fresh claim id, share C ──start──▶
//!                                        ◀──reply── share H
//!   confirm(C, H, code)              ──confirm──▶  checks it: a wrong code counts against the window
//!                                        ◀──done─── device id + the hub's proof, or a refusal
//! ```

use core::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ids::{DeviceId, decode_hex, write_hex};

/// `N` bytes, as `2N` lowercase hex digits on the wire (N ≤ 32).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Bytes<const N: usize>(pub [u8; N]);

impl<const N: usize> fmt::Debug for Bytes<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(&self.0, f)
    }
}

impl<const N: usize> Serialize for Bytes<N> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = heapless::String::<64>::new();
        write_hex(&self.0, &mut out).map_err(|_| serde::ser::Error::custom("more than 32 bytes"))?;
        s.serialize_str(&out)
    }
}

impl<'de, const N: usize> Deserialize<'de> for Bytes<N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s: heapless::String<64> = Deserialize::deserialize(d)?;
        decode_hex::<N>(&s).map(Bytes).map_err(serde::de::Error::custom)
    }
}

/// `.../start`: the clicker's key share, sent once the code is typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairStart {
    /// Its share (a compressed ristretto255 point).
    pub share: Bytes<32>,
}

/// `.../reply`: the hub's key share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairReply {
    /// The hub's share.
    pub share: Bytes<32>,
}

/// `.../confirm`: the clicker's proof that it derived the same key, hence typed the right code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairConfirm {
    /// The clicker's confirmation tag.
    pub tag: Bytes<16>,
}

/// Why the hub would not pair a clicker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PairRefusal {
    /// No pairing window is open in the room.
    Closed,
    /// The confirmation did not match: the code was mistyped (or someone guessed).
    WrongCode,
    /// The class being paired in order has no unpaired student left.
    ClassComplete,
    /// Too many exchanges are under way at once; try again in a moment.
    Busy,
}

impl PairRefusal {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            PairRefusal::Closed => "closed",
            PairRefusal::WrongCode => "wrong_code",
            PairRefusal::ClassComplete => "class_complete",
            PairRefusal::Busy => "busy",
        }
    }
}

/// `.../done`: the device id with the hub's proof, or why not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairDone {
    /// The device id issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceId>,
    /// The hub's confirmation tag over the device id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<Bytes<16>>,
    /// Why it was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<PairRefusal>,
}

impl PairDone {
    /// A refusal.
    pub const fn refused(why: PairRefusal) -> PairDone {
        PairDone { device: None, tag: None, refused: Some(why) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{decode, encode};

    #[test]
    fn pairing_messages_are_small_readable_json() {
        let start = PairStart { share: Bytes([0xab; 32]) };
        let wire = encode(&start).unwrap();
        assert_eq!(core::str::from_utf8(&wire).unwrap(), format!("{{\"share\":\"{}\"}}", "ab".repeat(32)));
        assert_eq!(decode::<PairStart>(&wire).unwrap(), start);
        let done =
            PairDone { device: Some(DeviceId::parse("c-00c0ffee").unwrap()), tag: Some(Bytes([1; 16])), refused: None };
        let wire = encode(&done).unwrap();
        assert_eq!(decode::<PairDone>(&wire).unwrap(), done);
        let no = encode(&PairDone::refused(PairRefusal::WrongCode)).unwrap();
        assert_eq!(core::str::from_utf8(&no).unwrap(), r#"{"refused":"wrong_code"}"#);
        assert_eq!(decode::<PairDone>(&no).unwrap().refused, Some(PairRefusal::WrongCode));
    }

    #[test]
    fn shares_of_the_wrong_length_or_case_are_refused() {
        assert!(decode::<PairStart>(br#"{"share":"abab"}"#).is_err());
        assert!(decode::<PairConfirm>(format!(r#"{{"tag":"{}"}}"#, "AB".repeat(16)).as_bytes()).is_err());
        assert!(decode::<PairConfirm>(format!(r#"{{"tag":"{}"}}"#, "ab".repeat(16)).as_bytes()).is_ok());
    }
}
