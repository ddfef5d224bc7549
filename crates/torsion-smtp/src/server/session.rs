//! One connection's conversation: commands in line mode, the message in
//! line mode too (each line unstuffed by a [`DataReader`]), replies in
//! order even while the delivery hook thinks, and an idle timeout that
//! counts only while the server waits for the client.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use torsion::net::{Address, Transport};
use torsion::protocols::{LineContext, LineHandler};
use torsion::time::IdleTimeout;
use torsion::{Deferred, Failure, Reactor};

use super::{Config, MAX_COMMAND_LINE};
use crate::command::{Command, MailParams, Mailbox};
use crate::data::{DataLine, DataReader};
use crate::delivery::{Client, Envelope, Message, Rejected};
use crate::reply::Reply;

/// The [`LineHandler`] of one SMTP connection; made by
/// [`SmtpServer::protocol`](crate::SmtpServer::protocol).
pub struct Session {
    config: Rc<Config>,
    /// Shared with the callbacks on the hook's Deferreds.
    state: Rc<RefCell<State>>,
}

struct State {
    transport: Option<Transport>,
    peer: Option<Address>,
    /// The HELO/EHLO name; `None` before the greeting and after STARTTLS.
    helo: Option<String>,
    tls: bool,
    /// The transaction, from an accepted MAIL to the end of DATA.
    transaction: Option<Envelope>,
    /// Set while the message is being read.
    data: Option<DataReader>,
    /// The next line is the rest of a command line that was too long.
    skip_tail: bool,
    /// Reading was paused until a hook's Deferred fires.
    paused: bool,
    /// Closes the connection after a quiet period; stopped while a hook's
    /// Deferred is pending, since then the client waits for the server.
    idle: Option<IdleTimeout>,
}

impl Session {
    pub(crate) fn new(config: Rc<Config>) -> Session {
        Session {
            config,
            state: Rc::new(RefCell::new(State {
                transport: None,
                peer: None,
                helo: None,
                tls: false,
                transaction: None,
                data: None,
                skip_tail: false,
                paused: false,
                idle: None,
            })),
        }
    }

    fn reply(&self, code: u16, text: impl Into<String>) {
        self.send(&Reply::new(code, text));
    }

    /// Writes `reply`, with no borrow of the state held while the
    /// transport works.
    fn send(&self, reply: &Reply) {
        let transport = self.state.borrow().transport.clone();
        if let Some(transport) = transport {
            transport.write(&reply.to_bytes());
        }
    }

    fn command(&self, ctx: &mut LineContext<'_>, command: Command) {
        let helo_first = self.state.borrow().helo.is_none();
        match command {
            Command::Helo(name) => {
                self.greeted(name);
                let greeting = format!("{} greets you", self.config.hostname);
                self.reply(250, greeting);
            }
            Command::Ehlo(name) => {
                self.greeted(name);
                let reply = self.extensions();
                self.send(&reply);
            }
            Command::Mail { .. } | Command::Rcpt(_) | Command::Data if helo_first => {
                self.reply(503, "Send HELO or EHLO first");
            }
            Command::Mail { from, params } => self.mail(ctx, from, params),
            Command::Rcpt(to) => self.rcpt(ctx, to),
            Command::Data => self.data(ctx),
            Command::Rset => {
                self.state.borrow_mut().transaction = None;
                self.reply(250, "Reset");
            }
            Command::Noop => self.reply(250, "OK"),
            Command::Vrfy(_) => self.reply(252, "Cannot verify; send some mail and see"),
            Command::Help => self.reply(214, "See RFC 5321"),
            Command::Quit => {
                self.reply(
                    221,
                    format!("{} closing the connection", self.config.hostname),
                );
                ctx.lose_connection();
            }
            Command::StartTls => self.start_tls(ctx),
        }
    }

    fn greeted(&self, name: String) {
        let mut state = self.state.borrow_mut();
        state.helo = Some(name);
        state.transaction = None;
    }

    fn extensions(&self) -> Reply {
        let mut lines = vec![
            format!("{} greets you", self.config.hostname),
            format!("SIZE {}", self.config.max_message_size),
            "8BITMIME".to_owned(),
            "PIPELINING".to_owned(),
        ];
        if self.config.tls.is_some() && !self.state.borrow().tls {
            lines.push("STARTTLS".to_owned());
        }
        lines.push("HELP".to_owned());
        Reply::multi(250, lines)
    }

    fn mail(&self, ctx: &mut LineContext<'_>, from: Option<Mailbox>, params: MailParams) {
        let envelope = {
            let state = self.state.borrow();
            if state.transaction.is_some() {
                drop(state);
                return self.reply(503, "A transaction is already open; RSET first");
            }
            let too_big = params.size.is_some_and(|size| {
                usize::try_from(size).map_or(true, |size| size > self.config.max_message_size)
            });
            if too_big {
                drop(state);
                return self.reply(552, "Message size exceeds the fixed maximum message size");
            }
            Envelope {
                client: state.client(),
                from,
                recipients: Vec::new(),
                body: params.body,
            }
        };
        let decision = self.config.delivery.validate_from(&envelope);
        self.wait(ctx, decision, move |state, result| match result {
            Ok(()) => {
                state.transaction = Some(envelope);
                Reply::new(250, "Sender OK")
            }
            Err(failure) => rejection(&failure, Rejected::no_such_user("Sender refused")),
        });
    }

    fn rcpt(&self, ctx: &mut LineContext<'_>, to: Mailbox) {
        let envelope = self.state.borrow().transaction.clone();
        let Some(envelope) = envelope else {
            return self.reply(503, "MAIL first");
        };
        if envelope.recipients.len() >= self.config.max_recipients {
            return self.reply(452, "Too many recipients");
        }
        let decision = self.config.delivery.validate_to(&envelope, &to);
        self.wait(ctx, decision, move |state, result| match result {
            Ok(()) => {
                let reply = Reply::new(250, format!("Recipient <{to}> OK"));
                if let Some(envelope) = &mut state.transaction {
                    envelope.recipients.push(to);
                }
                reply
            }
            Err(failure) => rejection(
                &failure,
                Rejected::no_such_user(format!("Mailbox <{to}> unavailable")),
            ),
        });
    }

    fn data(&self, ctx: &mut LineContext<'_>) {
        let mut state = self.state.borrow_mut();
        match &state.transaction {
            None => {
                drop(state);
                return self.reply(503, "MAIL first");
            }
            Some(envelope) if envelope.recipients.is_empty() => {
                drop(state);
                return self.reply(554, "No valid recipients");
            }
            Some(_) => {}
        }
        state.data = Some(DataReader::new(self.config.max_message_size));
        drop(state);
        self.reply(354, "End data with <CR><LF>.<CR><LF>");
        // A line of the message may be as long as the message may be.
        set_max_line(ctx, self.config.max_message_size.max(MAX_COMMAND_LINE));
    }

    /// The final dot arrived: the message goes to the hook, or is refused
    /// for its size.
    fn end_of_data(&self, ctx: &mut LineContext<'_>, reader: DataReader) {
        set_max_line(ctx, MAX_COMMAND_LINE);
        let envelope = self.state.borrow_mut().transaction.take();
        let Some(envelope) = envelope else { return };
        let data = match reader.into_message() {
            Ok(data) => data,
            Err(too_big) => {
                tracing::debug!(%too_big, "smtp: a message over the size limit was refused");
                return self.reply(552, "Message size exceeds the fixed maximum message size");
            }
        };
        let delivered = self.config.delivery.deliver(Message { envelope, data });
        self.wait(ctx, delivered, |_, result| match result {
            Ok(()) => Reply::new(250, "Message accepted for delivery"),
            Err(failure) => rejection(
                &failure,
                Rejected::temporary("Local error in processing; try again later"),
            ),
        });
    }

    fn start_tls(&self, ctx: &mut LineContext<'_>) {
        let Some(config) = self.config.tls.clone() else {
            return self.reply(502, "STARTTLS is not offered");
        };
        if self.state.borrow().tls {
            return self.reply(503, "TLS is already on");
        }
        self.reply(220, "Ready to start TLS");
        // Anything the client sent after STARTTLS in the clear is dropped
        // unread: it could be commands an attacker slipped in before the
        // handshake (CVE-2011-0411).
        ctx.clear_line_buffer();
        let started = ctx.transport().map(|transport| transport.start_tls(config));
        if let Some(Err(error)) = started {
            tracing::warn!(%error, "smtp: STARTTLS failed");
            ctx.lose_connection();
            return;
        }
        // RFC 3207 §4.2: the session starts over, greeting included.
        let mut state = self.state.borrow_mut();
        state.tls = true;
        state.helo = None;
        state.transaction = None;
    }

    /// Replies once `decision` fires, with what `conclude` makes of it;
    /// stops reading until then, so that pipelined commands wait.
    fn wait(
        &self,
        ctx: &mut LineContext<'_>,
        decision: Deferred<()>,
        conclude: impl FnOnce(&mut State, Result<(), Failure>) -> Reply + 'static,
    ) {
        let pending = Rc::new(std::cell::Cell::new(true));
        let done = pending.clone();
        let state = self.state.clone();
        let idle_timeout = self.config.idle_timeout;
        drop(decision.both(move |result| {
            done.set(false);
            let (reply, transport, paused) = {
                let mut state = state.borrow_mut();
                let reply = conclude(&mut state, result);
                let paused = std::mem::take(&mut state.paused);
                if let (true, Some(idle)) = (paused, &state.idle) {
                    // The client's turn again: a whole period from the reply.
                    idle.set_timeout(idle_timeout);
                }
                (reply, state.transport.clone(), paused)
            };
            if let Some(transport) = transport {
                transport.write(&reply.to_bytes());
                if paused {
                    transport.resume_reading();
                }
            }
            Ok::<(), Failure>(())
        }));
        if pending.get() {
            if let Some(transport) = ctx.transport() {
                transport.pause_reading();
            }
            let mut state = self.state.borrow_mut();
            state.paused = true;
            if let Some(idle) = &state.idle {
                idle.set_timeout(None);
            }
        }
    }
}

impl State {
    /// A line came: the quiet counts from now.
    fn client_spoke(&self) {
        if let Some(idle) = &self.idle {
            idle.reset();
        }
    }

    fn client(&self) -> Client {
        Client {
            peer: self.peer.clone().unwrap_or(Address::Unknown),
            helo: self.helo.clone().unwrap_or_default(),
            tls: self.tls,
        }
    }
}

/// What the idle timeout does (Twisted's `SMTP.timeoutConnection`): 421,
/// then the connection closes once the reply is out.
fn timed_out(state: Weak<RefCell<State>>, hostname: String) -> impl FnMut() {
    move || {
        let Some(state) = state.upgrade() else { return };
        let transport = state.borrow().transport.clone();
        if let Some(transport) = transport {
            tracing::debug!(peer = %transport.peer(), "smtp: a quiet client timed out");
            let text = format!("{hostname} Timeout. Try talking faster next time!");
            transport.write(&Reply::new(421, text).to_bytes());
            transport.lose_connection();
        }
    }
}

/// The reply for a hook's failure.
fn rejection(failure: &Failure, default: Rejected) -> Reply {
    let rejected = Rejected::from_failure(failure, default);
    Reply::new(rejected.code, rejected.text)
}

fn set_max_line(ctx: &mut LineContext<'_>, max: usize) {
    let codec = ctx.decoder_mut();
    *codec = codec.clone().with_max_length(max);
}

impl LineHandler for Session {
    fn connection_made(&mut self, ctx: &mut LineContext<'_>) {
        {
            let mut state = self.state.borrow_mut();
            state.transport = ctx.transport().cloned();
            state.peer = ctx.transport().map(Transport::peer);
        }
        self.reply(220, format!("{} ESMTP torsion ready", self.config.hostname));
        if let (Some(period), Some(reactor)) = (self.config.idle_timeout, Reactor::current()) {
            let hostname = self.config.hostname.clone();
            let idle = IdleTimeout::new(reactor, timed_out(Rc::downgrade(&self.state), hostname));
            idle.set_timeout(Some(period));
            self.state.borrow_mut().idle = Some(idle);
        }
    }

    fn line_received(&mut self, ctx: &mut LineContext<'_>, line: &[u8]) {
        let mut state = self.state.borrow_mut();
        state.client_spoke();
        if let Some(reader) = &mut state.data {
            if reader.line(line) == DataLine::End {
                let reader = state.data.take().expect("reading data");
                drop(state);
                self.end_of_data(ctx, reader);
            }
            return;
        }
        if std::mem::take(&mut state.skip_tail) {
            drop(state);
            return self.reply(500, "Line too long");
        }
        drop(state);
        match Command::parse(line) {
            Ok(command) => self.command(ctx, command),
            Err(error) => self.reply(error.code(), error.to_string()),
        }
    }

    /// A command line over the limit gets 500 and the session goes on
    /// with the next line; a message line over it makes the message too
    /// big. Either way what followed the long line is read again.
    fn line_length_exceeded(&mut self, ctx: &mut LineContext<'_>, buffered: &[u8]) {
        let end = buffered.windows(2).position(|pair| pair == b"\r\n");
        let mut state = self.state.borrow_mut();
        state.client_spoke();
        if let Some(reader) = &mut state.data {
            reader.line_too_long(end.is_some());
        } else if end.is_some() {
            drop(state);
            self.reply(500, "Line too long");
        } else {
            state.skip_tail = true;
        }
        let rest: &[u8] = match end {
            Some(at) => &buffered[at + 2..],
            // A `\r` at the very end may begin the `\r\n` that ends the line.
            None if buffered.ends_with(b"\r") => b"\r",
            None => b"",
        };
        ctx.set_line_mode(rest);
    }

    fn connection_lost(&mut self, _ctx: &mut LineContext<'_>, reason: Failure) {
        let mut state = self.state.borrow_mut();
        if let Some(reader) = state.data.take() {
            tracing::info!(
                bytes = reader.len(),
                %reason,
                "smtp: the connection was lost in the middle of a message, which is dropped"
            );
        }
        state.transaction = None;
        state.transport = None;
        state.idle = None;
    }
}
