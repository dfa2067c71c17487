//! The boot counter on NOR flash, kept in a [`RecordLog`]: each boot appends one 16-byte record
//! (wear spreads across the sector), a torn write is ignored, and a power cut during an erase never
//! loses the counter (the other sector still holds it).

use embedded_storage::nor_flash::NorFlash;

use crate::ports::BootCounter;
pub use crate::ram_flash::RamFlash;
use crate::record_log::{LogError, RecordLog};

const MAGIC: [u8; 4] = *b"CHB1";

/// Why the boot counter could not be kept.
pub type BootCounterError<E> = LogError<E>;

/// The boot counter kept in two erase sectors of a NOR flash, starting at `base`.
pub struct FlashBootCounter<F> {
    log: RecordLog<F>,
}

impl<F: NorFlash> FlashBootCounter<F> {
    /// Uses sectors `[base, base + 2 * ERASE_SIZE)` of `flash`.
    pub fn new(flash: F, base: u32) -> Result<Self, BootCounterError<F::Error>> {
        Ok(FlashBootCounter { log: RecordLog::new(flash, base, MAGIC)? })
    }

    /// The flash back.
    pub fn release(self) -> F {
        self.log.release()
    }

    /// The last boot counter written, if any.
    pub fn current(&mut self) -> Result<Option<u32>, BootCounterError<F::Error>> {
        Ok(self.log.newest()?.map(|(boot, _)| boot))
    }
}

impl<F: NorFlash> BootCounter for FlashBootCounter<F> {
    type Error = BootCounterError<F::Error>;

    fn next_boot(&mut self) -> Result<u32, Self::Error> {
        self.log.append(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record_log::encode_for_tests;

    fn encode(boot: u32) -> [u8; 16] {
        encode_for_tests(MAGIC, boot, 0)
    }

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
