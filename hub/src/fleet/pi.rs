//! The Raspberry Pi's own hardware through rppal (feature `pi`): the status LED and pairing button
//! on GPIO, the MFRC522 card reader on SPI0. rppal is archived upstream, so it lives in this one
//! small module behind embedded-hal traits; linux-embedded-hal could replace it here alone.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Context as _;
use firmware::protocol::RoomCode;
use rppal::gpio::Gpio;
use rppal::spi::{Bus, Mode, SimpleHalSpiDevice, SlaveSelect, Spi};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::panel::{self, Panel};
use crate::config::PiSettings;
use crate::engine::EngineHandle;
use crate::store::Store;

/// Starts the panel (and the card reader, if enabled) for the configured room; nothing when no room
/// is configured.
pub fn start(
    settings: &PiSettings,
    engine: EngineHandle,
    broker_up: Arc<AtomicBool>,
    store: Store,
    stopping: watch::Receiver<bool>,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    if settings.room.is_empty() {
        return Ok(Vec::new());
    }
    let room = RoomCode::parse(&settings.room).map_err(|e| anyhow::anyhow!("[pi] room {:?}: {e}", settings.room))?;
    let gpio = Gpio::new().context("opening the Pi's GPIO")?;
    let button = gpio.get(settings.button_pin).context("the pairing button's pin")?.into_input_pullup();
    let led = gpio.get(settings.led_pin).context("the status LED's pin")?.into_output_low();
    let panel = Panel::new(button, led, firmware::Millis(0));
    let mut tasks = vec![tokio::spawn(panel::run(panel, room.clone(), engine.clone(), broker_up, stopping.clone()))];
    if settings.nfc {
        let spi = Spi::new(Bus::Spi0, SlaveSelect::Ss0, 1_000_000, Mode::Mode0)
            .context("opening SPI0 for the card reader")?;
        let comm = mfrc522::comm::blocking::spi::SpiInterface::new(SimpleHalSpiDevice::new(spi));
        let reader = mfrc522::Mfrc522::new(comm).init().map_err(|e| anyhow::anyhow!("starting the MFRC522: {e:?}"))?;
        tasks.push(tokio::spawn(super::nfc::run(reader, room, store, engine, stopping)));
    }
    Ok(tasks)
}
