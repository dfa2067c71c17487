//! The engine's side of a lesson: the commands from the pages (sessions, questions, clickers in and
//! out of service), each stored first, then applied to the classroom core and announced to the
//! room's clickers and projector.

use std::collections::BTreeSet;

use firmware::protocol::{self, DeviceId, QuestionAnnouncement, QuestionState, RoomCode, topics};
use rumqttc::QoS;

use crate::classroom::{ClassroomError, Phase, Question, Session};
use crate::store;

use super::{Command, CommandError, Engine, NewQuestion};

impl Engine {
    /// Does what a teacher or technician asked and answers them.
    pub(super) async fn handle_command(&mut self, cmd: Command) {
        match cmd {
            Command::AddDevice(device, reply) => {
                let result = self.store.add_device(&device).await.map_err(CommandError::from);
                if result.is_ok() {
                    self.learn_device(device).await;
                }
                let _ = reply.send(result);
            }
            Command::StartSession { room, class_name, reply } => {
                let result = self.start_session(&room, class_name).await;
                let _ = reply.send(result);
            }
            Command::EndSession { room, reply } => {
                let result = self.end_session(&room).await;
                let _ = reply.send(result);
            }
            Command::OpenQuestion { room, question, reply } => {
                let result = self.open_question(&room, question).await;
                let _ = reply.send(result);
            }
            Command::CloseQuestion { room, reply } => {
                let result = self.move_question(&room, Phase::Open, Phase::Closed).await;
                let _ = reply.send(result);
            }
            Command::Reveal { room, reply } => {
                let result = self.move_question(&room, Phase::Closed, Phase::Revealed).await;
                let _ = reply.send(result);
            }
            Command::OpenPairing { room, mode, seconds, by, reply } => {
                let result = self.open_pairing(&room, mode, seconds, &by).await;
                let _ = reply.send(result);
            }
            Command::ClosePairing { room, reply } => {
                let result = self.close_pairing(&room).await;
                let _ = reply.send(result);
            }
            Command::Unpair { device, reply } => {
                let result = match self.store.retire_device(&device, store::now_ms()).await {
                    Ok(true) => {
                        self.forget_device(&device);
                        Ok(())
                    }
                    Ok(false) => Err(CommandError::Invalid(format!("no clicker {device} in service"))),
                    Err(e) => Err(e.into()),
                };
                let _ = reply.send(result);
            }
        }
    }

    /// A clicker leaves service: its messages are refused from now on and it is no longer expected.
    pub(super) fn forget_device(&mut self, device: &DeviceId) {
        let Some(known) = self.devices.remove(device) else { return };
        self.classroom.remove_device(device);
        self.online.remove(device);
        self.metrics.connected.store(self.online.len() as i64, std::sync::atomic::Ordering::Relaxed);
        self.refresh_live(&BTreeSet::from([known.room]));
    }

    async fn start_session(&mut self, room: &RoomCode, class_name: String) -> Result<i64, CommandError> {
        if class_name.trim().is_empty() {
            return Err(CommandError::Invalid("a session needs a class name".into()));
        }
        self.classroom.can_start_session(room)?;
        let now = store::now_ms();
        let id = self.store.start_session(room, &class_name, now, self.checkin_window_ms).await?;
        self.classroom.start_session(room, Session { id, class_name, started_ms: now, question: None })?;
        self.changed(room).await;
        Ok(id)
    }

    async fn end_session(&mut self, room: &RoomCode) -> Result<(), CommandError> {
        let id = self.classroom.session(room).ok_or_else(|| ClassroomError::NoSession(room.clone()))?.id;
        self.store.end_session(id, store::now_ms()).await?;
        self.classroom.end_session(room)?;
        for loaner in self.store.retire_loaners(room, store::now_ms()).await? {
            tracing::info!(room = %room, device = %loaner, "loaner returned at the end of the session");
            self.forget_device(&loaner);
        }
        self.changed(room).await;
        Ok(())
    }

    async fn open_question(&mut self, room: &RoomCode, q: NewQuestion) -> Result<u32, CommandError> {
        if let Some(correct) = q.correct
            && !q.spec.accepts(correct)
        {
            return Err(CommandError::Invalid("the correct answer is not one of the options".into()));
        }
        let session = self.classroom.session(room).ok_or_else(|| ClassroomError::NoSession(room.clone()))?.id;
        let now = store::now_ms();
        let id = self.store.open_question(session, q.spec, q.correct, q.timer_s, now).await?;
        let closes_at = q.timer_s.map(|t| (now + i64::from(t) * 1000) as u64);
        self.classroom.open_question(room, Question::open(id, q.spec, q.correct, closes_at))?;
        self.changed(room).await;
        Ok(id)
    }

    async fn move_question(&mut self, room: &RoomCode, from: Phase, to: Phase) -> Result<(), CommandError> {
        let id = self.classroom.question_in(room, from)?;
        self.store.set_question_phase(id, to, store::now_ms()).await?;
        self.classroom.set_phase(room, to)?;
        self.changed(room).await;
        Ok(())
    }

    /// Closes the questions whose timer has run out.
    pub(super) async fn close_due(&mut self) {
        for room in self.classroom.due_to_close(store::now_ms() as u64) {
            if let Err(e) = self.move_question(&room, Phase::Open, Phase::Closed).await {
                tracing::error!("closing the timed question in {room}: {e}");
            }
        }
    }

    async fn changed(&mut self, room: &RoomCode) {
        self.announce(room).await;
        self.refresh_live(&BTreeSet::from([room.clone()]));
    }

    /// Publishes the retained question (for clickers) and display (for projectors) of `room`.
    pub(super) async fn announce(&self, room: &RoomCode) {
        let question = self.classroom.session(room).and_then(|s| s.question.as_ref()).map(|q| QuestionAnnouncement {
            q: q.id,
            spec: q.spec,
            state: if q.phase == Phase::Open { QuestionState::Open } else { QuestionState::Closed },
        });
        let payload = question.and_then(|q| protocol::encode(&q).ok()).map(|p| p.to_vec()).unwrap_or_default();
        let topic = topics::question(room);
        if self.mqtt.publish(topic.as_str(), QoS::AtLeastOnce, true, payload).await.is_err() {
            tracing::warn!("MQTT client closed; question of {room} not announced");
        }
        self.publish_display(room).await;
    }

    /// Publishes the retained display of `room` for its projectors.
    pub(super) async fn publish_display(&self, room: &RoomCode) {
        let payload = self.classroom.display(room).and_then(|d| protocol::encode(&d).ok()).map(|p| p.to_vec());
        let topic = topics::display(room);
        let _ = self.mqtt.publish(topic.as_str(), QoS::AtLeastOnce, true, payload.unwrap_or_default()).await;
    }
}
