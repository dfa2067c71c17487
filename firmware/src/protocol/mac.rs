//! Message authentication: HMAC-SHA256 under the device's own key, truncated to 8 bytes.
//!
//! The MAC input is text, so that any firmware can rebuild it byte for byte without a JSON library:
//!
//! ```text
//! classhub/v1 \n <device id> \n <kind> \n <seq> [\n <field>]*
//! ```
//!
//! `kind` is the topic's last level (`hello`, `answer`, `checkin`, `ack`, `fwprogress`); `seq` is decimal; the
//! fields follow in a fixed order per kind:
//!
//! | kind      | fields, in order                                   |
//! |-----------|----------------------------------------------------|
//! | `hello`   | `fw`, `battery_mv`, `rssi`, `boot`                 |
//! | `answer`  | `q`, `answer` (letters in order, e.g. `ACD`)       |
//! | `checkin` | none                                               |
//! | `ack`     | `status`, `reason` (empty when there is none)      |
//! | `fwprogress` | `v`, `next` (empty when none), `done` (`0`/`1`), `error` (empty when none) |
//!
//! The tag is the first 8 bytes of the HMAC, sent as 16 lowercase hex digits in the `mac` field.
//! Verification compares in constant time.

use core::fmt::{self, Write};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::ids::{DeviceId, DeviceKey, Seq};
use super::messages::{Ack, Answer, CheckIn, Hello, MacTag};
use super::topics::{ClickerTopic, ROOT};

type HmacSha256 = Hmac<Sha256>;

/// A message that carries a MAC under its device's key.
pub trait Authenticated {
    /// The topic kind, part of the MAC input so one kind cannot pass for another.
    const KIND: ClickerTopic;
    /// The message's sequence number.
    fn seq(&self) -> Seq;
    /// Writes `\n<field>` for each field of the kind, in the documented order.
    fn write_fields<W: Write>(&self, w: &mut W) -> fmt::Result;
    /// The tag the message carries, if any.
    fn tag(&self) -> Option<MacTag>;
    /// Sets the tag.
    fn set_tag(&mut self, tag: MacTag);
}

impl Authenticated for Hello {
    const KIND: ClickerTopic = ClickerTopic::Hello;
    fn seq(&self) -> Seq {
        self.seq
    }
    fn write_fields<W: Write>(&self, w: &mut W) -> fmt::Result {
        write!(w, "\n{}\n{}\n{}\n{}", self.fw, self.battery_mv, self.rssi, self.boot)
    }
    fn tag(&self) -> Option<MacTag> {
        Some(self.mac)
    }
    fn set_tag(&mut self, tag: MacTag) {
        self.mac = tag;
    }
}

impl Authenticated for Answer {
    const KIND: ClickerTopic = ClickerTopic::Answer;
    fn seq(&self) -> Seq {
        self.seq
    }
    fn write_fields<W: Write>(&self, w: &mut W) -> fmt::Result {
        write!(w, "\n{}\n{}", self.q, self.answer)
    }
    fn tag(&self) -> Option<MacTag> {
        Some(self.mac)
    }
    fn set_tag(&mut self, tag: MacTag) {
        self.mac = tag;
    }
}

impl Authenticated for CheckIn {
    const KIND: ClickerTopic = ClickerTopic::CheckIn;
    fn seq(&self) -> Seq {
        self.seq
    }
    fn write_fields<W: Write>(&self, _: &mut W) -> fmt::Result {
        Ok(())
    }
    fn tag(&self) -> Option<MacTag> {
        Some(self.mac)
    }
    fn set_tag(&mut self, tag: MacTag) {
        self.mac = tag;
    }
}

impl Authenticated for Ack {
    const KIND: ClickerTopic = ClickerTopic::Ack;
    fn seq(&self) -> Seq {
        self.seq
    }
    fn write_fields<W: Write>(&self, w: &mut W) -> fmt::Result {
        let reason = self.reason.map_or("", |r| r.as_str());
        write!(w, "\n{}\n{}", self.status.as_str(), reason)
    }
    fn tag(&self) -> Option<MacTag> {
        self.mac
    }
    fn set_tag(&mut self, tag: MacTag) {
        self.mac = Some(tag);
    }
}

impl Authenticated for super::update::FwProgress {
    const KIND: ClickerTopic = ClickerTopic::FwProgress;
    fn seq(&self) -> Seq {
        self.seq
    }
    fn write_fields<W: Write>(&self, w: &mut W) -> fmt::Result {
        let next = self.next.map_or(heapless::String::<10>::new(), |n| {
            let mut s = heapless::String::new();
            // Cannot fail: a u32 has at most 10 digits.
            let _ = write!(s, "{n}");
            s
        });
        let error = self.error.map_or("", |e| e.as_str());
        write!(w, "\n{}\n{next}\n{}\n{error}", self.v, u8::from(self.done))
    }
    fn tag(&self) -> Option<MacTag> {
        Some(self.mac)
    }
    fn set_tag(&mut self, tag: MacTag) {
        self.mac = tag;
    }
}

/// Writes the MAC input of `msg` from `device`.
fn write_input<M: Authenticated, W: Write>(device: &DeviceId, msg: &M, w: &mut W) -> fmt::Result {
    write!(w, "{ROOT}\n{device}\n{}\n{}", M::KIND.as_str(), msg.seq())?;
    msg.write_fields(w)
}

/// Feeds text straight into the HMAC, so no buffer holds the input.
struct Feed<'a>(&'a mut HmacSha256);

impl Write for Feed<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.update(s.as_bytes());
        Ok(())
    }
}

fn hmac_of<M: Authenticated>(key: &DeviceKey, device: &DeviceId, msg: &M) -> HmacSha256 {
    // Cannot fail: HMAC takes keys of any length.
    let mut h = HmacSha256::new_from_slice(&key.0).expect("HMAC accepts any key length");
    // Cannot fail: `Feed` never returns an error.
    let _ = write_input(device, msg, &mut Feed(&mut h));
    h
}

/// The MAC input as text, for documentation, test vectors and debugging a new firmware.
/// Long firmware versions or device ids never overflow it: the text is at most 160 bytes.
pub fn input_text<M: Authenticated>(device: &DeviceId, msg: &M) -> heapless::String<160> {
    let mut s = heapless::String::new();
    // Cannot fail: every part is bounded (device 24, kind 7, seq 20, fields under 60 in all).
    let _ = write_input(device, msg, &mut s);
    s
}

/// The tag `msg` from `device` must carry under `key`.
pub fn compute<M: Authenticated>(key: &DeviceKey, device: &DeviceId, msg: &M) -> MacTag {
    let full = hmac_of(key, device, msg).finalize().into_bytes();
    let mut tag = [0u8; 8];
    tag.copy_from_slice(&full[..8]);
    MacTag(tag)
}

/// Computes and sets `msg`'s tag.
pub fn sign<M: Authenticated>(key: &DeviceKey, device: &DeviceId, msg: &mut M) {
    let tag = compute(key, device, msg);
    msg.set_tag(tag);
}

/// Why a message's MAC was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacError {
    /// The message carries no tag.
    Missing,
    /// The tag does not match: tampered, another device's key, or another device's id.
    Mismatch,
}

impl fmt::Display for MacError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MacError::Missing => "message carries no MAC",
            MacError::Mismatch => "MAC does not verify",
        })
    }
}

/// Checks `msg`'s tag in constant time. Replays are not caught here: a replayed message verifies,
/// and the receiver refuses its sequence number (see `docs/protocol.md`).
pub fn verify<M: Authenticated>(key: &DeviceKey, device: &DeviceId, msg: &M) -> Result<(), MacError> {
    let tag = msg.tag().ok_or(MacError::Missing)?;
    hmac_of(key, device, msg).verify_truncated_left(&tag.0).map_err(|_| MacError::Mismatch)
}

/// Why a message is not a fresh one from its device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// The MAC is missing or does not verify.
    Mac(MacError),
    /// The MAC verifies but the sequence number is not newer than the newest already accepted from
    /// this device: a replay, or a retry of a message the receiver already has (which the hub
    /// answers `duplicate` when its log holds that number).
    Replayed,
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::Mac(e) => e.fmt(f),
            AuthError::Replayed => f.write_str("sequence number not newer than the last accepted"),
        }
    }
}

/// The hub's check of a clicker message: the MAC verifies under the device's key, and its sequence
/// number is newer than `newest`, the newest already accepted from that device.
pub fn authenticate<M: Authenticated>(
    key: &DeviceKey,
    device: &DeviceId,
    msg: &M,
    newest: Option<Seq>,
) -> Result<(), AuthError> {
    verify(key, device, msg).map_err(AuthError::Mac)?;
    match newest {
        Some(n) if msg.seq() <= n => Err(AuthError::Replayed),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{AckStatus, Choices};

    fn key() -> DeviceKey {
        DeviceKey::parse("000102030405060708090a0b0c0d0e0f").unwrap()
    }

    fn answer() -> Answer {
        Answer { seq: Seq::new(1, 3), q: 17, answer: Choices::parse("B").unwrap(), mac: MacTag([0; 8]) }
    }

    #[test]
    fn the_input_is_plain_text_a_c_firmware_can_rebuild() {
        let dev = DeviceId::parse("c-0001").unwrap();
        assert_eq!(input_text(&dev, &answer()).as_str(), "classhub/v1\nc-0001\nanswer\n4294967299\n17\nB");
        let ack = Ack { seq: Seq(9), status: AckStatus::Stored, reason: None, mac: None };
        assert_eq!(input_text(&dev, &ack).as_str(), "classhub/v1\nc-0001\nack\n9\nstored\n");
    }

    #[test]
    fn a_signed_message_verifies_and_a_changed_one_does_not() {
        let dev = DeviceId::parse("c-0001").unwrap();
        let mut a = answer();
        sign(&key(), &dev, &mut a);
        assert_eq!(verify(&key(), &dev, &a), Ok(()));
        a.answer = Choices::parse("C").unwrap();
        assert_eq!(verify(&key(), &dev, &a), Err(MacError::Mismatch));
    }

    #[test]
    fn an_ack_without_a_tag_is_not_authenticated() {
        let dev = DeviceId::parse("c-0001").unwrap();
        let ack = Ack { seq: Seq(9), status: AckStatus::Stored, reason: None, mac: None };
        assert_eq!(verify(&key(), &dev, &ack), Err(MacError::Missing));
    }
}
