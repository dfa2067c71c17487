//! Firmware updates on the clicker: signed images ([`image`]), two slots on NOR flash with a boot
//! state that falls back by itself ([`slots`]), and the updater that turns offer and chunk messages
//! into a verified image on trial ([`Updater`]).

pub mod image;
pub mod slots;

/// What the update tests share: a signing key, a small flash and versions by text.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::image::Version;

    /// The test fleet's secret.
    pub const SEED: [u8; 32] = [42; 32];
    /// Two 256-byte sectors of boot state, two 2 KiB slots.
    pub type Flash = crate::ram_flash::RamFlash<{ 2 * 256 + 2 * 2048 }, 256>;

    /// A version from its text.
    pub fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }
}

use embedded_storage::nor_flash::NorFlash;

use crate::protocol::ids::decode_hex_into;
use crate::protocol::update::{CHUNK, FwChunk, FwError, FwOffer, FwProgress, VersionText, WINDOW, chunks};
use image::{HEADER_LEN, Header, ImageError, Version};
use slots::{Download, SlotError, Slots};

impl From<ImageError> for FwError {
    fn from(e: ImageError) -> Self {
        match e {
            ImageError::NotAnImage => FwError::NotAnImage,
            ImageError::BadSignature => FwError::BadSignature,
            ImageError::BadHash => FwError::BadHash,
            ImageError::TooLarge => FwError::TooLarge,
            ImageError::Older => FwError::Older,
        }
    }
}

impl<E> From<SlotError<E>> for FwError {
    fn from(e: SlotError<E>) -> Self {
        match e {
            SlotError::Image(e) => e.into(),
            SlotError::Busy => FwError::Busy,
            SlotError::OutOfOrder => FwError::NotAnImage,
            SlotError::Flash(_) | SlotError::Geometry | SlotError::NoValidImage => FwError::Flash,
        }
    }
}

struct Job {
    version: Version,
    text: VersionText,
    size: u32,
    next: u32,
    header: [u8; HEADER_LEN],
    download: Option<Download>,
}

/// The clicker's side of an update: offers and chunks in, progress out, and a request to reboot
/// into the new image once it is verified and on trial.
pub struct Updater<F> {
    slots: Slots<F>,
    booted: slots::Slot,
    running: Version,
    job: Option<Job>,
    reboot: bool,
}

impl<F: NorFlash> crate::ports::Updates for Updater<F> {
    fn enabled(&self) -> bool {
        true
    }

    fn on_offer(&mut self, offer: &FwOffer) -> FwProgress {
        Updater::on_offer(self, offer)
    }

    fn on_chunk(&mut self, chunk: &FwChunk) -> Option<FwProgress> {
        Updater::on_chunk(self, chunk)
    }

    fn reboot_requested(&self) -> bool {
        self.reboot
    }
}

impl<F: NorFlash> Updater<F> {
    /// An updater for a clicker running what the bootloader chose (`boot`) from `slots`.
    pub fn new(slots: Slots<F>, boot: &slots::Boot) -> Self {
        Updater { slots, booted: boot.slot, running: boot.header.version, job: None, reboot: false }
    }

    /// The slots back (to reboot from).
    pub fn into_slots(self) -> Slots<F> {
        self.slots
    }

    /// Whether a new image is installed on trial: reboot into it.
    pub fn reboot_requested(&self) -> bool {
        self.reboot
    }

    /// The running image started well: keep it (a no-op unless it runs on trial, and while a new
    /// image waits for the reboot).
    pub fn confirm(&mut self) -> Result<(), FwError> {
        if self.reboot {
            return Ok(());
        }
        self.slots.confirm(self.booted).map_err(FwError::from)
    }

    fn progress(text: &VersionText, next: Option<u32>, error: Option<FwError>) -> FwProgress {
        FwProgress::new(text.clone(), next, false, error)
    }

    /// An offer: where to start (0, or where a dropped transfer of the same image stopped), or why
    /// not.
    pub fn on_offer(&mut self, offer: &FwOffer) -> FwProgress {
        let Some(version) = Version::parse(&offer.v) else {
            return Self::progress(&offer.v, None, Some(FwError::NotAnImage));
        };
        if version <= self.running {
            return Self::progress(&offer.v, None, Some(FwError::Older));
        }
        if let Some(job) = &self.job
            && job.version == version
            && job.size == offer.size
        {
            return Self::progress(&offer.v, Some(job.next), None);
        }
        if (offer.size as usize) <= HEADER_LEN {
            return Self::progress(&offer.v, None, Some(FwError::NotAnImage));
        }
        let job =
            Job { version, text: offer.v.clone(), size: offer.size, next: 0, header: [0; HEADER_LEN], download: None };
        self.job = Some(job);
        Self::progress(&offer.v, Some(0), None)
    }

    /// A chunk: `Some` progress to report (after every window, on a gap, at the end, or on an
    /// error), `None` to keep listening.
    pub fn on_chunk(&mut self, chunk: &FwChunk) -> Option<FwProgress> {
        let job = self.job.as_mut()?;
        if chunk.i < job.next {
            return None; // a repeat of a chunk already written
        }
        if chunk.i > job.next {
            return Some(Self::progress(&job.text, Some(job.next), None)); // one went missing
        }
        let mut buf = [0u8; CHUNK];
        let start = chunk.i as usize * CHUNK;
        let expect = (job.size as usize - start).min(CHUNK);
        let Some(bytes) = decode_hex_into(&chunk.d, &mut buf).filter(|b| b.len() == expect) else {
            return Some(Self::progress(&job.text, Some(job.next), None)); // garbled: ask again
        };
        let outcome = Self::take(&mut self.slots, self.running, job, start, bytes);
        match outcome {
            Err(e) => {
                let text = job.text.clone();
                self.job = None;
                Some(Self::progress(&text, None, Some(e)))
            }
            Ok(()) if job.next == chunks(job.size) => {
                let text = job.text.clone();
                let result = match job.download.take() {
                    Some(d) => self.slots.finish(d).map_err(FwError::from),
                    None => Err(FwError::NotAnImage),
                };
                self.job = None;
                match result {
                    Ok(()) => {
                        self.reboot = true;
                        Some(FwProgress::new(text, None, true, None))
                    }
                    Err(e) => Some(Self::progress(&text, None, Some(e))),
                }
            }
            Ok(()) if job.next.is_multiple_of(WINDOW) => Some(Self::progress(&job.text, Some(job.next), None)),
            Ok(()) => None,
        }
    }

    fn take(slots: &mut Slots<F>, running: Version, job: &mut Job, start: usize, bytes: &[u8]) -> Result<(), FwError> {
        let mut payload = bytes;
        if start < HEADER_LEN {
            let n = (HEADER_LEN - start).min(bytes.len());
            job.header[start..start + n].copy_from_slice(&bytes[..n]);
            payload = &bytes[n..];
            if start + n == HEADER_LEN {
                let header = Header::parse(&job.header)?;
                if header.version != job.version || HEADER_LEN as u64 + u64::from(header.len) != u64::from(job.size) {
                    return Err(FwError::NotAnImage);
                }
                job.download = Some(slots.begin(header, running)?);
            }
        }
        if !payload.is_empty() {
            let download = job.download.as_mut().ok_or(FwError::NotAnImage)?;
            slots.write(download, payload)?;
        }
        job.next += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{Flash, SEED, v};
    use super::*;
    use crate::protocol::update::FwChunk;
    use image::{public_key, sign};

    /// The whole image as the hub streams it.
    fn stream(version: &str, len: usize) -> Vec<u8> {
        let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut out = sign(&SEED, v(version), &payload).unwrap().to_bytes().to_vec();
        out.extend_from_slice(&payload);
        out
    }

    fn chunk(stream: &[u8], i: usize) -> FwChunk {
        let part = &stream[i * CHUNK..((i + 1) * CHUNK).min(stream.len())];
        FwChunk {
            i: i as u32,
            d: part.iter().map(|b| format!("{b:02x}")).collect::<String>().as_str().try_into().unwrap(),
        }
    }

    fn updater() -> Updater<Flash> {
        let mut slots = Slots::new(Flash::new(), 2048, public_key(&SEED)).unwrap();
        let factory = stream("0.1.0", 300);
        let header = Header::parse(factory[..HEADER_LEN].try_into().unwrap()).unwrap();
        slots.install_factory(header, &factory[HEADER_LEN..]).unwrap();
        let boot = slots.boot().unwrap();
        assert_eq!(boot.header.version, v("0.1.0"));
        Updater::new(slots, &boot)
    }

    fn offer(version: &str, size: usize) -> FwOffer {
        FwOffer { v: version.try_into().unwrap(), size: size as u32 }
    }

    #[test]
    fn an_image_in_chunks_with_a_dropped_connection_in_the_middle_installs_on_trial() {
        let mut up = updater();
        let image = stream("0.2.0", 1500);
        let n = chunks(image.len() as u32) as usize;
        assert_eq!(up.on_offer(&offer("0.2.0", image.len())).next, Some(0));
        for i in 0..10 {
            let report = up.on_chunk(&chunk(&image, i));
            assert_eq!(report.map(|p| p.next), if i == 7 { Some(Some(8)) } else { None }, "chunk {i}");
        }
        // The connection drops; on the new one the hub offers again and the clicker resumes.
        assert_eq!(up.on_offer(&offer("0.2.0", image.len())).next, Some(10));
        assert_eq!(up.on_chunk(&chunk(&image, 3)), None, "a repeat is ignored");
        assert_eq!(up.on_chunk(&chunk(&image, 12)).and_then(|p| p.next), Some(10), "a gap asks again");
        let mut last = None;
        for i in 10..n {
            last = up.on_chunk(&chunk(&image, i));
        }
        assert!(last.unwrap().done);
        assert!(up.reboot_requested());
        let mut slots = up.into_slots();
        let boot = slots.boot().unwrap();
        assert_eq!((boot.header.version, boot.trial), (v("0.2.0"), true));
    }

    #[test]
    fn a_corrupted_chunk_is_caught_by_the_hash_and_nothing_changes() {
        let mut up = updater();
        let mut image = stream("0.2.0", 700);
        image[HEADER_LEN + 400] ^= 0x01;
        up.on_offer(&offer("0.2.0", image.len()));
        let n = chunks(image.len() as u32) as usize;
        let last = (0..n).filter_map(|i| up.on_chunk(&chunk(&image, i))).last().unwrap();
        assert_eq!(last.error, Some(FwError::BadHash));
        assert!(!up.reboot_requested());
        assert_eq!(up.into_slots().boot().unwrap().header.version, v("0.1.0"));
    }

    #[test]
    fn a_bad_signature_stops_before_any_payload_is_written_and_an_older_version_is_refused_at_once() {
        let mut up = updater();
        let mut image = stream("0.2.0", 700);
        image[60] ^= 0x01; // inside the signature
        up.on_offer(&offer("0.2.0", image.len()));
        assert_eq!(up.on_chunk(&chunk(&image, 0)), None);
        assert_eq!(up.on_chunk(&chunk(&image, 1)).unwrap().error, Some(FwError::BadSignature));
        assert_eq!(up.on_offer(&offer("0.0.5", 500)).error, Some(FwError::Older));
        assert_eq!(up.on_offer(&offer("0.1.0", 500)).error, Some(FwError::Older));
    }
}
