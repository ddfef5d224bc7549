//! The server's answers to single messages, well-formed and not, without
//! sockets.

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RecordType};

use super::*;
use crate::fuzzing::TEST_ZONE;

fn zones() -> Vec<Zone> {
    vec![Zone::parse(TEST_ZONE, None).unwrap()]
}

fn request(name: &str, record_type: RecordType, edns: Option<u16>) -> Message {
    let mut message = Message::new(0xbeef, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(Name::from_ascii(name).unwrap(), record_type));
    if let Some(size) = edns {
        let mut opt = Edns::new();
        opt.set_max_payload(size);
        message.set_edns(opt);
    }
    message
}

fn ask(request: &Message, transport: TransportKind) -> (Message, usize) {
    let bytes = respond(&zones(), &request.to_vec().unwrap(), transport).expect("an answer");
    (Message::from_vec(&bytes).unwrap(), bytes.len())
}

#[test]
fn a_query_is_answered_with_its_id_question_and_rd() {
    let (answer, _) = ask(
        &request("www.example.test.", RecordType::A, None),
        TransportKind::Udp,
    );
    assert_eq!(answer.metadata.id, 0xbeef);
    assert_eq!(answer.metadata.message_type, MessageType::Response);
    assert!(answer.metadata.authoritative);
    assert!(answer.metadata.recursion_desired);
    assert!(!answer.metadata.recursion_available);
    assert_eq!(
        answer.queries,
        request("www.example.test.", RecordType::A, None).queries
    );
    assert_eq!(answer.answers.len(), 1);
    assert!(answer.edns.is_none(), "no EDNS in, none out");
}

#[test]
fn an_edns_query_gets_edns_back() {
    let (answer, _) = ask(
        &request("www.example.test.", RecordType::A, Some(4096)),
        TransportKind::Udp,
    );
    assert_eq!(answer.edns.unwrap().max_payload(), MAX_UDP_PAYLOAD);
}

#[test]
fn past_512_bytes_without_edns_the_udp_answer_is_truncated() {
    let medium = request("medium.example.test.", RecordType::TXT, None);
    let (answer, size) = ask(&medium, TransportKind::Udp);
    assert!(answer.metadata.truncation);
    assert!(answer.answers.is_empty());
    assert_eq!(answer.queries, medium.queries, "the question stays");
    assert!(size <= 512);
    // With EDNS the same answer fits, and over TCP it always does.
    let (answer, size) = ask(
        &request("medium.example.test.", RecordType::TXT, Some(1232)),
        TransportKind::Udp,
    );
    assert!(!answer.metadata.truncation);
    assert_eq!(answer.answers.len(), 3);
    assert!(size > 512, "{size} bytes");
    let (answer, _) = ask(&medium, TransportKind::Tcp);
    assert!(!answer.metadata.truncation);
    assert_eq!(answer.answers.len(), 3);
}

#[test]
fn an_edns_offer_above_1232_bytes_is_held_to_1232() {
    let big = request("big.example.test.", RecordType::TXT, Some(65000));
    let (answer, size) = ask(&big, TransportKind::Udp);
    assert!(answer.metadata.truncation);
    assert!(size <= usize::from(MAX_UDP_PAYLOAD));
    let (answer, size) = ask(&big, TransportKind::Tcp);
    assert!(!answer.metadata.truncation);
    assert_eq!(answer.answers.len(), 8);
    assert!(size > usize::from(MAX_UDP_PAYLOAD), "{size} bytes");
}

#[test]
fn a_name_outside_every_zone_is_refused() {
    let (answer, _) = ask(
        &request("www.example.net.", RecordType::A, None),
        TransportKind::Udp,
    );
    assert_eq!(answer.metadata.response_code, ResponseCode::Refused);
    assert!(!answer.metadata.authoritative);
}

#[test]
fn the_longest_matching_zone_answers() {
    let inner = Zone::parse(
        "$ORIGIN inner.example.test.\n@ 60 SOA ns h 1 2 3 4 5\nwww 60 A 192.0.2.200\n",
        None,
    )
    .unwrap();
    let zones = [zones(), vec![inner]].concat();
    let bytes = request("www.inner.example.test.", RecordType::A, None)
        .to_vec()
        .unwrap();
    let answer = Message::from_vec(&respond(&zones, &bytes, TransportKind::Udp).unwrap()).unwrap();
    assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
    assert_eq!(answer.answers.len(), 1);
}

#[test]
fn zone_transfers_and_other_classes_are_refused() {
    let (answer, _) = ask(
        &request("example.test.", RecordType::AXFR, None),
        TransportKind::Tcp,
    );
    assert_eq!(answer.metadata.response_code, ResponseCode::Refused);
    let mut chaos = request("version.bind.", RecordType::TXT, None);
    chaos.queries[0].query_class = DNSClass::CH;
    let (answer, _) = ask(&chaos, TransportKind::Udp);
    assert_eq!(answer.metadata.response_code, ResponseCode::Refused);
}

#[test]
fn an_opcode_other_than_query_is_not_implemented() {
    let mut notify = request("example.test.", RecordType::SOA, None);
    notify.metadata.op_code = OpCode::Notify;
    let (answer, _) = ask(&notify, TransportKind::Udp);
    assert_eq!(answer.metadata.response_code, ResponseCode::NotImp);
    assert_eq!(answer.metadata.op_code, OpCode::Notify);
}

#[test]
fn two_questions_or_none_are_a_format_error() {
    let mut two = request("www.example.test.", RecordType::A, None);
    two.add_query(Query::query(
        Name::from_ascii("mail.example.test.").unwrap(),
        RecordType::A,
    ));
    assert_eq!(
        ask(&two, TransportKind::Udp).0.metadata.response_code,
        ResponseCode::FormErr
    );
    let none = Message::new(7, MessageType::Query, OpCode::Query);
    assert_eq!(
        ask(&none, TransportKind::Udp).0.metadata.response_code,
        ResponseCode::FormErr
    );
}

#[test]
fn a_format_error_echoing_too_many_questions_still_fits_a_datagram() {
    let mut many = Message::new(0x6730, MessageType::Query, OpCode::Query);
    // Names that differ in a long first label, which compression cannot
    // share.
    for i in 0..15 {
        let name = format!("{}{i}.example.test.", "a".repeat(60));
        many.add_query(Query::query(
            Name::from_ascii(&name).unwrap(),
            RecordType::A,
        ));
    }
    assert!(many.to_vec().unwrap().len() > usize::from(CLASSIC_UDP_PAYLOAD));
    let (answer, len) = ask(&many, TransportKind::Udp);
    assert!(len <= usize::from(CLASSIC_UDP_PAYLOAD), "{len} bytes");
    assert_eq!(answer.metadata.id, 0x6730);
    assert_eq!(answer.metadata.response_code, ResponseCode::FormErr);
    assert!(answer.metadata.truncation);
    // Over TCP there is room for all of them.
    let (answer, _) = ask(&many, TransportKind::Tcp);
    assert_eq!(answer.queries.len(), 15);
    assert!(!answer.metadata.truncation);
}

#[test]
fn an_edns_version_above_zero_is_badvers() {
    let mut query = request("www.example.test.", RecordType::A, Some(1232));
    query.edns.as_mut().unwrap().set_version(1);
    let (answer, _) = ask(&query, TransportKind::Udp);
    // 16 is BADVERS in an OPT and BADSIG in a TSIG: hickory reads it as
    // the latter.
    assert_eq!(
        u16::from(answer.metadata.response_code),
        u16::from(ResponseCode::BADVERS)
    );
    assert!(answer.answers.is_empty());
}

#[test]
fn a_compression_loop_is_a_format_error_with_the_requests_id() {
    // Header (id 0x3456, RD, one question), then a name that points at
    // itself.
    let looped = b"\x34\x56\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01";
    let bytes = respond(&zones(), looped, TransportKind::Udp).unwrap();
    let answer = Message::from_vec(&bytes).unwrap();
    assert_eq!(answer.metadata.id, 0x3456);
    assert_eq!(answer.metadata.response_code, ResponseCode::FormErr);
    assert!(answer.metadata.recursion_desired);
    assert!(answer.queries.is_empty());
}

#[test]
fn a_question_count_larger_than_the_message_is_a_format_error() {
    let mut bytes = request("www.example.test.", RecordType::A, None)
        .to_vec()
        .unwrap();
    bytes[5] = 5;
    let answer =
        Message::from_vec(&respond(&zones(), &bytes, TransportKind::Udp).unwrap()).unwrap();
    assert_eq!(answer.metadata.response_code, ResponseCode::FormErr);
}

#[test]
fn less_than_a_header_and_responses_are_dropped() {
    assert_eq!(respond(&zones(), b"\x12\x34\x01", TransportKind::Udp), None);
    assert_eq!(respond(&zones(), b"", TransportKind::Tcp), None);
    let mut response = request("www.example.test.", RecordType::A, None);
    response.metadata.message_type = MessageType::Response;
    assert_eq!(
        respond(&zones(), &response.to_vec().unwrap(), TransportKind::Udp),
        None
    );
}

mod properties {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, RngSeed};

    use super::*;

    fn config() -> Config {
        Config {
            cases: 512,
            // A fixed seed: a failure in CI replays the same cases here.
            rng_seed: RngSeed::Fixed(0xd115),
            failure_persistence: None,
            ..Config::default()
        }
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn any_bytes_hold_the_packet_property(
            bytes in proptest::collection::vec(any::<u8>(), 0..600),
        ) {
            crate::fuzzing::packet(&bytes);
        }

        /// Valid queries with a few bytes changed reach deeper into the
        /// parser than random bytes do.
        #[test]
        fn damaged_queries_hold_the_packet_property(
            name in prop::sample::select(vec!["www", "big", "chain", "sub", "nowhere"]),
            edns in prop::option::of(0..=u16::MAX),
            damage in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
            cut in any::<prop::sample::Index>(),
        ) {
            let query = request(&format!("{name}.example.test."), RecordType::ANY, edns);
            let mut bytes = query.to_vec().unwrap();
            for (at, value) in damage {
                let at = at.index(bytes.len());
                bytes[at] = value;
            }
            crate::fuzzing::packet(&bytes);
            crate::fuzzing::packet(&bytes[..cut.index(bytes.len() + 1)]);
        }
    }
}
