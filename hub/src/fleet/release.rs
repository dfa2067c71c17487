//! `classhub firmware`: the fleet's signing key, signed images, and a rollout followed from the
//! command line (the running hub does the sending; this only starts it and watches the store).

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use firmware::ota::image::{self, Version};
use firmware::protocol::RoomCode;

use super::rollout::Plan;
use crate::hex;
use crate::store::{self, Store};

fn read_key(path: &Path) -> anyhow::Result<[u8; 32]> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading the key {}", path.display()))?;
    let text = text.trim();
    let bytes: Vec<u8> = (0..text.len())
        .step_by(2)
        .map(|i| text.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect::<Option<_>>()
        .filter(|b: &Vec<u8>| b.len() == 32)
        .with_context(|| format!("{} is not a key from `classhub firmware keygen`", path.display()))?;
    let mut key = [0u8; 32];
    key.copy_from_slice(&bytes);
    Ok(key)
}

/// Makes a signing key: the secret (64 hex digits) into `out`, readable by its owner only; prints
/// the public key.
pub fn keygen(out: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(!out.exists(), "{} exists: not overwriting a key", out.display());
    let seed: [u8; 32] = rand::random();
    let mut file = {
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        o.open(out).with_context(|| format!("creating {}", out.display()))?
    };
    std::io::Write::write_all(&mut file, format!("{}\n", hex(&seed)).as_bytes())?;
    println!("public key {}", hex(&image::public_key(&seed)));
    Ok(())
}

/// Signs `payload` as `version`: writes header and payload to `out`.
pub fn sign(payload: &Path, version: &str, key: &Path, out: &Path) -> anyhow::Result<()> {
    let version =
        Version::parse(version).with_context(|| format!("--version {version:?}: expected major.minor.patch"))?;
    let seed = read_key(key)?;
    let body = std::fs::read(payload).with_context(|| format!("reading {}", payload.display()))?;
    let header = image::sign(&seed, version, &body).map_err(|e| anyhow::anyhow!("{}", e.as_str()))?;
    let mut signed = header.to_bytes().to_vec();
    signed.extend_from_slice(&body);
    std::fs::write(out, &signed).with_context(|| format!("writing {}", out.display()))?;
    println!("signed {} version {} sha256 {}", out.display(), version.to_text(), hex(&header.sha256));
    Ok(())
}

/// Stores the image, starts a rollout to `room`, and (with `follow`) shows its progress until it
/// ends; an error when it halts.
pub async fn rollout(store: &Store, room: &RoomCode, path: &Path, plan: Plan, follow: bool) -> anyhow::Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let (image_id, version) = store.add_firmware_image(&bytes, "cli", store::now_ms()).await?;
    let id = store.start_rollout(room, image_id, plan, store::now_ms(), "cli").await?;
    println!("rollout {id}: {} to {room}, {} first (the running hub sends it)", version.to_text(), plan.first_stage);
    if !follow {
        return Ok(());
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} clickers, {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let stopped = crate::cli::shutdown_signal();
    tokio::pin!(stopped);
    let mut every = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = every.tick() => {}
            () = &mut stopped => {
                bar.abandon();
                println!("stopped following; the rollout goes on in the hub");
                return Ok(());
            }
        }
        let (row, devices) = store.rollout(id).await?.context("the rollout vanished")?;
        let done = devices.iter().filter(|d| d.step == "done").count();
        let failed = devices.iter().filter(|d| d.step == "failed").count();
        bar.set_length(devices.len() as u64);
        bar.set_position(done as u64);
        let phase = match row.phase.as_str() {
            "waiting_for_lesson" => "waiting for the lesson to end".to_owned(),
            "new" => "waiting for the hub".to_owned(),
            p => format!("{p}, stage {}", row.stage),
        };
        bar.set_message(format!("{failed} failed, {phase}"));
        if row.ended_ms.is_some() {
            bar.finish_and_clear();
            for d in devices.iter().filter(|d| d.step == "failed") {
                println!("  {} failed: {}", d.device, d.error.as_deref().unwrap_or("?"));
            }
            return match row.phase.as_str() {
                "done" => {
                    println!("rollout {id} done: {done} of {} clickers run {}", devices.len(), version.to_text());
                    Ok(())
                }
                _ => anyhow::bail!("rollout {id} halted: {}", row.detail.unwrap_or_default()),
            };
        }
    }
}
