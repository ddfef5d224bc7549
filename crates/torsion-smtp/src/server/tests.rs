//! The session over a fake transport, fed at every chunk size: replies,
//! what is delivered, and how bad input is survived.

use std::cell::RefCell;
use std::rc::Rc;

use torsion::testing::replay_protocol;
use torsion::{Deferred, Failure};

use super::SmtpServer;
use crate::command::Mailbox;
use crate::delivery::{Delivery, Envelope, Message, Rejected};

/// A delivered message: its recipients and bytes.
type Delivered = (Vec<String>, Vec<u8>);

/// Keeps messages; refuses `nobody@...` and messages holding "FAIL".
#[derive(Clone, Default)]
struct Recorder(Rc<RefCell<Vec<Delivered>>>);

impl Delivery for Recorder {
    fn validate_to(&self, _: &Envelope, to: &Mailbox) -> Deferred<()> {
        if to.as_str().starts_with("nobody@") {
            Deferred::fail(Failure::msg("unknown"))
        } else {
            Deferred::succeed(())
        }
    }

    fn deliver(&self, message: Message) -> Deferred<()> {
        if message.data.windows(4).any(|w| w == b"FAIL") {
            return Deferred::fail(Rejected::permanent("refused by policy"));
        }
        let to = message
            .envelope
            .recipients
            .iter()
            .map(ToString::to_string)
            .collect();
        self.0.borrow_mut().push((to, message.data));
        Deferred::succeed(())
    }
}

/// Replays `input` at every chunk size; returns the reply lines and what
/// was delivered.
fn converse(input: &[u8], limit: usize) -> (Vec<String>, Vec<Delivered>) {
    let current = RefCell::new(Recorder::default());
    replay_protocol(
        input,
        || {
            let recorder = Recorder::default();
            *current.borrow_mut() = recorder.clone();
            SmtpServer::new("mx.test", recorder)
                .with_max_message_size(limit)
                .protocol()
        },
        |_, transport| {
            let written = String::from_utf8(transport.value()).unwrap();
            let lines = written.lines().map(str::to_owned).collect();
            (lines, current.borrow().0.borrow().clone())
        },
    )
}

/// The codes of the replies, the last line of each.
fn codes(lines: &[String]) -> Vec<&str> {
    lines
        .iter()
        .filter(|line| line.as_bytes().get(3) == Some(&b' '))
        .map(|line| &line[..3])
        .collect()
}

#[test]
fn a_transaction_delivers_the_unstuffed_message_to_the_accepted_recipients() {
    let (replies, delivered) = converse(
        b"EHLO client.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\n\
          RCPT TO:<nobody@y.test>\r\nRCPT TO:<c@y.test>\r\nDATA\r\n\
          Subject: dots\r\n\r\n..one dot\r\n...\r\n\xe9t\xe9\r\n.\r\nQUIT\r\n",
        1000,
    );
    assert_eq!(
        replies,
        [
            "220 mx.test ESMTP torsion ready",
            "250-mx.test greets you",
            "250-SIZE 1000",
            "250-8BITMIME",
            "250-PIPELINING",
            "250 HELP",
            "250 Sender OK",
            "250 Recipient <b@y.test> OK",
            "550 Mailbox <nobody@y.test> unavailable",
            "250 Recipient <c@y.test> OK",
            "354 End data with <CR><LF>.<CR><LF>",
            "250 Message accepted for delivery",
            "221 mx.test closing the connection",
        ]
    );
    let expected = b"Subject: dots\r\n\r\n.one dot\r\n..\r\n\xe9t\xe9\r\n".to_vec();
    assert_eq!(
        delivered,
        [(vec!["b@y.test".into(), "c@y.test".into()], expected)]
    );
}

#[test]
fn an_oversized_command_line_gets_500_and_the_session_goes_on() {
    let mut input = b"EHLO client.test\r\nNOOP ".to_vec();
    input.extend_from_slice(&[b'a'; 600]);
    input.extend_from_slice(b"\r\nNOOP\r\nNOOP ");
    // A long line whose end arrives long after its limit passed.
    input.extend_from_slice(&[b'b'; 2000]);
    // One of 513 bytes: byte by byte, the limit passes just as its `\r`
    // arrives, and the `\n` that follows must still end it.
    input.extend_from_slice(b"\r\nNOOP ");
    input.extend_from_slice(&[b'c'; 508]);
    input.extend_from_slice(b"\r\nQUIT\r\n");
    let (replies, _) = converse(&input, 1000);
    assert_eq!(
        codes(&replies),
        ["220", "250", "500", "250", "500", "500", "221"]
    );
}

#[test]
fn a_message_over_the_limit_gets_552_and_the_next_one_is_taken() {
    let envelope = b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n";
    let mut input = b"HELO client.test\r\n".to_vec();
    input.extend_from_slice(envelope);
    input.extend_from_slice(&[b'x'; 50]);
    input.extend_from_slice(b"\r\n");
    // One line longer than the whole limit, ended by a dot that must not
    // be taken for the end of the message.
    input.extend_from_slice(&[b'y'; 300]);
    input.extend_from_slice(b".\r\n.\r\n");
    input.extend_from_slice(envelope);
    input.extend_from_slice(b"small\r\n.\r\nMAIL FROM:<a@x.test> SIZE=101\r\nQUIT\r\n");
    let (replies, delivered) = converse(&input, 100);
    assert_eq!(
        codes(&replies),
        [
            "220", "250", "250", "250", "354", "552", "250", "250", "354", "250", "552", "221"
        ]
    );
    assert_eq!(
        delivered,
        [(vec!["b@y.test".into()], b"small\r\n".to_vec())]
    );
}

#[test]
fn a_refused_message_gets_the_hooks_reply() {
    let (replies, delivered) = converse(
        b"HELO c\r\nMAIL FROM:<>\r\nRCPT TO:<b@y.test>\r\nDATA\r\nFAIL\r\n.\r\nQUIT\r\n",
        1000,
    );
    assert!(
        replies.contains(&"554 refused by policy".to_owned()),
        "{replies:?}"
    );
    assert!(delivered.is_empty());
}

#[test]
fn commands_out_of_order_get_503_or_554() {
    let (replies, _) = converse(
        b"MAIL FROM:<a@x.test>\r\nHELO c\r\nRCPT TO:<b@y.test>\r\nDATA\r\n\
          MAIL FROM:<a@x.test>\r\nMAIL FROM:<a@x.test>\r\nDATA\r\n\
          RCPT TO:<nobody@y.test>\r\nDATA\r\nRSET\r\nDATA\r\nSTARTTLS\r\nFROB\r\n",
        1000,
    );
    assert_eq!(
        codes(&replies),
        [
            "220", "503", "250", "503", "503", "250", "503", "554", "550", "554", "250", "503",
            "502", "500"
        ]
    );
}
