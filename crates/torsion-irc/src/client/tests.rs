use std::time::Duration;

use torsion::net::Protocol;
use torsion::testing::{Clock, StringTransport, replay_protocol};

use super::*;

/// Writes down every callback, one line each.
#[derive(Default)]
struct Log {
    events: Vec<String>,
    give_up: bool,
}

impl ClientHandler for Log {
    fn signed_on(&mut self, client: &IrcClient) {
        self.events
            .push(format!("signed on as {}", client.nickname()));
    }
    fn joined(&mut self, _: &IrcClient, channel: &str) {
        self.events.push(format!("joined {channel}"));
    }
    fn privmsg(&mut self, client: &IrcClient, from: &Prefix, target: &str, text: &str) {
        self.events
            .push(format!("<{}:{target}> {text}", from.nick()));
        if text == "!ping" {
            client.msg(client.reply_target(from, target), "pong");
        }
    }
    fn action(&mut self, _: &IrcClient, from: &Prefix, target: &str, action: &str) {
        self.events
            .push(format!("* {} {action} ({target})", from.nick()));
    }
    fn notice(&mut self, _: &IrcClient, from: Option<&Prefix>, _: &str, text: &str) {
        let from = from.map_or("-", Prefix::nick);
        self.events.push(format!("-{from}- {text}"));
    }
    fn user_quit(&mut self, _: &IrcClient, nick: &str, reason: &str) {
        self.events.push(format!("{nick} quit: {reason}"));
    }
    fn user_renamed(&mut self, _: &IrcClient, old: &str, new: &str) {
        self.events.push(format!("{old} is now {new}"));
    }
    fn nick_changed(&mut self, _: &IrcClient, nick: &str) {
        self.events.push(format!("I am now {nick}"));
    }
    fn topic_updated(&mut self, _: &IrcClient, channel: &str, by: Option<&str>, topic: &str) {
        self.events
            .push(format!("topic of {channel} by {by:?}: {topic}"));
    }
    fn alter_collided_nick(&mut self, _: &IrcClient, nick: &str) -> Option<String> {
        (!self.give_up).then(|| format!("{nick}_"))
    }
}

fn unlimited(nick: &str) -> ClientConfig {
    ClientConfig {
        flood: FloodControl::unlimited(),
        ..ClientConfig::new(nick)
    }
}

fn connect(config: ClientConfig) -> (IrcClient, ClientProtocol<Log>, StringTransport, Clock) {
    let clock = Clock::new();
    let (client, mut protocol) = IrcClient::new(config, Log::default(), clock.clone());
    let fake = StringTransport::new();
    fake.make_connection(&mut protocol);
    (client, protocol, fake, clock)
}

fn written(fake: &StringTransport) -> String {
    String::from_utf8(fake.take()).unwrap()
}

#[test]
fn connecting_registers_with_pass_nick_and_user() {
    let config = ClientConfig {
        password: Some("secret".into()),
        realname: "Torsion Bot".into(),
        ..unlimited("bot")
    };
    let (_client, _protocol, fake, _clock) = connect(config);
    assert_eq!(
        written(&fake),
        "PASS secret\r\nNICK bot\r\nUSER bot 0 * :Torsion Bot\r\n"
    );
}

#[test]
fn the_welcome_signs_on_with_the_nickname_the_server_gives() {
    let (client, mut protocol, _fake, _clock) = connect(unlimited("bot"));
    let signed_on = client.signed_on();
    protocol.data_received(b":irc.test 001 Bot :Welcome\r\n");
    assert_eq!(protocol.handler().events, ["signed on as Bot"]);
    assert!(client.is_signed_on());
    assert!(signed_on.is_fired());
    assert!(client.signed_on().is_fired(), "at once once signed on");
}

#[test]
fn ping_is_answered_with_pong_at_once_even_when_flood_control_holds_lines() {
    let config = ClientConfig {
        flood: FloodControl {
            burst: 1,
            interval: Duration::from_secs(10),
        },
        ..ClientConfig::new("bot")
    };
    let (_client, mut protocol, fake, _clock) = connect(config);
    assert_eq!(written(&fake), "NICK bot\r\n", "USER waits its turn");
    protocol.data_received(b"PING :irc.test\r\n");
    assert_eq!(written(&fake), "PONG irc.test\r\n");
}

#[test]
fn a_taken_nickname_is_altered_until_one_is_free() {
    let (client, mut protocol, fake, _clock) = connect(unlimited("bot"));
    fake.clear();
    protocol.data_received(b":irc.test 433 * bot :Nickname is already in use\r\n");
    protocol.data_received(b":irc.test 433 * bot_ :Nickname is already in use\r\n");
    assert_eq!(written(&fake), "NICK bot_\r\nNICK bot__\r\n");
    protocol.data_received(b":irc.test 001 bot__ :Welcome\r\n");
    assert_eq!(client.nickname(), "bot__");
}

#[test]
fn giving_up_on_nicknames_fails_signed_on_and_closes() {
    let (client, mut protocol, fake, _clock) = connect(unlimited("bot"));
    protocol.handler_mut().give_up = true;
    let signed_on = client.signed_on();
    protocol.data_received(b":irc.test 433 * bot :Nickname is already in use\r\n");
    assert!(fake.is_disconnecting());
    let failure = futures_failure(signed_on);
    assert!(
        matches!(failure.downcast_ref::<IrcError>(), Some(IrcError::NicknameInUse(n)) if n == "bot")
    );
}

/// The failure a fired Deferred holds.
fn futures_failure<T: 'static>(deferred: Deferred<T>) -> Failure {
    let slot = Rc::new(RefCell::new(None));
    let keep = slot.clone();
    drop(deferred.both(move |result| {
        *keep.borrow_mut() = result.err();
        Ok::<(), Failure>(())
    }));
    slot.borrow_mut().take().expect("the Deferred failed")
}

#[test]
fn messages_actions_and_notices_reach_their_callbacks_at_every_chunk_size() {
    let input = b":alice!a@h PRIVMSG #rust :hello\r\n\
        :alice!a@h PRIVMSG #rust :\x01ACTION waves\x01\r\n\
        :irc.test NOTICE * :*** Looking up your hostname\r\n\
        :alice!a@h NICK :alicia\r\n\
        :alicia!a@h QUIT :Quit: bye\r\n\
        :irc.test 332 bot #rust :Rust talk\r\n\
        :alicia!a@h TOPIC #rust :new topic\n";
    let events = replay_protocol(
        input,
        || IrcClient::new(unlimited("bot"), Log::default(), Clock::new()).1,
        |protocol, _| protocol.handler().events.clone(),
    );
    assert_eq!(
        events,
        [
            "<alice:#rust> hello",
            "* alice waves (#rust)",
            "-irc.test- *** Looking up your hostname",
            "alice is now alicia",
            "alicia quit: Quit: bye",
            "topic of #rust by None: Rust talk",
            "topic of #rust by Some(\"alicia\"): new topic",
        ]
    );
}

#[test]
fn our_own_join_and_nick_change_are_ours() {
    let (client, mut protocol, _fake, _clock) = connect(unlimited("bot"));
    protocol.data_received(b":irc.test 001 bot :Welcome\r\n:bot!b@h JOIN :#rust\r\n");
    protocol.data_received(b":BOT!b@h NICK botty\r\n");
    assert_eq!(client.nickname(), "botty");
    assert_eq!(
        protocol.handler().events,
        ["signed on as bot", "joined #rust", "I am now botty"]
    );
}

#[test]
fn a_private_message_is_answered_to_its_sender_and_a_channel_message_in_the_channel() {
    let (_client, mut protocol, fake, _clock) = connect(unlimited("bot"));
    protocol.data_received(b":irc.test 001 bot :Welcome\r\n");
    fake.clear();
    protocol.data_received(b":alice!a@h PRIVMSG bot :!ping\r\n:alice!a@h PRIVMSG #rust :!ping\r\n");
    assert_eq!(
        written(&fake),
        "PRIVMSG alice pong\r\nPRIVMSG #rust pong\r\n"
    );
}

#[test]
fn ctcp_version_and_ping_are_answered_with_notices() {
    let (_client, mut protocol, fake, _clock) = connect(unlimited("bot"));
    fake.clear();
    protocol.data_received(b":alice!a@h PRIVMSG bot :\x01VERSION\x01\r\n");
    protocol.data_received(b":alice!a@h PRIVMSG bot :\x01PING 12345\x01\r\n");
    let version = format!("torsion-irc {}", env!("CARGO_PKG_VERSION"));
    assert_eq!(
        written(&fake),
        format!("NOTICE alice :\x01VERSION {version}\x01\r\nNOTICE alice :\x01PING 12345\x01\r\n")
    );
}

#[test]
fn describe_sends_a_ctcp_action() {
    let (client, _protocol, fake, _clock) = connect(unlimited("bot"));
    fake.clear();
    client.describe("#rust", "waves");
    assert_eq!(written(&fake), "PRIVMSG #rust :\x01ACTION waves\x01\r\n");
}

#[test]
fn long_and_multi_line_texts_become_several_messages_that_fit() {
    let (client, _protocol, fake, _clock) = connect(unlimited("bot"));
    fake.clear();
    let long = "word ".repeat(200);
    client.msg("#rust", &format!("first line\r\nsecond line\n\n{long}"));
    let text = written(&fake);
    let lines: Vec<&str> = text.split_terminator("\r\n").collect();
    assert_eq!(lines[0], "PRIVMSG #rust :first line");
    assert_eq!(lines[1], "PRIVMSG #rust :second line");
    assert!(lines.len() >= 5, "{lines:?}");
    let room = 510 - (":bot!bot@ ".len() + 63);
    for line in &lines {
        assert!(line.len() <= room, "{} bytes: {line}", line.len());
    }
    let rejoined: String = lines[2..]
        .iter()
        .map(|line| line.trim_start_matches("PRIVMSG #rust :"))
        .collect();
    assert_eq!(rejoined, long);
}

#[test]
fn an_oversized_or_malformed_line_from_the_server_is_skipped() {
    let (_client, mut protocol, fake, _clock) = connect(unlimited("bot"));
    let long = format!(":alice!a@h PRIVMSG #a :{}\r\n", "x".repeat(600));
    protocol.data_received(long.as_bytes());
    protocol.data_received(b":nothing-after-the-prefix\r\n");
    protocol.data_received(b":alice!a@h PRIVMSG #a :after\r\n");
    assert_eq!(protocol.handler().events, ["<alice:#a> after"]);
    assert!(!fake.is_disconnecting());
}

#[test]
fn tags_arrive_with_the_message() {
    #[derive(Default)]
    struct Tags(Vec<Option<String>>);
    impl ClientHandler for Tags {
        fn message_received(&mut self, _: &IrcClient, message: &Message) {
            self.0.push(message.tag("time").map(str::to_owned));
        }
    }
    let (_client, mut protocol) = IrcClient::new(unlimited("bot"), Tags::default(), Clock::new());
    StringTransport::new().make_connection(&mut protocol);
    protocol.data_received(b"@time=2026-01-01T00:00:00.000Z :a!b@c PRIVMSG #a :hi\r\n");
    assert_eq!(
        protocol.handler().0,
        [Some("2026-01-01T00:00:00.000Z".to_owned())]
    );
}

#[test]
fn sends_beyond_the_burst_wait_for_the_clock() {
    let config = ClientConfig {
        flood: FloodControl {
            burst: 3,
            interval: Duration::from_millis(500),
        },
        ..ClientConfig::new("bot")
    };
    let (client, _protocol, fake, clock) = connect(config);
    // NICK and USER took two of the three.
    for n in 0..3 {
        client.msg("#a", &n.to_string());
    }
    assert_eq!(
        written(&fake),
        "NICK bot\r\nUSER bot 0 * bot\r\nPRIVMSG #a 0\r\n"
    );
    assert_eq!(client.queued(), 2);
    clock.advance(Duration::from_millis(499));
    assert_eq!(written(&fake), "");
    clock.advance(Duration::from_millis(1));
    assert_eq!(written(&fake), "PRIVMSG #a 1\r\n");
    clock.advance(Duration::from_millis(500));
    assert_eq!(written(&fake), "PRIVMSG #a 2\r\n");
}

#[test]
fn losing_the_connection_fails_signed_on_and_drops_the_queue() {
    let config = ClientConfig {
        flood: FloodControl {
            burst: 1,
            interval: Duration::from_secs(1),
        },
        ..ClientConfig::new("bot")
    };
    let (client, mut protocol, fake, clock) = connect(config);
    let signed_on = client.signed_on();
    fake.simulate_loss(&mut protocol, Failure::msg("gone"));
    assert_eq!(client.queued(), 0);
    assert!(clock.pending_calls().is_empty());
    let failure = futures_failure(signed_on);
    assert!(
        failure
            .downcast_ref::<IrcError>()
            .unwrap()
            .is_connection_lost()
    );
}
