//! swaks (the Swiss Army Knife for SMTP, a Debian package) as a second
//! real client of torsion's server: with PIPELINING (the envelope in one
//! write) and with STARTTLS.

mod support;

use std::process::Command;

use support::{Recorder, TestCertificate, listen, output_of, run};
use torsion_smtp::SmtpServer;

const BODY: &[u8] = b"Subject: from swaks\r\n\r\n.leading dot\r\n..\r\nlast line\r\n";

fn swaks(port: u16, data: &std::path::Path, extra: &[&str]) -> Command {
    let mut command = Command::new("timeout");
    command
        .args(["-k", "5", "30", "swaks", "--server", "127.0.0.1"])
        .args(["--port", &port.to_string()])
        .args(["--helo", "swaks.test", "--from", "a@x.test"])
        .args(["--to", "b@y.test,c@y.test", "--data"])
        .arg(data)
        .args(extra);
    command
}

/// Sends BODY with swaks and `extra` arguments; returns the transcript
/// and what was delivered.
fn send_with_swaks(extra: &'static [&'static str]) -> (String, Recorder) {
    let certificate = TestCertificate::new();
    let recorder = Recorder::default();
    let server = SmtpServer::new("mx.test", recorder.clone()).with_starttls(certificate.server());
    let directory = tempfile::tempdir().unwrap();
    let data = directory.path().join("message.eml");
    std::fs::write(&data, BODY).unwrap();
    let transcript = std::rc::Rc::new(std::cell::RefCell::new(String::new()));
    let seen = transcript.clone();
    run(40, move |reactor| async move {
        let (_port, number) = listen(&reactor, &server);
        *seen.borrow_mut() = output_of(&reactor, swaks(number, &data, extra)).await?;
        Ok(())
    });
    let transcript = transcript.borrow().clone();
    (transcript, recorder)
}

fn check_delivered(recorder: &Recorder, tls: bool, transcript: &str) {
    let delivered = recorder.messages.borrow();
    assert_eq!(delivered.len(), 1, "{transcript}");
    let to: Vec<&str> = delivered[0]
        .envelope
        .recipients
        .iter()
        .map(|to| to.as_str())
        .collect();
    assert_eq!(to, ["b@y.test", "c@y.test"]);
    assert_eq!(delivered[0].envelope.client.helo, "swaks.test");
    assert_eq!(delivered[0].envelope.client.tls, tls);
    // swaks ends what it sends with `\r\n.\r\n` whether or not the data
    // already ends with a line end: one empty line more.
    assert_eq!(delivered[0].data, [BODY, b"\r\n"].concat(), "{transcript}");
}

#[test]
fn swaks_pipelines_its_envelope() {
    let (transcript, recorder) = send_with_swaks(&["--pipeline"]);
    // swaks sends MAIL, both RCPTs and DATA before reading a reply, once
    // the server offers PIPELINING; the replies then come in order.
    let data_sent = transcript.find(" -> DATA").expect(&transcript);
    let mail_answered = transcript.find("<-  250 Sender OK").expect(&transcript);
    assert!(data_sent < mail_answered, "{transcript}");
    let order = [
        "250 Sender OK",
        "250 Recipient <b@y.test>",
        "250 Recipient <c@y.test>",
        "354 ",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|reply| transcript.find(reply).unwrap())
        .collect();
    assert!(positions.is_sorted(), "{transcript}");
    assert!(
        transcript.contains("250 Message accepted for delivery"),
        "{transcript}"
    );
    check_delivered(&recorder, false, &transcript);
}

#[test]
fn swaks_starts_tls() {
    let (transcript, recorder) = send_with_swaks(&["-tls"]);
    // swaks marks what it sends over TLS with `~>`.
    assert!(transcript.contains(" -> STARTTLS"), "{transcript}");
    assert!(transcript.contains(" ~> EHLO swaks.test"), "{transcript}");
    assert!(
        transcript.contains("~> MAIL FROM:<a@x.test>"),
        "{transcript}"
    );
    check_delivered(&recorder, true, &transcript);
}
