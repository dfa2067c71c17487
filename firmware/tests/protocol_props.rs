//! Properties of wire protocol v1: every message survives both codecs (device and hub), and a MAC
//! fails on any change of payload, key, device or a replayed sequence number.

use firmware::protocol::{
    self, Ack, AckStatus, Answer, AuthError, CheckIn, Choices, DeviceId, DeviceKey, DisplayPhase, DisplayState, Hello,
    MacError, MacTag, QuestionAnnouncement, QuestionKind, QuestionSpec, QuestionState, RejectReason, Seq, mac,
};
use proptest::prelude::*;

fn seq() -> impl Strategy<Value = Seq> {
    (any::<u32>(), any::<u32>()).prop_map(|(b, c)| Seq::new(b, c))
}

fn choices() -> impl Strategy<Value = Choices> {
    (0u8..32).prop_map(|bits| {
        let letters: String =
            "ABCDE".chars().enumerate().filter(|(i, _)| bits & (1 << i) != 0).map(|(_, c)| c).collect();
        Choices::parse(&letters).unwrap()
    })
}

fn key() -> impl Strategy<Value = DeviceKey> {
    any::<[u8; 16]>().prop_map(DeviceKey)
}

fn device() -> impl Strategy<Value = DeviceId> {
    "[a-z0-9][a-z0-9_-]{0,23}".prop_map(|s| DeviceId::parse(&s).unwrap())
}

fn spec() -> impl Strategy<Value = QuestionSpec> {
    prop_oneof![
        (2u8..=5).prop_map(|n| QuestionSpec::new(QuestionKind::Single, n).unwrap()),
        (2u8..=5).prop_map(|n| QuestionSpec::new(QuestionKind::Multi, n).unwrap()),
        Just(QuestionSpec::true_false()),
        Just(QuestionSpec::scale()),
    ]
}

fn status() -> impl Strategy<Value = (AckStatus, Option<RejectReason>)> {
    prop_oneof![
        Just((AckStatus::Stored, None)),
        Just((AckStatus::Duplicate, None)),
        Just((AckStatus::Closed, None)),
        proptest::sample::select(RejectReason::ALL.to_vec()).prop_map(|r| (AckStatus::Rejected, Some(r))),
    ]
}

fn hello() -> impl Strategy<Value = Hello> {
    (seq(), "[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}", any::<u16>(), -120i16..0, any::<u32>(), any::<[u8; 8]>()).prop_map(
        |(seq, fw, battery_mv, rssi, boot, mac)| Hello {
            seq,
            fw: fw.as_str().try_into().unwrap(),
            battery_mv,
            rssi,
            boot,
            mac: MacTag(mac),
        },
    )
}

/// Encodes on the device (serde-json-core) and decodes on the hub (serde_json), and the other way.
fn both_ways<T>(msg: &T) -> Result<(), TestCaseError>
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let device_bytes = protocol::encode(msg).unwrap();
    prop_assert_eq!(&serde_json::from_slice::<T>(&device_bytes).unwrap(), msg);
    prop_assert_eq!(&protocol::decode::<T>(&device_bytes).unwrap(), msg);
    let hub_bytes = serde_json::to_vec(msg).unwrap();
    prop_assert_eq!(&protocol::decode::<T>(&hub_bytes).unwrap(), msg);
    prop_assert_eq!(device_bytes.as_slice(), hub_bytes.as_slice(), "both sides write the same bytes");
    Ok(())
}

proptest! {
    #[test]
    fn answers_round_trip(seq in seq(), q in any::<u32>(), answer in choices(), mac in any::<[u8; 8]>()) {
        both_ways(&Answer { seq, q, answer, mac: MacTag(mac) })?;
    }

    #[test]
    fn hellos_round_trip(h in hello()) {
        both_ways(&h)?;
    }

    #[test]
    fn check_ins_and_acks_round_trip(seq in seq(), (status, reason) in status(), mac in proptest::option::of(any::<[u8; 8]>())) {
        both_ways(&CheckIn { seq, mac: MacTag([7; 8]) })?;
        both_ways(&Ack { seq, status, reason, mac: mac.map(MacTag) })?;
    }

    #[test]
    fn questions_and_displays_round_trip(q in any::<u32>(), spec in spec(), open in any::<bool>(), answered in 0u32..1000, counts in proptest::collection::vec(0u32..1000, 0..=5), correct in proptest::option::of(choices()), closes in proptest::option::of(any::<u64>())) {
        let state = if open { QuestionState::Open } else { QuestionState::Closed };
        both_ways(&QuestionAnnouncement { q, spec, state })?;
        let display = DisplayState {
            q, spec, phase: DisplayPhase::Revealed, answered, expected: 1000,
            counts: heapless::Vec::from_slice(&counts).unwrap(), correct, closes_at_ms: closes,
        };
        both_ways(&display)?;
    }

    #[test]
    fn garbage_never_decodes_into_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = protocol::decode::<Answer>(&bytes);
        let _ = protocol::decode::<Ack>(&bytes);
        let _ = protocol::decode::<QuestionAnnouncement>(&bytes);
        let _ = protocol::decode::<Hello>(&bytes);
    }

    #[test]
    fn a_signed_answer_verifies_and_any_change_breaks_it(
        key in key(), other_key in key(), dev in device(), other_dev in device(),
        seq in seq(), q in any::<u32>(), answer in choices(), other_answer in choices(),
    ) {
        let mut a = Answer { seq, q, answer, mac: MacTag([0; 8]) };
        mac::sign(&key, &dev, &mut a);
        prop_assert_eq!(mac::verify(&key, &dev, &a), Ok(()));
        // The hub decodes what went over the wire and still verifies it.
        let wire: Answer = serde_json::from_slice(&protocol::encode(&a).unwrap()).unwrap();
        prop_assert_eq!(mac::verify(&key, &dev, &wire), Ok(()));

        if other_key != key {
            prop_assert_eq!(mac::verify(&other_key, &dev, &a), Err(MacError::Mismatch));
        }
        if other_dev != dev {
            prop_assert_eq!(mac::verify(&key, &other_dev, &a), Err(MacError::Mismatch));
        }
        if other_answer != answer {
            prop_assert_eq!(mac::verify(&key, &dev, &Answer { answer: other_answer, ..a }), Err(MacError::Mismatch));
        }
        prop_assert_eq!(mac::verify(&key, &dev, &Answer { q: q.wrapping_add(1), ..a }), Err(MacError::Mismatch));
        prop_assert_eq!(mac::verify(&key, &dev, &Answer { seq: Seq(seq.0 ^ 1), ..a }), Err(MacError::Mismatch));
        let mut flipped = a.mac;
        flipped.0[0] ^= 0x80;
        prop_assert_eq!(mac::verify(&key, &dev, &Answer { mac: flipped, ..a }), Err(MacError::Mismatch));

        // Replays verify as MACs but are not fresh.
        prop_assert_eq!(mac::authenticate(&key, &dev, &a, None), Ok(()));
        prop_assert_eq!(mac::authenticate(&key, &dev, &a, Some(seq)), Err(AuthError::Replayed));
        if seq.0 > 0 {
            prop_assert_eq!(mac::authenticate(&key, &dev, &a, Some(Seq(seq.0 - 1))), Ok(()));
        }
    }

    #[test]
    fn a_check_in_cannot_pass_for_an_ack_or_a_hello(key in key(), dev in device(), seq in seq()) {
        let mut c = CheckIn { seq, mac: MacTag([0; 8]) };
        mac::sign(&key, &dev, &mut c);
        let ack = Ack { seq, status: AckStatus::Stored, reason: None, mac: Some(c.mac) };
        prop_assert_eq!(mac::verify(&key, &dev, &ack), Err(MacError::Mismatch));
    }
}

#[test]
fn payloads_over_256_bytes_are_refused_unread() {
    let big = vec![b' '; 257];
    assert_eq!(protocol::decode::<Answer>(&big), Err(protocol::CodecError::TooLarge));
}

#[test]
fn trailing_bytes_after_the_json_are_refused() {
    let ok = br#"{"seq":1,"mac":"0011223344556677"}"#;
    assert!(protocol::decode::<CheckIn>(ok).is_ok());
    assert!(protocol::decode::<CheckIn>(b"{\"seq\":1,\"mac\":\"0011223344556677\"}\n").is_ok());
    assert!(protocol::decode::<CheckIn>(br#"{"seq":1,"mac":"0011223344556677"}xx"#).is_err());
}
