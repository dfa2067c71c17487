//! A small WebDriver client for the browser tests: chromedriver on a free port driving headless
//! Chromium (Debian's `chromium` and `chromium-driver`), with one helper per action: open a page,
//! type, click, wait for text, read the page, save a screenshot under `target/screenshots/`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A headless Chromium, driven over WebDriver.
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Where screenshots go: `target/screenshots/` of the workspace (or of `CARGO_TARGET_DIR`).
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("target"));
    target.join("screenshots")
}

/// Reads one HTTP response: the head, then as many body bytes as its Content-Length says.
async fn read_response(stream: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        if let Some(head_end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|n| n.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if raw.len() >= head_end + 4 + length {
                return raw;
            }
        }
        let n = stream.read(&mut buf).await.expect("read from chromedriver");
        if n == 0 {
            return raw;
        }
        raw.extend_from_slice(&buf[..n]);
    }
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a 1280×900 window.
    pub async fn start() -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (apt-get install chromium chromium-driver)");
        let mut browser = Browser { driver, port, session: String::new() };
        let mut ready = false;
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(ready, "chromedriver did not listen on {port}");
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,900", "--lang=nl-NL"],
                "prefs": { "intl.accept_languages": "nl-NL,nl" }
            }
        }}});
        let v = browser.call("POST", "/session", Some(caps)).await;
        browser.session = v["sessionId"].as_str().expect("a WebDriver session").to_owned();
        browser
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.expect("chromedriver");
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(req.as_bytes()).await.expect("send to chromedriver");
        // chromedriver keeps the connection open whatever we ask: read by Content-Length.
        let raw = tokio::time::timeout(Duration::from_secs(60), read_response(&mut stream))
            .await
            .expect("chromedriver answers");
        let text = String::from_utf8_lossy(&raw);
        let json = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        let v: Value = serde_json::from_str(json).unwrap_or(Value::Null);
        if let Some(err) = v["value"]["error"].as_str() {
            panic!("WebDriver {method} {path}: {err}: {}", v["value"]["message"]);
        }
        v.get("value").cloned().unwrap_or(Value::Null)
    }

    fn at(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    /// Opens `url`.
    pub async fn open(&self, url: &str) {
        self.call("POST", &self.at("/url"), Some(json!({ "url": url }))).await;
    }

    async fn element(&self, css: &str) -> String {
        let v = self.call("POST", &self.at("/element"), Some(json!({ "using": "css selector", "value": css }))).await;
        v.as_object().and_then(|o| o.values().next()).and_then(Value::as_str).expect("an element").to_owned()
    }

    /// Types `text` into the field `css`.
    pub async fn type_into(&self, css: &str, text: &str) {
        let el = self.element(css).await;
        self.call("POST", &self.at(&format!("/element/{el}/value")), Some(json!({ "text": text }))).await;
    }

    /// Picks `value` in the select `css`.
    pub async fn select(&self, css: &str, value: &str) {
        self.click(&format!("{css} option[value=\"{value}\"]")).await;
    }

    /// Clicks `css`.
    pub async fn click(&self, css: &str) {
        let el = self.element(css).await;
        self.call("POST", &self.at(&format!("/element/{el}/click")), Some(json!({}))).await;
    }

    /// The page's current HTML.
    pub async fn source(&self) -> String {
        self.call("GET", &self.at("/source"), None).await.as_str().unwrap_or_default().to_owned()
    }

    /// The current URL.
    pub async fn url(&self) -> String {
        self.call("GET", &self.at("/url"), None).await.as_str().unwrap_or_default().to_owned()
    }

    /// Waits until the page's HTML contains `needle` (the page updates itself over its stream).
    pub async fn wait_for(&self, needle: &str, limit: Duration) -> String {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let html = self.source().await;
            if html.contains(needle) {
                return html;
            }
            assert!(tokio::time::Instant::now() < deadline, "the page never showed {needle:?}:\n{html}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves a PNG of the window as `target/screenshots/NAME.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let b64 = self.call("GET", &self.at("/screenshot"), None).await;
        let png = base64::engine::general_purpose::STANDARD.decode(b64.as_str().unwrap_or_default()).expect("PNG");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot folder");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("screenshot written");
        path
    }

    /// Ends the session and the driver.
    pub async fn quit(self) {
        let _ = self.call("DELETE", &self.at(""), None).await;
    }
}
