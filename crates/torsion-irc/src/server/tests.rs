use std::net::SocketAddr;

use torsion::Failure;
use torsion::net::Protocol;
use torsion::testing::{Clock, StringTransport};

use super::*;

struct Net {
    server: IrcServer,
    clock: Clock,
}

struct User {
    protocol: ServerProtocol,
    fake: StringTransport,
}

impl User {
    fn say(&mut self, lines: &str) {
        self.protocol.data_received(lines.as_bytes());
    }

    /// What the server wrote since the last call.
    fn heard(&self) -> String {
        String::from_utf8(self.fake.take()).unwrap()
    }
}

impl Net {
    fn new() -> Net {
        let clock = Clock::new();
        let mut config = ServerConfig::new("irc.test");
        config.ping_interval = Duration::from_secs(10);
        config.ping_timeout = Duration::from_secs(5);
        Net {
            server: IrcServer::new(config, clock.clone()),
            clock,
        }
    }

    fn connect(&self) -> User {
        let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let mut protocol = self.server.protocol(&Address::Tcp(peer));
        let fake = StringTransport::new();
        fake.make_connection(&mut protocol);
        User { protocol, fake }
    }

    fn register(&self, nick: &str) -> User {
        let mut user = self.connect();
        user.say(&format!(
            "NICK {nick}\r\nUSER {nick} 0 * :{nick} Example\r\n"
        ));
        let welcome = user.heard();
        assert!(
            welcome.starts_with(&format!(":irc.test 001 {nick} :Welcome")),
            "{welcome}"
        );
        user
    }
}

#[test]
fn registration_welcomes_with_001_to_005_and_no_motd() {
    let net = Net::new();
    let mut user = net.connect();
    user.say("NICK alice\r\n");
    assert_eq!(user.heard(), "");
    user.say("USER alice 0 * :Alice Example\n");
    let heard = user.heard();
    let numerics: Vec<&str> = heard
        .lines()
        .map(|l| l.split(' ').nth(1).unwrap())
        .collect();
    assert_eq!(numerics, ["001", "002", "003", "004", "005", "422"]);
    assert!(heard.starts_with(
        ":irc.test 001 alice :Welcome to the torsion IRC network alice!alice@127.0.0.1\r\n"
    ));
    assert!(heard.contains("CASEMAPPING=ascii"));
    assert_eq!(net.server.nicknames(), ["alice"]);
}

#[test]
fn cap_negotiation_holds_registration_until_cap_end() {
    let net = Net::new();
    let mut user = net.connect();
    user.say("CAP LS 302\r\nNICK alice\r\nUSER alice 0 * :A\r\n");
    assert_eq!(user.heard(), ":irc.test CAP * LS :\r\n");
    user.say("CAP REQ :message-tags\r\n");
    assert_eq!(user.heard(), ":irc.test CAP alice NAK message-tags\r\n");
    user.say("CAP END\r\n");
    assert!(user.heard().starts_with(":irc.test 001 alice"));
}

#[test]
fn a_taken_or_bad_nickname_is_refused() {
    let net = Net::new();
    let _alice = net.register("alice");
    let mut other = net.connect();
    other.say("NICK ALICE\r\nNICK 9lives\r\nNICK\r\n");
    assert_eq!(
        other.heard(),
        ":irc.test 433 * ALICE :Nickname is already in use\r\n\
         :irc.test 432 * 9lives :Erroneous nickname\r\n\
         :irc.test 431 * :No nickname given\r\n"
    );
}

#[test]
fn commands_before_registration_get_451() {
    let net = Net::new();
    let mut user = net.connect();
    user.say("JOIN #a\r\n");
    assert_eq!(user.heard(), ":irc.test 451 * :You have not registered\r\n");
}

#[test]
fn joining_tells_the_channel_and_sends_topic_and_names() {
    let net = Net::new();
    let mut alice = net.register("alice");
    let mut bob = net.register("bob");
    alice.say("JOIN #Rust\r\nTOPIC #rust :all about Rust\r\n");
    assert_eq!(
        alice.heard(),
        ":alice!alice@127.0.0.1 JOIN #Rust\r\n\
         :irc.test 353 alice = #Rust alice\r\n\
         :irc.test 366 alice #Rust :End of /NAMES list.\r\n\
         :alice!alice@127.0.0.1 TOPIC #Rust :all about Rust\r\n"
    );
    bob.say("JOIN #rust\r\n");
    let heard = bob.heard();
    assert!(heard.starts_with(":bob!bob@127.0.0.1 JOIN #Rust\r\n:irc.test 332 bob #Rust :all about Rust\r\n:irc.test 333 bob #Rust alice!alice@127.0.0.1 "), "{heard}");
    assert!(heard.contains(":irc.test 353 bob = #Rust :alice bob\r\n"));
    assert_eq!(alice.heard(), ":bob!bob@127.0.0.1 JOIN #Rust\r\n");
    assert_eq!(net.server.members("#RUST"), ["alice", "bob"]);
    assert_eq!(net.server.topic("#rust").as_deref(), Some("all about Rust"));
}

#[test]
fn channel_messages_go_to_the_other_members_and_private_ones_to_their_nick() {
    let net = Net::new();
    let mut alice = net.register("alice");
    let mut bob = net.register("bob");
    let mut carol = net.register("carol");
    alice.say("JOIN #a\r\n");
    bob.say("JOIN #a\r\n");
    alice.heard();
    bob.heard();
    alice.say("PRIVMSG #a :hello all\r\nPRIVMSG carol :psst\r\nNOTICE #a :noted\r\n");
    assert_eq!(alice.heard(), "");
    assert_eq!(
        bob.heard(),
        ":alice!alice@127.0.0.1 PRIVMSG #a :hello all\r\n:alice!alice@127.0.0.1 NOTICE #a noted\r\n"
    );
    assert_eq!(
        carol.heard(),
        ":alice!alice@127.0.0.1 PRIVMSG carol psst\r\n"
    );
    carol.say("PRIVMSG #a :let me in\r\nPRIVMSG nobody :hi\r\nNOTICE nobody :hi\r\nPRIVMSG #a\r\n");
    assert_eq!(
        carol.heard(),
        ":irc.test 404 carol #a :Cannot send to channel\r\n\
         :irc.test 401 carol nobody :No such nick/channel\r\n\
         :irc.test 412 carol :No text to send\r\n"
    );
}

#[test]
fn a_nick_change_is_told_to_the_user_and_each_peer_once() {
    let net = Net::new();
    let mut alice = net.register("alice");
    let mut bob = net.register("bob");
    let mut carol = net.register("carol");
    for channel in ["#a", "#b"] {
        alice.say(&format!("JOIN {channel}\r\n"));
        bob.say(&format!("JOIN {channel}\r\n"));
    }
    alice.heard();
    bob.heard();
    alice.say("NICK alicia\r\n");
    let change = ":alice!alice@127.0.0.1 NICK alicia\r\n";
    assert_eq!(alice.heard(), change);
    assert_eq!(bob.heard(), change);
    assert_eq!(carol.heard(), "");
    carol.say("NICK alice\r\n");
    assert_eq!(
        carol.heard(),
        ":carol!carol@127.0.0.1 NICK alice\r\n",
        "the old nick is free"
    );
}

#[test]
fn part_and_quit_are_told_to_the_channel() {
    let net = Net::new();
    let mut alice = net.register("alice");
    let mut bob = net.register("bob");
    alice.say("JOIN #a\r\n");
    bob.say("JOIN #a\r\n");
    alice.heard();
    bob.say("PART #a :later\r\nJOIN #a\r\nQUIT :bye now\r\n");
    assert_eq!(
        alice.heard(),
        ":bob!bob@127.0.0.1 PART #a later\r\n\
         :bob!bob@127.0.0.1 JOIN #a\r\n\
         :bob!bob@127.0.0.1 QUIT :Quit: bye now\r\n"
    );
    assert!(
        bob.heard()
            .ends_with("ERROR :Closing Link: 127.0.0.1 (Quit: bye now)\r\n")
    );
    assert!(bob.fake.is_disconnecting());
    assert_eq!(net.server.members("#a"), ["alice"]);
}

#[test]
fn a_client_that_vanishes_is_quit_broadcast() {
    let net = Net::new();
    let mut alice = net.register("alice");
    let mut bob = net.register("bob");
    alice.say("JOIN #a\r\n");
    bob.say("JOIN #a\r\n");
    alice.heard();
    bob.fake
        .simulate_loss(&mut bob.protocol, Failure::msg("connection reset"));
    assert_eq!(
        alice.heard(),
        ":bob!bob@127.0.0.1 QUIT :Connection closed\r\n"
    );
    assert_eq!(net.server.nicknames(), ["alice"]);
    assert_eq!(net.server.connections(), 1);
}

#[test]
fn an_oversized_line_gets_417_and_the_connection_goes_on() {
    let net = Net::new();
    let mut alice = net.register("alice");
    let mut bob = net.register("bob");
    alice.say("JOIN #a\r\n");
    bob.say("JOIN #a\r\n");
    alice.heard();
    bob.heard();
    let long = format!("PRIVMSG #a :{}\r\n", "x".repeat(600));
    alice.say(&format!("{long}PRIVMSG #a :short\r\n"));
    assert_eq!(
        alice.heard(),
        ":irc.test 417 alice :Input line was too long\r\n"
    );
    assert_eq!(bob.heard(), ":alice!alice@127.0.0.1 PRIVMSG #a short\r\n");
    assert!(!alice.fake.is_disconnecting());
}

#[test]
fn a_quiet_client_is_pinged_and_one_that_answers_stays() {
    let net = Net::new();
    let mut alice = net.register("alice");
    net.clock.advance(Duration::from_secs(9));
    assert_eq!(alice.heard(), "");
    alice.say("PRIVMSG alice :talking to myself\r\n");
    alice.heard();
    net.clock.advance(Duration::from_secs(9));
    assert_eq!(alice.heard(), "", "quiet for 9 s only");
    net.clock.advance(Duration::from_secs(1));
    assert_eq!(alice.heard(), "PING irc.test\r\n");
    alice.say("PONG irc.test\r\n");
    net.clock.advance(Duration::from_secs(5));
    assert!(!alice.fake.is_disconnecting());
    assert_eq!(alice.heard(), "");
}

#[test]
fn ping_timeout_closes_an_idle_client_and_tells_its_channels() {
    let net = Net::new();
    let mut alice = net.register("alice");
    let mut bob = net.register("bob");
    alice.say("JOIN #a\r\n");
    bob.say("JOIN #a\r\n");
    alice.heard();
    bob.heard();
    net.clock.advance(Duration::from_secs(10));
    assert_eq!(bob.heard(), "PING irc.test\r\n");
    alice.say("PONG irc.test\r\n");
    net.clock.advance(Duration::from_secs(5));
    assert!(
        bob.heard()
            .ends_with("ERROR :Closing Link: 127.0.0.1 (Ping timeout: 15 seconds)\r\n")
    );
    assert!(bob.fake.is_disconnecting());
    assert!(
        alice
            .heard()
            .ends_with(":bob!bob@127.0.0.1 QUIT :Ping timeout: 15 seconds\r\n")
    );
    assert!(!alice.fake.is_disconnecting());
    assert_eq!(net.server.nicknames(), ["alice"]);
}

#[test]
fn ping_is_answered_with_pong() {
    let net = Net::new();
    let mut alice = net.register("alice");
    alice.say("PING :12345\r\n");
    assert_eq!(alice.heard(), ":irc.test PONG irc.test 12345\r\n");
}

#[test]
fn modes_can_be_asked_not_changed() {
    let net = Net::new();
    let mut alice = net.register("alice");
    alice.say("JOIN #a\r\n");
    alice.heard();
    alice.say("MODE #a\r\nMODE #a +o alice\r\nMODE alice\r\nWHO #a\r\nFROB\r\n");
    assert_eq!(
        alice.heard(),
        ":irc.test 324 alice #a +nt\r\n\
         :irc.test 482 alice #a :You're not channel operator\r\n\
         :irc.test 221 alice +\r\n\
         :irc.test 352 alice #a alice 127.0.0.1 irc.test alice H :0 alice Example\r\n\
         :irc.test 315 alice #a :End of /WHO list.\r\n\
         :irc.test 421 alice FROB :Unknown command\r\n"
    );
}
