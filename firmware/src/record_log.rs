//! A power-cut-safe log of small records on NOR flash: two erase sectors used in turn, each record
//! 16 bytes appended to the active one (wear spreads across the sector), a torn write ignored, and a
//! power cut during an erase harmless (the other sector still holds the newest record). The boot
//! counter and the firmware slots' boot state both keep their state in one.
//!
//! A record is `magic (4) | seq (4) | !(seq ^ value) (4) | value (4)`, little-endian, written in that
//! order: a write torn anywhere fails the check (a value of `u32::MAX` is therefore not allowed).
//! The record with the highest `seq` is the current one.

use embedded_storage::nor_flash::NorFlash;

/// Bytes per record.
pub const RECORD: usize = 16;

/// Why the log cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogError<E> {
    /// The flash failed.
    Flash(E),
    /// The flash's geometry does not fit 16-byte records in two sectors at the given offset.
    Geometry,
    /// The sequence number reached `u32::MAX`.
    Exhausted,
}

fn encode(magic: [u8; 4], seq: u32, value: u32) -> [u8; RECORD] {
    let mut r = [0u8; RECORD];
    r[..4].copy_from_slice(&magic);
    r[4..8].copy_from_slice(&seq.to_le_bytes());
    r[8..12].copy_from_slice(&(!(seq ^ value)).to_le_bytes());
    r[12..].copy_from_slice(&value.to_le_bytes());
    r
}

fn decode(magic: [u8; 4], r: &[u8; RECORD]) -> Option<(u32, u32)> {
    let word = |i: usize| u32::from_le_bytes([r[i], r[i + 1], r[i + 2], r[i + 3]]);
    let (seq, value) = (word(4), word(12));
    (r[..4] == magic && word(8) == !(seq ^ value) && value != u32::MAX).then_some((seq, value))
}

/// The newest record and where to append.
struct Scan {
    /// The newest record (seq, value) and the sector holding it.
    newest: Option<(u32, u32, usize)>,
    /// The first erased slot in each sector, if any.
    free: [Option<usize>; 2],
}

/// A record log in sectors `[base, base + 2 * ERASE_SIZE)` of a flash.
pub struct RecordLog<F> {
    flash: F,
    base: u32,
    magic: [u8; 4],
}

impl<F: NorFlash> RecordLog<F> {
    /// Uses two erase sectors from `base`; `magic` marks this log's records.
    pub fn new(flash: F, base: u32, magic: [u8; 4]) -> Result<Self, LogError<F::Error>> {
        let fits = F::ERASE_SIZE % RECORD == 0
            && RECORD.is_multiple_of(F::WRITE_SIZE)
            && RECORD.is_multiple_of(F::READ_SIZE)
            && (base as usize).is_multiple_of(F::ERASE_SIZE)
            && base as usize + 2 * F::ERASE_SIZE <= flash.capacity();
        if fits { Ok(RecordLog { flash, base, magic }) } else { Err(LogError::Geometry) }
    }

    /// The flash back.
    pub fn release(self) -> F {
        self.flash
    }

    /// The flash, for the rest of it (the log keeps to its two sectors).
    pub fn flash(&mut self) -> &mut F {
        &mut self.flash
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
                if let Some((seq, value)) = decode(self.magic, &r)
                    && scan.newest.is_none_or(|(best, _, _)| seq > best)
                {
                    scan.newest = Some((seq, value, sector));
                }
            }
        }
        Ok(scan)
    }

    /// The newest record: (seq, value).
    pub fn newest(&mut self) -> Result<Option<(u32, u32)>, LogError<F::Error>> {
        Ok(self.scan().map_err(LogError::Flash)?.newest.map(|(s, v, _)| (s, v)))
    }

    /// Appends `value` with the next sequence number; returns the sequence number written.
    pub fn append(&mut self, value: u32) -> Result<u32, LogError<F::Error>> {
        let scan = self.scan().map_err(LogError::Flash)?;
        let (next, active) = match scan.newest {
            Some((s, _, sector)) => (s.checked_add(1).ok_or(LogError::Exhausted)?, sector),
            None => (1, 0),
        };
        let (sector, slot) = match scan.free[active] {
            Some(slot) => (active, slot),
            None => {
                // The active sector is full: start the other one. The newest record stays in the
                // active sector until the next turn, so a power cut here loses nothing.
                let other = 1 - active;
                let start = self.sector_start(other);
                self.flash.erase(start, start + F::ERASE_SIZE as u32).map_err(LogError::Flash)?;
                (other, 0)
            }
        };
        let at = self.sector_start(sector) + (slot * RECORD) as u32;
        self.flash.write(at, &encode(self.magic, next, value)).map_err(LogError::Flash)?;
        Ok(next)
    }
}

#[cfg(test)]
pub(crate) fn encode_for_tests(magic: [u8; 4], seq: u32, value: u32) -> [u8; RECORD] {
    encode(magic, seq, value)
}
