use proptest::prelude::*;

use super::*;

fn mailbox(text: &str) -> Mailbox {
    Mailbox::parse(text).unwrap()
}

#[test]
fn verbs_are_taken_in_any_case() {
    assert_eq!(
        Command::parse(b"ehlo client.example"),
        Ok(Command::Ehlo("client.example".into()))
    );
    assert_eq!(Command::parse(b"Quit"), Ok(Command::Quit));
    assert_eq!(Command::parse(b"noop anything at all"), Ok(Command::Noop));
}

#[test]
fn mail_takes_the_null_path_size_and_body() {
    assert_eq!(
        Command::parse(b"MAIL FROM:<> SIZE=1000 body=7bit"),
        Ok(Command::Mail {
            from: None,
            params: MailParams {
                size: Some(1000),
                body: Some(Body::SevenBit)
            },
        })
    );
}

#[test]
fn a_space_after_the_colon_is_tolerated() {
    assert_eq!(
        Command::parse(b"RCPT TO: <bob@example.org>"),
        Ok(Command::Rcpt(mailbox("bob@example.org")))
    );
}

#[test]
fn a_source_route_is_dropped() {
    assert_eq!(
        Command::parse(b"RCPT TO:<@relay.example,@other.example:bob@example.org>"),
        Ok(Command::Rcpt(mailbox("bob@example.org")))
    );
}

#[test]
fn quoted_local_parts_may_hold_spaces_and_brackets() {
    let Ok(Command::Rcpt(to)) = Command::parse(br#"RCPT TO:<"odd > name"@example.org>"#) else {
        panic!("not parsed");
    };
    assert_eq!(to.as_str(), r#""odd > name"@example.org"#);
    assert_eq!(to.domain(), "example.org");
}

#[test]
fn postmaster_alone_is_a_mailbox() {
    assert_eq!(
        Command::parse(b"RCPT TO:<Postmaster>"),
        Ok(Command::Rcpt(mailbox("Postmaster")))
    );
}

#[test]
fn errors_carry_their_reply_codes() {
    for (line, code) in [
        (&b"FROB"[..], 500),
        (b"EXPN staff", 502),
        (b"MAIL FROM:alice@example.org", 501),
        (b"MAIL TO:<alice@example.org>", 501),
        (b"MAIL FROM:<alice@example.org> SMTPUTF8", 555),
        (b"MAIL FROM:<alice@example.org> SIZE=big", 501),
        (
            b"MAIL FROM:<alice@example.org> SIZE=99999999999999999999",
            501,
        ),
        (b"RCPT TO:<bob@example.org> NOTIFY=NEVER", 555),
        (b"RCPT TO:<>", 501),
        (b"RCPT TO:<bob>", 501),
        (b"RCPT TO:<bob@>", 501),
        (b"RCPT TO:<bob@exa mple.org>", 501),
        (b"RCPT TO:<bob@example.org", 501),
        (b"RCPT TO:<bob@example.org>x", 501),
        (b"HELO", 501),
        (b"DATA now", 501),
        (b"MAIL FROM:<\xc3\xa9@example.org>", 501),
    ] {
        let error = Command::parse(line).unwrap_err();
        assert_eq!(
            error.code(),
            code,
            "{:?}: {error}",
            String::from_utf8_lossy(line)
        );
    }
}

#[test]
fn commands_are_written_as_clients_send_them() {
    let command = Command::Mail {
        from: Some(mailbox("a@b.example")),
        params: MailParams {
            size: Some(12),
            body: Some(Body::EightBitMime),
        },
    };
    assert_eq!(
        command.to_string(),
        "MAIL FROM:<a@b.example> SIZE=12 BODY=8BITMIME"
    );
    assert_eq!(
        Command::Rcpt(mailbox("c@d.example")).to_string(),
        "RCPT TO:<c@d.example>"
    );
}

/// Lines made of the pieces commands are made of, so that many of them
/// parse (random bytes alone would hardly ever reach past the verb).
fn command_like() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(&b"MAIL FROM:"[..]),
        Just(&b"RCPT TO:"[..]),
        Just(&b"EHLO "[..]),
        Just(&b"HELO "[..]),
        Just(&b"DATA"[..]),
        Just(&b"QUIT"[..]),
        Just(&b"VRFY "[..]),
        Just(&b"<"[..]),
        Just(&b">"[..]),
        Just(&b"@"[..]),
        Just(&b"\""[..]),
        Just(&b"\\"[..]),
        Just(&b" "[..]),
        Just(&b"."[..]),
        Just(&b","[..]),
        Just(&b":"[..]),
        Just(&b"["[..]),
        Just(&b"]"[..]),
        Just(&b"a"[..]),
        Just(&b"example.org"[..]),
        Just(&b"SIZE="[..]),
        Just(&b"BODY=8BITMIME"[..]),
        Just(&b"7"[..]),
        Just(&b"\r"[..]),
        Just(&b"\xff"[..]),
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
}

proptest! {
    // A fixed seed: CI runs the same cases every time (the fuzz target
    // explores further).
    #![proptest_config(ProptestConfig {
        cases: 512,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x534d_5450),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn command_like_lines_hold_the_fuzz_targets_property(line in command_like()) {
        crate::fuzzing::command_line(&line);
    }

    #[test]
    fn random_bytes_hold_the_fuzz_targets_property(
        data in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        crate::fuzzing::command_line(&data);
    }

    #[test]
    fn every_valid_mailbox_round_trips(
        local in "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,10}(\\.[a-z0-9]{1,5}){0,2}",
        domain in "[a-z0-9-]{1,10}(\\.[a-z0-9-]{1,10}){0,3}",
    ) {
        let text = format!("{local}@{domain}");
        let command = Command::parse(format!("RCPT TO:<{text}>").as_bytes()).unwrap();
        prop_assert_eq!(command.to_string(), format!("RCPT TO:<{text}>"));
    }
}
