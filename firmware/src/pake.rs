//! The key exchange behind pairing: CPace (a balanced password-authenticated key exchange) over
//! ristretto255, keyed by the short code shown on the projector. Both sides derive the same keys only
//! if they used the same code; a bystander who sees every message learns nothing it can test codes
//! against offline, and an active attacker gets exactly one guess per exchange. `docs/pairing.md`
//! gives the threat model.
//!
//! The group arithmetic is curve25519-dalek's; this module only fixes how the generator, the
//! transcript and the keys are derived.

use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;
use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256, Sha512};

use crate::protocol::{Button, DeviceId, DeviceKey, RoomCode};

/// Presses in a pairing code: 5⁷ = 78,125 codes.
pub const CODE_LEN: usize = 7;

/// The code shown on the projector and typed on the clicker, e.g. `BDAECAB`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PairCode(pub [Button; CODE_LEN]);

impl PairCode {
    /// A code from `CODE_LEN` letters A–E.
    pub fn parse(s: &str) -> Option<PairCode> {
        let mut out = [Button::A; CODE_LEN];
        let mut n = 0;
        for c in s.chars() {
            *out.get_mut(n)? = Button::from_letter(c)?;
            n += 1;
        }
        (n == CODE_LEN).then_some(PairCode(out))
    }

    /// A code from random bytes (one byte per press; the tiny bias of `% 5` over 256 is harmless
    /// against one online guess per exchange, but rejection keeps it exactly uniform anyway).
    pub fn from_random(mut next_byte: impl FnMut() -> u8) -> PairCode {
        let mut out = [Button::A; CODE_LEN];
        for slot in &mut out {
            let b = loop {
                let b = next_byte();
                if b < 255 {
                    break b;
                }
            };
            // Cannot fail: b % 5 is below 5.
            *slot = Button::from_index(b % 5).unwrap_or(Button::A);
        }
        PairCode(out)
    }

    /// The letters.
    pub fn letters(&self) -> heapless::String<CODE_LEN> {
        self.0.iter().map(|b| b.letter()).collect()
    }
}

impl core::fmt::Debug for PairCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("PairCode(<redacted>)")
    }
}

/// Feeds length-prefixed parts into a hash, so no two different lists of parts hash alike.
fn absorb<D: Digest>(h: &mut D, parts: &[&[u8]]) {
    for p in parts {
        h.update((p.len() as u32).to_le_bytes());
        h.update(p);
    }
}

/// The generator for one exchange: the code, the room and the claim (the clicker's fresh random id
/// for this exchange) hashed to a point, so every exchange runs in a group of its own.
fn generator(code: &PairCode, room: &RoomCode, claim: &[u8; 8]) -> RistrettoPoint {
    let mut h = Sha512::new();
    let letters = code.letters();
    absorb(&mut h, &[b"classhub/pair/v1/generator", room.as_str().as_bytes(), claim, letters.as_bytes()]);
    let wide: [u8; 64] = h.finalize().into();
    RistrettoPoint::from_uniform_bytes(&wide)
}

/// Why an exchange could not finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PakeError {
    /// The peer's share is not a valid group element, or is the identity.
    BadShare,
    /// A random source gave a zero scalar (it is broken).
    BadRandom,
}

/// One side's secret for one exchange. It is consumed by [`Exchange::finish`].
pub struct Exchange {
    secret: Scalar,
    share: [u8; 32],
}

impl Exchange {
    /// Starts an exchange with 64 fresh random bytes; the share goes to the peer.
    pub fn start(code: &PairCode, room: &RoomCode, claim: &[u8; 8], random: &[u8; 64]) -> Result<Exchange, PakeError> {
        let secret = Scalar::from_bytes_mod_order_wide(random);
        if secret == Scalar::ZERO {
            return Err(PakeError::BadRandom);
        }
        let share = (generator(code, room, claim) * secret).compress().to_bytes();
        Ok(Exchange { secret, share })
    }

    /// This side's share, sent to the peer.
    pub fn share(&self) -> [u8; 32] {
        self.share
    }

    /// Finishes with the peer's share. `clicker_share` and `hub_share` fix the order in the
    /// transcript, so both sides hash the same bytes.
    pub fn finish(
        self,
        peer: &[u8; 32],
        room: &RoomCode,
        claim: &[u8; 8],
        i_am_clicker: bool,
    ) -> Result<Keys, PakeError> {
        let point = CompressedRistretto(*peer).decompress().ok_or(PakeError::BadShare)?;
        if point.is_identity() {
            return Err(PakeError::BadShare);
        }
        let shared = point * self.secret;
        if shared.is_identity() {
            return Err(PakeError::BadShare);
        }
        let (clicker, hub) = if i_am_clicker { (&self.share, peer) } else { (peer, &self.share) };
        let mut h = Sha512::new();
        let k = shared.compress().to_bytes();
        absorb(&mut h, &[b"classhub/pair/v1/session-key", room.as_str().as_bytes(), claim, clicker, hub, &k]);
        let isk: [u8; 64] = h.finalize().into();
        Ok(Keys { isk })
    }
}

/// What a finished exchange yields: confirmations both ways and the device's own key.
pub struct Keys {
    isk: [u8; 64],
}

/// A 16-byte confirmation tag.
pub type Tag = [u8; 16];

impl Keys {
    fn prf(&self, label: &[u8], extra: &[u8]) -> [u8; 32] {
        // Cannot fail: HMAC takes a key of any length.
        let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(&self.isk).expect("HMAC takes any key length");
        mac.update(&(label.len() as u32).to_le_bytes());
        mac.update(label);
        mac.update(extra);
        mac.finalize().into_bytes().into()
    }

    fn tag(&self, label: &[u8], extra: &[u8]) -> Tag {
        let full = self.prf(label, extra);
        let mut t = [0u8; 16];
        t.copy_from_slice(&full[..16]);
        t
    }

    /// The clicker's proof that it typed the code: sent first.
    pub fn clicker_confirms(&self) -> Tag {
        self.tag(b"clicker-confirm", &[])
    }

    /// The hub's proof, binding the device id it issues.
    pub fn hub_confirms(&self, device: &DeviceId) -> Tag {
        self.tag(b"hub-confirm", device.as_str().as_bytes())
    }

    /// The device's own key, never sent over the air.
    pub fn device_key(&self, device: &DeviceId) -> DeviceKey {
        DeviceKey(self.tag(b"device-key", device.as_str().as_bytes()))
    }
}

/// Compares two tags without an early exit.
pub fn tags_equal(a: &Tag, b: &Tag) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room() -> RoomCode {
        RoomCode::parse("b-204").unwrap()
    }

    fn random(seed: u8) -> [u8; 64] {
        let mut r = [0u8; 64];
        for (i, b) in r.iter_mut().enumerate() {
            *b = seed.wrapping_mul(31).wrapping_add(i as u8).wrapping_mul(7) ^ 0x5a;
        }
        r
    }

    fn run(clicker_code: &str, hub_code: &str) -> (Keys, Keys) {
        let claim = [1, 2, 3, 4, 5, 6, 7, 8];
        let c = Exchange::start(&PairCode::parse(clicker_code).unwrap(), &room(), &claim, &random(1)).unwrap();
        let h = Exchange::start(&PairCode::parse(hub_code).unwrap(), &room(), &claim, &random(2)).unwrap();
        let (cs, hs) = (c.share(), h.share());
        (c.finish(&hs, &room(), &claim, true).unwrap(), h.finish(&cs, &room(), &claim, false).unwrap())
    }

    #[test]
    fn the_same_code_gives_the_same_keys_on_both_sides() {
        let (c, h) = run("BDAECAB", "BDAECAB");
        assert!(tags_equal(&c.clicker_confirms(), &h.clicker_confirms()));
        let dev = DeviceId::parse("c-0001").unwrap();
        assert_eq!(c.device_key(&dev), h.device_key(&dev));
        assert!(tags_equal(&c.hub_confirms(&dev), &h.hub_confirms(&dev)));
    }

    #[test]
    fn one_wrong_press_gives_unrelated_keys() {
        let (c, h) = run("BDAECAB", "BDAECAC");
        assert!(!tags_equal(&c.clicker_confirms(), &h.clicker_confirms()));
        let dev = DeviceId::parse("c-0001").unwrap();
        assert_ne!(c.device_key(&dev), h.device_key(&dev));
    }

    #[test]
    fn a_bad_share_is_refused() {
        let claim = [0; 8];
        let code = PairCode::parse("AAAAAAA").unwrap();
        let ex = || Exchange::start(&code, &room(), &claim, &random(3)).unwrap();
        assert_eq!(ex().finish(&[0; 32], &room(), &claim, true).err(), Some(PakeError::BadShare), "the identity");
        assert_eq!(ex().finish(&[0xff; 32], &room(), &claim, true).err(), Some(PakeError::BadShare), "not a point");
        assert_eq!(Exchange::start(&code, &room(), &claim, &[0; 64]).err(), Some(PakeError::BadRandom));
    }

    #[test]
    fn codes_parse_from_seven_letters_and_never_print() {
        let code = PairCode::parse("ABCDEAB").unwrap();
        assert_eq!(code.letters().as_str(), "ABCDEAB");
        assert!(PairCode::parse("ABCDEA").is_none());
        assert!(PairCode::parse("ABCDEABC").is_none());
        assert!(PairCode::parse("ABCDEAF").is_none());
        assert_eq!(format!("{code:?}"), "PairCode(<redacted>)");
        let mut bytes = [255u8, 0, 1, 2, 3, 4, 5, 6].into_iter().cycle();
        assert_eq!(PairCode::from_random(|| bytes.next().unwrap()).letters().as_str(), "ABCDEAB", "255 is skipped");
    }
}
