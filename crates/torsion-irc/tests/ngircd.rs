//! torsion's IRC client against a real server, Debian's ngircd, started
//! on a free port of 127.0.0.1: registration behind ngircd's
//! authentication PING, a nickname collision, numerics, channels,
//! messages, CTCP ACTION, notices, topics, nick changes, QUIT, and flood
//! control spacing sends on the reactor's clock.

mod support;

use std::time::{Duration, Instant};

use support::ngircd::Ngircd;
use support::run;
use torsion::defer::DeferredQueue;
use torsion::endpoints::client_from_string;
use torsion::{Failure, Reactor};
use torsion_irc::{ClientConfig, ClientHandler, FloodControl, IrcClient, Message, Numeric, Prefix};

/// Puts each event in a queue, as a line of text, with the reactor time
/// it happened at.
struct Recorder {
    reactor: Reactor,
    events: DeferredQueue<(Instant, String)>,
}

impl Recorder {
    fn note(&self, event: String) {
        let _ = self
            .events
            .put((torsion::time::Scheduler::now(&self.reactor), event));
    }
}

impl ClientHandler for Recorder {
    fn message_received(&mut self, _: &IrcClient, message: &Message) {
        if let Some(name) = message.numeric().and_then(Numeric::name) {
            self.note(format!("numeric {name}"));
        }
    }
    fn signed_on(&mut self, client: &IrcClient) {
        self.note(format!("signed on as {}", client.nickname()));
    }
    fn joined(&mut self, _: &IrcClient, channel: &str) {
        self.note(format!("joined {channel}"));
    }
    fn user_joined(&mut self, _: &IrcClient, nick: &str, channel: &str) {
        self.note(format!("{nick} joined {channel}"));
    }
    fn privmsg(&mut self, _: &IrcClient, from: &Prefix, target: &str, text: &str) {
        self.note(format!("<{}:{target}> {text}", from.nick()));
    }
    fn action(&mut self, _: &IrcClient, from: &Prefix, target: &str, action: &str) {
        self.note(format!("* {} {action} ({target})", from.nick()));
    }
    fn notice(&mut self, _: &IrcClient, from: Option<&Prefix>, _: &str, text: &str) {
        if let Some(from) = from.filter(|from| from.username().is_some()) {
            self.note(format!("-{}- {text}", from.nick()));
        }
    }
    fn topic_updated(&mut self, _: &IrcClient, channel: &str, by: Option<&str>, topic: &str) {
        self.note(format!(
            "topic of {channel} by {}: {topic}",
            by.unwrap_or("?")
        ));
    }
    fn user_renamed(&mut self, _: &IrcClient, old: &str, new: &str) {
        self.note(format!("{old} is now {new}"));
    }
    fn nick_changed(&mut self, _: &IrcClient, nick: &str) {
        self.note(format!("I am now {nick}"));
    }
    fn user_quit(&mut self, _: &IrcClient, nick: &str, reason: &str) {
        self.note(format!("{nick} quit: {reason}"));
    }
}

type Events = DeferredQueue<(Instant, String)>;

async fn connect(
    reactor: &Reactor,
    server: &Ngircd,
    config: ClientConfig,
) -> Result<(IrcClient, Events), Failure> {
    let events = DeferredQueue::new(None, None);
    let recorder = Recorder {
        reactor: reactor.clone(),
        events: events.clone(),
    };
    let (client, protocol) = IrcClient::new(config, recorder, reactor.clone());
    client_from_string(reactor, &server.endpoint())?
        .connect(protocol)
        .await?;
    Ok((client, events))
}

/// Waits (5 s at most) for an event that starts with `prefix`, skipping
/// others; returns it with its time.
async fn expect(
    reactor: &Reactor,
    events: &Events,
    prefix: &str,
) -> Result<(Instant, String), Failure> {
    loop {
        let next = events.get().map_err(Failure::new)?;
        let (at, event) = next
            .add_timeout(Duration::from_secs(5), reactor)
            .await
            .map_err(|failure| Failure::msg(format!("no event {prefix:?}: {failure}")))?;
        if event.starts_with(prefix) {
            return Ok((at, event));
        }
    }
}

fn quick(nick: &str) -> ClientConfig {
    ClientConfig {
        flood: FloodControl {
            burst: 10,
            interval: Duration::from_millis(100),
        },
        ..ClientConfig::new(nick)
    }
}

#[test]
fn torsion_clients_chat_through_ngircd() {
    let server = Ngircd::start();
    run(60, move |reactor| async move {
        let r = &reactor;
        let (alice, a) = connect(r, &server, quick("alice")).await?;
        assert_eq!(alice.signed_on().await?, "alice");
        for numeric in [
            "RPL_WELCOME",
            "RPL_YOURHOST",
            "RPL_ISUPPORT",
            "RPL_ENDOFMOTD",
        ] {
            expect(r, &a, &format!("numeric {numeric}")).await?;
        }

        // The same nickname again: ngircd says 433, the client adds "_".
        let (other, b) = connect(r, &server, quick("alice")).await?;
        assert_eq!(other.signed_on().await?, "alice_");
        expect(r, &b, "numeric ERR_NICKNAMEINUSE").await?;

        alice.join("#torsion");
        expect(r, &a, "joined #torsion").await?;
        other.join("#torsion");
        expect(r, &b, "joined #torsion").await?;
        expect(r, &a, "alice_ joined #torsion").await?;

        alice.msg("#torsion", "hello from alice");
        expect(r, &b, "<alice:#torsion> hello from alice").await?;
        other.describe("#torsion", "waves");
        expect(r, &a, "* alice_ waves (#torsion)").await?;
        alice.notice("alice_", "a notice");
        expect(r, &b, "-alice- a notice").await?;
        other.msg("alice", "a private word");
        expect(r, &a, "<alice_:alice> a private word").await?;
        other.set_topic("#torsion", "torsion meets ngircd");
        expect(r, &a, "topic of #torsion by alice_: torsion meets ngircd").await?;

        other.set_nick("bob");
        expect(r, &b, "I am now bob").await?;
        expect(r, &a, "alice_ is now bob").await?;
        assert_eq!(other.nickname(), "bob");

        other.quit("done here");
        let (_, quit) = expect(r, &a, "bob quit: ").await?;
        assert!(quit.contains("done here"), "{quit}");
        Ok(())
    });
}

#[test]
fn flood_control_spaces_sends_after_the_burst_on_the_reactor_clock() {
    let server = Ngircd::start();
    run(60, move |reactor| async move {
        let r = &reactor;
        let (listener, heard) = connect(r, &server, quick("listener")).await?;
        listener.signed_on().await?;
        let interval = Duration::from_millis(250);
        let flood = FloodControl { burst: 3, interval };
        let config = ClientConfig {
            flood,
            ..ClientConfig::new("talker")
        };
        let (talker, _events) = connect(r, &server, config).await?;
        talker.signed_on().await?;
        // Registration spent the burst; a quiet spell earns it back.
        torsion::time::defer_later(r, interval * 3, || Ok::<(), Failure>(())).await?;

        for n in 0..6 {
            talker.msg("listener", &format!("line {n}"));
        }
        assert_eq!(talker.queued(), 3, "three went at once, three wait");
        let mut arrivals = Vec::new();
        for n in 0..6 {
            let (at, _) = expect(r, &heard, &format!("<talker:listener> line {n}")).await?;
            arrivals.push(at);
        }
        let gaps: Vec<Duration> = arrivals.windows(2).map(|w| w[1] - w[0]).collect();
        // After the burst, each line waits for the timer: a gap of about
        // the interval (a little less may show where the network
        // delayed the line before it).
        for gap in &gaps[2..] {
            assert!(*gap >= interval * 3 / 4, "gaps {gaps:?}");
        }
        let spread = arrivals[5] - arrivals[0];
        assert!(
            spread >= interval * 5 / 2,
            "the six took {spread:?}: {gaps:?}"
        );
        Ok(())
    });
}
