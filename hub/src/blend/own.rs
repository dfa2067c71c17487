//! The hub's own events as xAPI statements, sans-IO: an answer becomes "answered" a question, a
//! check-in "attended" a session. The actor is pseudonymous: an account whose name is an HMAC of the
//! student's id under a per-school secret, so the statements can leave the hub without a name in
//! them. Statement ids come from the clicker and its sequence number, so publishing twice changes
//! nothing.

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The home page of the hub's pseudonymous accounts.
pub const HOME: &str = "urn:classhub:student";

/// A student's pseudonym: HMAC-SHA256 of their id under the school's secret, 32 hex digits.
pub fn pseudonym(secret: &[u8], student: &str) -> String {
    // Cannot fail: HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
    mac.update(student.as_bytes());
    crate::hex(&mac.finalize().into_bytes()[..16])
}

/// A statement id fixed by the clicker and the message's sequence number (a version 5 style UUID
/// from SHA-256).
pub fn statement_id(device: &str, seq: i64) -> String {
    let d = Sha256::digest(format!("classhub/v1\n{device}\n{seq}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    super::xapi::uuid_text(&b)
}

/// One of the hub's own events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Own {
    /// A clicker's answer to a question.
    Answered {
        /// The question.
        question: i64,
        /// The buttons (`"B"`, `"AC"`).
        answer: String,
    },
    /// A check-in to a session.
    Attended {
        /// The session.
        session: i64,
    },
}

/// The statement for one event: `pseudonym` is the student's, `at` an ISO 8601 time, `class` and
/// `room` go in the context.
pub fn statement(event: &Own, device: &str, seq: i64, pseudonym: &str, at: &str, class: &str, room: &str) -> Value {
    let (verb, object) = match event {
        Own::Answered { question, .. } => (
            json!({ "id": "http://adlnet.gov/expapi/verbs/answered", "display": { "nl-NL": "beantwoordde", "en-US": "answered" } }),
            json!({ "objectType": "Activity", "id": format!("urn:classhub:question:{question}"),
                    "definition": { "type": "http://adlnet.gov/expapi/activities/cmi.interaction", "interactionType": "choice" } }),
        ),
        Own::Attended { session } => (
            json!({ "id": "http://adlnet.gov/expapi/verbs/attended", "display": { "nl-NL": "was aanwezig bij", "en-US": "attended" } }),
            json!({ "objectType": "Activity", "id": format!("urn:classhub:session:{session}"),
                    "definition": { "type": "http://adlnet.gov/expapi/activities/meeting" } }),
        ),
    };
    let mut s = json!({
        "id": statement_id(device, seq),
        "actor": { "objectType": "Agent", "account": { "homePage": HOME, "name": pseudonym } },
        "verb": verb,
        "object": object,
        "timestamp": at,
        "context": { "platform": "classhub", "extensions": { "urn:classhub:class": class, "urn:classhub:room": room } }
    });
    if let Own::Answered { answer, .. } = event {
        s["result"] = json!({ "response": answer });
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blend::xapi;

    #[test]
    fn an_answer_becomes_a_valid_statement_without_a_name_in_it() {
        let who = pseudonym(b"school secret", "stud-7781");
        assert_eq!(who.len(), 32);
        assert_ne!(who, pseudonym(b"another school", "stud-7781"), "another school cannot link them");
        let s = statement(
            &Own::Answered { question: 12, answer: "B".into() },
            "c-00ab12cd",
            4_294_967_301,
            &who,
            "2026-11-20T09:15:00Z",
            "3A",
            "b-204",
        );
        assert_eq!(xapi::validate(&s), Ok(()));
        assert!(xapi::is_uuid(s["id"].as_str().unwrap()));
        assert_eq!(s["id"], json!(statement_id("c-00ab12cd", 4_294_967_301)), "the same message, the same id");
        assert_ne!(statement_id("c-00ab12cd", 1), statement_id("c-00ab12cd", 2));
        assert!(!s.to_string().contains("stud-7781"));
        let a = statement(&Own::Attended { session: 3 }, "c-00ab12cd", 9, &who, "2026-11-20T09:00:00Z", "3A", "b-204");
        assert_eq!(xapi::validate(&a), Ok(()));
        assert_eq!(a["verb"]["id"], json!("http://adlnet.gov/expapi/verbs/attended"));
    }
}
