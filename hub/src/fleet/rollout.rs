//! A firmware rollout to one room, sans-IO: a few clickers first, then the rest; offers, chunks on
//! request, resumes after a dropped connection; never while a lesson runs in the room; halted when
//! too many clickers of a stage fail. Time, the room's state and the clickers' messages in; messages
//! to send out. The engine publishes them and keeps the state in the store.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use firmware::ota::image::Version;
use firmware::protocol::update::{CHUNK, FwChunk, FwOffer, FwProgress, VersionText, WINDOW, chunks};
use firmware::protocol::{DeviceId, RoomCode};

/// Without news from a clicker for this long, offer again (it resumes where it stopped).
pub const RETRY_MS: i64 = 5_000;
/// A clicker that installed the image must say hello with it within this long.
pub const INSTALL_TIMEOUT_MS: i64 = 90_000;
/// Offers to one clicker without it finishing before it counts as failed (a clicker that keeps
/// dropping off, or keeps coming back on its old image without saying why).
pub const MAX_OFFERS: u32 = 6;

/// How a rollout proceeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Clickers in the first stage.
    pub first_stage: usize,
    /// Halt when more than this share (percent) of a stage's clickers fail.
    pub max_failure_pct: u8,
}

impl Default for Plan {
    fn default() -> Self {
        Plan { first_stage: 2, max_failure_pct: 20 }
    }
}

/// Where one clicker is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Not offered yet.
    Waiting,
    /// Offered; no answer yet.
    Offered,
    /// Taking chunks.
    Sending,
    /// Installed; rebooting into it.
    Installing,
    /// Runs the new version.
    Done,
    /// Refused it, broke off, or came back on the old version.
    Failed,
}

impl Step {
    /// The name the store and the pages use.
    pub const fn as_str(self) -> &'static str {
        match self {
            Step::Waiting => "waiting",
            Step::Offered => "offered",
            Step::Sending => "sending",
            Step::Installing => "installing",
            Step::Done => "done",
            Step::Failed => "failed",
        }
    }

    /// The step back from its name.
    pub fn parse(s: &str) -> Option<Step> {
        [Step::Waiting, Step::Offered, Step::Sending, Step::Installing, Step::Done, Step::Failed]
            .into_iter()
            .find(|k| k.as_str() == s)
    }

    fn settled(self) -> bool {
        matches!(self, Step::Done | Step::Failed)
    }
}

/// One clicker in a rollout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// 1: the first few; 2: the rest; 0: already on the version, in no stage.
    pub stage: u8,
    /// Where it is.
    pub step: Step,
    /// The next chunk it asked for.
    pub next: u32,
    /// Why it failed.
    pub error: Option<String>,
    /// When the hub last sent it something or heard from it.
    pub touched_ms: i64,
    /// Offers made to it in this run of the hub.
    pub offers: u32,
}

/// Where the rollout is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// A lesson runs in the room: nothing is sent until it ends.
    WaitingForLesson,
    /// Updating stage 1 or 2.
    Running(u8),
    /// Stopped by its error threshold.
    Halted(String),
    /// Every clicker is done or failed, within the threshold.
    Done,
}

impl Phase {
    /// `waiting_for_lesson`, `running`, `halted` or `done`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Phase::WaitingForLesson => "waiting_for_lesson",
            Phase::Running(_) => "running",
            Phase::Halted(_) => "halted",
            Phase::Done => "done",
        }
    }

    /// Whether it has ended.
    pub fn ended(&self) -> bool {
        matches!(self, Phase::Halted(_) | Phase::Done)
    }
}

/// A message for one clicker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Send {
    /// Offer the image.
    Offer(DeviceId, FwOffer),
    /// One chunk of it.
    Chunk(DeviceId, FwChunk),
}

/// A rollout of one image to one room.
#[derive(Debug, Clone)]
pub struct Rollout {
    /// Its id in the store.
    pub id: i64,
    /// The room.
    pub room: RoomCode,
    /// The version it brings.
    pub version: Version,
    /// The image: header and payload.
    pub image: Arc<Vec<u8>>,
    /// Its plan.
    pub plan: Plan,
    /// Every clicker of the room.
    pub targets: BTreeMap<DeviceId, Target>,
    /// Where it is.
    pub phase: Phase,
    /// The stage under way (kept while waiting for a lesson to end).
    stage: u8,
    /// Clickers whose state changed since [`Rollout::take_changes`].
    changed: BTreeSet<DeviceId>,
    phase_changed: bool,
}

impl Rollout {
    /// A rollout to `devices` (with the version each reports, if known): those already at the
    /// version or newer are done; the first `plan.first_stage` of the rest (by id) go first.
    pub fn new(
        id: i64,
        room: RoomCode,
        version: Version,
        image: Arc<Vec<u8>>,
        plan: Plan,
        devices: Vec<(DeviceId, Option<Version>)>,
    ) -> Rollout {
        let mut targets = BTreeMap::new();
        let mut first = 0;
        for (device, running) in devices {
            let done = running.is_some_and(|r| r >= version);
            let stage = if done {
                0
            } else if first >= plan.first_stage {
                2
            } else {
                1
            };
            if !done && stage == 1 {
                first += 1;
            }
            let step = if done { Step::Done } else { Step::Waiting };
            targets.insert(device, Target { stage, step, next: 0, error: None, touched_ms: i64::MIN / 2, offers: 0 });
        }
        let changed = targets.keys().cloned().collect();
        Rollout {
            id,
            room,
            version,
            image,
            plan,
            targets,
            phase: Phase::Running(1),
            stage: 1,
            changed,
            phase_changed: true,
        }
    }

    /// A rollout as the store kept it: clickers between offer and install are offered again (they
    /// resume where they stopped).
    pub fn restore(mut self, phase: Phase, stage: u8, targets: BTreeMap<DeviceId, Target>, now_ms: i64) -> Rollout {
        self.targets = targets;
        for t in self.targets.values_mut() {
            if matches!(t.step, Step::Offered | Step::Sending) {
                t.step = Step::Waiting;
            }
            t.touched_ms = if t.step == Step::Installing { now_ms } else { i64::MIN / 2 };
        }
        self.phase = phase;
        self.stage = stage.clamp(1, 2);
        self.changed.clear();
        self.phase_changed = false;
        self
    }

    /// The stage under way.
    pub fn stage(&self) -> u8 {
        self.stage
    }

    fn total_chunks(&self) -> u32 {
        chunks(self.image.len() as u32)
    }

    fn text(&self) -> VersionText {
        // Cannot fail: a version's text is at most 17 characters.
        self.version.to_text().as_str().try_into().unwrap_or_default()
    }

    fn set_phase(&mut self, phase: Phase) {
        if self.phase != phase {
            self.phase = phase;
            self.phase_changed = true;
        }
    }

    fn fail(&mut self, device: &DeviceId, why: String, now_ms: i64) {
        if let Some(t) = self.targets.get_mut(device) {
            t.step = Step::Failed;
            t.error = Some(why);
            t.touched_ms = now_ms;
            self.changed.insert(device.clone());
        }
    }

    /// Moves the rollout on: waits out a lesson, judges a finished stage, offers the image to the
    /// stage's clickers that are online and have gone quiet.
    pub fn tick(&mut self, now_ms: i64, lesson: bool, online: impl Fn(&DeviceId) -> bool) -> Vec<Send> {
        if self.phase.ended() {
            return Vec::new();
        }
        if lesson {
            self.set_phase(Phase::WaitingForLesson);
            return Vec::new();
        }
        self.set_phase(Phase::Running(self.stage));
        let late: Vec<DeviceId> = self
            .targets
            .iter()
            .filter(|(_, t)| t.step == Step::Installing && now_ms - t.touched_ms >= INSTALL_TIMEOUT_MS)
            .map(|(d, _)| d.clone())
            .collect();
        for d in late {
            self.fail(&d, "did not come back after installing".into(), now_ms);
        }
        if self.judge() {
            return self.tick(now_ms, lesson, online);
        }
        let stage = self.stage;
        let worn: Vec<DeviceId> = self
            .targets
            .iter()
            .filter(|(_, t)| t.stage == stage && !t.step.settled() && t.step != Step::Installing)
            .filter(|(_, t)| t.offers >= MAX_OFFERS && now_ms - t.touched_ms >= RETRY_MS)
            .map(|(d, _)| d.clone())
            .collect();
        for d in worn {
            self.fail(&d, format!("no progress after {MAX_OFFERS} offers"), now_ms);
        }
        if self.judge() {
            return self.tick(now_ms, lesson, online);
        }
        let mut out = Vec::new();
        let offer = FwOffer { v: self.text(), size: self.image.len() as u32 };
        for (device, t) in self.targets.iter_mut() {
            let quiet = now_ms - t.touched_ms >= RETRY_MS;
            if t.stage == stage
                && matches!(t.step, Step::Waiting | Step::Offered | Step::Sending)
                && quiet
                && online(device)
            {
                if t.step == Step::Waiting {
                    t.step = Step::Offered;
                    self.changed.insert(device.clone());
                }
                t.touched_ms = now_ms;
                t.offers += 1;
                out.push(Send::Offer(device.clone(), offer.clone()));
            }
        }
        out
    }

    /// Halts on too many failures, or moves to the next stage once every clicker of this one is
    /// settled. True when the phase moved on.
    fn judge(&mut self) -> bool {
        let stage = self.stage;
        let in_stage: Vec<&Target> = self.targets.values().filter(|t| t.stage == stage).collect();
        let failed = in_stage.iter().filter(|t| t.step == Step::Failed).count();
        let total = in_stage.len();
        if total > 0 && failed * 100 > usize::from(self.plan.max_failure_pct) * total {
            self.set_phase(Phase::Halted(format!("{failed} of {total} clickers failed in stage {stage}")));
            return true;
        }
        if !in_stage.iter().all(|t| t.step.settled()) {
            return false;
        }
        if stage == 1 {
            self.stage = 2;
            self.set_phase(Phase::Running(2));
            return true;
        }
        self.set_phase(Phase::Done);
        true
    }

    /// A clicker's progress report: chunks to send, or a change of its step.
    pub fn on_progress(&mut self, device: &DeviceId, p: &FwProgress, now_ms: i64, lesson: bool) -> Vec<Send> {
        if p.v.as_str() != self.version.to_text().as_str() || self.phase.ended() {
            return Vec::new();
        }
        let total = self.total_chunks();
        let Some(t) = self.targets.get_mut(device) else { return Vec::new() };
        if t.step.settled() {
            return Vec::new();
        }
        t.touched_ms = now_ms;
        if p.error == Some(firmware::protocol::update::FwError::Older) {
            // It already runs this version or a newer one (the hub had not heard its hello).
            t.step = Step::Done;
            self.changed.insert(device.clone());
            return Vec::new();
        }
        if let Some(e) = p.error {
            self.fail(device, e.as_str().to_owned(), now_ms);
            return Vec::new();
        }
        if p.done {
            t.step = Step::Installing;
            t.next = total;
            self.changed.insert(device.clone());
            return Vec::new();
        }
        let Some(next) = p.next.filter(|n| *n < total) else { return Vec::new() };
        if t.step != Step::Sending || t.next != next {
            self.changed.insert(device.clone());
        }
        (t.step, t.next) = (Step::Sending, next);
        if lesson {
            return Vec::new();
        }
        (next..(next + WINDOW).min(total)).map(|i| Send::Chunk(device.clone(), self.chunk(i))).collect()
    }

    /// Chunk `i` of the image.
    pub fn chunk(&self, i: u32) -> FwChunk {
        let start = i as usize * CHUNK;
        let part = &self.image[start.min(self.image.len())..(start + CHUNK).min(self.image.len())];
        let mut d = heapless::String::new();
        for b in part {
            // Cannot fail: a chunk is at most CHUNK bytes, two hex digits each.
            let _ = core::fmt::Write::write_fmt(&mut d, format_args!("{b:02x}"));
        }
        FwChunk { i, d }
    }

    /// A clicker said hello with `firmware`: done when it runs the new version; failed when it came
    /// back from installing on an older one (its bootloader fell back).
    pub fn on_hello(&mut self, device: &DeviceId, firmware: &str, now_ms: i64) {
        let running = Version::parse(firmware);
        let Some(t) = self.targets.get_mut(device) else { return };
        if t.step.settled() {
            return;
        }
        if running.is_some_and(|r| r >= self.version) {
            t.step = Step::Done;
            t.touched_ms = now_ms;
            self.changed.insert(device.clone());
        } else if t.step == Step::Installing {
            self.fail(device, format!("came back on {firmware}: the new image did not start"), now_ms);
        }
    }

    /// Clickers and phase changed since the last call, to keep in the store.
    pub fn take_changes(&mut self) -> (Vec<(DeviceId, Target)>, bool) {
        let changed = std::mem::take(&mut self.changed);
        let targets = changed.into_iter().filter_map(|d| self.targets.get(&d).map(|t| (d, t.clone()))).collect();
        (targets, std::mem::take(&mut self.phase_changed))
    }

    /// (done, failed, all) clickers.
    pub fn counts(&self) -> (usize, usize, usize) {
        let done = self.targets.values().filter(|t| t.step == Step::Done).count();
        let failed = self.targets.values().filter(|t| t.step == Step::Failed).count();
        (done, failed, self.targets.len())
    }
}

#[cfg(test)]
mod tests {
    use firmware::protocol::update::FwError;

    use super::*;

    fn room() -> RoomCode {
        RoomCode::parse("b-204").unwrap()
    }

    fn dev(i: usize) -> DeviceId {
        DeviceId::parse(&format!("c-{i:04}")).unwrap()
    }

    fn rollout(n: usize) -> Rollout {
        let image = Arc::new(vec![7u8; 1000]); // 11 chunks
        let devices = (1..=n).map(|i| (dev(i), Version::parse("0.1.0"))).collect();
        Rollout::new(1, room(), Version::parse("0.2.0").unwrap(), image, Plan::default(), devices)
    }

    fn progress(next: Option<u32>, done: bool, error: Option<FwError>) -> FwProgress {
        FwProgress::new("0.2.0".try_into().unwrap(), next, done, error)
    }

    fn offered(sends: &[Send]) -> Vec<DeviceId> {
        sends.iter().filter_map(|s| if let Send::Offer(d, _) = s { Some(d.clone()) } else { None }).collect()
    }

    #[test]
    fn two_clickers_first_then_the_rest_and_chunks_on_request() {
        let mut r = rollout(5);
        let sends = r.tick(0, false, |_| true);
        assert_eq!(offered(&sends), [dev(1), dev(2)], "stage 1: the first two");
        let chunks = r.on_progress(&dev(1), &progress(Some(0), false, None), 10, false);
        assert_eq!(chunks.len(), WINDOW as usize);
        let last = r.on_progress(&dev(1), &progress(Some(8), false, None), 20, false);
        assert_eq!(last.len(), 3, "chunks 8, 9 and 10: the end of the image");
        assert!(matches!(&last[2], Send::Chunk(_, c) if c.i == 10 && c.d.len() == 2 * (1000 - 960)));
        for d in [dev(1), dev(2)] {
            r.on_progress(&d, &progress(None, true, None), 30, false);
            r.on_hello(&d, "0.2.0", 40);
        }
        let sends = r.tick(50, false, |_| true);
        assert_eq!(r.phase, Phase::Running(2));
        assert_eq!(offered(&sends), [dev(3), dev(4), dev(5)]);
        for i in 3..=5 {
            r.on_hello(&dev(i), "0.2.0", 60);
        }
        r.tick(70, false, |_| true);
        assert_eq!((r.phase.clone(), r.counts()), (Phase::Done, (5, 0, 5)));
    }

    #[test]
    fn nothing_is_sent_while_a_lesson_runs_and_it_goes_on_after() {
        let mut r = rollout(3);
        assert!(r.tick(0, true, |_| true).is_empty());
        assert_eq!(r.phase, Phase::WaitingForLesson);
        assert!(r.on_progress(&dev(1), &progress(Some(0), false, None), 5, true).is_empty(), "no chunks either");
        assert_eq!(offered(&r.tick(5 + RETRY_MS, false, |_| true)), [dev(1), dev(2)]);
    }

    #[test]
    fn a_stage_with_too_many_failures_halts_the_rollout_before_the_rest_get_it() {
        let mut r = rollout(6);
        r.tick(0, false, |_| true);
        r.on_progress(&dev(1), &progress(None, false, Some(FwError::BadSignature)), 10, false);
        assert!(r.tick(20, false, |_| true).is_empty());
        assert!(matches!(&r.phase, Phase::Halted(why) if why == "1 of 2 clickers failed in stage 1"));
        assert!(r.targets.values().filter(|t| t.stage == 2).all(|t| t.step == Step::Waiting), "the rest never saw it");
    }

    #[test]
    fn a_clicker_that_comes_back_on_the_old_version_failed_and_a_quiet_one_is_offered_again() {
        let mut r = rollout(2);
        r.plan.max_failure_pct = 50; // one of two may fail
        r.tick(0, false, |_| true);
        r.on_progress(&dev(1), &progress(None, true, None), 10, false);
        r.on_hello(&dev(1), "0.1.0", 20);
        assert_eq!(r.targets[&dev(1)].step, Step::Failed);
        assert!(r.tick(RETRY_MS - 1, false, |_| true).is_empty(), "dev 2 was offered a moment ago");
        assert_eq!(offered(&r.tick(RETRY_MS, false, |_| true)), [dev(2)], "offered again: it resumes");
        assert!(r.tick(2 * RETRY_MS, false, |d| *d != dev(2)).is_empty(), "not while it is offline");
    }

    #[test]
    fn a_clicker_that_never_finishes_fails_after_six_offers_instead_of_looping() {
        let mut r = rollout(1);
        for i in 0..i64::from(MAX_OFFERS) {
            assert_eq!(offered(&r.tick(i * RETRY_MS, false, |_| true)), [dev(1)], "offer {i}");
            r.on_progress(&dev(1), &progress(Some(0), false, None), i * RETRY_MS, false);
        }
        r.tick(i64::from(MAX_OFFERS) * RETRY_MS, false, |_| true);
        assert_eq!(r.targets[&dev(1)].step, Step::Failed);
        assert!(r.phase.ended());
    }

    #[test]
    fn clickers_already_up_to_date_do_not_water_down_the_threshold() {
        let image = Arc::new(vec![0u8; 200]);
        let mut devices: Vec<_> = (1..=25).map(|i| (dev(i), Version::parse("0.2.0"))).collect();
        devices.extend((26..=28).map(|i| (dev(i), Version::parse("0.1.0"))));
        let plan = Plan { first_stage: 1, max_failure_pct: 20 };
        let mut r = Rollout::new(1, room(), Version::parse("0.2.0").unwrap(), image, plan, devices);
        r.tick(0, false, |_| true);
        r.on_progress(&dev(26), &progress(Some(0), false, None), 1, false);
        r.on_progress(&dev(26), &progress(None, true, None), 2, false);
        r.on_hello(&dev(26), "0.2.0", 3);
        r.tick(4, false, |_| true); // stage 2: clickers 27 and 28
        r.on_progress(&dev(27), &progress(None, false, Some(FwError::BadHash)), 5, false);
        r.tick(6, false, |_| true);
        assert!(matches!(&r.phase, Phase::Halted(why) if why == "1 of 2 clickers failed in stage 2"), "{:?}", r.phase);
    }

    #[test]
    fn a_clicker_that_answers_older_already_runs_the_version() {
        let mut r = rollout(1);
        r.tick(0, false, |_| true);
        r.on_progress(&dev(1), &progress(None, false, Some(FwError::Older)), 1, false);
        assert_eq!(r.targets[&dev(1)].step, Step::Done);
    }

    #[test]
    fn clickers_already_on_the_version_are_done_from_the_start() {
        let image = Arc::new(vec![0u8; 200]);
        let devices = vec![(dev(1), Version::parse("0.2.0")), (dev(2), Version::parse("0.3.0")), (dev(3), None)];
        let mut r = Rollout::new(1, room(), Version::parse("0.2.0").unwrap(), image, Plan::default(), devices);
        assert_eq!(r.counts(), (2, 0, 3));
        assert_eq!(offered(&r.tick(0, false, |_| true)), [dev(3)]);
    }
}
