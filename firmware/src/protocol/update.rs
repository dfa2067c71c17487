//! Firmware-update messages, on a clicker's own topics: the hub offers an image, sends it in chunks
//! the clicker asks for, and the clicker reports how far it got. The image is signed
//! ([`crate::ota::image`]), so offers and chunks need no MAC; the clicker's reports carry one, with
//! a sequence number, like every message it sends (a forged report could halt a rollout).
//!
//! ```text
//! hub → clicker   .../fwoffer     {"v":"0.2.0","size":4224}       size: header + payload bytes
//! clicker → hub   .../fwprogress  {"seq":…,"v":"0.2.0","next":0,"mac":…}   "send from chunk 0"
//! hub → clicker   .../fwchunk     {"i":0,"d":"<hex>"}             chunk i: bytes [96 i, 96 i + 96)
//! clicker → hub   .../fwprogress  {"seq":…,"v":"0.2.0","next":8,"mac":…}   after every 8 chunks
//! clicker → hub   .../fwprogress  {"seq":…,"v":"0.2.0","done":true,"mac":…} verified, rebooting
//! clicker → hub   .../fwprogress  {"seq":…,"v":"0.2.0","error":"bad_signature","mac":…}
//! ```

use serde::{Deserialize, Serialize};

use super::ids::Seq;
use super::messages::MacTag;

/// Bytes per chunk (192 hex digits keep a chunk message under the payload limit).
pub const CHUNK: usize = 96;
/// Chunks the hub sends per progress report.
pub const WINDOW: u32 = 8;

/// A version as text, `0.2.0`.
pub type VersionText = heapless::String<17>;

/// `.../fwoffer`: an image is ready for this clicker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FwOffer {
    /// Its version.
    pub v: VersionText,
    /// Header and payload, in bytes.
    pub size: u32,
}

/// `.../fwchunk`: one chunk of the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FwChunk {
    /// Its index.
    pub i: u32,
    /// Its bytes, lowercase hex.
    pub d: heapless::String<{ 2 * CHUNK }>,
}

/// Why a clicker stopped an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FwError {
    /// Not a classhub image.
    NotAnImage,
    /// The signature does not verify.
    BadSignature,
    /// The payload's hash does not match (a chunk was corrupted).
    BadHash,
    /// Larger than a slot.
    TooLarge,
    /// Not newer than what runs.
    Older,
    /// A new image is on trial, not yet confirmed.
    Busy,
    /// The flash failed.
    Flash,
}

impl FwError {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            FwError::NotAnImage => "not_an_image",
            FwError::BadSignature => "bad_signature",
            FwError::BadHash => "bad_hash",
            FwError::TooLarge => "too_large",
            FwError::Older => "older",
            FwError::Busy => "busy",
            FwError::Flash => "flash",
        }
    }
}

/// `.../fwprogress`: how far the clicker got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FwProgress {
    /// Sequence number (the clicker core sets it when it sends the report).
    pub seq: Seq,
    /// The version being installed.
    pub v: VersionText,
    /// The next chunk it wants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<u32>,
    /// Installed and verified; it reboots into it.
    #[serde(default, skip_serializing_if = "core::ops::Not::not")]
    pub done: bool,
    /// Why it stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<FwError>,
    /// MAC under the device key (the clicker core signs it when it sends the report).
    pub mac: MacTag,
}

impl FwProgress {
    /// A report, to be numbered and signed by the clicker core.
    pub fn new(v: VersionText, next: Option<u32>, done: bool, error: Option<FwError>) -> FwProgress {
        FwProgress { seq: Seq(0), v, next, done, error, mac: MacTag([0; 8]) }
    }
}

/// How many chunks an image of `size` bytes takes.
pub const fn chunks(size: u32) -> u32 {
    size.div_ceil(CHUNK as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{MAX_PAYLOAD, decode, encode};

    #[test]
    fn a_full_chunk_fits_the_payload_limit() {
        let mut d = heapless::String::new();
        for _ in 0..2 * CHUNK {
            d.push('a').unwrap();
        }
        let wire = encode(&FwChunk { i: u32::MAX, d }).unwrap();
        assert!(wire.len() <= MAX_PAYLOAD, "{}", wire.len());
    }

    #[test]
    fn progress_reads_as_the_module_shows() {
        let v = VersionText::try_from("0.2.0").unwrap();
        let p = FwProgress { seq: Seq(7), ..FwProgress::new(v.clone(), Some(8), false, None) };
        assert_eq!(encode(&p).unwrap().as_slice(), br#"{"seq":7,"v":"0.2.0","next":8,"mac":"0000000000000000"}"#);
        let e = FwProgress::new(v, None, false, Some(FwError::BadSignature));
        assert_eq!(
            encode(&e).unwrap().as_slice(),
            br#"{"seq":0,"v":"0.2.0","error":"bad_signature","mac":"0000000000000000"}"#
        );
        assert!(decode::<FwProgress>(br#"{"seq":9,"v":"0.2.0","done":true,"mac":"0000000000000000"}"#).unwrap().done);
        assert_eq!(chunks(4224), 44);
    }
}
