//! The server's delivery hook (Twisted's `IMessageDelivery`): what the
//! application decides about each sender, each recipient and each
//! message, as Deferreds, so the decision may take I/O (a database, a
//! thread pool, another server) while the reactor goes on.
//!
//! Every method answers with a `Deferred<()>`: success accepts, failure
//! refuses. A failure that is a [`Rejected`] picks the reply; any other
//! failure gets the stage's default reply, which is temporary for the
//! message (451: the client keeps it and tries again) and permanent for a
//! recipient (550).

use std::fmt;

use torsion::net::Address;
use torsion::{Deferred, Failure};

use crate::command::{Body, Mailbox};

/// Decides about senders, recipients and messages. Only
/// [`deliver`](Delivery::deliver) is required: by default every sender
/// and recipient is accepted.
pub trait Delivery: 'static {
    /// `MAIL FROM`: accept or refuse the sender (`None` is `<>`). By
    /// default everyone is accepted.
    fn validate_from(&self, envelope: &Envelope) -> Deferred<()> {
        let _ = envelope;
        Deferred::succeed(())
    }

    /// `RCPT TO`: accept or refuse `to`; `envelope` holds the recipients
    /// accepted so far. A refusal without a [`Rejected`] is 550. By
    /// default everyone is accepted.
    fn validate_to(&self, envelope: &Envelope, to: &Mailbox) -> Deferred<()> {
        let _ = (envelope, to);
        Deferred::succeed(())
    }

    /// The end of `DATA`: take the message for the envelope's accepted
    /// recipients. Success is the 250 that makes the server responsible
    /// for the mail; a failure without a [`Rejected`] is 451.
    fn deliver(&self, message: Message) -> Deferred<()>;
}

/// Who is talking, as far as the server knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The peer's address.
    pub peer: Address,
    /// The name the client gave in `HELO` or `EHLO`.
    pub helo: String,
    /// True if the session is over TLS (after `STARTTLS`).
    pub tls: bool,
}

/// One transaction's envelope: the client, the sender, the recipients
/// accepted so far and the body type announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Who sends.
    pub client: Client,
    /// The reverse path; `None` is `<>`.
    pub from: Option<Mailbox>,
    /// The recipients accepted, in order.
    pub recipients: Vec<Mailbox>,
    /// What `BODY=` said, if anything.
    pub body: Option<crate::command::Body>,
}

impl Envelope {
    /// True if the client announced 8-bit content (`BODY=8BITMIME`).
    pub fn is_8bit(&self) -> bool {
        self.body == Some(Body::EightBitMime)
    }
}

/// A complete message: its envelope and its bytes exactly as the client
/// meant them (dots unstuffed, lines ended by `\r\n`; no header added).
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    /// The envelope; only accepted recipients are in it.
    pub envelope: Envelope,
    /// The message: headers, a blank line, the body.
    pub data: Vec<u8>,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("envelope", &self.envelope)
            .field("bytes", &self.data.len())
            .finish()
    }
}

/// A refusal with the reply to send: fail a [`Delivery`] Deferred with
/// this to choose the code and text.
///
/// ```
/// use torsion::Deferred;
/// use torsion_smtp::Rejected;
///
/// let refused: Deferred<()> = Deferred::fail(Rejected::no_such_user("no such mailbox here"));
/// # drop(refused);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} {text}")]
pub struct Rejected {
    /// The reply code, 400 to 599.
    pub code: u16,
    /// The reply text.
    pub text: String,
}

impl Rejected {
    /// A refusal with `code` (clamped to 400..=599: a refusal is never a
    /// success) and `text`.
    pub fn new(code: u16, text: impl Into<String>) -> Rejected {
        Rejected {
            code: code.clamp(400, 599),
            text: text.into(),
        }
    }

    /// 550: no such mailbox, or not here.
    pub fn no_such_user(text: impl Into<String>) -> Rejected {
        Rejected::new(550, text)
    }

    /// 451: a local problem, try again later.
    pub fn temporary(text: impl Into<String>) -> Rejected {
        Rejected::new(451, text)
    }

    /// 554: the message is refused for good.
    pub fn permanent(text: impl Into<String>) -> Rejected {
        Rejected::new(554, text)
    }

    /// The reply for `failure`: its [`Rejected`] if it is one, else
    /// `default`. The failure itself is logged, not told to the client,
    /// to whom an internal error is none of its business.
    pub(crate) fn from_failure(failure: &Failure, default: Rejected) -> Rejected {
        match failure.downcast_ref::<Rejected>() {
            Some(rejected) => rejected.clone(),
            None => {
                tracing::warn!(%failure, "smtp: the delivery hook failed: {}", default.text);
                default
            }
        }
    }
}
