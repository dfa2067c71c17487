//! Identifiers that cross the wire — rooms, devices, sequence numbers, device keys — each parsed once.

use core::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a wire identifier was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdError {
    /// Nothing given.
    Empty,
    /// Longer than the identifier allows.
    TooLong,
    /// A character outside `A-Z a-z 0-9 - _`: MQTT topic levels must never carry `/`, `+` or `#`.
    BadChar,
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdError::Empty => "empty identifier",
            IdError::TooLong => "identifier too long",
            IdError::BadChar => "identifier may hold only A-Z, a-z, 0-9, '-' and '_'",
        })
    }
}

/// The one rule every topic-level identifier follows.
fn check_level(s: &str, max: usize) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    if s.len() > max {
        return Err(IdError::TooLong);
    }
    if !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(IdError::BadChar);
    }
    Ok(())
}

macro_rules! topic_level_id {
    ($(#[$doc:meta])* $name:ident, $max:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(heapless::String<{ $max }>);

        impl $name {
            /// Longest identifier accepted, in bytes.
            pub const MAX_LEN: usize = $max;

            /// Parses an identifier: 1 to `MAX_LEN` characters of `A-Z a-z 0-9 - _`.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                check_level(s, $max)?;
                let mut out = heapless::String::new();
                // Cannot fail: the length was checked against the capacity just above.
                out.push_str(s).map_err(|_| IdError::TooLong)?;
                Ok(Self(out))
            }

            /// The identifier as it appears in topics.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0.as_str())
            }
        }

        impl core::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s: heapless::String<{ $max }> = Deserialize::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

topic_level_id!(
    /// A room code, the second level of every topic (`classhub/v1/<room>/...`), for example `b-204`.
    RoomCode,
    32
);

topic_level_id!(
    /// A clicker's device id, issued by the hub, for example `c-3fa29b1c`.
    DeviceId,
    24
);

/// A clicker message's sequence number: the boot counter in the high 32 bits, a counter within that
/// boot in the low 32 bits. The boot counter is persisted before the first message of a boot, so a
/// sequence number never repeats for a device, across reboots and battery swaps, and only grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Seq(pub u64);

impl Seq {
    /// The sequence number of message `counter` in boot `boot`.
    pub const fn new(boot: u32, counter: u32) -> Self {
        Seq(((boot as u64) << 32) | counter as u64)
    }

    /// The boot this sequence number was issued in.
    pub const fn boot(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// The counter within its boot.
    pub const fn counter(self) -> u32 {
        self.0 as u32
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One pairing exchange's id: 8 random bytes the clicker draws, 16 lowercase hex digits on the wire
/// and in the topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClaimId(pub [u8; 8]);

impl ClaimId {
    /// Parses 16 lowercase hex digits.
    pub fn parse(s: &str) -> Result<Self, HexError> {
        decode_hex::<8>(s).map(ClaimId)
    }
}

impl fmt::Display for ClaimId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(&self.0, f)
    }
}

/// A device's own 128-bit key, issued at pairing and known only to the device and the hub.
/// Written as 32 lowercase hex digits. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceKey(pub [u8; 16]);

/// Why a hex string was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HexError;

impl fmt::Display for HexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("expected lowercase hex digits of the right length")
    }
}

pub(crate) fn decode_hex<const N: usize>(s: &str) -> Result<[u8; N], HexError> {
    let mut out = [0u8; N];
    match decode_hex_into(s, &mut out) {
        Some(b) if b.len() == N => Ok(out),
        _ => Err(HexError),
    }
}

/// Decodes lowercase hex of any even length into `out`; the bytes written, or `None`.
pub(crate) fn decode_hex_into<'a>(s: &str, out: &'a mut [u8]) -> Option<&'a [u8]> {
    let bytes = s.as_bytes();
    if !bytes.len().is_multiple_of(2) || bytes.len() / 2 > out.len() {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(&out[..bytes.len() / 2])
}

pub(crate) fn write_hex(bytes: &[u8], f: &mut impl fmt::Write) -> fmt::Result {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        f.write_char(DIGITS[(b >> 4) as usize] as char)?;
        f.write_char(DIGITS[(b & 0xf) as usize] as char)?;
    }
    Ok(())
}

impl DeviceKey {
    /// Parses 32 lowercase hex digits.
    pub fn parse(s: &str) -> Result<Self, HexError> {
        decode_hex::<16>(s).map(DeviceKey)
    }

    /// The key as 32 lowercase hex digits, for provisioning and the hub's registry.
    pub fn to_hex(&self) -> heapless::String<32> {
        let mut out = heapless::String::new();
        // Cannot fail: 16 bytes are exactly 32 hex digits, the string's capacity.
        let _ = write_hex(&self.0, &mut out);
        out
    }
}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeviceKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_codes_are_single_topic_levels() {
        assert!(RoomCode::parse("b-204").is_ok());
        assert!(RoomCode::parse("Lokaal_12").is_ok());
        assert_eq!(RoomCode::parse(""), Err(IdError::Empty));
        assert_eq!(RoomCode::parse("a/b"), Err(IdError::BadChar));
        assert_eq!(RoomCode::parse("+"), Err(IdError::BadChar));
        assert_eq!(RoomCode::parse("#"), Err(IdError::BadChar));
        assert_eq!(RoomCode::parse("lokaal 12"), Err(IdError::BadChar));
        assert_eq!(RoomCode::parse(&"x".repeat(33)), Err(IdError::TooLong));
        assert!(RoomCode::parse(&"x".repeat(32)).is_ok());
    }

    #[test]
    fn a_sequence_number_splits_into_boot_and_counter() {
        let seq = Seq::new(7, 42);
        assert_eq!(seq.0, 7 * (1u64 << 32) + 42);
        assert_eq!((seq.boot(), seq.counter()), (7, 42));
        assert!(Seq::new(8, 0) > Seq::new(7, u32::MAX), "a new boot outranks every earlier message");
    }

    #[test]
    fn keys_round_trip_through_hex_and_never_print() {
        let key = DeviceKey::parse("000102030405060708090a0b0c0d0e0f").unwrap();
        assert_eq!(key.0[15], 15);
        assert_eq!(key.to_hex().as_str(), "000102030405060708090a0b0c0d0e0f");
        assert_eq!(format!("{key:?}"), "DeviceKey(<redacted>)");
        assert!(DeviceKey::parse("000102030405060708090A0B0C0D0E0F").is_err());
        assert!(DeviceKey::parse("0001").is_err());
    }
}
