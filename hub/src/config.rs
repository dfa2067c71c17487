//! Typed settings, layered: defaults < TOML file < `CLASSHUB_*` environment < command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where the hub's MQTT broker is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MqttSettings {
    /// The embedded broker listens here (port 0: any free port).
    pub listen: SocketAddr,
    /// Use this external broker (`mqtt://host:port`) instead of the embedded one.
    pub url: Option<String>,
}

impl Default for MqttSettings {
    fn default() -> Self {
        MqttSettings { listen: SocketAddr::from(([0, 0, 0, 0], 1883)), url: None }
    }
}

/// The web server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// Listen address (port 0: any free port).
    pub listen: SocketAddr,
    /// How long a dashboard login lasts, in hours.
    pub login_hours: u64,
    /// The shortest time between two updates of one live page or stream, in ms (at least 50).
    pub live_every_ms: u64,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings { listen: SocketAddr::from(([0, 0, 0, 0], 8080)), login_hours: 12, live_every_ms: 90 }
    }
}

/// Lessons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClassroomSettings {
    /// How long after a session starts a first press or check-in still counts as present (minutes).
    pub checkin_window_min: u64,
    /// The school's time zone (IANA name), for the times people read.
    pub timezone: String,
}

impl Default for ClassroomSettings {
    fn default() -> Self {
        ClassroomSettings { checkin_window_min: 10, timezone: "Europe/Amsterdam".into() }
    }
}

impl ClassroomSettings {
    /// The check-in window in milliseconds.
    pub fn checkin_window_ms(&self) -> i64 {
        self.checkin_window_min.saturating_mul(60_000).min(i64::MAX as u64) as i64
    }
}

/// Privacy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrivacySettings {
    /// Raw answers, check-ins, statements and imported online events older than this many days are
    /// removed by a daily job (their counts stay); 0 keeps everything.
    pub retention_days: u32,
}

impl Default for PrivacySettings {
    fn default() -> Self {
        PrivacySettings { retention_days: 400 }
    }
}

/// The hub as an xAPI client: forwarding its own statements to another LRS.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct XapiSettings {
    /// Forward the hub's own statements to this LRS (`http://host/xapi`); none: keep them here.
    pub forward_url: Option<String>,
    /// HTTP Basic key at that LRS.
    pub forward_key: String,
    /// HTTP Basic secret at that LRS (never logged).
    pub forward_secret: String,
    /// How often to look for new statements to forward, in ms.
    pub forward_every_ms: u64,
}

impl Default for XapiSettings {
    fn default() -> Self {
        XapiSettings {
            forward_url: None,
            forward_key: String::new(),
            forward_secret: String::new(),
            forward_every_ms: 5_000,
        }
    }
}

impl std::fmt::Debug for XapiSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XapiSettings")
            .field("forward_url", &self.forward_url)
            .field("forward_key", &self.forward_key)
            .field("forward_secret", &"(hidden)")
            .field("forward_every_ms", &self.forward_every_ms)
            .finish()
    }
}

/// The hub's own hardware on a Raspberry Pi (used when built with the `pi` feature).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PiSettings {
    /// The room this hub stands in: its pairing button opens windows there, its card reader checks
    /// students in there. Empty: no panel, no reader.
    pub room: String,
    /// BCM number of the pairing button's pin (wired to ground; the internal pull-up is used).
    pub button_pin: u8,
    /// BCM number of the status LED's pin.
    pub led_pin: u8,
    /// Read school cards with an MFRC522 on SPI0 (CE0) as a second way to check in.
    pub nfc: bool,
}

impl Default for PiSettings {
    fn default() -> Self {
        PiSettings { room: String::new(), button_pin: 17, led_pin: 27, nfc: false }
    }
}

/// All of the hub's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// MQTT.
    pub mqtt: MqttSettings,
    /// HTTP.
    pub http: HttpSettings,
    /// Lessons.
    pub classroom: ClassroomSettings,
    /// Privacy.
    pub privacy: PrivacySettings,
    /// xAPI forwarding.
    pub xapi: XapiSettings,
    /// The Pi's own LED, button and card reader.
    pub pi: PiSettings,
    /// Where the SQLite database lives.
    pub data_dir: PathBuf,
    /// Log filter (tracing's `EnvFilter` syntax), e.g. `info` or `classhub=debug`.
    pub log: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            mqtt: MqttSettings::default(),
            http: HttpSettings::default(),
            classroom: ClassroomSettings::default(),
            privacy: PrivacySettings::default(),
            xapi: XapiSettings::default(),
            pi: PiSettings::default(),
            data_dir: PathBuf::from("classhub-data"),
            log: "info".into(),
        }
    }
}

/// Settings that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {0}: {1}")]
    Read(String, std::io::Error),
    /// The file is not valid TOML for the settings.
    #[error("{0}: {1}")]
    Toml(String, toml::de::Error),
    /// An environment variable holds a bad value.
    #[error("{0}={1:?}: {2}")]
    Env(String, String, String),
}

impl Settings {
    /// Defaults, then `file` if given, then `CLASSHUB_*` variables from `env`.
    pub fn load(file: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<Settings, ConfigError> {
        let mut s = match file {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|e| ConfigError::Read(path.display().to_string(), e))?;
                toml::from_str(&text).map_err(|e| ConfigError::Toml(path.display().to_string(), e))?
            }
            None => Settings::default(),
        };
        for (key, value) in env {
            let bad = |e: &dyn std::fmt::Display| ConfigError::Env(key.clone(), value.clone(), e.to_string());
            match key.as_str() {
                "CLASSHUB_MQTT_LISTEN" => s.mqtt.listen = value.parse().map_err(|e| bad(&e))?,
                "CLASSHUB_MQTT_URL" => s.mqtt.url = Some(value.clone()).filter(|v| !v.is_empty()),
                "CLASSHUB_HTTP_LISTEN" => s.http.listen = value.parse().map_err(|e| bad(&e))?,
                "CLASSHUB_DATA_DIR" => s.data_dir = PathBuf::from(&value),
                "CLASSHUB_LOG" => s.log = value.clone(),
                "CLASSHUB_PI_ROOM" => s.pi.room = value.clone(),
                "CLASSHUB_RETENTION_DAYS" => s.privacy.retention_days = value.parse().map_err(|e| bad(&e))?,
                "CLASSHUB_LIVE_EVERY_MS" => s.http.live_every_ms = value.parse().map_err(|e| bad(&e))?,
                "CLASSHUB_CHECKIN_WINDOW_MIN" => s.classroom.checkin_window_min = value.parse().map_err(|e| bad(&e))?,
                _ => {}
            }
        }
        Ok(s)
    }

    /// The defaults as a TOML file, for `classhub print-default-config`.
    pub fn default_toml() -> String {
        let body = toml::to_string_pretty(&Settings::default()).unwrap_or_default();
        format!(
            "# classhub settings. Every key is optional; CLASSHUB_* environment variables and flags override.\n\
             # mqtt.url = \"mqtt://127.0.0.1:1883\" uses an external broker instead of the embedded one.\n\n{body}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_overrides_defaults_and_the_environment_overrides_the_file() {
        let dir = std::env::temp_dir().join(format!("classhub-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("classhub.toml");
        std::fs::write(&file, "data_dir = \"/var/lib/classhub\"\n[http]\nlisten = \"127.0.0.1:9000\"\n").unwrap();
        let env = [("CLASSHUB_HTTP_LISTEN".to_owned(), "127.0.0.1:9100".to_owned())];
        let s = Settings::load(Some(&file), env).unwrap();
        assert_eq!(s.data_dir, PathBuf::from("/var/lib/classhub"));
        assert_eq!(s.http.listen.port(), 9100);
        assert_eq!(s.mqtt.listen.port(), 1883, "untouched keys keep their defaults");
    }

    #[test]
    fn the_printed_defaults_read_back_as_the_defaults() {
        let text = Settings::default_toml();
        assert_eq!(toml::from_str::<Settings>(&text).unwrap(), Settings::default());
    }

    #[test]
    fn a_misspelt_key_or_a_bad_value_is_a_clear_error() {
        let dir = std::env::temp_dir().join(format!("classhub-config-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("classhub.toml");
        std::fs::write(&file, "[htp]\nlisten = \"x\"\n").unwrap();
        assert!(matches!(Settings::load(Some(&file), []), Err(ConfigError::Toml(..))));
        let env = [("CLASSHUB_MQTT_LISTEN".to_owned(), "not an address".to_owned())];
        assert!(matches!(Settings::load(None, env), Err(ConfigError::Env(..))));
    }
}
