//! Two firmware slots (A/B) on NOR flash and the boot state that says which one runs, so an update
//! never bricks a clicker: a new image is written to the slot not running, gets its header only once
//! every byte is in, is booted on trial, and becomes permanent only when the running firmware
//! confirms a healthy start. After [`MAX_TRIAL_BOOTS`] unconfirmed boots the old slot runs again.
//!
//! ```text
//! [ boot state: a RecordLog, 2 sectors ][ slot A: header | payload … ][ slot B: header | payload … ]
//! ```
//!
//! Every write is ordered so a power cut at any moment leaves a bootable, verified image: the payload
//! before its header, the header before the boot state names the slot, the boot state in a
//! torn-write-safe log.

use embedded_storage::nor_flash::NorFlash;
use sha2::{Digest, Sha256};

use super::image::{HEADER_LEN, Header, ImageError, Version};
use crate::record_log::{LogError, RecordLog};

const MAGIC: [u8; 4] = *b"CHOS";

/// Unconfirmed boots of a new image before the old one runs again.
pub const MAX_TRIAL_BOOTS: u8 = 3;

/// One of the two slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// The first.
    A,
    /// The second.
    B,
}

impl Slot {
    /// The other one.
    pub const fn other(self) -> Slot {
        match self {
            Slot::A => Slot::B,
            Slot::B => Slot::A,
        }
    }

    const fn index(self) -> u32 {
        match self {
            Slot::A => 0,
            Slot::B => 1,
        }
    }
}

/// Which slot runs, and a new one on trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootState {
    /// The confirmed slot.
    pub active: Slot,
    /// A new image on trial, and how many times it has been booted.
    pub trial: Option<(Slot, u8)>,
}

impl BootState {
    const FIRST: BootState = BootState { active: Slot::A, trial: None };

    fn pack(self) -> u32 {
        let (trial, attempts) = match self.trial {
            Some((s, n)) => (0b10 | s.index(), u32::from(n)),
            None => (0, 0),
        };
        self.active.index() | (trial << 1) | (attempts << 8)
    }

    fn unpack(v: u32) -> BootState {
        let slot = |bit: u32| if bit & 1 == 0 { Slot::A } else { Slot::B };
        let trial = (v & 0b100 != 0).then(|| (slot(v >> 1), (v >> 8) as u8));
        BootState { active: slot(v), trial }
    }
}

/// What failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotError<E> {
    /// The flash failed.
    Flash(E),
    /// The flash is too small for the layout, or misaligned.
    Geometry,
    /// The image was refused.
    Image(ImageError),
    /// Neither slot holds a valid image (only before the very first image is written).
    NoValidImage,
    /// A new image is on trial and not yet confirmed: no other update until it is.
    Busy,
    /// A chunk out of order.
    OutOfOrder,
}

impl<E> From<LogError<E>> for SlotError<E> {
    fn from(e: LogError<E>) -> Self {
        match e {
            LogError::Flash(e) => SlotError::Flash(e),
            LogError::Geometry | LogError::Exhausted => SlotError::Geometry,
        }
    }
}

/// What the bootloader decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Boot {
    /// The slot to run.
    pub slot: Slot,
    /// Its image.
    pub header: Header,
    /// Whether it runs on trial (confirm it once it is healthy).
    pub trial: bool,
}

/// An image being written into the slot not running.
pub struct Download {
    slot: Slot,
    header: Header,
    written: u32,
    hash: Sha256,
}

impl Download {
    /// Payload bytes written so far.
    pub fn written(&self) -> u32 {
        self.written
    }

    /// The image's header.
    pub fn header(&self) -> &Header {
        &self.header
    }
}

/// The slots and their boot state on one flash.
pub struct Slots<F> {
    log: RecordLog<F>,
    slot_size: u32,
    public_key: [u8; 32],
}

impl<F: NorFlash> Slots<F> {
    /// The boot state in the first two sectors, then two slots of `slot_size` bytes (a whole number
    /// of sectors); images must be signed by `public_key`'s secret.
    pub fn new(flash: F, slot_size: u32, public_key: [u8; 32]) -> Result<Self, SlotError<F::Error>> {
        let sector = F::ERASE_SIZE as u32;
        if slot_size == 0 || !slot_size.is_multiple_of(sector) || (HEADER_LEN as u32) > slot_size {
            return Err(SlotError::Geometry);
        }
        let needed = 2 * sector as usize + 2 * slot_size as usize;
        if flash.capacity() < needed {
            return Err(SlotError::Geometry);
        }
        Ok(Slots { log: RecordLog::new(flash, 0, MAGIC)?, slot_size, public_key })
    }

    /// The flash back.
    pub fn release(self) -> F {
        self.log.release()
    }

    fn base(&self, slot: Slot) -> u32 {
        2 * F::ERASE_SIZE as u32 + slot.index() * self.slot_size
    }

    /// The boot state now.
    pub fn state(&mut self) -> Result<BootState, SlotError<F::Error>> {
        Ok(self.log.newest()?.map_or(BootState::FIRST, |(_, v)| BootState::unpack(v)))
    }

    fn set_state(&mut self, state: BootState) -> Result<(), SlotError<F::Error>> {
        self.log.append(state.pack())?;
        Ok(())
    }

    /// The slot's image if it is whole: header readable, signature good, payload hash right.
    pub fn verify(&mut self, slot: Slot) -> Result<Option<Header>, SlotError<F::Error>> {
        let base = self.base(slot);
        let mut raw = [0u8; HEADER_LEN];
        self.log.flash().read(base, &mut raw).map_err(SlotError::Flash)?;
        let Ok(header) = Header::parse(&raw) else { return Ok(None) };
        if header.verify(&self.public_key).is_err() || header.len > self.slot_size - HEADER_LEN as u32 {
            return Ok(None);
        }
        let mut hash = Sha256::new();
        let mut buf = [0u8; 64];
        let mut at = 0u32;
        while at < header.len {
            let n = (header.len - at).min(buf.len() as u32) as usize;
            self.log.flash().read(base + HEADER_LEN as u32 + at, &mut buf[..n]).map_err(SlotError::Flash)?;
            hash.update(&buf[..n]);
            at += n as u32;
        }
        Ok((<[u8; 32]>::from(hash.finalize()) == header.sha256).then_some(header))
    }

    /// Reads payload bytes of a slot (what a bootloader would jump into).
    pub fn read_payload(&mut self, slot: Slot, offset: u32, buf: &mut [u8]) -> Result<(), SlotError<F::Error>> {
        let at = self.base(slot) + HEADER_LEN as u32 + offset;
        self.log.flash().read(at, buf).map_err(SlotError::Flash)
    }

    /// The bootloader's decision at power-on: a trial image while it has boots left, else the
    /// confirmed one; never an image that does not verify.
    pub fn boot(&mut self) -> Result<Boot, SlotError<F::Error>> {
        let state = self.state()?;
        if let Some((slot, attempts)) = state.trial {
            if attempts < MAX_TRIAL_BOOTS
                && let Some(header) = self.verify(slot)?
            {
                self.set_state(BootState { trial: Some((slot, attempts + 1)), ..state })?;
                return Ok(Boot { slot, header, trial: true });
            }
            // Booted too often without a confirmation, or broken: back to the confirmed image.
            self.set_state(BootState { trial: None, ..state })?;
        }
        if let Some(header) = self.verify(state.active)? {
            return Ok(Boot { slot: state.active, header, trial: false });
        }
        let other = state.active.other();
        match self.verify(other)? {
            Some(header) => {
                self.set_state(BootState { active: other, trial: None })?;
                Ok(Boot { slot: other, header, trial: false })
            }
            None => Err(SlotError::NoValidImage),
        }
    }

    /// The image booted from `booted` started well: if it runs on trial, it becomes the confirmed
    /// one. An image on trial that has not booted yet (the old firmware still runs) stays on trial.
    pub fn confirm(&mut self, booted: Slot) -> Result<(), SlotError<F::Error>> {
        let state = self.state()?;
        if let Some((slot, attempts)) = state.trial
            && slot == booted
            && attempts >= 1
        {
            self.set_state(BootState { active: slot, trial: None })?;
        }
        Ok(())
    }

    /// Starts writing `header`'s image into the slot not running, if it is signed, fits, and is
    /// newer than `running`.
    pub fn begin(&mut self, header: Header, running: Version) -> Result<Download, SlotError<F::Error>> {
        let state = self.state()?;
        if state.trial.is_some() {
            return Err(SlotError::Busy);
        }
        header.verify(&self.public_key).map_err(SlotError::Image)?;
        if header.version <= running {
            return Err(SlotError::Image(ImageError::Older));
        }
        if header.len > self.slot_size - HEADER_LEN as u32 {
            return Err(SlotError::Image(ImageError::TooLarge));
        }
        self.open_slot(state.active.other(), header)
    }

    /// Starts writing into `slot`. Its first sector holds the header: erased now, written last.
    fn open_slot(&mut self, slot: Slot, header: Header) -> Result<Download, SlotError<F::Error>> {
        let base = self.base(slot);
        self.log.flash().erase(base, base + F::ERASE_SIZE as u32).map_err(SlotError::Flash)?;
        Ok(Download { slot, header, written: 0, hash: Sha256::new() })
    }

    /// Checks the hash of everything written, writes the header, and reads the slot back.
    fn seal(&mut self, d: Download) -> Result<Slot, SlotError<F::Error>> {
        if d.written != d.header.len {
            return Err(SlotError::OutOfOrder);
        }
        if <[u8; 32]>::from(d.hash.finalize()) != d.header.sha256 {
            return Err(SlotError::Image(ImageError::BadHash));
        }
        let base = self.base(d.slot);
        self.log.flash().write(base, &d.header.to_bytes()).map_err(SlotError::Flash)?;
        match self.verify(d.slot)? {
            Some(_) => Ok(d.slot),
            None => Err(SlotError::Image(ImageError::BadHash)),
        }
    }

    /// Writes the next piece of payload (pieces come in order; their length must be a multiple of
    /// the flash's write size, except the last).
    pub fn write(&mut self, d: &mut Download, data: &[u8]) -> Result<(), SlotError<F::Error>> {
        let end = d.written.checked_add(data.len() as u32).ok_or(SlotError::OutOfOrder)?;
        if end > d.header.len {
            return Err(SlotError::OutOfOrder);
        }
        let sector = F::ERASE_SIZE as u32;
        let base = self.base(d.slot) + HEADER_LEN as u32;
        let (from, to) = (base + d.written, base + end);
        // Erase each sector the first time the payload reaches into it (the payload never starts a
        // slot, so a sector starting at `from` has not been written yet).
        let mut next_sector = from.div_ceil(sector) * sector;
        while next_sector < to {
            self.log.flash().erase(next_sector, next_sector + sector).map_err(SlotError::Flash)?;
            next_sector += sector;
        }
        let ws = F::WRITE_SIZE;
        let whole = data.len() / ws * ws;
        if whole > 0 {
            self.log.flash().write(from, &data[..whole]).map_err(SlotError::Flash)?;
        }
        if whole < data.len() {
            // The tail: pad with 0xff, which leaves the rest of the word erased.
            let mut word = [0xffu8; 16];
            let tail = &data[whole..];
            word[..tail.len()].copy_from_slice(tail);
            self.log.flash().write(from + whole as u32, &word[..ws]).map_err(SlotError::Flash)?;
        }
        d.hash.update(data);
        d.written = end;
        Ok(())
    }

    /// Every byte is in: checks the hash, writes the header, reads the slot back, and puts it on
    /// trial. Reboot to run it.
    pub fn finish(&mut self, d: Download) -> Result<(), SlotError<F::Error>> {
        let slot = self.seal(d)?;
        let state = self.state()?;
        self.set_state(BootState { trial: Some((slot, 0)), ..state })
    }

    /// Installs a first image directly (the factory's flashing step): into slot A, confirmed.
    pub fn install_factory(&mut self, header: Header, payload: &[u8]) -> Result<(), SlotError<F::Error>> {
        header.verify(&self.public_key).map_err(SlotError::Image)?;
        let mut d = self.open_slot(Slot::A, header)?;
        self.write(&mut d, payload)?;
        self.seal(d)?;
        self.set_state(BootState::FIRST)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ota::fixtures::{Flash, SEED, v};
    use crate::ota::image::{public_key, sign};

    fn image(version: &str, len: usize) -> (Header, Vec<u8>) {
        let payload: Vec<u8> = (0..len).map(|i| (i * 7 + version.len()) as u8).collect();
        (sign(&SEED, v(version), &payload).unwrap(), payload)
    }

    fn factory() -> Slots<Flash> {
        let mut slots = Slots::new(Flash::new(), 2048, public_key(&SEED)).unwrap();
        let (h, p) = image("0.1.0", 1000);
        slots.install_factory(h, &p).unwrap();
        slots
    }

    fn download(
        slots: &mut Slots<Flash>,
        header: Header,
        payload: &[u8],
    ) -> Result<(), SlotError<crate::ram_flash::RamFlashError>> {
        let mut d = slots.begin(header, v("0.1.0"))?;
        for piece in payload.chunks(96) {
            slots.write(&mut d, piece)?;
        }
        slots.finish(d)
    }

    #[test]
    fn a_new_image_boots_on_trial_and_stays_once_confirmed() {
        let mut slots = factory();
        assert_eq!(slots.boot().unwrap().header.version, v("0.1.0"));
        let (h, p) = image("0.2.0", 1501);
        download(&mut slots, h, &p).unwrap();
        let boot = slots.boot().unwrap();
        assert_eq!((boot.slot, boot.header.version, boot.trial), (Slot::B, v("0.2.0"), true));
        slots.confirm(boot.slot).unwrap();
        let again = slots.boot().unwrap();
        assert_eq!((again.slot, again.trial), (Slot::B, false));
    }

    #[test]
    fn three_boots_without_a_confirmation_fall_back_to_the_old_image() {
        let mut slots = factory();
        let (h, p) = image("0.2.0", 500);
        download(&mut slots, h, &p).unwrap();
        for _ in 0..MAX_TRIAL_BOOTS {
            assert_eq!(slots.boot().unwrap().header.version, v("0.2.0"), "it crashes before confirming");
        }
        let back = slots.boot().unwrap();
        assert_eq!((back.slot, back.header.version, back.trial), (Slot::A, v("0.1.0"), false));
        assert_eq!(slots.state().unwrap(), BootState { active: Slot::A, trial: None });
    }

    #[test]
    fn older_unsigned_oversize_and_corrupted_images_are_refused() {
        let mut slots = factory();
        let (old, _) = image("0.0.9", 10);
        assert_eq!(slots.begin(old, v("0.1.0")).err(), Some(SlotError::Image(ImageError::Older)));
        let (same, _) = image("0.1.0", 10);
        assert_eq!(slots.begin(same, v("0.1.0")).err(), Some(SlotError::Image(ImageError::Older)));
        let (mut forged, _) = image("0.3.0", 10);
        forged.signature[0] ^= 1;
        assert_eq!(slots.begin(forged, v("0.1.0")).err(), Some(SlotError::Image(ImageError::BadSignature)));
        let other_key = sign(&[1; 32], v("0.3.0"), b"x").unwrap();
        assert_eq!(slots.begin(other_key, v("0.1.0")).err(), Some(SlotError::Image(ImageError::BadSignature)));
        let (big, _) = image("0.3.0", 2048);
        assert_eq!(slots.begin(big, v("0.1.0")).err(), Some(SlotError::Image(ImageError::TooLarge)));
        let (h, mut p) = image("0.2.0", 700);
        p[300] ^= 0x40; // one bit flipped on the way
        assert_eq!(download(&mut slots, h, &p), Err(SlotError::Image(ImageError::BadHash)));
        assert_eq!(slots.boot().unwrap().header.version, v("0.1.0"), "nothing changed");
    }

    #[test]
    fn the_old_firmware_cannot_confirm_an_image_it_has_not_booted() {
        let mut slots = factory();
        let running = slots.boot().unwrap();
        let (h, p) = image("0.2.0", 400);
        download(&mut slots, h, &p).unwrap();
        slots.confirm(running.slot).unwrap(); // still 0.1.0 from slot A: no effect
        assert_eq!(slots.state().unwrap().trial, Some((Slot::B, 0)));
        let trial = slots.boot().unwrap();
        assert!(trial.trial, "B still boots on trial and can fall back");
    }

    #[test]
    fn no_second_update_while_one_is_on_trial() {
        let mut slots = factory();
        let (h, p) = image("0.2.0", 300);
        download(&mut slots, h, &p).unwrap();
        slots.boot().unwrap();
        let (h3, _) = image("0.3.0", 300);
        assert_eq!(slots.begin(h3, v("0.2.0")).err(), Some(SlotError::Busy));
    }

    #[test]
    fn a_power_cut_at_any_write_or_erase_of_an_update_leaves_a_bootable_image() {
        use crate::ram_flash::PowerCut;
        let (h, p) = image("0.2.0", 1501);
        // Count the writes and erases of a whole update: download, trial boot, confirm.
        let mut n = 0;
        loop {
            let flash = PowerCut::after(factory().release(), n);
            let mut slots = Slots::new(flash, 2048, public_key(&SEED)).unwrap();
            let completed = (|| {
                let mut d = slots.begin(h, v("0.1.0"))?;
                for piece in p.chunks(96) {
                    slots.write(&mut d, piece)?;
                }
                slots.finish(d)?;
                let boot = slots.boot()?;
                slots.confirm(boot.slot)
            })()
            .is_ok();
            // Power back on: only the flash survives.
            let mut after = Slots::new(slots.release().into_inner(), 2048, public_key(&SEED)).unwrap();
            let boot = after.boot().unwrap_or_else(|e| panic!("cut at op {n}: nothing bootable: {e:?}"));
            assert!([v("0.1.0"), v("0.2.0")].contains(&boot.header.version), "cut at op {n}");
            assert!(after.verify(boot.slot).unwrap().is_some(), "cut at op {n}: the booted image verifies");
            if completed {
                assert_eq!(boot.header.version, v("0.2.0"));
                break;
            }
            // And the clicker can still take the update afresh.
            if boot.header.version == v("0.1.0") && !boot.trial {
                let mut d = after.begin(h, v("0.1.0")).unwrap();
                for piece in p.chunks(96) {
                    after.write(&mut d, piece).unwrap();
                }
                after.finish(d).unwrap();
                assert_eq!(after.boot().unwrap().header.version, v("0.2.0"), "cut at op {n}: update again");
            }
            n += 1;
        }
        assert!(n > 20, "{n} cut points: every chunk, the header, the switch and the confirmation");
    }

    #[test]
    fn boot_states_pack_into_a_word_that_is_never_all_ones() {
        for active in [Slot::A, Slot::B] {
            for trial in [None, Some((Slot::A, 0)), Some((Slot::B, 3))] {
                let s = BootState { active, trial };
                assert_eq!(BootState::unpack(s.pack()), s);
                assert_ne!(s.pack(), u32::MAX);
            }
        }
    }
}
