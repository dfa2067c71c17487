//! What the web pages, the CLI and the demo ask of the engine: one [`Command`] per teacher's or
//! technician's action, sent through an [`EngineHandle`] and answered once the engine has done it.

use std::collections::BTreeMap;
use std::sync::Arc;

use firmware::protocol::{Choices, DeviceId, QuestionSpec, RoomCode};
use tokio::sync::{mpsc, oneshot, watch};

use crate::classroom::{ClassroomError, Live};
use crate::fleet::pairing::{Mode, Window};
use crate::store::{Device, StoreError};

/// A teacher's or technician's action that failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The classroom's state does not allow it.
    #[error(transparent)]
    Classroom(#[from] ClassroomError),
    /// The request makes no sense.
    #[error("{0}")]
    Invalid(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The engine has stopped.
    #[error("the hub is shutting down")]
    Stopped,
}

/// What a teacher asks for when opening a question.
#[derive(Debug, Clone)]
pub struct NewQuestion {
    /// Kind and options.
    pub spec: QuestionSpec,
    /// The correct answer, if any.
    pub correct: Option<Choices>,
    /// A countdown, in seconds.
    pub timer_s: Option<u32>,
}

type Reply<T> = oneshot::Sender<Result<T, CommandError>>;

/// A command for the engine.
#[derive(Debug)]
pub enum Command {
    /// Register a clicker.
    AddDevice(Device, Reply<()>),
    /// Start a session.
    StartSession { room: RoomCode, class_name: String, reply: Reply<i64> },
    /// End the running session.
    EndSession { room: RoomCode, reply: Reply<()> },
    /// Open a question.
    OpenQuestion { room: RoomCode, question: NewQuestion, reply: Reply<u32> },
    /// Close the open question.
    CloseQuestion { room: RoomCode, reply: Reply<()> },
    /// Reveal the closed question.
    Reveal { room: RoomCode, reply: Reply<()> },
    /// Open a pairing window.
    OpenPairing { room: RoomCode, mode: Mode, seconds: u32, by: String, reply: Reply<Window> },
    /// Close the room's pairing window early.
    ClosePairing { room: RoomCode, reply: Reply<()> },
    /// Unpair a clicker: it is retired, its history stays with its student.
    Unpair { device: DeviceId, reply: Reply<()> },
}

/// A handle to send the engine commands.
#[derive(Debug, Clone)]
pub struct EngineHandle {
    pub(super) commands: mpsc::Sender<Command>,
    /// The live state of every room, updated after every commit.
    pub live: watch::Receiver<Arc<BTreeMap<RoomCode, Live>>>,
}

impl EngineHandle {
    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, CommandError> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(make(tx)).await.map_err(|_| CommandError::Stopped)?;
        rx.await.map_err(|_| CommandError::Stopped)?
    }

    /// Registers a clicker.
    pub async fn add_device(&self, device: Device) -> Result<(), CommandError> {
        self.ask(|reply| Command::AddDevice(device, reply)).await
    }

    /// Starts a session.
    pub async fn start_session(&self, room: RoomCode, class_name: String) -> Result<i64, CommandError> {
        self.ask(|reply| Command::StartSession { room, class_name, reply }).await
    }

    /// Ends the session.
    pub async fn end_session(&self, room: RoomCode) -> Result<(), CommandError> {
        self.ask(|reply| Command::EndSession { room, reply }).await
    }

    /// Opens a question.
    pub async fn open_question(&self, room: RoomCode, question: NewQuestion) -> Result<u32, CommandError> {
        self.ask(|reply| Command::OpenQuestion { room, question, reply }).await
    }

    /// Closes the open question.
    pub async fn close_question(&self, room: RoomCode) -> Result<(), CommandError> {
        self.ask(|reply| Command::CloseQuestion { room, reply }).await
    }

    /// Reveals the closed question.
    pub async fn reveal(&self, room: RoomCode) -> Result<(), CommandError> {
        self.ask(|reply| Command::Reveal { room, reply }).await
    }

    /// Opens a pairing window of `seconds` (1 to 254) in `room`.
    pub async fn open_pairing(
        &self,
        room: RoomCode,
        mode: Mode,
        seconds: u32,
        by: &str,
    ) -> Result<Window, CommandError> {
        let by = by.to_owned();
        self.ask(|reply| Command::OpenPairing { room, mode, seconds, by, reply }).await
    }

    /// Closes the room's pairing window.
    pub async fn close_pairing(&self, room: RoomCode) -> Result<(), CommandError> {
        self.ask(|reply| Command::ClosePairing { room, reply }).await
    }

    /// Unpairs a clicker.
    pub async fn unpair(&self, device: DeviceId) -> Result<(), CommandError> {
        self.ask(|reply| Command::Unpair { device, reply }).await
    }

    /// The live state of `room`.
    pub fn live(&self, room: &RoomCode) -> Option<Live> {
        self.live.borrow().get(room).cloned()
    }
}
