//! The simulator: N virtual clickers, each the real firmware core on virtual pins with an MQTT
//! transport over rumqttc, against any broker. The hub's demo, tests and benchmarks drive clickers
//! through it.
//!
//! ```no_run
//! # async fn lesson() {
//! use firmware::protocol::{Button, RoomCode};
//! use firmware::sim::{BrokerAddr, Class, ClassConfig, Plan};
//! let room = RoomCode::parse("b-204").unwrap();
//! let broker = BrokerAddr::parse("mqtt://127.0.0.1:1883").unwrap();
//! let class = Class::start(ClassConfig::new(broker, room, "demo", 28));
//! class.wait_until(|s| s.online(), std::time::Duration::from_secs(5)).await.unwrap();
//! class.play(&Plan::Everyone(Button::B), 500, 1).await;
//! # }
//! ```

pub mod class;
pub mod clicker;
pub mod echo;
pub mod mqtt;
pub mod ota;
pub mod pair;
pub mod pins;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::protocol::{DeviceId, DeviceKey};

pub use class::{Class, ClassConfig, NotReached, Plan};
pub use clicker::{Finger, SimClicker, Snapshot};
pub use mqtt::MqttTransport;
pub use ota::Ota;
pub use pair::{PairFailed, pair_in_order, pair_one};
pub use pins::{SimBattery, SimClock, VirtualPin};

/// A broker's address, from `mqtt://host:port` (port 1883 when left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAddr {
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl BrokerAddr {
    /// Parses `mqtt://host[:port]` or `host[:port]`.
    pub fn parse(url: &str) -> Result<Self, String> {
        let rest = url.strip_prefix("mqtt://").unwrap_or(url).trim_end_matches('/');
        if rest.is_empty() || rest.contains('/') {
            return Err(format!("not a broker address: {url:?} (expected mqtt://host:port)"));
        }
        match rest.rsplit_once(':') {
            Some((host, port)) => {
                let port = port.parse().map_err(|_| format!("bad port in {url:?}"))?;
                Ok(BrokerAddr { host: host.trim_matches(['[', ']']).to_owned(), port })
            }
            None => Ok(BrokerAddr { host: rest.to_owned(), port: 1883 }),
        }
    }
}

impl std::fmt::Display for BrokerAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "mqtt://{}:{}", self.host, self.port)
    }
}

/// A simulated clicker's identity: what pairing would give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Its device id.
    pub device: DeviceId,
    /// Its key.
    pub key: DeviceKey,
}

/// The identity of simulated clicker `index` (from 1): device id `sim-0001`, key derived from
/// `seed`, so a hub and a simulator given the same seed agree without exchanging keys.
pub fn identity(seed: &str, index: usize) -> Identity {
    // Cannot fail: the format gives "sim-" and at most 20 digits, within the 24 allowed.
    let device = DeviceId::parse(&format!("sim-{index:04}")).expect("sim device ids are valid");
    // Cannot fail: HMAC takes keys of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(seed.as_bytes()).expect("any key length");
    mac.update(b"classhub sim key\n");
    mac.update(device.as_str().as_bytes());
    let mut key = [0u8; 16];
    key.copy_from_slice(&mac.finalize().into_bytes()[..16]);
    Identity { device, key: DeviceKey(key) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_addresses_parse() {
        assert_eq!(
            BrokerAddr::parse("mqtt://127.0.0.1:1883").unwrap(),
            BrokerAddr { host: "127.0.0.1".into(), port: 1883 }
        );
        assert_eq!(BrokerAddr::parse("hub.local").unwrap().port, 1883);
        assert!(BrokerAddr::parse("mqtt://h:port").is_err());
        assert!(BrokerAddr::parse("http://h/x").is_err());
    }

    #[test]
    fn identities_are_stable_and_distinct() {
        assert_eq!(identity("demo", 1), identity("demo", 1));
        assert_ne!(identity("demo", 1).key, identity("demo", 2).key);
        assert_ne!(identity("demo", 1).key, identity("other", 1).key);
        assert_eq!(identity("demo", 12).device.as_str(), "sim-0012");
    }
}
