//! Bad input over real sockets: an oversized command line gets 500 and the
//! session goes on; a peer that vanishes in the middle of a message loses
//! nothing it already had accepted, delivers nothing partial, and the
//! server keeps serving other sessions meanwhile and after. A client that
//! goes quiet gets 421 at the idle timeout and is closed, one that keeps
//! talking never is, and the time the delivery hook takes is not counted
//! against the client.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::{Recorder, endpoint, listen, run};
use torsion::time::defer_later;
use torsion::{Deferred, Failure, Reactor};
use torsion_smtp::{
    Delivery, Envelope, Mailbox, Message, OutgoingMail, SendOptions, SmtpServer, send_mail,
};

/// A blocking client on a std socket, run on the reactor's thread pool.
struct Raw {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Raw {
    fn connect(port: u16) -> std::io::Result<Raw> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let writer = stream.try_clone()?;
        let mut raw = Raw {
            reader: BufReader::new(stream),
            writer,
        };
        raw.expect("220")?;
        Ok(raw)
    }

    /// Reads one whole reply and checks that it starts with `code`.
    fn expect(&mut self, code: &str) -> std::io::Result<String> {
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line)?;
            if !line.starts_with(code) {
                return Err(std::io::Error::other(format!(
                    "expected {code}, got {line:?}"
                )));
            }
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(line);
            }
        }
    }

    fn send(&mut self, bytes: &[u8], code: &str) -> std::io::Result<String> {
        self.writer.write_all(bytes)?;
        self.expect(code)
    }

    /// Waits for the idle timeout's 421 and the end of the connection;
    /// returns the reply and how long after `since` (taken before the
    /// client's last line was sent) it came.
    fn timed_out(mut self, since: Instant) -> std::io::Result<(String, Duration)> {
        let reply = self.expect("421")?;
        let lasted = since.elapsed();
        let mut rest = Vec::new();
        self.reader.read_to_end(&mut rest)?;
        assert!(rest.is_empty(), "nothing after the 421: {rest:?}");
        Ok((reply, lasted))
    }
}

/// The idle timeout of the tests below: short, but long enough that a
/// client which talks every quarter of it is never late under load.
const IDLE: Duration = Duration::from_millis(600);

/// Checks that a client was closed by the idle timeout, with Twisted's
/// words.
fn assert_timed_out(who: &str, (reply, lasted): &(String, Duration)) {
    assert_eq!(
        reply.trim_end(),
        "421 mx.test Timeout. Try talking faster next time!",
        "{who}"
    );
    assert!(
        *lasted >= IDLE && *lasted < IDLE + Duration::from_secs(3),
        "{who}: timed out after {lasted:?}, the timeout is {IDLE:?}"
    );
}

fn mail(subject: &str) -> OutgoingMail {
    OutgoingMail {
        from: Some("a@x.test".parse().unwrap()),
        to: vec!["b@y.test".parse().unwrap()],
        data: format!("Subject: {subject}\r\n\r\nbody\r\n").into_bytes(),
    }
}

#[test]
fn an_oversized_command_line_gets_500_and_the_session_goes_on() {
    let recorder = Recorder::default();
    let server = SmtpServer::new("mx.test", recorder.clone());
    run(30, move |reactor| async move {
        let (_port, number) = listen(&reactor, &server);
        reactor
            .defer_to_thread(move || -> std::io::Result<()> {
                let mut raw = Raw::connect(number)?;
                raw.send(b"EHLO raw.test\r\n", "250")?;
                let mut long = b"MAIL FROM:<".to_vec();
                long.extend_from_slice(&[b'a'; 600]);
                long.extend_from_slice(b"@x.test>\r\n");
                let refused = raw.send(&long, "500")?;
                assert!(refused.contains("Line too long"), "{refused}");
                raw.send(b"MAIL FROM:<a@x.test>\r\n", "250")?;
                raw.send(b"RCPT TO:<b@y.test>\r\n", "250")?;
                raw.send(b"DATA\r\n", "354")?;
                raw.send(b"Subject: after\r\n\r\nstill here\r\n.\r\n", "250")?;
                raw.send(b"QUIT\r\n", "221")?;
                Ok(())
            })
            .await?
            .map_err(Failure::new)
    });
    assert_eq!(recorder.messages.borrow().len(), 1);
}

#[test]
fn a_peer_vanishing_mid_data_loses_nothing_accepted_and_delivers_nothing_partial() {
    let recorder = Recorder::default();
    let server = SmtpServer::new("mx.test", recorder.clone());
    run(30, move |reactor| async move {
        let (_port, number) = listen(&reactor, &server);
        // The first peer has one message accepted, then stops half-way
        // through a second and stays connected.
        let first = reactor
            .defer_to_thread(move || -> std::io::Result<Raw> {
                let mut raw = Raw::connect(number)?;
                raw.send(b"HELO raw.test\r\n", "250")?;
                raw.send(
                    b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n",
                    "250",
                )?;
                raw.expect("250")?;
                raw.expect("354")?;
                raw.send(b"Subject: accepted\r\n\r\nwhole\r\n.\r\n", "250")?;
                raw.send(b"MAIL FROM:<a@x.test>\r\n", "250")?;
                raw.send(b"RCPT TO:<b@y.test>\r\n", "250")?;
                raw.send(b"DATA\r\n", "354")?;
                raw.writer
                    .write_all(b"Subject: partial\r\n\r\nhalf a mess")?;
                Ok(raw)
            })
            .await?
            .map_err(Failure::new)?;
        // Meanwhile another session is served.
        let options = SendOptions::default;
        send_mail(
            &reactor,
            &endpoint(&reactor, number),
            mail("meanwhile"),
            options(),
        )
        .await?;
        // The first peer vanishes.
        reactor
            .defer_to_thread(move || first.writer.shutdown(std::net::Shutdown::Both))
            .await?
            .map_err(Failure::new)?;
        // And the server goes on serving.
        send_mail(
            &reactor,
            &endpoint(&reactor, number),
            mail("after"),
            options(),
        )
        .await?;
        Ok(())
    });
    let subjects: Vec<String> = recorder
        .messages
        .borrow()
        .iter()
        .map(|message| {
            String::from_utf8_lossy(&message.data)
                .lines()
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        subjects,
        ["Subject: accepted", "Subject: meanwhile", "Subject: after"]
    );
}

#[test]
fn a_quiet_client_gets_421_at_the_idle_timeout_while_others_are_served() {
    let recorder = Recorder::default();
    let server = SmtpServer::new("mx.test", recorder.clone()).with_idle_timeout(Some(IDLE));
    run(30, move |reactor| async move {
        let (_port, number) = listen(&reactor, &server);
        // Quiet after its greeting.
        let greeted = reactor.defer_to_thread(move || -> std::io::Result<_> {
            let mut raw = Raw::connect(number)?;
            let since = Instant::now();
            raw.send(b"EHLO raw.test\r\n", "250")?;
            raw.timed_out(since)
        });
        // Talks every quarter of the timeout for twice the timeout, then
        // stops half-way through a message.
        let talker = reactor.defer_to_thread(move || -> std::io::Result<_> {
            let mut raw = Raw::connect(number)?;
            raw.send(b"EHLO raw.test\r\n", "250")?;
            for _ in 0..8 {
                std::thread::sleep(IDLE / 4);
                raw.send(b"NOOP\r\n", "250")?;
            }
            raw.send(b"MAIL FROM:<a@x.test>\r\n", "250")?;
            raw.send(b"RCPT TO:<b@y.test>\r\n", "250")?;
            raw.send(b"DATA\r\n", "354")?;
            let mut since = Instant::now();
            for line in 0..4 {
                std::thread::sleep(IDLE / 4);
                since = Instant::now();
                raw.writer
                    .write_all(format!("line {line}\r\n").as_bytes())?;
            }
            raw.writer.write_all(b"half a li")?;
            raw.timed_out(since)
        });
        // Meanwhile whole messages go through.
        send_mail(
            &reactor,
            &endpoint(&reactor, number),
            mail("meanwhile"),
            SendOptions::default(),
        )
        .await?;
        let greeted = greeted.await?.map_err(Failure::new)?;
        let talker = talker.await?.map_err(Failure::new)?;
        assert_timed_out("quiet after EHLO", &greeted);
        assert_timed_out("quiet in the middle of a message", &talker);
        Ok(())
    });
    // The half-sent message was dropped.
    assert_eq!(recorder.messages.borrow().len(), 1);
}

/// Keeps messages as [`Recorder`] does, but takes `delay` to accept each
/// recipient.
struct SlowToDecide {
    delay: Duration,
    recorder: Recorder,
}

impl Delivery for SlowToDecide {
    fn validate_to(&self, _: &Envelope, _: &Mailbox) -> Deferred<()> {
        defer_later(&Reactor::current().unwrap(), self.delay, || {
            Ok::<(), Failure>(())
        })
    }

    fn deliver(&self, message: Message) -> Deferred<()> {
        self.recorder.deliver(message)
    }
}

#[test]
fn the_time_the_hook_takes_is_not_counted_against_the_client() {
    let recorder = Recorder::default();
    let hook = SlowToDecide {
        delay: IDLE * 2,
        recorder: recorder.clone(),
    };
    let server = SmtpServer::new("mx.test", hook).with_idle_timeout(Some(IDLE));
    run(30, move |reactor| async move {
        let (_port, number) = listen(&reactor, &server);
        reactor
            .defer_to_thread(move || -> std::io::Result<()> {
                let mut raw = Raw::connect(number)?;
                raw.send(b"EHLO raw.test\r\nMAIL FROM:<a@x.test>\r\n", "250")?;
                raw.expect("250")?;
                let asked = Instant::now();
                raw.send(b"RCPT TO:<b@y.test>\r\n", "250")?;
                assert!(asked.elapsed() >= IDLE * 2, "the hook decided early");
                // The client has a whole period from the reply.
                std::thread::sleep(IDLE / 2);
                raw.send(b"DATA\r\n", "354")?;
                let since = Instant::now();
                raw.send(b"Subject: slow\r\n\r\nbody\r\n.\r\n", "250")?;
                assert_timed_out("quiet after a message", &raw.timed_out(since)?);
                Ok(())
            })
            .await?
            .map_err(Failure::new)
    });
    assert_eq!(recorder.messages.borrow().len(), 1);
}
