//! torsion's client delivers to Python's aiosmtpd (pinned in
//! `python-requirements.txt`, installed on first use), in the clear and
//! over STARTTLS, byte for byte; a recipient aiosmtpd refuses is reported
//! and the others still get the message.

mod support;

use std::process::Command;

use serde_json::Value;
use support::{TestCertificate, endpoint, peer_script, python, run};
use torsion::testing::WatchedChild;
use torsion_smtp::{OutgoingMail, SendError, SendOptions, SendReport, send_mail};

/// aiosmtpd on a free port, stopped when dropped.
struct Aiosmtpd {
    child: Option<WatchedChild>,
    port: u16,
}

impl Aiosmtpd {
    fn start(certificate: Option<&TestCertificate>) -> Aiosmtpd {
        let mut command = python(60);
        command.arg(peer_script()).arg("serve");
        if let Some(certificate) = certificate {
            command.arg(&certificate.cert).arg(&certificate.key);
        }
        let mut child = WatchedChild::spawn(&mut command).unwrap();
        let line = child.wait_for_stdout("PORT ");
        let port = line["PORT ".len()..].trim().parse().unwrap();
        Aiosmtpd {
            child: Some(child),
            port,
        }
    }

    /// The (first) message aiosmtpd received, as it printed it.
    fn received(&mut self) -> Value {
        let child = self.child.as_mut().unwrap();
        serde_json::from_str(&child.wait_for_stdout("\"data\"")).unwrap()
    }
}

impl Drop for Aiosmtpd {
    fn drop(&mut self) {
        // `timeout` passes SIGTERM on to Python and exits with it; a
        // SIGKILL of `timeout` alone would leave Python running.
        let Some(child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        if !std::thread::panicking() {
            child.wait();
        }
    }
}

fn hex(data: &[u8]) -> String {
    data.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn mail() -> OutgoingMail {
    OutgoingMail {
        from: Some("alice@x.test".parse().unwrap()),
        to: vec![
            "bob@y.test".parse().unwrap(),
            "nobody@y.test".parse().unwrap(),
            "carol@y.test".parse().unwrap(),
        ],
        data: b"Subject: from torsion\r\n\r\n.a dot\r\n.\r\n..\r\ncaf\xe9\r\n".to_vec(),
    }
}

/// Sends `mail()` to `server` with `options` and returns the report.
fn send(server: &Aiosmtpd, options: SendOptions) -> Result<SendReport, String> {
    let port = server.port;
    let outcome = std::rc::Rc::new(std::cell::RefCell::new(None));
    let seen = outcome.clone();
    run(30, move |reactor| async move {
        let sent = send_mail(&reactor, &endpoint(&reactor, port), mail(), options).await;
        *seen.borrow_mut() = Some(sent.map_err(|failure| failure.to_string()));
        Ok(())
    });
    outcome.borrow_mut().take().unwrap()
}

fn check_delivery(server: &mut Aiosmtpd, report: &SendReport, tls: bool) {
    let accepted: Vec<&str> = report.accepted.iter().map(|to| to.as_str()).collect();
    assert_eq!(accepted, ["bob@y.test", "carol@y.test"]);
    assert_eq!(report.refused.len(), 1);
    assert_eq!(report.refused[0].0.as_str(), "nobody@y.test");
    assert_eq!(report.refused[0].1.code, 550);
    assert_eq!(report.reply.code, 250);
    assert_eq!(report.tls, tls);
    let received = server.received();
    assert_eq!(received["from"], "alice@x.test");
    assert_eq!(
        received["to"],
        serde_json::json!(["bob@y.test", "carol@y.test"])
    );
    assert_eq!(received["data"], hex(&mail().data));
    assert_eq!(received["tls"], tls);
}

#[test]
fn torsion_delivers_to_aiosmtpd_in_the_clear() {
    let mut server = Aiosmtpd::start(None);
    let report = send(&server, SendOptions::default()).unwrap();
    check_delivery(&mut server, &report, false);
}

#[test]
fn torsion_delivers_to_aiosmtpd_over_starttls() {
    let certificate = TestCertificate::new();
    let mut server = Aiosmtpd::start(Some(&certificate));
    let options = SendOptions {
        tls: Some(certificate.client()),
        require_tls: true,
        ..SendOptions::default()
    };
    let report = send(&server, options).unwrap();
    check_delivery(&mut server, &report, true);
}

#[test]
fn tls_required_from_a_server_without_starttls_sends_nothing() {
    let certificate = TestCertificate::new();
    let server = Aiosmtpd::start(None);
    let options = SendOptions {
        tls: Some(certificate.client()),
        require_tls: true,
        ..SendOptions::default()
    };
    let error = send(&server, options).unwrap_err();
    assert_eq!(error, SendError::TlsUnavailable.to_string());
}
