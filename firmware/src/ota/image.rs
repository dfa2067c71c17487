//! A firmware image: a 128-byte header (version, length, SHA-256 of the payload, and an ed25519
//! signature over all of that) followed by the payload. The clicker checks the signature before it
//! writes a byte of payload, and the hash before it ever boots the image.
//!
//! ```text
//! 0   magic "CHFW"      4   format (1), 3 zero bytes
//! 8   major u16 LE      10  minor u16   12  patch u16   14  2 zero bytes
//! 16  payload length u32 LE             20  SHA-256 of the payload (32)
//! 52  ed25519 signature over bytes 0..52 (64)           116 12 zero bytes
//! ```

use core::fmt::Write as _;

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// Bytes in a header.
pub const HEADER_LEN: usize = 128;
const MAGIC: [u8; 4] = *b"CHFW";
const FORMAT: u8 = 1;
const SIGNED: usize = 52;

/// A firmware version, `major.minor.patch`, ordered as numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Major.
    pub major: u16,
    /// Minor.
    pub minor: u16,
    /// Patch.
    pub patch: u16,
}

impl Version {
    /// Parses `1.2.3`.
    pub fn parse(s: &str) -> Option<Version> {
        let mut parts = s.split('.').map(|p| p.parse::<u16>().ok());
        let v = Version { major: parts.next()??, minor: parts.next()??, patch: parts.next()?? };
        parts.next().is_none().then_some(v)
    }

    /// `1.2.3`, as the hello carries it.
    pub fn to_text(self) -> heapless::String<17> {
        let mut s = heapless::String::new();
        // Cannot fail: three u16 and two dots are at most 17 characters.
        let _ = write!(s, "{}.{}.{}", self.major, self.minor, self.patch);
        s
    }
}

/// Why an image was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageError {
    /// Not a classhub image header (magic or format).
    NotAnImage,
    /// The signature does not verify under the device's key.
    BadSignature,
    /// The payload's SHA-256 does not match the header.
    BadHash,
    /// Larger than a slot.
    TooLarge,
    /// Not newer than what runs.
    Older,
}

impl ImageError {
    /// The wire name, as a clicker reports it.
    pub const fn as_str(self) -> &'static str {
        match self {
            ImageError::NotAnImage => "not_an_image",
            ImageError::BadSignature => "bad_signature",
            ImageError::BadHash => "bad_hash",
            ImageError::TooLarge => "too_large",
            ImageError::Older => "older",
        }
    }
}

/// An image header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The version inside.
    pub version: Version,
    /// Payload bytes.
    pub len: u32,
    /// SHA-256 of the payload.
    pub sha256: [u8; 32],
    /// ed25519 over the header's first 52 bytes.
    pub signature: [u8; 64],
}

impl Header {
    fn signed_part(&self) -> [u8; SIGNED] {
        let mut b = [0u8; SIGNED];
        b[..4].copy_from_slice(&MAGIC);
        b[4] = FORMAT;
        b[8..10].copy_from_slice(&self.version.major.to_le_bytes());
        b[10..12].copy_from_slice(&self.version.minor.to_le_bytes());
        b[12..14].copy_from_slice(&self.version.patch.to_le_bytes());
        b[16..20].copy_from_slice(&self.len.to_le_bytes());
        b[20..52].copy_from_slice(&self.sha256);
        b
    }

    /// The 128 bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[..SIGNED].copy_from_slice(&self.signed_part());
        b[SIGNED..SIGNED + 64].copy_from_slice(&self.signature);
        b
    }

    /// Reads a header (the signature is checked by [`Header::verify`]).
    pub fn parse(b: &[u8; HEADER_LEN]) -> Result<Header, ImageError> {
        let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        if b[..4] != MAGIC || b[4] != FORMAT || b[5..8] != [0; 3] || b[14..16] != [0; 2] || b[116..] != [0; 12] {
            return Err(ImageError::NotAnImage);
        }
        let mut sha256 = [0u8; 32];
        sha256.copy_from_slice(&b[20..52]);
        let mut signature = [0u8; 64];
        signature.copy_from_slice(&b[52..116]);
        Ok(Header {
            version: Version { major: u16_at(8), minor: u16_at(10), patch: u16_at(12) },
            len: u32::from_le_bytes([b[16], b[17], b[18], b[19]]),
            sha256,
            signature,
        })
    }

    /// Checks the signature under the fleet's public key.
    pub fn verify(&self, public_key: &[u8; 32]) -> Result<(), ImageError> {
        let key = VerifyingKey::from_bytes(public_key).map_err(|_| ImageError::BadSignature)?;
        let signature = Signature::from_bytes(&self.signature);
        key.verify_strict(&self.signed_part(), &signature).map_err(|_| ImageError::BadSignature)
    }
}

/// Signs `payload` as `version` with the 32-byte secret `seed`; returns the header to put before it.
pub fn sign(seed: &[u8; 32], version: Version, payload: &[u8]) -> Result<Header, ImageError> {
    let len = u32::try_from(payload.len()).map_err(|_| ImageError::TooLarge)?;
    let mut header = Header { version, len, sha256: Sha256::digest(payload).into(), signature: [0; 64] };
    header.signature = SigningKey::from_bytes(seed).sign(&header.signed_part()).to_bytes();
    Ok(header)
}

/// The public key of the secret `seed`, which the clickers carry.
pub fn public_key(seed: &[u8; 32]) -> [u8; 32] {
    SigningKey::from_bytes(seed).verifying_key().to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: [u8; 32] = [42; 32];

    #[test]
    fn a_signed_header_round_trips_and_verifies_only_under_its_key() {
        let v = Version::parse("0.2.1").unwrap();
        let header = sign(&SEED, v, b"new firmware").unwrap();
        let parsed = Header::parse(&header.to_bytes()).unwrap();
        assert_eq!(parsed, header);
        assert_eq!(parsed.verify(&public_key(&SEED)), Ok(()));
        assert_eq!(parsed.verify(&public_key(&[7; 32])), Err(ImageError::BadSignature));
        let mut tampered = header;
        tampered.len += 1;
        assert_eq!(tampered.verify(&public_key(&SEED)), Err(ImageError::BadSignature), "the length is signed");
    }

    #[test]
    fn versions_order_as_numbers() {
        let v = |s| Version::parse(s).unwrap();
        assert!(v("0.10.0") > v("0.9.9"));
        assert!(v("1.0.0") > v("0.99.99"));
        assert_eq!(v("0.2.1").to_text().as_str(), "0.2.1");
        assert!(
            Version::parse("0.2").is_none() && Version::parse("0.2.1.4").is_none() && Version::parse("a.b.c").is_none()
        );
    }

    #[test]
    fn garbage_is_not_an_image() {
        assert_eq!(Header::parse(&[0xff; HEADER_LEN]), Err(ImageError::NotAnImage));
    }
}
