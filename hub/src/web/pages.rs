//! The dashboard's pages: the hub's side of each view in `dashboard::views` — read the state, build
//! the view struct, answer the forms. The live parts are sent again as HTML over each page's stream.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::Event;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use dashboard::Lang;
use dashboard::views::classroom::{self as view, Kind, QuestionPanel, RoomRow, Seat, TeacherLive, TeacherPage};
use dashboard::views::devices::{self as fleet_view, DeviceQuery, DeviceRow, Registered, SortKey};
use dashboard::views::{self, CSS, JS};
use firmware::protocol::{Choices, DeviceId, QuestionKind, QuestionSpec, RoomCode};
use serde::Deserialize;

use super::session::{chrome, lang};
use super::{AppState, generate_device, live_events, live_or_empty};
use crate::auth::{User, random_hex};
use crate::classroom::{Live, Phase};
use crate::engine::{CommandError, NewQuestion};
use crate::store::{FleetRow, now_ms};

/// `GET /static/classhub.css`.
pub async fn css() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "max-age=3600")], CSS).into_response()
}

/// `GET /static/live.js`.
pub async fn js() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "max-age=3600")], JS)
        .into_response()
}

/// The question as a view shows it; `projector`: counts only once revealed.
pub fn question_panel(live: &Live, now_ms: i64, projector: bool) -> Option<QuestionPanel> {
    let q = live.question.as_ref()?;
    let phase = match q.phase {
        Phase::Open => view::Phase::Open,
        Phase::Closed => view::Phase::Closed,
        Phase::Revealed => view::Phase::Revealed,
    };
    let show_counts = !projector || phase == view::Phase::Revealed;
    Some(QuestionPanel {
        number: q.id,
        kind: match q.kind {
            QuestionKind::Single => Kind::Single,
            QuestionKind::Multi => Kind::Multi,
            QuestionKind::TrueFalse => Kind::TrueFalse,
            QuestionKind::Scale => Kind::Scale,
        },
        options: q.options,
        phase,
        counts: if show_counts { q.counts.clone() } else { Vec::new() },
        answered: q.answered,
        expected: live.expected,
        correct: if show_counts { q.correct.clone() } else { None },
        remaining_ms: q.closes_at_ms.map(|end| (end as i64 - now_ms).max(0) as u64),
    })
}

/// The teacher's live part: the question and who (by student name) has answered.
pub fn teacher_live(live: &Live, fleet: &[FleetRow], now_ms: i64) -> TeacherLive {
    let answered: std::collections::HashSet<&str> =
        live.question.iter().flat_map(|q| q.answered_by.iter().map(|d| d.as_str())).collect();
    let mut seats: Vec<Seat> = fleet
        .iter()
        .map(|d| Seat {
            name: d.student.clone().unwrap_or_else(|| d.id.clone()),
            answered: answered.contains(d.id.as_str()),
        })
        .collect();
    seats.sort_by(|a, b| a.name.cmp(&b.name));
    TeacherLive {
        class_name: live.session.as_ref().map(|s| s.class_name.clone()),
        question: question_panel(live, now_ms, false),
        seats,
    }
}

/// Why a page could not be shown.
#[derive(Debug)]
pub enum PageError {
    /// No such room, projector link or clicker.
    NotFound(Lang),
    /// The hub is stopping.
    Unavailable,
    /// Something broke inside; the cause goes to the log, not the browser.
    Internal(String),
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::NotFound(lang) => (StatusCode::NOT_FOUND, lang.not_found()).into_response(),
            PageError::Unavailable => StatusCode::SERVICE_UNAVAILABLE.into_response(),
            PageError::Internal(cause) => {
                tracing::error!("internal error: {cause}");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
            }
        }
    }
}

/// What a page handler answers.
pub type Page = Result<Response, PageError>;

fn room_or_404(code: &str, lang: Lang) -> Result<RoomCode, PageError> {
    RoomCode::parse(code).map_err(|_| PageError::NotFound(lang))
}

pub(crate) fn internal(e: impl std::fmt::Display) -> PageError {
    PageError::Internal(e.to_string())
}

/// `GET /rooms`: every room the hub knows, with its session and clickers.
pub async fn rooms(State(s): State<AppState>, Extension(user): Extension<User>, headers: HeaderMap) -> Html<String> {
    let lang = lang(&headers);
    let rows: Vec<RoomRow> = s
        .engine
        .live
        .borrow()
        .values()
        .map(|l| RoomRow {
            code: l.room.clone(),
            class_name: l.session.as_ref().map(|s| s.class_name.clone()),
            clickers: l.expected,
        })
        .collect();
    Html(view::rooms(&chrome(lang, Some(&user), "/rooms"), &rows).into_string())
}

async fn teacher_page(
    s: &AppState,
    user: &User,
    lang: Lang,
    room: &RoomCode,
    error: Option<String>,
) -> Result<String, PageError> {
    let live = live_or_empty(s, room);
    let fleet = s.store.fleet(Some(room.as_str())).await.map_err(internal)?;
    let token = s.store.projector_token(room, || random_hex(16), now_ms()).await.map_err(internal)?;
    let readings = s.store.battery_readings(now_ms(), crate::fleet::battery::WINDOW_MS).await.map_err(internal)?;
    let battery_warnings = device_rows(fleet.clone(), &readings)
        .into_iter()
        .filter(|d| d.battery_low())
        .map(|d| d.student.unwrap_or(d.id))
        .collect();
    let page = TeacherPage {
        room: room.to_string(),
        live: teacher_live(&live, &fleet, now_ms()),
        projector_url: format!("/projector/{token}"),
        session_href: live.session.as_ref().map(|s| format!("/sessions/{}", s.id)),
        battery_warnings,
        error,
    };
    Ok(view::teacher(&chrome(lang, Some(user), &format!("/rooms/{room}")), &page).into_string())
}

/// `GET /rooms/{room}`: the teacher's page.
pub async fn teacher(
    State(s): State<AppState>,
    Extension(user): Extension<User>,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Page {
    let lang = lang(&headers);
    let room = room_or_404(&code, lang)?;
    Ok(Html(teacher_page(&s, &user, lang, &room, None).await?).into_response())
}

/// `GET /rooms/{room}/events`: the teacher's live part, re-rendered as answers arrive (coalesced).
pub async fn teacher_events(State(s): State<AppState>, headers: HeaderMap, Path(code): Path<String>) -> Page {
    let lang = lang(&headers);
    let room = room_or_404(&code, lang)?;
    let store = s.store.clone();
    let code = room.to_string();
    Ok(live_events(&s, room, move |live| {
        let store = store.clone();
        let code = code.clone();
        async move {
            let fleet = store.fleet(Some(&code)).await.unwrap_or_default();
            let html = view::teacher_live(lang, &teacher_live(&live, &fleet, now_ms())).into_string();
            Event::default().event("fragment").data(html)
        }
    })
    .into_response())
}

/// After a teacher's action: back to the page, or the page again with what went wrong.
async fn after_action(
    s: &AppState,
    user: &User,
    lang: Lang,
    room: &RoomCode,
    result: Result<Option<String>, CommandError>,
) -> Page {
    let (status, message) = match result {
        Ok(next) => return Ok(Redirect::to(&next.unwrap_or_else(|| format!("/rooms/{room}"))).into_response()),
        Err(CommandError::Invalid(m)) => (StatusCode::BAD_REQUEST, m),
        Err(e @ CommandError::Classroom(_)) => (StatusCode::CONFLICT, e.to_string()),
        Err(CommandError::Stopped) => return Err(PageError::Unavailable),
        Err(e) => return Err(internal(e)),
    };
    Ok((status, Html(teacher_page(s, user, lang, room, Some(message)).await?)).into_response())
}

/// The start-a-session form.
#[derive(Debug, Deserialize)]
pub struct SessionForm {
    class_name: String,
}

/// The open-a-question form (empty fields mean "not set").
#[derive(Debug, Deserialize)]
pub struct QuestionForm {
    kind: String,
    #[serde(default)]
    options: String,
    #[serde(default)]
    correct: String,
    #[serde(default)]
    timer_s: String,
}

/// What a teacher's form asks for.
pub enum Action {
    /// Start a session.
    Start(SessionForm),
    /// End it.
    End,
    /// Open a question.
    Ask(QuestionForm),
    /// Close the question.
    Close,
    /// Reveal it.
    Reveal,
}

/// Parses the question form into what the engine takes.
pub fn parse_question(f: &QuestionForm) -> Result<NewQuestion, String> {
    let kind = match f.kind.as_str() {
        "single" => QuestionKind::Single,
        "multi" => QuestionKind::Multi,
        "truefalse" => QuestionKind::TrueFalse,
        "scale" => QuestionKind::Scale,
        other => return Err(format!("unknown question kind {other:?}")),
    };
    let options = match kind {
        QuestionKind::TrueFalse => 2,
        QuestionKind::Scale => 5,
        _ => f.options.trim().parse::<u8>().map_err(|_| "options: a number from 2 to 5".to_owned())?,
    };
    let spec = QuestionSpec::new(kind, options).map_err(|e| e.to_string())?;
    let correct = match f.correct.trim() {
        "" => None,
        c => Some(Choices::parse(&c.to_ascii_uppercase()).map_err(|e| format!("correct answer: {e}"))?),
    };
    let timer_s = match f.timer_s.trim() {
        "" => None,
        t => Some(
            t.parse::<u32>()
                .ok()
                .filter(|t| *t >= 1)
                .ok_or_else(|| "countdown: whole seconds, at least 1".to_owned())?,
        ),
    };
    Ok(NewQuestion { spec, correct, timer_s })
}

/// Does what the form asks; `Some(path)`: where to go next instead of back to the room.
async fn act(s: &AppState, room: RoomCode, action: Action) -> Result<Option<String>, CommandError> {
    match action {
        Action::Start(f) => {
            let class = f.class_name.trim();
            if class.is_empty() {
                return Err(CommandError::Invalid("a session needs a class name".into()));
            }
            s.engine.start_session(room, class.to_owned()).await.map(|_| None)
        }
        Action::End => {
            // The session's summary and attendance come next.
            let ended = s.engine.live(&room).and_then(|l| l.session).map(|s| format!("/sessions/{}", s.id));
            s.engine.end_session(room).await.map(|()| ended)
        }
        Action::Ask(f) => {
            let q = parse_question(&f).map_err(CommandError::Invalid)?;
            s.engine.open_question(room, q).await.map(|_| None)
        }
        Action::Close => s.engine.close_question(room).await.map(|()| None),
        Action::Reveal => s.engine.reveal(room).await.map(|()| None),
    }
}

macro_rules! teacher_action {
    ($(#[$doc:meta])* $name:ident, |$form:ident: $ty:ty| $action:expr) => {
        $(#[$doc])*
        pub async fn $name(
            State(s): State<AppState>,
            Extension(user): Extension<User>,
            headers: HeaderMap,
            Path(code): Path<String>,
            Form($form): Form<$ty>,
        ) -> Page {
            let lang = lang(&headers);
            let room = room_or_404(&code, lang)?;
            let result = act(&s, room.clone(), $action).await;
            after_action(&s, &user, lang, &room, result).await
        }
    };
}

/// A form with no fields.
#[derive(Debug, Deserialize)]
pub struct Empty {}

teacher_action!(
    /// `POST /rooms/{room}/session`.
    start_session, |f: SessionForm| Action::Start(f));
teacher_action!(
    /// `POST /rooms/{room}/session/end`.
    end_session, |_f: Empty| Action::End);
teacher_action!(
    /// `POST /rooms/{room}/question`.
    ask, |f: QuestionForm| Action::Ask(f));
teacher_action!(
    /// `POST /rooms/{room}/question/close`.
    close, |_f: Empty| Action::Close);
teacher_action!(
    /// `POST /rooms/{room}/question/reveal`.
    reveal, |_f: Empty| Action::Reveal);

/// `POST /rooms/{room}/projector/rotate`: a new projector link; the old one stops working.
pub async fn rotate_projector(State(s): State<AppState>, headers: HeaderMap, Path(code): Path<String>) -> Page {
    let room = room_or_404(&code, lang(&headers))?;
    s.store.rotate_projector_token(&room, &random_hex(16), now_ms()).await.map_err(internal)?;
    Ok(Redirect::to(&format!("/rooms/{room}")).into_response())
}

async fn projector_room(s: &AppState, token: &str) -> Result<RoomCode, PageError> {
    let valid = token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit());
    match if valid { s.store.projector_room(token).await } else { Ok(None) } {
        Ok(Some(room)) => Ok(room),
        Ok(None) => Err(PageError::NotFound(Lang::default())),
        Err(e) => Err(internal(e)),
    }
}

/// `GET /projector/{token}`: the projector's page; the token is the only key.
pub async fn projector(State(s): State<AppState>, headers: HeaderMap, Path(token): Path<String>) -> Page {
    let room = projector_room(&s, &token).await?;
    let live = live_or_empty(&s, &room);
    let (q, pairing) = (question_panel(&live, now_ms(), true), super::pairing::panel(&live, now_ms()));
    let (path, events) = (format!("/projector/{token}"), format!("/projector/{token}/events"));
    let page = view::projector(lang(&headers), room.as_str(), &path, &events, q.as_ref(), pairing.as_ref());
    Ok(Html(page.into_string()).into_response())
}

/// `GET /projector/{token}/events`: the projector's live part.
pub async fn projector_events(State(s): State<AppState>, headers: HeaderMap, Path(token): Path<String>) -> Page {
    let room = projector_room(&s, &token).await?;
    let lang = lang(&headers);
    Ok(live_events(&s, room, move |live| async move {
        let (q, pairing) = (question_panel(&live, now_ms(), true), super::pairing::panel(&live, now_ms()));
        let html = view::projector_live(lang, q.as_ref(), pairing.as_ref()).into_string();
        Event::default().event("fragment").data(html)
    })
    .into_response())
}

/// `?sort=&battery_low=&unseen_days=` on the devices page.
#[derive(Debug, Deserialize, Default)]
pub struct DevicesQuery {
    sort: Option<String>,
    battery_low: Option<String>,
    unseen_days: Option<String>,
}

fn device_rows(fleet: Vec<FleetRow>, readings: &std::collections::HashMap<String, Vec<(i64, u32)>>) -> Vec<DeviceRow> {
    fleet
        .into_iter()
        .map(|d| DeviceRow {
            days_left: readings.get(&d.id).and_then(|r| crate::fleet::battery::days_left(r)),
            id: d.id,
            room: d.room,
            student: d.student,
            battery_mv: d.battery_mv.and_then(|v| u32::try_from(v).ok()),
            rssi: d.rssi.and_then(|v| i32::try_from(v).ok()),
            firmware: d.firmware,
            last_seen_ms: d.last_seen_ms,
            online: d.online,
            loaner: d.loaner,
        })
        .collect()
}

pub(crate) async fn devices_page(
    s: &AppState,
    user: &User,
    lang: Lang,
    q: &DevicesQuery,
    registered: Option<Registered>,
    error: Option<&str>,
) -> Result<String, PageError> {
    let query = DeviceQuery {
        sort: q.sort.as_deref().map(SortKey::parse).unwrap_or_default(),
        battery_low: q.battery_low.as_deref().is_some_and(|v| !v.is_empty() && v != "0"),
        unseen_days: q.unseen_days.as_deref().and_then(|d| d.trim().parse().ok()),
    };
    let now = now_ms();
    let readings = s.store.battery_readings(now, crate::fleet::battery::WINDOW_MS).await.map_err(internal)?;
    let rows = fleet_view::select(device_rows(s.store.fleet(None).await.map_err(internal)?, &readings), &query, now);
    let chrome = chrome(lang, Some(user), "/devices");
    let pairing = super::pairing::section(s, lang).await?;
    Ok(fleet_view::devices(&chrome, &rows, &query, now, registered.as_ref(), error, pairing).into_string())
}

/// `GET /devices`: the technician's view.
pub async fn devices(
    State(s): State<AppState>,
    Extension(user): Extension<User>,
    headers: HeaderMap,
    Query(q): Query<DevicesQuery>,
) -> Page {
    Ok(Html(devices_page(&s, &user, lang(&headers), &q, None, None).await?).into_response())
}

/// The register-a-clicker form.
#[derive(Debug, Deserialize)]
pub struct RegisterForm {
    room: String,
    #[serde(default)]
    student: String,
}

/// `POST /devices`: registers a clicker and shows its key once.
pub async fn register_device(
    State(s): State<AppState>,
    Extension(user): Extension<User>,
    headers: HeaderMap,
    Form(f): Form<RegisterForm>,
) -> Page {
    let lang = lang(&headers);
    let q = DevicesQuery::default();
    let room = match RoomCode::parse(f.room.trim()) {
        Ok(room) => room,
        Err(e) => {
            let message = format!("{}: {e}", lang.room());
            let html = devices_page(&s, &user, lang, &q, None, Some(&message)).await?;
            return Ok((StatusCode::BAD_REQUEST, Html(html)).into_response());
        }
    };
    let student = Some(f.student.trim().to_owned()).filter(|s| !s.is_empty());
    let device = generate_device(room, student);
    let registered = Registered { id: device.id.to_string(), key: device.key.to_hex().to_string() };
    s.engine.add_device(device).await.map_err(internal)?;
    let html = devices_page(&s, &user, lang, &q, Some(registered), None).await?;
    Ok((StatusCode::CREATED, Html(html)).into_response())
}

/// The assign-to-a-student form.
#[derive(Debug, Deserialize)]
pub struct AssignForm {
    #[serde(default)]
    student: String,
}

/// `POST /devices/{id}/student`: assigns the clicker to another student (empty: to no one).
pub async fn assign(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<AssignForm>,
) -> Page {
    let not_found = PageError::NotFound(lang(&headers));
    let Ok(id) = DeviceId::parse(&id) else { return Err(not_found) };
    let student = Some(f.student.trim()).filter(|s| !s.is_empty());
    if !s.store.set_student(&id, student).await.map_err(internal)? {
        return Err(not_found);
    }
    Ok(Redirect::to("/devices").into_response())
}

/// A page that is not there, in the visitor's language.
pub async fn not_found(headers: HeaderMap) -> Response {
    let lang = lang(&headers);
    let page = views::message(&chrome(lang, None, "/"), lang.not_found(), lang.not_found());
    (StatusCode::NOT_FOUND, Html(page.into_string())).into_response()
}
