//! Bad input over real sockets: an oversized command line gets 500 and the
//! session goes on; a peer that vanishes in the middle of a message loses
//! nothing it already had accepted, delivers nothing partial, and the
//! server keeps serving other sessions meanwhile and after.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::{Recorder, endpoint, listen, run};
use torsion::Failure;
use torsion_smtp::{OutgoingMail, SendOptions, SmtpServer, send_mail};

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
