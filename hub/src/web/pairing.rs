//! Pairing from the technician's page: open a window in one of four modes, close it early, replace a
//! broken clicker, unpair one. The projector shows the code through the room's live state.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect};
use axum::{Extension, Form};
use dashboard::views::pairing::{self as view, PairingPanel};
use dashboard::{Lang, Markup};
use firmware::protocol::{DeviceId, RoomCode};
use serde::Deserialize;

use super::AppState;
use super::pages::{DevicesQuery, Page, PageError, devices_page, internal};
use super::session::lang;
use crate::auth::User;
use crate::classroom::Live;
use crate::engine::CommandError;
use crate::fleet::pairing::{DEFAULT_SECONDS, Mode};
use crate::store::now_ms;

/// The open window in a room's live state, as a view shows it.
pub fn panel(live: &Live, now_ms: i64) -> Option<PairingPanel> {
    live.pairing.as_ref().map(|p| PairingPanel {
        room: live.room.clone(),
        code: p.code.clone(),
        remaining_ms: u64::try_from(p.until_ms - now_ms).unwrap_or(0),
        paired: p.paired,
        wrong: p.wrong,
    })
}

/// The technician's pairing section: every open window and the form.
pub async fn section(s: &AppState, lang: Lang) -> Result<Markup, PageError> {
    let now = now_ms();
    let open: Vec<PairingPanel> = s.engine.live.borrow().values().filter_map(|l| panel(l, now)).collect();
    let classes = s.store.roster_classes().await.map_err(internal)?;
    Ok(view::technician_pairing(lang, &open, &classes))
}

/// The open-a-window form.
#[derive(Debug, Deserialize)]
pub struct OpenForm {
    room: String,
    mode: String,
    #[serde(default)]
    class: String,
    #[serde(default)]
    student: String,
    #[serde(default)]
    seconds: String,
}

impl OpenForm {
    fn mode(&self) -> Result<Mode, String> {
        let student = self.student.trim().to_owned();
        Ok(match self.mode.as_str() {
            "room" => Mode::Room,
            "class" if !self.class.is_empty() => Mode::ClassInOrder { class: self.class.clone() },
            "class" => return Err("choose a class".into()),
            "student" => Mode::Student { student, replaces: None },
            "loaner" => Mode::Loaner { student },
            other => return Err(format!("unknown pairing mode {other:?}")),
        })
    }
}

async fn with_error(s: &AppState, user: &User, lang: Lang, message: &str) -> Page {
    let html = devices_page(s, user, lang, &DevicesQuery::default(), None, Some(message)).await?;
    Ok((StatusCode::BAD_REQUEST, Html(html)).into_response())
}

async fn open_window(s: &AppState, user: &User, lang: Lang, room: RoomCode, mode: Mode, seconds: u32) -> Page {
    match s.engine.open_pairing(room, mode, seconds, user.name.as_str()).await {
        Ok(_) => Ok(Redirect::to("/devices").into_response()),
        Err(CommandError::Invalid(message)) => with_error(s, user, lang, &message).await,
        Err(e) => Err(internal(e)),
    }
}

/// `POST /pairing`: opens a pairing window.
pub async fn open(
    State(s): State<AppState>,
    Extension(user): Extension<User>,
    headers: HeaderMap,
    Form(f): Form<OpenForm>,
) -> Page {
    let lang = lang(&headers);
    let room = match RoomCode::parse(f.room.trim()) {
        Ok(room) => room,
        Err(e) => return with_error(&s, &user, lang, &format!("{}: {e}", lang.room())).await,
    };
    let mode = match f.mode() {
        Ok(mode) => mode,
        Err(message) => return with_error(&s, &user, lang, &message).await,
    };
    let seconds = match f.seconds.trim() {
        "" => DEFAULT_SECONDS,
        n => match n.parse() {
            Ok(n) => n,
            Err(_) => return with_error(&s, &user, lang, &format!("{}: {n:?}", lang.pair_seconds())).await,
        },
    };
    open_window(&s, &user, lang, room, mode, seconds).await
}

/// `POST /rooms/{room}/pairing/close`: closes the room's window early.
pub async fn close(State(s): State<AppState>, headers: HeaderMap, Path(room): Path<String>) -> Page {
    let room = RoomCode::parse(&room).map_err(|_| PageError::NotFound(lang(&headers)))?;
    s.engine.close_pairing(room).await.map_err(internal)?;
    Ok(Redirect::to("/devices").into_response())
}

async fn in_service(s: &AppState, headers: &HeaderMap, id: &str) -> Result<crate::store::FleetRow, PageError> {
    let not_found = || PageError::NotFound(lang(headers));
    let id = DeviceId::parse(id).map_err(|_| not_found())?;
    let fleet = s.store.fleet(None).await.map_err(internal)?;
    fleet.into_iter().find(|d| d.id == id.as_str()).ok_or_else(not_found)
}

/// `POST /devices/{id}/replace`: a window for the clicker's student that retires this clicker once
/// the new one is paired.
pub async fn replace(
    State(s): State<AppState>,
    Extension(user): Extension<User>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Page {
    let old = in_service(&s, &headers, &id).await?;
    let lang = lang(&headers);
    let (Some(student), Ok(room), Ok(replaces)) = (old.student, RoomCode::parse(&old.room), DeviceId::parse(&old.id))
    else {
        return with_error(&s, &user, lang, "assign the clicker to a student first").await;
    };
    open_window(&s, &user, lang, room, Mode::Student { student, replaces: Some(replaces) }, DEFAULT_SECONDS).await
}

/// `POST /devices/{id}/unpair`: retires the clicker; its history stays with its student.
pub async fn unpair(State(s): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Page {
    let d = in_service(&s, &headers, &id).await?;
    // Cannot fail: the id came out of the store, where only valid ids go in.
    let id = DeviceId::parse(&d.id).map_err(|_| PageError::NotFound(lang(&headers)))?;
    s.engine.unpair(id).await.map_err(internal)?;
    Ok(Redirect::to("/devices").into_response())
}
