//! `TestApp`: the real hub on port 0 (embedded broker, fresh SQLite), with one helper per action.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use firmware::protocol::{QuestionKind, QuestionSpec, RoomCode};
use firmware::sim::{self, BrokerAddr, ClassConfig};
use hub::app::App;
use hub::config::Settings;
use hub::engine::{EngineHandle, NewQuestion};
use hub::store::{Device, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running hub for one test.
pub struct TestApp {
    /// The HTTP address.
    pub http: SocketAddr,
    /// The broker.
    pub mqtt: BrokerAddr,
    /// The engine.
    pub engine: EngineHandle,
    /// The data directory.
    pub data: PathBuf,
    /// The admin login the helpers send (`classhub_login=...`).
    pub cookie: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

/// A fresh data directory for one test.
pub fn fresh_data_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("classhub-test-{name}-{}-{:08x}", std::process::id(), rand::random::<u32>()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn test_logs() {
    if std::env::var_os("TEST_LOG").is_some() {
        hub::init_logs("info");
    }
}

impl TestApp {
    /// A hub with its embedded broker, on free ports, with a fresh data directory.
    /// `CLASSHUB_TEST_MQTT_URL` runs the same tests against an external broker instead.
    pub async fn spawn(name: &str) -> TestApp {
        TestApp::spawn_on(fresh_data_dir(name), std::env::var("CLASSHUB_TEST_MQTT_URL").ok()).await
    }

    /// A hub on `data`, with the embedded broker or the external one at `mqtt_url`.
    pub async fn spawn_on(data: PathBuf, mqtt_url: Option<String>) -> TestApp {
        TestApp::spawn_at(data, mqtt_url, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// A hub on `data` serving HTTP at `http` (the same address again, to restart a hub under an
    /// open browser).
    pub async fn spawn_at(data: PathBuf, mqtt_url: Option<String>, http: SocketAddr) -> TestApp {
        TestApp::spawn_with_settings(data, mqtt_url, http, |_| {}).await
    }

    /// A hub with the test's own changes to the settings.
    pub async fn spawn_with(name: &str, tweak: impl FnOnce(&mut Settings)) -> TestApp {
        TestApp::spawn_with_settings(fresh_data_dir(name), None, SocketAddr::from(([127, 0, 0, 1], 0)), tweak).await
    }

    async fn spawn_with_settings(
        data: PathBuf,
        mqtt_url: Option<String>,
        http: SocketAddr,
        tweak: impl FnOnce(&mut Settings),
    ) -> TestApp {
        test_logs();
        let mut s = Settings::default();
        s.mqtt.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        s.mqtt.url = mqtt_url;
        s.http.listen = http;
        s.data_dir = data.clone();
        tweak(&mut s);
        let app = App::build(&s).await.expect("the hub builds");
        let (http, mqtt, engine) = (app.http_addr(), app.mqtt().clone(), app.engine());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until_stopped(async {
            let _ = stopped.await;
        }));
        let mut app = TestApp { http, mqtt, engine, data, cookie: String::new(), stop: Some(stop), task: Some(task) };
        app.add_user("test-admin", "admin", TEST_PASSWORD).await;
        app.cookie = app.log_in("test-admin", TEST_PASSWORD).await.expect("the test admin logs in");
        app
    }

    /// Makes an account with `password` (kept as it is if the name exists, as after a restart).
    pub async fn add_user(&self, name: &str, role: &str, password: &str) {
        let store = self.store().await;
        let hash = hub::auth::hash_password(password).expect("hashable password");
        let name = hub::auth::Username::parse(name).expect("valid user name");
        let role = hub::auth::Role::parse(role).expect("known role");
        match store.add_user(&name, role, &hash, hub::store::now_ms()).await {
            Ok(_) | Err(hub::store::StoreError::UserExists(_)) => {}
            Err(e) => panic!("account {name}: {e}"),
        }
        store.close().await;
    }

    /// Logs in through the login form; the login cookie (`classhub_login=...`), or the response.
    pub async fn log_in(&self, name: &str, password: &str) -> Result<String, HttpResponse> {
        let body = format!("username={name}&password={password}");
        let r = self.send("POST", "/login", &[("Content-Type", "application/x-www-form-urlencoded")], &body).await;
        let cookie = r
            .header("set-cookie")
            .and_then(|c| c.split(';').next())
            .filter(|c| c.starts_with("classhub_login=") && c.len() > "classhub_login=".len())
            .map(str::to_owned);
        match (r.status, cookie) {
            (303, Some(cookie)) => Ok(cookie),
            _ => Err(r),
        }
    }

    /// Any request: method, path, headers, body. Sends no cookie unless given in `headers`.
    pub async fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> HttpResponse {
        self.send_bytes(method, path, headers, body.as_bytes()).await
    }

    /// [`TestApp::send`] with a binary body.
    pub async fn send_bytes(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> HttpResponse {
        let mut stream = tokio::net::TcpStream::connect(self.http).await.expect("connect to the hub's HTTP");
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", self.http);
        for (name, value) in headers {
            req.push_str(&format!("{name}: {value}\r\n"));
        }
        req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        stream.write_all(req.as_bytes()).await.expect("send request");
        stream.write_all(body).await.expect("send body");
        let mut raw = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
            .await
            .expect("answer in time")
            .expect("read");
        HttpResponse::parse(&String::from_utf8_lossy(&raw))
    }

    /// A form post as the logged-in test admin, from the hub's own pages.
    pub async fn post_form(&self, path: &str, form: &str) -> HttpResponse {
        let origin = format!("http://{}", self.http);
        let headers = [
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", self.cookie.as_str()),
            ("Origin", origin.as_str()),
        ];
        self.send("POST", path, &headers, form).await
    }

    /// A page as the logged-in test admin.
    pub async fn page(&self, path: &str) -> HttpResponse {
        self.send("GET", path, &[("Cookie", self.cookie.as_str())], "").await
    }

    /// Registers `n` simulated clickers (keys from `seed`) in `room`; returns the class to start.
    pub async fn register_class(&self, room: &RoomCode, seed: &str, n: usize) -> ClassConfig {
        let cfg = ClassConfig::new(self.mqtt.clone(), room.clone(), seed, n);
        for id in &cfg.identities {
            let device = Device {
                id: id.device.clone(),
                key: id.key.clone(),
                room: room.clone(),
                student: None,
                newest_seq: None,
            };
            self.engine.add_device(device).await.expect("device registered");
        }
        cfg
    }

    /// Starts a session and opens a single-choice question with `options` options; returns its id.
    pub async fn open_single(&self, room: &RoomCode, options: u8) -> u32 {
        if self.engine.live(room).and_then(|l| l.session).is_none() {
            self.engine.start_session(room.clone(), "3A".into()).await.expect("session starts");
        }
        let spec = QuestionSpec::new(QuestionKind::Single, options).expect("valid question");
        self.engine
            .open_question(room.clone(), NewQuestion { spec, correct: None, timer_s: None })
            .await
            .expect("question opens")
    }

    /// `GET path`, returning status and body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        self.request("GET", path, None).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, json: &str) -> (u16, String) {
        self.request("POST", path, Some(json)).await
    }

    /// A JSON request as the logged-in test admin (one connection, closed after the answer).
    pub async fn request(&self, method: &str, path: &str, json: Option<&str>) -> (u16, String) {
        let headers = [("Content-Type", "application/json"), ("Cookie", self.cookie.as_str())];
        let r = self.send(method, path, &headers, json.unwrap_or("")).await;
        (r.status, r.body)
    }

    /// The store under this hub's data directory (a second pool on the same WAL database).
    pub async fn store(&self) -> Store {
        Store::open(&self.data).await.expect("store opens")
    }

    /// Stops the hub cleanly and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("hub task").expect("hub stops cleanly");
        }
    }
}

/// The password of every account a test makes.
pub const TEST_PASSWORD: &str = "klaslokaal-wachtwoord";

/// An HTTP answer: status, headers (names lower-cased), body.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl HttpResponse {
    fn parse(text: &str) -> HttpResponse {
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text, ""));
        let mut lines = head.split("\r\n");
        let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        HttpResponse { status, headers, body: body.to_owned() }
    }

    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// The simulator's identity function, re-exported for tests.
pub use sim::identity;
