//! The boot counter on NOR flash: two sectors used in turn as an append-only log of 16-byte records,
//! so each boot writes one record (wear spreads across the sector), a torn write is ignored, and a
//! power cut during an erase never loses the counter (the other sector still holds it).

use embedded_storage::nor_flash::{ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash};

use crate::ports::BootCounter;

const MAGIC: [u8; 4] = *b"CHB1";
const RECORD: usize = 16;

/// A record: magic, boot counter, its complement (a torn write fails the check), and zero padding.
fn encode(boot: u32) -> [u8; RECORD] {
    let mut r = [0u8; RECORD];
    r[..4].copy_from_slice(&MAGIC);
    r[4..8].copy_from_slice(&boot.to_le_bytes());
    r[8..12].copy_from_slice(&(!boot).to_le_bytes());
    r
}

fn decode(r: &[u8; RECORD]) -> Option<u32> {
    let word = |i: usize| u32::from_le_bytes([r[i], r[i + 1], r[i + 2], r[i + 3]]);
    (r[..4] == MAGIC && word(8) == !word(4) && r[12..] == [0; 4]).then(|| word(4))
}

/// Why the boot counter could not be kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootCounterError<E> {
    /// The flash failed.
    Flash(E),
    /// The flash's geometry does not fit 16-byte records in two sectors at the given offset.
    Geometry,
    /// The counter reached `u32::MAX`; the device must be re-paired.
    Exhausted,
}

/// The boot counter kept in two erase sectors of a NOR flash, starting at `base`.
pub struct FlashBootCounter<F> {
    flash: F,
    base: u32,
}

struct Scan {
    /// The newest boot counter and the sector holding it.
    newest: Option<(u32, usize)>,
    /// The first erased slot in each sector, if any.
    free: [Option<usize>; 2],
}

impl<F: NorFlash> FlashBootCounter<F> {
    /// Uses sectors `[base, base + 2 * ERASE_SIZE)` of `flash`.
    pub fn new(flash: F, base: u32) -> Result<Self, BootCounterError<F::Error>> {
        let fits = F::ERASE_SIZE % RECORD == 0
            && RECORD.is_multiple_of(F::WRITE_SIZE)
            && RECORD.is_multiple_of(F::READ_SIZE)
            && (base as usize).is_multiple_of(F::ERASE_SIZE)
            && base as usize + 2 * F::ERASE_SIZE <= flash.capacity();
        if fits { Ok(FlashBootCounter { flash, base }) } else { Err(BootCounterError::Geometry) }
    }

    /// The flash back.
    pub fn release(self) -> F {
        self.flash
    }

    fn sector_start(&self, sector: usize) -> u32 {
        self.base + (sector * F::ERASE_SIZE) as u32
    }

    fn scan(&mut self) -> Result<Scan, F::Error> {
        let mut scan = Scan { newest: None, free: [None, None] };
        for sector in 0..2 {
            for slot in 0..F::ERASE_SIZE / RECORD {
                let mut r = [0u8; RECORD];
                self.flash.read(self.sector_start(sector) + (slot * RECORD) as u32, &mut r)?;
                if r == [0xff; RECORD] {
                    scan.free[sector] = Some(slot);
                    break;
                }
                if let Some(boot) = decode(&r)
                    && scan.newest.is_none_or(|(best, _)| boot > best)
                {
                    scan.newest = Some((boot, sector));
                }
            }
        }
        Ok(scan)
    }

    /// The last boot counter written, if any.
    pub fn current(&mut self) -> Result<Option<u32>, BootCounterError<F::Error>> {
        Ok(self.scan().map_err(BootCounterError::Flash)?.newest.map(|(b, _)| b))
    }
}

impl<F: NorFlash> BootCounter for FlashBootCounter<F> {
    type Error = BootCounterError<F::Error>;

    fn next_boot(&mut self) -> Result<u32, Self::Error> {
        let scan = self.scan().map_err(BootCounterError::Flash)?;
        let (next, active) = match scan.newest {
            Some((b, sector)) => (b.checked_add(1).ok_or(BootCounterError::Exhausted)?, sector),
            None => (1, 0),
        };
        let (sector, slot) = match scan.free[active] {
            Some(slot) => (active, slot),
            None => {
                // The active sector is full: start the other one. The newest record stays in the
                // active sector until the next turn, so a power cut here loses nothing.
                let other = 1 - active;
                let start = self.sector_start(other);
                self.flash.erase(start, start + F::ERASE_SIZE as u32).map_err(BootCounterError::Flash)?;
                (other, 0)
            }
        };
        let at = self.sector_start(sector) + (slot * RECORD) as u32;
        self.flash.write(at, &encode(next)).map_err(BootCounterError::Flash)?;
        Ok(next)
    }
}

/// A NOR flash in RAM with real NOR rules (erase sets bytes to `0xff`, a write only clears bits),
/// for tests and the simulator.
pub struct RamFlash<const SIZE: usize, const SECTOR: usize> {
    bytes: [u8; SIZE],
}

impl<const SIZE: usize, const SECTOR: usize> Default for RamFlash<SIZE, SECTOR> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const SIZE: usize, const SECTOR: usize> RamFlash<SIZE, SECTOR> {
    /// An erased flash.
    pub const fn new() -> Self {
        RamFlash { bytes: [0xff; SIZE] }
    }

    /// The raw contents, for tests that tear a write by hand.
    pub fn bytes_mut(&mut self) -> &mut [u8; SIZE] {
        &mut self.bytes
    }
}

/// A RAM flash access outside its bounds or off its alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RamFlashError(NorFlashErrorKind);

impl NorFlashError for RamFlashError {
    fn kind(&self) -> NorFlashErrorKind {
        self.0
    }
}

impl<const SIZE: usize, const SECTOR: usize> ErrorType for RamFlash<SIZE, SECTOR> {
    type Error = RamFlashError;
}

impl<const SIZE: usize, const SECTOR: usize> RamFlash<SIZE, SECTOR> {
    fn range(&self, offset: u32, len: usize, align: usize) -> Result<core::ops::Range<usize>, RamFlashError> {
        let start = offset as usize;
        if !start.is_multiple_of(align) || !len.is_multiple_of(align) {
            return Err(RamFlashError(NorFlashErrorKind::NotAligned));
        }
        match start.checked_add(len) {
            Some(end) if end <= SIZE => Ok(start..end),
            _ => Err(RamFlashError(NorFlashErrorKind::OutOfBounds)),
        }
    }
}

impl<const SIZE: usize, const SECTOR: usize> ReadNorFlash for RamFlash<SIZE, SECTOR> {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        let r = self.range(offset, bytes.len(), 1)?;
        bytes.copy_from_slice(&self.bytes[r]);
        Ok(())
    }

    fn capacity(&self) -> usize {
        SIZE
    }
}

impl<const SIZE: usize, const SECTOR: usize> NorFlash for RamFlash<SIZE, SECTOR> {
    const WRITE_SIZE: usize = 4;
    const ERASE_SIZE: usize = SECTOR;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        let len = to.checked_sub(from).ok_or(RamFlashError(NorFlashErrorKind::OutOfBounds))?;
        let r = self.range(from, len as usize, SECTOR)?;
        self.bytes[r].fill(0xff);
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        let r = self.range(offset, bytes.len(), Self::WRITE_SIZE)?;
        for (cell, b) in self.bytes[r].iter_mut().zip(bytes) {
            *cell &= *b;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Flash = RamFlash<1024, 64>;

    #[test]
    fn every_boot_gets_a_new_number_across_many_sector_turns() {
        let mut counter = FlashBootCounter::new(Flash::new(), 0).unwrap();
        for expected in 1..=100 {
            assert_eq!(counter.next_boot().unwrap(), expected);
        }
        assert_eq!(counter.current().unwrap(), Some(100));
    }

    #[test]
    fn the_counter_survives_a_reboot() {
        let mut counter = FlashBootCounter::new(Flash::new(), 128).unwrap();
        for _ in 0..7 {
            counter.next_boot().unwrap();
        }
        // Power off: only the flash survives.
        let mut again = FlashBootCounter::new(counter.release(), 128).unwrap();
        assert_eq!(again.next_boot().unwrap(), 8);
    }

    #[test]
    fn a_torn_write_is_ignored_and_never_reused() {
        let mut counter = FlashBootCounter::new(Flash::new(), 0).unwrap();
        counter.next_boot().unwrap();
        counter.next_boot().unwrap();
        let mut flash = counter.release();
        // Power cut half-way through writing record 3: only its first 8 bytes landed.
        flash.bytes_mut()[32..40].copy_from_slice(&encode(3)[..8]);
        let mut counter = FlashBootCounter::new(flash, 0).unwrap();
        assert_eq!(counter.current().unwrap(), Some(2));
        assert_eq!(counter.next_boot().unwrap(), 3);
        assert_eq!(counter.next_boot().unwrap(), 4, "the torn slot is skipped, not rewritten");
    }

    #[test]
    fn a_power_cut_during_the_sector_erase_keeps_the_counter() {
        let mut counter = FlashBootCounter::new(Flash::new(), 0).unwrap();
        for _ in 0..4 {
            counter.next_boot().unwrap(); // sector 0 holds four records and is now full
        }
        let mut flash = counter.release();
        // The next boot would erase sector 1; cut power half-way through that erase.
        flash.bytes_mut()[64..96].fill(0x00);
        let mut counter = FlashBootCounter::new(flash, 0).unwrap();
        assert_eq!(counter.next_boot().unwrap(), 5);
    }

    #[test]
    fn a_flash_too_small_for_two_sectors_is_refused() {
        assert!(matches!(FlashBootCounter::new(Flash::new(), 1024 - 64), Err(BootCounterError::Geometry)));
    }
}
