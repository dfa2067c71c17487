//! The core's ports to the world besides pins: the network transport, the battery and the
//! persisted boot counter. A board crate implements them; tests and the simulator bring fakes.

use crate::protocol::update::{FwChunk, FwError, FwOffer, FwProgress};
use crate::protocol::{Payload, Topic};

/// What the transport says about its link to the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Not connected.
    Down,
    /// Connected, and the core has already been told about this session.
    Up,
    /// Connected in a session the core has not seen yet: subscribe and say hello again.
    NewSession,
}

/// What the core asks for when it wants a connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnectRequest<'a> {
    /// The MQTT client id: `<room>:<device>` (see [`crate::protocol::topics::client_id`]).
    pub client_id: &'a str,
    /// Where the broker publishes the last will, retained: the clicker's status topic.
    pub will_topic: &'a str,
    /// The last will: `{"state":"offline"}`.
    pub will_payload: &'a [u8],
    /// MQTT keep-alive in seconds.
    pub keep_alive_s: u16,
}

/// A message received on a subscribed topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    /// The topic it arrived on.
    pub topic: Topic,
    /// The payload; a transport drops anything longer than [`crate::protocol::MAX_PAYLOAD`].
    pub payload: Payload,
}

/// The network as the core sees it: publish, subscribe, receive. It never knows MQTT.
/// Every publish is QoS 1; the core retries on its own until the hub acknowledges.
pub trait Transport {
    /// Transport failure.
    type Error: core::fmt::Debug;
    /// Starts connecting; [`Transport::link`] reports when the link is up.
    fn connect(&mut self, req: &ConnectRequest<'_>) -> Result<(), Self::Error>;
    /// Closes the connection cleanly (no last will).
    fn disconnect(&mut self) -> Result<(), Self::Error>;
    /// The link's state; reports [`Link::NewSession`] once per new session.
    fn link(&mut self) -> Link;
    /// Subscribes to a topic filter for this session.
    fn subscribe(&mut self, filter: &str) -> Result<(), Self::Error>;
    /// Publishes at QoS 1.
    fn publish(&mut self, topic: &str, payload: &[u8], retain: bool) -> Result<(), Self::Error>;
    /// The next received message, if any.
    fn receive(&mut self) -> Option<Inbound>;
    /// Signal strength of the radio link in dBm, if known.
    fn rssi(&self) -> Option<i16>;
}

/// The battery gauge.
pub trait Battery {
    /// The battery voltage in millivolts, or `None` when the reading failed.
    fn millivolts(&mut self) -> Option<u16>;
}

/// The boot counter, persisted so that a sequence number is never reused.
pub trait BootCounter {
    /// Storage failure.
    type Error: core::fmt::Debug;
    /// Reads the last boot counter, persists the next one, and returns it. Called once per boot,
    /// before the first message.
    fn next_boot(&mut self) -> Result<u32, Self::Error>;
}

/// Firmware updates: what the core hands offers and chunks to ([`crate::ota::Updater`] on a board
/// with flash to spare, [`NoUpdates`] on one without).
pub trait Updates {
    /// Whether this clicker takes updates (it then listens for offers and chunks).
    fn enabled(&self) -> bool;
    /// An offer: where to start, or why not.
    fn on_offer(&mut self, offer: &FwOffer) -> FwProgress;
    /// A chunk: progress to report, if any.
    fn on_chunk(&mut self, chunk: &FwChunk) -> Option<FwProgress>;
    /// A new image is installed on trial: reboot into it at a quiet moment.
    fn reboot_requested(&self) -> bool;
}

/// A clicker that takes no updates.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoUpdates;

impl Updates for NoUpdates {
    fn enabled(&self) -> bool {
        false
    }

    fn on_offer(&mut self, offer: &FwOffer) -> FwProgress {
        FwProgress::new(offer.v.clone(), None, false, Some(FwError::Flash))
    }

    fn on_chunk(&mut self, _: &FwChunk) -> Option<FwProgress> {
        None
    }

    fn reboot_requested(&self) -> bool {
        false
    }
}
