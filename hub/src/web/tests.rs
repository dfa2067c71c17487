//! Router tests with `oneshot`: every page and action, asked by no one, a teacher, a technician and
//! an admin; who gets in, who is sent to log in, who is refused. No sockets: the engine runs with an
//! MQTT client that never connects.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use rumqttc::{AsyncClient, MqttOptions};
use tokio::sync::mpsc;
use tower::ServiceExt;

use super::{AppState, BrokerInfo, app};
use crate::auth::{LoginToken, Role, Username, hash_password};
use crate::engine::{Engine, Raw};
use crate::metrics::Metrics;
use crate::store::{Store, now_ms};

struct Fixture {
    state: AppState,
    _inbound: mpsc::Sender<Raw>,
    _stop: tokio::sync::watch::Sender<bool>,
    teacher: String,
    technician: String,
    admin: String,
}

async fn fixture() -> Fixture {
    let dir =
        std::env::temp_dir().join(format!("classhub-router-{}-{:08x}", std::process::id(), rand::random::<u32>()));
    let store = Store::open(&dir).await.unwrap();
    let (client, _events) = AsyncClient::new(MqttOptions::new("router-test", "127.0.0.1", 1), 1000);
    let metrics = Arc::new(Metrics::default());
    let (engine, handle, commands) =
        Engine::load(store.clone(), client, metrics.clone(), Default::default()).await.unwrap();
    let (inbound_tx, inbound) = mpsc::channel(16);
    tokio::spawn(engine.run(inbound, commands));
    let mut cookies = Vec::new();
    for (name, role) in [("docent", Role::Teacher), ("ict", Role::Technician), ("beheer", Role::Admin)] {
        let id = store
            .add_user(&Username::parse(name).unwrap(), role, &hash_password("wachtwoord-123").unwrap(), now_ms())
            .await
            .unwrap();
        let token = LoginToken::generate();
        store.add_login(&token, id, now_ms(), now_ms() + 3_600_000).await.unwrap();
        cookies.push(format!("classhub_login={}", token.as_str()));
    }
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let state = AppState {
        engine: handle,
        store,
        metrics,
        broker: BrokerInfo {
            kind: "embedded",
            url: "mqtt://127.0.0.1:1".into(),
            connected: Arc::new(AtomicBool::new(true)),
        },
        started: Instant::now(),
        throttle: Arc::default(),
        login_ttl: Duration::from_secs(3600),
        live_every: Duration::from_millis(90),
        tz: jiff::tz::TimeZone::UTC,
        stopping,
    };
    let [teacher, technician, admin] = <[String; 3]>::try_from(cookies).unwrap();
    Fixture { state, _inbound: inbound_tx, _stop: stop, teacher, technician, admin }
}

async fn ask(f: &Fixture, method: &str, path: &str, cookie: Option<&str>, form: &str) -> (StatusCode, Option<String>) {
    let mut req = Request::builder().method(method).uri(path).header(header::HOST, "hub");
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    if method == "POST" {
        req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    let res = app(f.state.clone()).oneshot(req.body(Body::from(form.to_owned())).unwrap()).await.unwrap();
    let location = res.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    (res.status(), location)
}

/// Who may: `T` teacher, `D` technician (devices), `A` admin only.
const ROUTES: &[(&str, &str, &str, char)] = &[
    ("GET", "/rooms", "", 'T'),
    ("GET", "/rooms/r1", "", 'T'),
    ("POST", "/rooms/r1/session", "class_name=3A", 'T'),
    ("POST", "/rooms/r1/question", "kind=single&options=4", 'T'),
    ("POST", "/rooms/r1/question/close", "", 'T'),
    ("POST", "/rooms/r1/question/reveal", "", 'T'),
    ("POST", "/rooms/r1/projector/rotate", "", 'T'),
    ("POST", "/rooms/r1/session/end", "", 'T'),
    ("GET", "/sessions", "", 'T'),
    ("GET", "/sessions/1", "", 'T'),
    ("POST", "/sessions/1/attendance", "student=Anna&mark=excused", 'T'),
    ("GET", "/attendance/student?k=0011223344556677", "", 'T'),
    ("GET", "/attendance.csv?class=3A&from=2026-11-01&to=2026-11-30", "", 'T'),
    ("GET", "/api/v1/rooms/r1/live", "", 'T'),
    ("GET", "/online/review", "", 'T'),
    ("GET", "/engagement", "", 'T'),
    ("GET", "/engagement/weeks?class=3A&week=2026-W48", "", 'T'),
    ("GET", "/engagement/student?class=3A&week=2026-W48&k=0011223344556677", "", 'T'),
    ("GET", "/engagement.csv?class=3A&week=2026-W48", "", 'T'),
    ("POST", "/engagement/flag", "student=Cem&on=1", 'T'),
    ("POST", "/engagement/weights", "class=3A&attendance=50&response=50&online_days=0&online_activity=0", 'T'),
    ("POST", "/online/review", "identity=name%3AX&student=", 'T'),
    ("GET", "/devices", "", 'D'),
    ("POST", "/devices", "room=r1&student=Anna", 'D'),
    ("POST", "/devices/c-00000000/student", "student=Bram", 'D'),
    ("POST", "/pairing", "room=r1&mode=room&seconds=30", 'D'),
    ("GET", "/firmware", "", 'D'),
    ("POST", "/firmware", "", 'D'),
    ("POST", "/rooms/r1/pairing/close", "", 'D'),
    ("POST", "/devices/c-00000000/replace", "", 'D'),
    ("POST", "/devices/c-00000000/unpair", "", 'D'),
    ("GET", "/metrics", "", 'D'),
    ("GET", "/admin/users", "", 'A'),
    ("GET", "/admin/roster", "", 'A'),
    ("POST", "/admin/roster", "", 'A'),
    ("POST", "/admin/users", "name=nieuw&role=teacher", 'A'),
];

#[tokio::test]
async fn every_page_and_action_keeps_to_its_roles() {
    let f = fixture().await;
    for &(method, path, form, area) in ROUTES {
        let json = path.starts_with("/api/") || path == "/metrics";
        let (anon, location) = ask(&f, method, path, None, form).await;
        if json {
            assert_eq!(anon, StatusCode::UNAUTHORIZED, "{method} {path} without a login");
        } else {
            assert_eq!(anon, StatusCode::SEE_OTHER, "{method} {path} without a login");
            assert!(location.unwrap().starts_with("/login?next="), "{method} {path} sends to the login page");
        }
        for (who, cookie) in [('T', &f.teacher), ('D', &f.technician), ('A', &f.admin)] {
            let allowed = who == 'A' || who == area;
            let (status, location) = ask(&f, method, path, Some(cookie), form).await;
            if allowed {
                assert!(
                    !matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
                        && !location.as_deref().is_some_and(|l| l.starts_with("/login")),
                    "{method} {path} as {who}: {status}"
                );
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path} as {who}");
            }
        }
    }
}

#[tokio::test]
async fn public_pages_answer_everyone_and_unknown_ones_are_404() {
    let f = fixture().await;
    for path in ["/login", "/healthz", "/static/classhub.css", "/static/live.js"] {
        assert_eq!(ask(&f, "GET", path, None, "").await.0, StatusCode::OK, "{path}");
    }
    assert_eq!(ask(&f, "GET", "/projector/00000000000000000000000000000000", None, "").await.0, StatusCode::NOT_FOUND);
    assert_eq!(ask(&f, "GET", "/nowhere", Some(&f.admin), "").await.0, StatusCode::NOT_FOUND);
    assert_eq!(ask(&f, "GET", "/", None, "").await.1.as_deref(), Some("/login"));
    assert_eq!(ask(&f, "GET", "/", Some(&f.technician), "").await.1.as_deref(), Some("/devices"));
}

#[tokio::test]
async fn a_lesson_by_its_forms_status_by_status() {
    let f = fixture().await;
    let t = Some(f.teacher.as_str());
    assert_eq!(ask(&f, "POST", "/rooms/r1/session", t, "class_name=").await.0, StatusCode::BAD_REQUEST);
    assert_eq!(ask(&f, "POST", "/rooms/r1/session", t, "class_name=3A").await.1.as_deref(), Some("/rooms/r1"));
    assert_eq!(
        ask(&f, "POST", "/rooms/r1/session", t, "class_name=3B").await.0,
        StatusCode::CONFLICT,
        "one session at a time"
    );
    assert_eq!(ask(&f, "POST", "/rooms/r1/question/reveal", t, "").await.0, StatusCode::CONFLICT, "nothing to reveal");
    assert_eq!(ask(&f, "POST", "/rooms/r1/question", t, "kind=scale").await.0, StatusCode::SEE_OTHER);
    assert_eq!(
        ask(&f, "POST", "/rooms/r1/question", t, "kind=single&options=4&timer_s=0").await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(ask(&f, "POST", "/rooms/r1/question/close", t, "").await.0, StatusCode::SEE_OTHER);
    assert_eq!(ask(&f, "POST", "/rooms/r1/question/reveal", t, "").await.0, StatusCode::SEE_OTHER);
    let (status, location) = ask(&f, "POST", "/rooms/r1/session/end", t, "").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.unwrap().starts_with("/sessions/"), "the summary comes next");
    assert_eq!(ask(&f, "GET", "/rooms/NOT%20A%20ROOM", t, "").await.0, StatusCode::NOT_FOUND);
    assert_eq!(ask(&f, "GET", "/sessions/999", t, "").await.0, StatusCode::NOT_FOUND);
    let a = Some(f.admin.as_str());
    assert_eq!(ask(&f, "POST", "/admin/users", a, "name=docent&role=teacher").await.0, StatusCode::CONFLICT);
    assert_eq!(ask(&f, "POST", "/admin/users", a, "name=x&role=student").await.0, StatusCode::BAD_REQUEST);
    assert_eq!(ask(&f, "POST", "/admin/users", a, "name=nieuw&role=technician").await.0, StatusCode::CREATED);
}
