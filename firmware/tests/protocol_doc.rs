//! `docs/protocol.md` tells the truth: every `mosquitto_pub` example in it is a well-formed message
//! in its canonical spelling, and every MAC in it verifies under the document's example key.

use firmware::protocol::{
    self, Ack, Answer, CheckIn, ClickerTopic, DeviceKey, DisplayState, Hello, PairTopic, QuestionAnnouncement, Status,
    mac,
    pairing::{PairConfirm, PairDone, PairReply, PairStart},
    topics::{self, Parsed},
    update::{FwChunk, FwOffer, FwProgress},
};

const DOC: &str = include_str!("../../docs/protocol.md");

/// `(topic, payload)` of every `mosquitto_pub -t '...' -m '...'` line.
fn examples() -> Vec<(String, String)> {
    DOC.lines()
        .filter(|l| l.starts_with("mosquitto_pub") && l.contains(" -m '"))
        .map(|l| {
            let quoted = |flag: &str| {
                let start = l.find(flag).unwrap_or_else(|| panic!("{flag} in {l}")) + flag.len();
                let end = l[start..].find('\'').unwrap() + start;
                l[start..end].to_owned()
            };
            (quoted("-t '"), quoted("-m '"))
        })
        .collect()
}

/// Decodes with the device's codec, checks the spelling is canonical, returns the message.
fn canonical<T: serde::Serialize + serde::de::DeserializeOwned>(payload: &str) -> T {
    let msg: T = protocol::decode(payload.as_bytes()).unwrap_or_else(|e| panic!("{payload}: {e}"));
    assert_eq!(protocol::encode(&msg).unwrap().as_slice(), payload.as_bytes(), "canonical spelling");
    msg
}

#[test]
fn every_example_in_the_protocol_document_is_a_real_message() {
    let key = DeviceKey::parse("000102030405060708090a0b0c0d0e0f").unwrap();
    let examples = examples();
    assert!(examples.len() >= 14, "found {} examples", examples.len());
    let mut signed = 0;
    for (topic, payload) in &examples {
        match topics::parse(topic).unwrap_or_else(|e| panic!("{topic}: {e:?}")) {
            Parsed::Question(_) => {
                canonical::<QuestionAnnouncement>(payload);
            }
            Parsed::Display(_) => {
                canonical::<DisplayState>(payload);
            }
            Parsed::Pair { kind, .. } => match kind {
                PairTopic::Start => drop(canonical::<PairStart>(payload)),
                PairTopic::Reply => drop(canonical::<PairReply>(payload)),
                PairTopic::Confirm => drop(canonical::<PairConfirm>(payload)),
                PairTopic::Done => drop(canonical::<PairDone>(payload)),
            },
            Parsed::Clicker { device, kind, .. } => {
                let verified = match kind {
                    ClickerTopic::Status => {
                        canonical::<Status>(payload);
                        continue;
                    }
                    // Firmware updates carry no MAC: the image itself is signed.
                    ClickerTopic::FwOffer => {
                        canonical::<FwOffer>(payload);
                        continue;
                    }
                    ClickerTopic::FwChunk => {
                        canonical::<FwChunk>(payload);
                        continue;
                    }
                    ClickerTopic::FwProgress => mac::verify(&key, &device, &canonical::<FwProgress>(payload)),
                    ClickerTopic::Hello => mac::verify(&key, &device, &canonical::<Hello>(payload)),
                    ClickerTopic::Answer => mac::verify(&key, &device, &canonical::<Answer>(payload)),
                    ClickerTopic::CheckIn => mac::verify(&key, &device, &canonical::<CheckIn>(payload)),
                    ClickerTopic::Ack => {
                        let ack = canonical::<Ack>(payload);
                        if ack.mac.is_none() {
                            continue; // the document's unsigned ack, for an unknown device
                        }
                        mac::verify(&key, &device, &ack)
                    }
                };
                assert_eq!(verified, Ok(()), "MAC of {topic} {payload}");
                signed += 1;
            }
        }
    }
    assert!(signed >= 7, "{signed} signed examples");
}

#[test]
fn the_worked_example_matches_the_document() {
    let answer: Answer =
        protocol::decode(br#"{"seq":12884901890,"q":17,"answer":"B","mac":"3257cb00e9bffe52"}"#).unwrap();
    let device = firmware::protocol::DeviceId::parse("c-0001").unwrap();
    let input = mac::input_text(&device, &answer);
    assert!(DOC.contains(&input.replace('\n', "\\n")), "the document shows the input {input:?}");
}

#[test]
fn the_worked_pairing_example_is_a_real_exchange() {
    use firmware::pake::{Exchange, PairCode};
    let room = firmware::protocol::RoomCode::parse("b-204").unwrap();
    let claim = firmware::protocol::ClaimId::parse("5e1f0a773c219d04").unwrap().0;
    let code = PairCode::parse("BDAECAB").unwrap();
    let clicker = Exchange::start(&code, &room, &claim, &[7; 64]).unwrap();
    let hub = Exchange::start(&code, &room, &claim, &[9; 64]).unwrap();
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let (c, h) = (clicker.share(), hub.share());
    assert!(DOC.contains(&hex(&c)) && DOC.contains(&hex(&h)), "the document shows both shares");
    let keys = clicker.finish(&h, &room, &claim, true).unwrap();
    let device = firmware::protocol::DeviceId::parse("c-3fa29b1c").unwrap();
    assert!(DOC.contains(&hex(&keys.clicker_confirms())) && DOC.contains(&hex(&keys.hub_confirms(&device))));
    assert!(DOC.contains(&format!("`{}`", keys.device_key(&device).to_hex())), "and the device key it yields");
}
