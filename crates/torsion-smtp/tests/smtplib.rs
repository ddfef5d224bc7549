//! Python's smtplib (the standard library's SMTP client) sends through
//! torsion's server, in the clear and after STARTTLS with a certificate
//! made for the test: messages arrive byte for byte (lines that start
//! with a dot, 8-bit bytes, one just under the SIZE limit), one over the
//! limit is refused with 552, and the delivery hook's refusals reach the
//! client as 550, 554 and 451.

mod support;

use serde_json::{Value, json};
use support::{Recorder, TestCertificate, listen, output_of, peer_script, python, run};
use torsion::{Failure, Reactor};
use torsion_smtp::SmtpServer;

const LIMIT: usize = 256 * 1024;

fn hex(data: &[u8]) -> String {
    data.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A message of exactly `size` bytes, in 78-byte lines, every third of
/// which starts with a dot.
fn message_of(size: usize) -> Vec<u8> {
    let mut data = b"Subject: large\r\n\r\n".to_vec();
    let mut line = 0;
    while data.len() + 80 < size {
        let first = if line % 3 == 0 {
            b'.'
        } else {
            b'a' + (line % 26) as u8
        };
        data.push(first);
        data.extend(std::iter::repeat_n(b'a' + (line % 26) as u8, 75));
        data.extend_from_slice(b"\r\n");
        line += 1;
    }
    let rest = size - data.len() - 2;
    data.extend(std::iter::repeat_n(b'z', rest));
    data.extend_from_slice(b"\r\n");
    assert_eq!(data.len(), size);
    data
}

fn dots() -> Vec<u8> {
    b"From: a@x.test\r\nTo: b@y.test\r\nSubject: dots\r\n\r\n.one\r\n..two\r\n.\r\n. \r\n...\r\nend\r\n"
        .to_vec()
}

fn eight_bit() -> Vec<u8> {
    let mut data = b"Subject: 8 bit\r\nContent-Transfer-Encoding: 8bit\r\n\r\n".to_vec();
    // Every byte from 0x80 up, in lines short enough for any server.
    for chunk in (0x80u8..=0xff).collect::<Vec<_>>().chunks(32) {
        data.extend_from_slice(chunk);
        data.extend_from_slice(b"\r\n");
    }
    data.extend_from_slice(b"caf\xe9 \xe2\x82\xac\r\n");
    data
}

/// Runs smtplib with `spec` against a fresh port of `server`; returns
/// what it printed.
async fn smtplib(reactor: &Reactor, port: u16, mut spec: Value) -> Result<Value, Failure> {
    spec["port"] = json!(port);
    let file = tempfile::NamedTempFile::new().map_err(Failure::new)?;
    std::fs::write(file.path(), spec.to_string()).map_err(Failure::new)?;
    let mut command = python(60);
    command.arg(peer_script()).arg("send").arg(file.path());
    let stdout = output_of(reactor, command).await?;
    serde_json::from_str(stdout.trim()).map_err(Failure::new)
}

fn sends_byte_exact(tls: bool) {
    let certificate = TestCertificate::new();
    let recorder = Recorder::default();
    let server = SmtpServer::new("mx.test", recorder.clone())
        .with_max_message_size(LIMIT)
        .with_starttls(certificate.server());
    let messages = [
        dots(),
        eight_bit(),
        message_of(LIMIT - 5),
        message_of(LIMIT + 1),
    ];
    let spec = json!({
        "cafile": if tls { json!(certificate.cert) } else { Value::Null },
        "messages": [
            {"from": "a@x.test", "to": ["b@y.test", "c@y.test"], "data": hex(&messages[0])},
            {"from": "a@x.test", "to": ["b@y.test"], "data": hex(&messages[1]), "options": ["BODY=8BITMIME"]},
            {"from": "a@x.test", "to": ["b@y.test"], "data": hex(&messages[2])},
            // Announced with SIZE: refused at MAIL.
            {"from": "a@x.test", "to": ["b@y.test"], "data": hex(&messages[3])},
            // Not announced: refused once read.
            {"from": "a@x.test", "to": ["b@y.test"], "data": hex(&messages[3]), "no_size": true},
            // The session goes on.
            {"from": "", "to": ["b@y.test"], "data": hex(&messages[0])},
        ],
    });
    let recorded = recorder.clone();
    run(60, move |reactor| async move {
        let (_port, number) = listen(&reactor, &server);
        let outcome = smtplib(&reactor, number, spec).await?;
        assert_eq!(outcome["tls"], json!(tls), "{outcome}");
        let extensions = outcome["extensions"].as_array().unwrap();
        for offered in ["size", "8bitmime", "pipelining"] {
            assert!(extensions.contains(&json!(offered)), "{outcome}");
        }
        // STARTTLS is offered in the clear only.
        assert_eq!(extensions.contains(&json!("starttls")), !tls, "{outcome}");
        let results = outcome["results"].as_array().unwrap();
        assert_eq!(results[0], json!({"ok": true, "refused": {}}));
        assert_eq!(results[1], json!({"ok": true, "refused": {}}));
        assert_eq!(results[2], json!({"ok": true, "refused": {}}));
        assert_eq!(
            results[3],
            json!({"ok": false, "stage": "mail", "code": 552})
        );
        assert_eq!(
            results[4],
            json!({"ok": false, "stage": "data", "code": 552})
        );
        assert_eq!(results[5], json!({"ok": true, "refused": {}}));
        Ok(())
    });
    let delivered = recorded.messages.borrow();
    let data: Vec<&[u8]> = delivered.iter().map(|m| &m.data[..]).collect();
    assert_eq!(
        data,
        [&messages[0][..], &messages[1], &messages[2], &messages[0]]
    );
    let first = &delivered[0].envelope;
    assert_eq!(first.from.as_ref().unwrap().as_str(), "a@x.test");
    let to: Vec<&str> = first.recipients.iter().map(|to| to.as_str()).collect();
    assert_eq!(to, ["b@y.test", "c@y.test"]);
    assert_eq!(first.client.helo, "python.test");
    assert!(delivered.iter().all(|m| m.envelope.client.tls == tls));
    assert!(delivered[1].envelope.is_8bit());
    assert_eq!(delivered[3].envelope.from, None);
}

#[test]
fn smtplib_messages_arrive_byte_exact_in_the_clear() {
    sends_byte_exact(false);
}

#[test]
fn smtplib_messages_arrive_byte_exact_over_starttls() {
    sends_byte_exact(true);
}

#[test]
fn the_delivery_hooks_refusals_reach_smtplib() {
    let recorder = Recorder::default();
    let server = SmtpServer::new("mx.test", recorder.clone());
    let spec = json!({
        "messages": [
            {"from": "a@x.test", "to": ["b@y.test", "nobody@y.test", "c@y.test"],
             "data": hex(b"Subject: some\r\n\r\nfor two of three\r\n")},
            {"from": "a@x.test", "to": ["nobody@y.test"], "data": hex(b"Subject: none\r\n\r\nx\r\n")},
            {"from": "a@x.test", "to": ["b@y.test"], "data": hex(b"X-Test: reject\r\n\r\nx\r\n")},
            {"from": "a@x.test", "to": ["b@y.test"], "data": hex(b"X-Test: crash\r\n\r\nx\r\n")},
        ],
    });
    let recorded = recorder.clone();
    run(60, move |reactor| async move {
        let (_port, number) = listen(&reactor, &server);
        let outcome = smtplib(&reactor, number, spec).await?;
        let results = outcome["results"].as_array().unwrap();
        assert_eq!(
            results[0],
            json!({"ok": true, "refused": {"nobody@y.test": 550}})
        );
        assert_eq!(
            results[1],
            json!({"ok": false, "stage": "rcpt", "refused": {"nobody@y.test": 550}})
        );
        assert_eq!(
            results[2],
            json!({"ok": false, "stage": "data", "code": 554})
        );
        assert_eq!(
            results[3],
            json!({"ok": false, "stage": "data", "code": 451})
        );
        Ok(())
    });
    let delivered = recorded.messages.borrow();
    assert_eq!(delivered.len(), 1);
    let to: Vec<&str> = delivered[0]
        .envelope
        .recipients
        .iter()
        .map(|to| to.as_str())
        .collect();
    assert_eq!(to, ["b@y.test", "c@y.test"]);
    assert_eq!(
        delivered[0].data,
        b"Subject: some\r\n\r\nfor two of three\r\n"
    );
}
