//! Simulated clickers that take firmware updates: each has its own NOR flash in RAM with the A/B
//! slots, the factory image in slot A, and the real updater and bootloader logic. A trial image whose
//! payload starts with `CRASH` crashes before it confirms, so a test can watch a clicker fall back.

use std::sync::Arc;

use crate::ota::Updater;
use crate::ota::image::{HEADER_LEN, Header, Version, sign};
use crate::ota::slots::{Boot, Slots};
use crate::ports::Updates;
use crate::protocol::update::{FwChunk, FwError, FwOffer, FwProgress};
use crate::ram_flash::RamFlash;

/// The simulated flash's sector.
pub const SECTOR: usize = 1024;
/// A simulated slot: 16 KiB.
pub const SLOT: usize = 16 * 1024;
/// A simulated clicker's flash: the boot state, then two slots.
pub type SimFlash = RamFlash<{ 2 * SECTOR + 2 * SLOT }, SECTOR>;

/// How simulated clickers take updates: the fleet's public key and the image they left the
/// factory with (header and payload).
#[derive(Debug, Clone)]
pub struct Ota {
    /// The key images must be signed with.
    pub public_key: [u8; 32],
    /// The factory image.
    pub factory: Arc<Vec<u8>>,
}

/// A signed image as the hub streams it: header, then payload.
pub fn image(seed: &[u8; 32], version: Version, payload: &[u8]) -> Vec<u8> {
    // Cannot fail: a simulated payload is far below 4 GiB.
    let header = sign(seed, version, payload).expect("a small payload");
    let mut out = header.to_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

/// The updater, or none.
pub enum SimUpdates {
    /// No updates.
    Off,
    /// Updates into its RAM flash.
    On(Box<Updater<SimFlash>>),
}

impl Updates for SimUpdates {
    fn enabled(&self) -> bool {
        matches!(self, SimUpdates::On(_))
    }

    fn on_offer(&mut self, offer: &FwOffer) -> FwProgress {
        match self {
            SimUpdates::On(u) => u.on_offer(offer),
            SimUpdates::Off => FwProgress::new(offer.v.clone(), None, false, Some(FwError::Flash)),
        }
    }

    fn on_chunk(&mut self, chunk: &FwChunk) -> Option<FwProgress> {
        match self {
            SimUpdates::On(u) => u.on_chunk(chunk),
            SimUpdates::Off => None,
        }
    }

    fn reboot_requested(&self) -> bool {
        matches!(self, SimUpdates::On(u) if u.reboot_requested())
    }
}

/// A fresh flash with the factory image installed.
pub fn factory_slots(ota: &Ota) -> Result<Slots<SimFlash>, String> {
    let mut slots = Slots::new(SimFlash::new(), SLOT as u32, ota.public_key).map_err(|e| format!("{e:?}"))?;
    let raw: &[u8; HEADER_LEN] =
        ota.factory.get(..HEADER_LEN).and_then(|h| h.try_into().ok()).ok_or("the factory image has no header")?;
    let header = Header::parse(raw).map_err(|e| format!("factory image: {e:?}"))?;
    slots.install_factory(header, &ota.factory[HEADER_LEN..]).map_err(|e| format!("{e:?}"))?;
    Ok(slots)
}

/// Powers on: the bootloader picks a slot; a trial image that crashes on start (payload `CRASH…`)
/// boots again until the bootloader falls back.
pub fn power_on(slots: &mut Slots<SimFlash>) -> Result<Boot, String> {
    loop {
        let boot = slots.boot().map_err(|e| format!("{e:?}"))?;
        let mut start = [0u8; 5];
        slots.read_payload(boot.slot, 0, &mut start).map_err(|e| format!("{e:?}"))?;
        if !(boot.trial && &start == b"CRASH") {
            return Ok(boot);
        }
    }
}
