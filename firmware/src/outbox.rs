//! The clicker's outbox: presses waiting to be sent or acknowledged, kept in order while the hub is
//! unreachable, bounded, oldest dropped first (and counted).

use heapless::Deque;

use crate::protocol::Choices;

/// How many unacknowledged messages a clicker keeps.
pub const CAPACITY: usize = 32;

/// A message waiting for the hub. Its sequence number is given when it is first sent, so messages
/// leave in sequence order even when a hello (which takes a number at connect time) comes between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outgoing {
    /// An answer to question `q`.
    Answer {
        /// The question's id.
        q: u32,
        /// The buttons chosen.
        choices: Choices,
    },
    /// A check-in.
    CheckIn,
}

/// The ordered, bounded outbox. The front may be in flight; it is never the one dropped.
#[derive(Debug, Default)]
pub struct Outbox {
    queue: Deque<Outgoing, CAPACITY>,
    dropped: u32,
}

impl Outbox {
    /// An empty outbox.
    pub const fn new() -> Self {
        Outbox { queue: Deque::new(), dropped: 0 }
    }

    /// Adds a message at the back. When full, drops the oldest message that is not in flight.
    pub fn push(&mut self, msg: Outgoing, front_in_flight: bool) {
        if self.queue.is_full() {
            self.dropped = self.dropped.saturating_add(1);
            if front_in_flight {
                // Keep the in-flight front; drop the one behind it, the oldest not yet sent.
                // Cannot fail: the queue is full, so it holds at least two entries.
                let front = self.queue.pop_front().expect("full queue has a front");
                self.queue.pop_front();
                let _ = self.queue.push_front(front);
            } else {
                self.queue.pop_front();
            }
        }
        // Cannot fail: room was made above.
        let _ = self.queue.push_back(msg);
    }

    /// The oldest message.
    pub fn front(&self) -> Option<&Outgoing> {
        self.queue.front()
    }

    /// Removes the oldest message, once acknowledged.
    pub fn pop(&mut self) -> Option<Outgoing> {
        self.queue.pop_front()
    }

    /// Messages waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Messages dropped because the outbox was full.
    pub const fn dropped(&self) -> u32 {
        self.dropped
    }

    /// The waiting messages, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Outgoing> {
        self.queue.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Button;

    fn answer(q: u32) -> Outgoing {
        Outgoing::Answer { q, choices: Choices::one(Button::A) }
    }

    #[test]
    fn a_full_outbox_drops_the_oldest_and_counts_it() {
        let mut o = Outbox::new();
        for q in 0..(CAPACITY as u32 + 3) {
            o.push(answer(q), false);
        }
        assert_eq!(o.len(), CAPACITY);
        assert_eq!(o.dropped(), 3);
        assert_eq!(o.front(), Some(&answer(3)));
    }

    #[test]
    fn the_message_in_flight_is_never_the_one_dropped() {
        let mut o = Outbox::new();
        for q in 0..CAPACITY as u32 {
            o.push(answer(q), false);
        }
        o.push(answer(100), true);
        assert_eq!(o.front(), Some(&answer(0)), "in flight, kept");
        assert_eq!(o.iter().nth(1), Some(&answer(2)), "answer 1 was the oldest not in flight");
        assert_eq!(o.iter().last(), Some(&answer(100)));
        assert_eq!(o.dropped(), 1);
    }
}
