use super::*;

fn parse(line: &str) -> Message {
    Message::parse(line.as_bytes()).unwrap()
}

#[test]
fn a_full_line_has_tags_prefix_command_params_and_trailing() {
    let message = parse("@a=1;b :nick!user@host privmsg #chan :hello  world ");
    assert_eq!(message.tags, [Tag::new("a", "1"), Tag::flag("b")]);
    assert_eq!(message.prefix, Some(Prefix::new("nick!user@host")));
    assert_eq!(message.command, "PRIVMSG", "commands read upper case");
    assert_eq!(message.params, ["#chan", "hello  world "]);
}

#[test]
fn runs_of_spaces_and_a_trailing_space_separate_nothing() {
    let message = parse("USER  guest   0 *  :Real Name");
    assert_eq!(message.params, ["guest", "0", "*", "Real Name"]);
    assert_eq!(parse("JOIN #a ").params, ["#a"]);
}

#[test]
fn a_trailing_parameter_may_be_empty_or_start_with_a_colon() {
    assert_eq!(parse("TOPIC #a :").params, ["#a", ""]);
    assert_eq!(parse("PRIVMSG #a ::)").params, ["#a", ":)"]);
}

#[test]
fn a_numeric_is_a_command_of_three_digits() {
    let message = parse(":irc.example 433 * alice :Nickname is already in use");
    assert_eq!(message.numeric(), Some(Numeric::ERR_NICKNAMEINUSE));
    assert_eq!(message.source_nick(), Some("irc.example"));
    assert_eq!(parse("PING :x").numeric(), None);
}

#[test]
fn lines_without_a_command_are_malformed() {
    for line in [
        "",
        ":prefix-only",
        "@tags-only",
        "@a=1 :p",
        ": PRIVMSG x",
        "PRIV-MSG x",
    ] {
        let error = Message::parse(line.as_bytes()).unwrap_err();
        assert!(error.is_malformed(), "{line:?}: {error}");
    }
}

#[test]
fn cr_lf_and_nul_inside_a_line_are_malformed() {
    for line in [
        &b"PRIVMSG a :b\rc"[..],
        b"PRIVMSG a :b\0c",
        b"PRIVMSG a :b\nc",
    ] {
        assert!(Message::parse(line).unwrap_err().is_malformed());
    }
}

#[test]
fn bytes_that_are_not_utf8_read_as_latin1() {
    let message = Message::parse(b"PRIVMSG #a :caf\xe9").unwrap();
    assert_eq!(message.params[1], "caf\u{e9}");
}

#[test]
fn a_prefix_names_nick_user_and_host() {
    let prefix = Prefix::new("nick!user@host.example");
    assert_eq!(prefix.nick(), "nick");
    assert_eq!(prefix.username(), Some("user"));
    assert_eq!(prefix.host(), Some("host.example"));
    let server = Prefix::new("irc.example.org");
    assert_eq!(server.nick(), "irc.example.org");
    assert_eq!(server.username(), None);
    assert_eq!(Prefix::new("nick@host").host(), Some("host"));
}

#[test]
fn the_last_parameter_gets_a_colon_only_when_it_needs_one() {
    assert_eq!(Message::new("JOIN", ["#a"]).to_string(), "JOIN #a");
    assert_eq!(Message::new("QUIT", [""]).to_string(), "QUIT :");
    assert_eq!(
        Message::new("PRIVMSG", ["#a", ":)"]).to_string(),
        "PRIVMSG #a ::)"
    );
    assert_eq!(
        Message::new("PRIVMSG", ["#a", "two words"])
            .with_prefix(Prefix::user("n", "u", "h"))
            .to_string(),
        ":n!u@h PRIVMSG #a :two words"
    );
}

#[test]
fn a_message_that_would_not_read_back_is_invalid() {
    let invalid = [
        Message::new("PRIVMSG", ["two words", "x"]),
        Message::new("PRIVMSG", ["", "x"]),
        Message::new("PRIVMSG", [":x", "x"]),
        Message::new("PRIVMSG", ["#a", "line\r\nQUIT"]),
        Message::new("", ["x"]),
        Message::new("PRIV MSG", ["x"]),
        Message::new("PING", ["x"]).with_prefix(Prefix::new("a b")),
        Message::new("PING", ["x"]).with_tag(Tag::flag("a=b")),
    ];
    for message in invalid {
        assert!(message.validate().is_err(), "{message:?}");
    }
    Message::new("PRIVMSG", ["#a", "fine: yes"])
        .validate()
        .unwrap();
}

#[test]
fn the_body_length_leaves_out_the_tags() {
    let message = Message::new("PING", ["x"]).with_tag(Tag::new("a", "b"));
    assert_eq!(message.body_length(), "PING x".len());
}
