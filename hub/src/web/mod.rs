//! HTTP: the dashboard's pages, the JSON API under `/api/v1`, the live event streams, `/healthz` and
//! `/metrics`, each area behind its roles. `app(state) -> Router`, so handler tests need no socket.

pub mod admin;
pub mod attendance;
pub mod engagement;
pub mod pages;
pub mod pairing;
pub mod review;
pub mod session;
#[cfg(test)]
mod tests;
pub mod updates;
pub mod xapi;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use firmware::protocol::{Choices, DeviceId, DeviceKey, QuestionKind, QuestionSpec, RoomCode};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::LoginThrottle;
use crate::classroom::Live;
use crate::engine::{CommandError, EngineHandle, NewQuestion};
use crate::metrics::Metrics;
use crate::store::{Device, Store, StoreError};

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The engine.
    pub engine: EngineHandle,
    /// The store, for health checks.
    pub store: Store,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// How the hub reaches its broker, for `/healthz`.
    pub broker: BrokerInfo,
    /// When the hub started.
    pub started: Instant,
    /// Wrong passwords per user name, to slow down guessing.
    pub throttle: Arc<std::sync::Mutex<LoginThrottle>>,
    /// How long a login lasts.
    pub login_ttl: Duration,
    /// The shortest time between two updates of one live stream.
    pub live_every: Duration,
    /// The school's time zone, for the times people read.
    pub tz: jiff::tz::TimeZone,
    /// Becomes true when the hub stops: live streams end.
    pub stopping: tokio::sync::watch::Receiver<bool>,
}

/// The broker as `/healthz` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct BrokerInfo {
    /// `embedded` or `external`.
    pub kind: &'static str,
    /// Its address.
    pub url: String,
    /// Whether the hub's MQTT client is connected.
    #[serde(skip)]
    pub connected: Arc<std::sync::atomic::AtomicBool>,
}

/// The largest xAPI request accepted (a batch of statements).
pub const XAPI_BODY_MAX: usize = 8 * 1024 * 1024;

/// The largest roster upload accepted (a school's OneRoster zip).
pub const ROSTER_UPLOAD_MAX: usize = 64 * 1024 * 1024;

/// The router: public pages, then lessons (teacher, admin), devices (technician, admin) and the
/// accounts (admin).
/// Nothing but the login, the projector's link and `/healthz` answers without a login.
pub fn app(state: AppState) -> Router {
    let public = Router::new()
        .route("/healthz", get(healthz))
        .route("/", get(session::home))
        .route("/login", get(session::login_page).post(session::login))
        .route("/logout", post(session::logout))
        .route("/lang/{code}", get(session::switch_lang))
        .route("/static/classhub.css", get(pages::css))
        .route("/static/live.js", get(pages::js))
        .route("/projector/{token}", get(pages::projector))
        .route("/projector/{token}/events", get(pages::projector_events));
    let teaching = Router::new()
        .route("/rooms", get(pages::rooms))
        .route("/rooms/{room}", get(pages::teacher))
        .route("/rooms/{room}/events", get(pages::teacher_events))
        .route("/rooms/{room}/session", post(pages::start_session))
        .route("/rooms/{room}/session/end", post(pages::end_session))
        .route("/rooms/{room}/question", post(pages::ask))
        .route("/rooms/{room}/question/close", post(pages::close))
        .route("/rooms/{room}/question/reveal", post(pages::reveal))
        .route("/rooms/{room}/projector/rotate", post(pages::rotate_projector))
        .route("/sessions", get(attendance::sessions))
        .route("/sessions/{id}", get(attendance::session))
        .route("/sessions/{id}/attendance", post(attendance::set_mark))
        .route("/attendance/student", get(attendance::student))
        .route("/attendance.csv", get(attendance::export))
        .route("/online/review", get(review::review).post(review::decide))
        .route("/engagement", get(engagement::page))
        .route("/engagement.csv", get(engagement::csv))
        .route("/engagement/weeks", get(engagement::weeks))
        .route("/engagement/student", get(engagement::student))
        .route("/engagement/flag", post(engagement::flag))
        .route("/engagement/weights", post(engagement::set_weights))
        .route("/api/v1/rooms/{room}/live", get(live))
        .route("/api/v1/rooms/{room}/events", get(events))
        .route("/api/v1/rooms/{room}/session", post(start_session).delete(end_session))
        .route("/api/v1/rooms/{room}/questions", post(open_question))
        .route("/api/v1/rooms/{room}/question/close", post(close_question))
        .route("/api/v1/rooms/{room}/question/reveal", post(reveal))
        .route_layer(from_fn_with_state(state.clone(), session::teaching));
    let devices = Router::new()
        .route("/devices", get(pages::devices).post(pages::register_device))
        .route("/devices/{id}/student", post(pages::assign))
        .route("/devices/{id}/replace", post(pairing::replace))
        .route("/devices/{id}/unpair", post(pairing::unpair))
        .route("/pairing", post(pairing::open))
        .route(
            "/firmware",
            get(updates::show).post(updates::upload).layer(axum::extract::DefaultBodyLimit::max(updates::IMAGE_MAX)),
        )
        .route("/rooms/{room}/pairing/close", post(pairing::close))
        .route("/api/v1/devices", post(add_device))
        .route("/metrics", get(metrics))
        .route_layer(from_fn_with_state(state.clone(), session::devices));
    let admin = Router::new()
        .route("/admin/users", get(admin::users).post(admin::add_user))
        .route(
            "/admin/roster",
            get(admin::roster)
                .post(admin::upload_roster)
                .layer(axum::extract::DefaultBodyLimit::max(ROSTER_UPLOAD_MAX)),
        )
        .route_layer(from_fn_with_state(state.clone(), session::admin));
    // xAPI sources sign every request with Basic credentials (no ambient cookie to forge), and
    // learning content often posts from another origin: the same-origin rule does not apply there.
    let lrs = Router::new()
        .route("/xapi/about", get(xapi::about))
        .route("/xapi/statements", post(xapi::post).put(xapi::put).get(xapi::get))
        .layer(axum::extract::DefaultBodyLimit::max(XAPI_BODY_MAX))
        .route_layer(from_fn_with_state(state.clone(), xapi::guard));
    public
        .merge(teaching)
        .merge(devices)
        .merge(admin)
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn(session::same_origin))
        .merge(lrs)
        .with_state(state)
}

/// An error the API answers with: user errors as 4xx with a message, internal ones as an opaque 500
/// with the cause in the log.
#[derive(Debug)]
pub enum ApiError {
    /// Bad input.
    BadRequest(String),
    /// Not allowed in the current state.
    Conflict(String),
    /// The hub is stopping.
    Unavailable,
    /// Something broke inside.
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, m),
            ApiError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "the hub is shutting down".to_owned()),
            ApiError::Internal(cause) => {
                tracing::error!("internal error: {cause}");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error".to_owned())
            }
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}

impl From<CommandError> for ApiError {
    fn from(e: CommandError) -> Self {
        match e {
            CommandError::Classroom(_) => ApiError::Conflict(e.to_string()),
            CommandError::Invalid(m) => ApiError::BadRequest(m),
            CommandError::Store(StoreError::DeviceExists(_)) => ApiError::Conflict(e.to_string()),
            CommandError::Store(e) => ApiError::Internal(e.to_string()),
            CommandError::Stopped => ApiError::Unavailable,
        }
    }
}

fn room(code: &str) -> Result<RoomCode, ApiError> {
    RoomCode::parse(code).map_err(|e| ApiError::BadRequest(format!("room {code:?}: {e}")))
}

async fn healthz(State(s): State<AppState>) -> Response {
    let store_ok = s.store.ping().await;
    let broker_ok = s.broker.connected.load(std::sync::atomic::Ordering::Relaxed);
    let status = if store_ok && broker_ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = json!({
        "status": if status == StatusCode::OK { "ok" } else { "degraded" },
        "broker": { "kind": s.broker.kind, "url": s.broker.url, "connected": broker_ok },
        "store": if store_ok { "ok" } else { "error" },
        "uptime_s": s.started.elapsed().as_secs(),
    });
    (status, Json(body)).into_response()
}

async fn metrics(State(s): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], s.metrics.render()).into_response()
}

/// A device to register.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    /// Its room.
    pub room: String,
    /// Its student, if assigned.
    pub student: Option<String>,
}

/// A freshly made device: a random id (`c-` and 8 hex digits) and a random key.
pub fn generate_device(room: RoomCode, student: Option<String>) -> Device {
    let id = format!("c-{:08x}", rand::random::<u32>());
    // Cannot fail: "c-" and 8 hex digits are a valid device id.
    let id = DeviceId::parse(&id).expect("generated device ids are valid");
    Device { id, key: DeviceKey(rand::random()), room, student, newest_seq: None }
}

async fn add_device(State(s): State<AppState>, Json(req): Json<NewDevice>) -> Result<Response, ApiError> {
    let device = generate_device(room(&req.room)?, req.student.filter(|s| !s.trim().is_empty()));
    let body = json!({ "id": device.id.as_str(), "key": device.key.to_hex().as_str(), "room": device.room.as_str() });
    s.engine.add_device(device).await?;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub(crate) fn live_or_empty(s: &AppState, room: &RoomCode) -> Live {
    s.engine.live(room).unwrap_or_else(|| Live {
        room: room.to_string(),
        session: None,
        question: None,
        expected: 0,
        pairing: None,
    })
}

async fn live(State(s): State<AppState>, Path(code): Path<String>) -> Result<Json<Live>, ApiError> {
    let room = room(&code)?;
    Ok(Json(live_or_empty(&s, &room)))
}

async fn events(State(s): State<AppState>, Path(code): Path<String>) -> Result<Response, ApiError> {
    let room = room(&code)?;
    Ok(live_events(&s, room, |live| async move {
        Event::default().event("live").data(serde_json::to_string(&live).unwrap_or_default())
    })
    .into_response())
}

/// A live stream for `room`: the current state at once, then each change, rendered by `render`.
/// Coalesced: a change after a quiet spell goes out at once; changes that follow within
/// `live_every` of the last update wait until then and go out as one (the newest state).
pub(crate) fn live_events<F, Fut>(
    s: &AppState,
    room: RoomCode,
    render: F,
) -> Sse<impl futures_core::Stream<Item = Result<Event, Infallible>> + use<F, Fut>>
where
    F: Fn(Live) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Event> + Send,
{
    let mut rx = s.engine.live.clone();
    let mut stopping = s.stopping.clone();
    let every = s.live_every;
    let first = live_or_empty(s, &room);
    let stream = async_stream(move |tx| async move {
        let mut last = first;
        if tx.send(Ok(render(last.clone()).await)).await.is_err() {
            return;
        }
        let mut sent_at = tokio::time::Instant::now();
        loop {
            tokio::select! {
                changed = rx.changed() => if changed.is_err() { return },
                _ = stopping.wait_for(|stop| *stop) => return,
            }
            // Coalesce: no sooner than `every` after the last update, then whatever is newest.
            tokio::select! {
                _ = tokio::time::sleep_until(sent_at + every) => {}
                _ = stopping.wait_for(|stop| *stop) => return,
            }
            let now = rx.borrow_and_update().get(&room).cloned();
            let Some(now) = now else { continue };
            if now != last {
                last = now;
                if tx.send(Ok(render(last.clone()).await)).await.is_err() {
                    return;
                }
                sent_at = tokio::time::Instant::now();
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// A stream fed by a task through a small channel (so a slow viewer never holds up the engine).
fn async_stream<F, Fut>(f: F) -> tokio_stream_lite::Receiver
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<Event, Infallible>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(f(tx));
    tokio_stream_lite::Receiver(rx)
}

mod tokio_stream_lite {
    //! An mpsc receiver as a `Stream`, without pulling in another crate for it.
    use std::convert::Infallible;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use axum::response::sse::Event;

    pub struct Receiver(pub tokio::sync::mpsc::Receiver<Result<Event, Infallible>>);

    impl futures_core::Stream for Receiver {
        type Item = Result<Event, Infallible>;
        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            self.0.poll_recv(cx)
        }
    }
}

/// A session to start.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSession {
    /// The class.
    pub class_name: String,
}

async fn start_session(
    State(s): State<AppState>,
    Path(code): Path<String>,
    Json(req): Json<NewSession>,
) -> Result<Response, ApiError> {
    let id = s.engine.start_session(room(&code)?, req.class_name).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))).into_response())
}

async fn end_session(State(s): State<AppState>, Path(code): Path<String>) -> Result<StatusCode, ApiError> {
    s.engine.end_session(room(&code)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A question to open.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenQuestion {
    /// `single`, `truefalse`, `multi` or `scale`.
    pub kind: QuestionKind,
    /// How many options (implied for `truefalse` and `scale`).
    pub options: Option<u8>,
    /// The correct answer, e.g. `"B"` or `"AC"`.
    pub correct: Option<String>,
    /// A countdown in seconds.
    pub timer_s: Option<u32>,
}

async fn open_question(
    State(s): State<AppState>,
    Path(code): Path<String>,
    Json(req): Json<OpenQuestion>,
) -> Result<Response, ApiError> {
    let options = match req.kind {
        QuestionKind::TrueFalse => req.options.unwrap_or(2),
        QuestionKind::Scale => req.options.unwrap_or(5),
        _ => req.options.ok_or_else(|| ApiError::BadRequest("single and multi need \"options\" (2-5)".into()))?,
    };
    let spec = QuestionSpec::new(req.kind, options).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let correct = req
        .correct
        .map(|c| Choices::parse(&c).map_err(|e| ApiError::BadRequest(format!("correct: {e}"))))
        .transpose()?;
    if req.timer_s == Some(0) {
        return Err(ApiError::BadRequest("timer_s must be at least 1".into()));
    }
    let id = s.engine.open_question(room(&code)?, NewQuestion { spec, correct, timer_s: req.timer_s }).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))).into_response())
}

async fn close_question(State(s): State<AppState>, Path(code): Path<String>) -> Result<StatusCode, ApiError> {
    s.engine.close_question(room(&code)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn reveal(State(s): State<AppState>, Path(code): Path<String>) -> Result<StatusCode, ApiError> {
    s.engine.reveal(room(&code)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
