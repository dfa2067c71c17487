//! A fake network for the firmware's host tests: the test plays broker and hub.
#![allow(dead_code)]

use std::collections::VecDeque;

use firmware::ports::{ConnectRequest, Inbound, Link, Transport};
use firmware::protocol::{self, Answer, ClickerTopic};

/// The network as the clicker sees it; the test plays broker and hub.
#[derive(Default)]
pub struct Net {
    pub up: bool,
    pub fresh_session: bool,
    pub connects: u32,
    pub disconnects: u32,
    pub subscriptions: Vec<String>,
    pub published: Vec<(String, Vec<u8>, bool)>,
    pub inbox: VecDeque<Inbound>,
}

impl Transport for Net {
    type Error = ();
    fn connect(&mut self, req: &ConnectRequest<'_>) -> Result<(), ()> {
        assert!(req.will_topic.ends_with("/status"));
        assert_eq!(req.will_payload, br#"{"state":"offline"}"#);
        self.connects += 1;
        Ok(())
    }
    fn disconnect(&mut self) -> Result<(), ()> {
        self.disconnects += 1;
        self.up = false;
        Ok(())
    }
    fn link(&mut self) -> Link {
        match (self.up, std::mem::take(&mut self.fresh_session)) {
            (false, _) => Link::Down,
            (true, true) => Link::NewSession,
            (true, false) => Link::Up,
        }
    }
    fn subscribe(&mut self, filter: &str) -> Result<(), ()> {
        self.subscriptions.push(filter.to_owned());
        Ok(())
    }
    fn publish(&mut self, topic: &str, payload: &[u8], retain: bool) -> Result<(), ()> {
        if !self.up {
            return Err(());
        }
        self.published.push((topic.to_owned(), payload.to_vec(), retain));
        Ok(())
    }
    fn receive(&mut self) -> Option<Inbound> {
        self.inbox.pop_front()
    }
    fn rssi(&self) -> Option<i16> {
        Some(-61)
    }
}

impl Net {
    pub fn come_up(&mut self) {
        self.up = true;
        self.fresh_session = true;
    }

    pub fn deliver(&mut self, topic: &str, payload: &[u8]) {
        self.inbox.push_back(Inbound {
            topic: topic.try_into().unwrap(),
            payload: protocol::Payload::from_slice(payload).unwrap(),
        });
    }

    pub fn of_kind(&self, kind: ClickerTopic) -> Vec<&[u8]> {
        let suffix = format!("/{}", kind.as_str());
        self.published.iter().filter(|(t, _, _)| t.ends_with(&suffix)).map(|(_, p, _)| p.as_slice()).collect()
    }

    pub fn answers(&self) -> Vec<Answer> {
        self.of_kind(ClickerTopic::Answer).iter().map(|p| serde_json::from_slice(p).unwrap()).collect()
    }
}
