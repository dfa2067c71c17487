//! A NOR flash in RAM with real NOR rules, for tests and the simulator: the boot counter, the
//! firmware slots, and power cuts injected at any write or erase.

use embedded_storage::nor_flash::{ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash};

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

/// A flash whose power fails after a number of writes and erases: the one that fails lands only
/// half-way (a torn write or erase), and nothing after it lands at all. For testing that every
/// power cut leaves something bootable.
pub struct PowerCut<F> {
    inner: F,
    ops_left: usize,
}

impl<F> PowerCut<F> {
    /// Power fails during the `ops + 1`th write or erase.
    pub fn after(inner: F, ops: usize) -> Self {
        PowerCut { inner, ops_left: ops }
    }

    /// Whether the power has failed.
    pub fn failed(&self) -> bool {
        self.ops_left == usize::MAX
    }

    /// The flash as the power cut left it.
    pub fn into_inner(self) -> F {
        self.inner
    }

    fn spend(&mut self) -> Option<bool> {
        match self.ops_left {
            usize::MAX => None,
            0 => {
                self.ops_left = usize::MAX;
                Some(false)
            }
            _ => {
                self.ops_left -= 1;
                Some(true)
            }
        }
    }
}

/// The power failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PowerLost;

impl NorFlashError for PowerLost {
    fn kind(&self) -> NorFlashErrorKind {
        NorFlashErrorKind::Other
    }
}

impl<F: NorFlash> ErrorType for PowerCut<F> {
    type Error = PowerLost;
}

impl<F: NorFlash> ReadNorFlash for PowerCut<F> {
    const READ_SIZE: usize = F::READ_SIZE;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), PowerLost> {
        if self.failed() {
            return Err(PowerLost);
        }
        self.inner.read(offset, bytes).map_err(|_| PowerLost)
    }

    fn capacity(&self) -> usize {
        self.inner.capacity()
    }
}

impl<F: NorFlash> NorFlash for PowerCut<F> {
    const WRITE_SIZE: usize = F::WRITE_SIZE;
    const ERASE_SIZE: usize = F::ERASE_SIZE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), PowerLost> {
        match self.spend() {
            Some(true) => self.inner.erase(from, to).map_err(|_| PowerLost),
            Some(false) => {
                // Half the sectors erased, the rest untouched.
                let sectors = (to - from) / F::ERASE_SIZE as u32;
                let _ = self.inner.erase(from, from + sectors / 2 * F::ERASE_SIZE as u32);
                Err(PowerLost)
            }
            None => Err(PowerLost),
        }
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), PowerLost> {
        match self.spend() {
            Some(true) => self.inner.write(offset, bytes).map_err(|_| PowerLost),
            Some(false) => {
                // The first half of the words land.
                let half = bytes.len() / 2 / F::WRITE_SIZE * F::WRITE_SIZE;
                let _ = self.inner.write(offset, &bytes[..half]);
                Err(PowerLost)
            }
            None => Err(PowerLost),
        }
    }
}
