//! The client: [`send_mail`] delivers one message to one server (Twisted's
//! `sendmail` and `ESMTPSender`), with STARTTLS when the server offers it
//! and the options carry a TLS setup.
//!
//! A reply reader (a [`LineHandler`]) puts replies together and queues
//! them; the conversation is an `async` task on the reactor that writes a
//! command and awaits its reply, which reads as the RFC does:
//!
//! ```text
//!  greeting ─► EHLO (HELO if refused) ─► [STARTTLS ─► handshake ─► EHLO]
//!     ─► MAIL, RCPT.., DATA (in one write when PIPELINING is offered)
//!     ─► the message, dot-stuffed ─► QUIT
//! ```

use std::time::Duration;

use torsion::defer::DeferredQueue;
use torsion::endpoints::ClientEndpoint;
use torsion::net::Network;
use torsion::net::tls::TlsSetup;
use torsion::protocols::{LineContext, LineHandler, LineReceiver};
use torsion::{Deferred, Failure, Reactor};

use crate::command::Mailbox;
use crate::reply::{Reply, ReplyParser};

mod conversation;

/// How long the client waits for each reply unless told otherwise: RFC
/// 5321 §4.5.3.2 asks for minutes; this is shorter, for a client that
/// would rather fail and try again.
pub const DEFAULT_REPLY_TIMEOUT: Duration = Duration::from_secs(60);

/// One message to send: the envelope and the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    /// The sender (`None` sends `<>`, for bounces).
    pub from: Option<Mailbox>,
    /// The recipients.
    pub to: Vec<Mailbox>,
    /// The message, lines ended by `\r\n`; dots are stuffed on the way.
    pub data: Vec<u8>,
}

/// How to send.
#[derive(Debug, Clone)]
pub struct SendOptions {
    /// The name given in EHLO/HELO.
    pub helo: String,
    /// Starts TLS with this when the server offers STARTTLS.
    pub tls: Option<TlsSetup>,
    /// Fails rather than send in the clear when STARTTLS cannot be used.
    pub require_tls: bool,
    /// The longest wait for each reply.
    pub reply_timeout: Duration,
}

impl Default for SendOptions {
    /// EHLO `localhost`, no TLS, [`DEFAULT_REPLY_TIMEOUT`].
    fn default() -> SendOptions {
        SendOptions {
            helo: "localhost".to_owned(),
            tls: None,
            require_tls: false,
            reply_timeout: DEFAULT_REPLY_TIMEOUT,
        }
    }
}

/// What became of a message the server accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReport {
    /// The recipients the server took.
    pub accepted: Vec<Mailbox>,
    /// The recipients it refused, with its reply to each.
    pub refused: Vec<(Mailbox, Reply)>,
    /// The reply to the end of the message (250).
    pub reply: Reply,
    /// True if the message went over TLS.
    pub tls: bool,
}

/// Why a message was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The server refused a step (the greeting, EHLO, MAIL, DATA, the
    /// message): the command and the reply.
    #[error("the server refused {command}: {reply}")]
    Refused {
        /// What was refused: "greeting", "EHLO", "MAIL", "DATA", "message".
        command: &'static str,
        /// The server's reply.
        reply: Reply,
    },
    /// Every recipient was refused.
    #[error("every recipient was refused")]
    NoRecipients(Vec<(Mailbox, Reply)>),
    /// TLS was required and the server does not offer STARTTLS, or
    /// refused it.
    #[error("the server does not offer STARTTLS and TLS is required")]
    TlsUnavailable,
    /// The server sent something that is not a reply.
    #[error("not an SMTP reply: {0}")]
    Protocol(String),
    /// The connection closed before the conversation ended.
    #[error("the connection closed before the conversation ended")]
    ConnectionClosed,
}

/// Sends `mail` through the server `endpoint` leads to, and fires with
/// the report once the server has accepted the message; fails with a
/// [`SendError`] (or the connection's failure: refused, timed out, a TLS
/// error) otherwise. Recipients refused one by one do not fail it as long
/// as one is accepted: they are listed in the report.
///
/// ```no_run
/// use torsion::Reactor;
/// use torsion::endpoints::client_from_string;
/// use torsion_smtp::{OutgoingMail, SendOptions, send_mail};
///
/// let reactor = Reactor::new()?;
/// let endpoint = client_from_string(&reactor, "tcp:host=127.0.0.1:port=2525")?;
/// let mail = OutgoingMail {
///     from: Some("alice@example.org".parse()?),
///     to: vec!["bob@example.org".parse()?],
///     data: b"Subject: hello\r\n\r\nHi Bob.\r\n".to_vec(),
/// };
/// let sent = send_mail(&reactor, &endpoint, mail, SendOptions::default());
/// let stopper = reactor.clone();
/// drop(sent.both(move |result| {
///     println!("{result:?}");
///     stopper.stop()
/// }));
/// reactor.run()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn send_mail<N: Network + Clone + 'static>(
    reactor: &Reactor,
    endpoint: &ClientEndpoint<N>,
    mail: OutgoingMail,
    options: SendOptions,
) -> Deferred<SendReport> {
    let replies = DeferredQueue::new(None, None);
    let reader = ReplyReader {
        parser: ReplyParser::default(),
        replies: replies.clone(),
    };
    // Replies are short; a long one is a confused or hostile server.
    let connected = endpoint.connect(LineReceiver::new(reader).with_max_length(4096));
    let reactor = reactor.clone();
    reactor.clone().spawn(async move {
        let transport = connected.await?;
        let mut conversation = conversation::Conversation {
            transport: transport.clone(),
            replies,
            reactor,
            timeout: options.reply_timeout,
            tls: false,
        };
        let outcome = conversation.send(mail, options).await;
        transport.lose_connection();
        outcome
    })
}

/// Queues each reply the server sends, or the reason none will come.
struct ReplyReader {
    parser: ReplyParser,
    replies: DeferredQueue<Result<Reply, Failure>>,
}

impl ReplyReader {
    fn push(&self, item: Result<Reply, Failure>) {
        // The queue is unbounded: put cannot overflow.
        let _ = self.replies.put(item);
    }
}

impl LineHandler for ReplyReader {
    fn line_received(&mut self, ctx: &mut LineContext<'_>, line: &[u8]) {
        match self.parser.line(line) {
            Ok(Some(reply)) => self.push(Ok(reply)),
            Ok(None) => {}
            Err(error) => {
                self.push(Err(Failure::new(SendError::Protocol(error.0))));
                ctx.lose_connection();
            }
        }
    }

    fn line_length_exceeded(&mut self, ctx: &mut LineContext<'_>, _buffered: &[u8]) {
        self.push(Err(Failure::new(SendError::Protocol(
            "a reply line longer than 4096 bytes".to_owned(),
        ))));
        ctx.lose_connection();
    }

    /// A clean close becomes [`SendError::ConnectionClosed`]; anything
    /// else (a TLS error, a reset) is passed on as it is.
    fn connection_lost(&mut self, _ctx: &mut LineContext<'_>, reason: Failure) {
        if reason.is::<torsion::error::ConnectionDone>() {
            self.push(Err(Failure::new(SendError::ConnectionClosed)));
        } else {
            self.push(Err(reason));
        }
    }
}
