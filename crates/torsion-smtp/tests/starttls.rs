//! STARTTLS between torsion's own client and server, and the classic
//! STARTTLS injection (CVE-2011-0411): commands sent in the clear after
//! STARTTLS, in the same packet, are dropped, not run inside TLS.

mod support;

use std::cell::RefCell;
use std::rc::Rc;

use support::{Recorder, TestCertificate, endpoint, listen, run};
use torsion::defer::Resolver;
use torsion::net::tls::TlsSetup;
use torsion::protocols::{LineContext, LineHandler, LineReceiver};
use torsion::{Deferred, Failure};
use torsion_smtp::{OutgoingMail, ReplyParser, SendOptions, SmtpServer, send_mail};

#[test]
fn torsions_client_and_server_speak_over_starttls() {
    let certificate = TestCertificate::new();
    let recorder = Recorder::default();
    let server = SmtpServer::new("mx.test", recorder.clone()).with_starttls(certificate.server());
    let client_tls = certificate.client();
    run(30, move |reactor| async move {
        let (_port, number) = listen(&reactor, &server);
        let mail = OutgoingMail {
            from: Some("a@x.test".parse().unwrap()),
            to: vec![
                "b@y.test".parse().unwrap(),
                "nobody@y.test".parse().unwrap(),
            ],
            data: b"Subject: secret\r\n\r\n.hidden\r\n".to_vec(),
        };
        let options = SendOptions {
            tls: Some(client_tls),
            require_tls: true,
            ..SendOptions::default()
        };
        let report = send_mail(&reactor, &endpoint(&reactor, number), mail, options).await?;
        assert!(report.tls);
        assert_eq!(report.accepted.len(), 1);
        assert_eq!(report.refused[0].1.code, 550);
        Ok(())
    });
    let delivered = recorder.messages.borrow();
    assert_eq!(delivered.len(), 1);
    assert!(delivered[0].envelope.client.tls);
    assert_eq!(delivered[0].data, b"Subject: secret\r\n\r\n.hidden\r\n");
}

/// Sends EHLO, STARTTLS and two injected commands in one write; once
/// TLS is on, NOOP and QUIT. Records every reply.
struct Injector {
    parser: ReplyParser,
    replies: Rc<RefCell<Vec<String>>>,
    tls: Option<TlsSetup>,
    done: Option<Resolver<()>>,
}

impl LineHandler for Injector {
    fn line_received(&mut self, ctx: &mut LineContext<'_>, line: &[u8]) {
        let Some(reply) = self.parser.line(line).unwrap() else {
            return;
        };
        self.replies.borrow_mut().push(reply.to_string());
        let transport = ctx.transport().unwrap().clone();
        if reply.lines[0].contains("ESMTP") {
            transport.write(b"EHLO evil.test\r\nSTARTTLS\r\nRSET\r\nMAIL FROM:<evil@x.test>\r\n");
        } else if reply.lines[0].contains("start TLS") {
            transport.start_tls(self.tls.take().unwrap()).unwrap();
            transport.write(b"NOOP\r\nQUIT\r\n");
        }
    }

    fn connection_lost(&mut self, _: &mut LineContext<'_>, _: Failure) {
        if let Some(done) = self.done.take() {
            done.resolve(());
        }
    }
}

#[test]
fn commands_sent_in_the_clear_after_starttls_are_dropped() {
    let certificate = TestCertificate::new();
    let recorder = Recorder::default();
    let server = SmtpServer::new("mx.test", recorder).with_starttls(certificate.server());
    let replies = Rc::new(RefCell::new(Vec::new()));
    let seen = replies.clone();
    let client_tls = certificate.client();
    run(30, move |reactor| async move {
        let (_port, number) = listen(&reactor, &server);
        let (done, resolver) = Deferred::new();
        let injector = Injector {
            parser: ReplyParser::default(),
            replies: seen,
            tls: Some(client_tls),
            done: Some(resolver),
        };
        endpoint(&reactor, number)
            .connect(LineReceiver::new(injector))
            .await?;
        done.await
    });
    let replies = replies.borrow();
    let codes: Vec<&str> = replies.iter().map(|reply| &reply[..3]).collect();
    // The greeting, EHLO, STARTTLS, then only what was sent over TLS:
    // NOOP and QUIT. RSET and MAIL never ran.
    assert_eq!(codes, ["220", "250", "220", "250", "221"], "{replies:?}");
    assert_eq!(replies[3], "250 OK");
}
