use proptest::prelude::*;
use torsion::testing::replay_decoder;

use super::*;
use crate::fuzzing::decode_all;
use crate::message::{Prefix, Tag};

fn kinds(outcome: &crate::fuzzing::Outcome) -> Vec<String> {
    outcome
        .items
        .iter()
        .map(|item| match item {
            Ok(message) => message.to_string(),
            Err(error) => format!("error: {error}"),
        })
        .collect()
}

#[test]
fn crlf_and_bare_lf_both_end_lines_at_every_chunk_size() {
    let decoded = replay_decoder(b"NICK a\r\nUSER a 0 * :A\nPING x\r\n", IrcCodec::new);
    let commands: Vec<_> = decoded.frames.iter().map(|m| m.command.as_str()).collect();
    assert_eq!(commands, ["NICK", "USER", "PING"]);
    assert_eq!(decoded.error, None);
}

#[test]
fn empty_lines_are_skipped() {
    let decoded = replay_decoder(b"\r\n\n   \r\nPING x\r\n", IrcCodec::new);
    assert_eq!(decoded.frames, [Message::new("PING", ["x"])]);
}

#[test]
fn a_line_of_exactly_512_bytes_passes_and_513_does_not() {
    let fits = format!(
        "PRIVMSG #a :hi {}",
        "x".repeat(510 - "PRIVMSG #a :hi ".len())
    );
    let over = format!("{fits}y");
    let data = format!("{fits}\r\n{over}\r\nPING x\r\n");
    for sizes in [&[usize::MAX][..], &[1], &[7, 100]] {
        let outcome = decode_all(IrcCodec::new(), data.as_bytes(), sizes);
        assert_eq!(
            kinds(&outcome),
            [
                fits.clone(),
                "error: too long: message".into(),
                "PING x".into()
            ],
            "{sizes:?}"
        );
    }
}

#[test]
fn tags_have_their_own_budget_of_8191_bytes() {
    let tags = format!("@k={}", "v".repeat(8191 - "@k= ".len()));
    let fits = format!("{tags} PING x\r\n");
    let over = format!("{tags}v PING x\r\n");
    let outcome = decode_all(
        IrcCodec::new(),
        format!("{fits}{over}PONG y\n").as_bytes(),
        &[64],
    );
    assert!(matches!(&outcome.items[0], Ok(m) if m.command == "PING"));
    assert_eq!(outcome.items[1], Err("too long: tags".into()));
    assert_eq!(outcome.items[2], Ok(Message::new("PONG", ["y"])));
}

#[test]
fn a_huge_line_without_an_end_holds_only_a_line_and_is_dropped_up_to_its_end() {
    let mut codec = IrcCodec::new();
    let mut buffer = BytesMut::new();
    let mut errors = 0;
    for _ in 0..1000 {
        buffer.extend_from_slice(&[b'x'; 1000]);
        match codec.decode(&mut buffer) {
            Err(error) => {
                assert!(error.is_line_too_long());
                errors += 1;
            }
            Ok(frame) => assert_eq!(frame, None),
        }
        assert!(buffer.len() <= MAX_LINE_LENGTH + MAX_TAGS_LENGTH);
    }
    assert_eq!(errors, 1, "one line, one error");
    buffer.extend_from_slice(b"still the long line\r\nPING after\r\n");
    assert_eq!(
        codec.decode(&mut buffer).unwrap(),
        Some(Message::new("PING", ["after"]))
    );
}

#[test]
fn the_largest_limits_do_not_overflow() {
    let decoded = replay_decoder(b"PING x\r\nno end", || {
        IrcCodec::with_limits(usize::MAX, usize::MAX)
    });
    assert_eq!(decoded.frames, [Message::new("PING", ["x"])]);
    assert_eq!(decoded.rest, b"no end");
}

#[test]
fn a_malformed_line_is_an_error_and_the_next_line_decodes() {
    let outcome = decode_all(IrcCodec::new(), b":only-a-prefix\r\nPING x\r\n", &[3]);
    assert!(matches!(&outcome.items[0], Err(e) if e.contains("malformed")));
    assert_eq!(outcome.items[1], Ok(Message::new("PING", ["x"])));
}

#[test]
fn encoding_refuses_invalid_and_over_long_messages_and_writes_nothing() {
    let mut codec = IrcCodec::new();
    let mut buffer = BytesMut::new();
    let long = Message::new("PRIVMSG", ["#a".to_owned(), "x".repeat(600)]);
    assert!(
        codec
            .encode(&long, &mut buffer)
            .unwrap_err()
            .is_line_too_long()
    );
    let invalid = Message::new("PRIVMSG", ["#a", "x\r\nQUIT"]);
    assert!(codec.encode(&invalid, &mut buffer).is_err());
    assert!(buffer.is_empty());
    codec
        .encode(Message::new("PING", ["x"]), &mut buffer)
        .unwrap();
    assert_eq!(&buffer[..], b"PING x\r\n");
}

fn word() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9#&!@.\\[\\]{}|^_-]{1,12}"
}

fn any_message() -> impl Strategy<Value = Message> {
    let tag = (
        "\\+?[a-z]{1,8}(/[a-z]{1,4})?",
        proptest::option::of("[ -~\r\n;\\\\éü]{1,12}"),
    );
    (
        proptest::collection::btree_map(tag.0, tag.1, 0..4),
        proptest::option::of(word()),
        prop_oneof!["[A-Z]{1,10}", "[0-9]{3}"],
        proptest::collection::vec(word(), 0..5),
        proptest::option::of("[ -~é]{0,40}"),
    )
        .prop_map(|(tags, prefix, command, middle, trailing)| Message {
            tags: tags
                .into_iter()
                .map(|(key, value)| Tag { key, value })
                .collect(),
            prefix: prefix.map(Prefix::new),
            command,
            params: middle.into_iter().chain(trailing).collect(),
        })
}

proptest! {
    // A fixed seed: CI runs the same cases every time (the fuzz target
    // explores further).
    #![proptest_config(ProptestConfig {
        cases: 256,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x4952_4321),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_fuzz_targets_property_holds_for_random_input(
        data in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        crate::fuzzing::lines(&data);
    }

    #[test]
    fn the_fuzz_targets_property_holds_for_line_like_input(
        head in proptest::collection::vec(any::<u8>(), 12),
        body in "(@[a-z=;\\\\ ]{0,20} )?(:[a-z!@.]{1,10} )?[A-Za-z0-9]{1,6}( [:a-z #]{0,30}){0,4}(\r\n|\n|\r| )",
        repeat in 1usize..6,
    ) {
        let mut data = head;
        for _ in 0..repeat {
            data.extend_from_slice(body.as_bytes());
        }
        crate::fuzzing::lines(&data);
    }

    #[test]
    fn encoded_messages_decode_to_themselves_in_any_chunking(
        messages in proptest::collection::vec(any_message(), 0..5),
        sizes in proptest::collection::vec(1usize..64, 1..6),
    ) {
        let mut data = BytesMut::new();
        for message in &messages {
            IrcCodec::new().encode(message, &mut data).unwrap();
        }
        let outcome = decode_all(IrcCodec::new(), &data, &sizes);
        let expected: Vec<_> = messages
            .into_iter()
            .map(|mut message| {
                for tag in &mut message.tags {
                    tag.value = tag.value.take().filter(|value| !value.is_empty());
                }
                Ok(message)
            })
            .collect();
        prop_assert_eq!(outcome.items, expected);
        prop_assert!(outcome.rest.is_empty());
    }
}
