//! [`Amp`]: one AMP connection's handle, to call the peer's commands;
//! [`AmpProtocol`]: the protocol that carries it over any transport.
//!
//! ```text
//!  call_remote::<C>(args) ──► to_box ──► _command, _ask=tag ──► transport
//!        │ Deferred<C::Response>                                    │
//!        ▼                                                          ▼
//!  outstanding[tag] ◄── _answer / _error ◄── BoxCodec ◄── bytes from the peer
//!                                               │ _command
//!                                               ▼
//!                     Responders ──► answer or error box ──► transport
//! ```
//!
//! The handle and the protocol share one state: the handle can be used
//! before the connection is up (what it sends waits and goes out on
//! `connection_made`), and after it is gone (calls fail at once with
//! [`AmpError::ConnectionLost`]).

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::rc::{Rc, Weak};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use torsion::net::{Factory, Transport, factory_fn};
use torsion::{Deferred, Failure, Reactor};

use crate::{AmpBox, AmpError, Command, CommandError, UNHANDLED_ERROR_CODE, from_box, to_box};

mod dispatch;
mod process;
mod responders;

pub use dispatch::AmpProtocol;
pub use process::AmpProcessProtocol;
pub use responders::Responders;

/// What came back for a call.
enum Reply {
    Answer(AmpBox),
    Error {
        code: Bytes,
        description: String,
    },
    Lost(Failure),
    /// The caller cancelled the call.
    Cancelled,
}

/// A call waiting for its reply; completes its Deferred.
type Pending = Box<dyn FnOnce(Reply)>;

/// One AMP connection, from the caller's side (Twisted's `AMP` instance
/// as used through `callRemote`): a cheap clonable handle, `!Send`, used
/// on the reactor thread.
///
/// [`Amp::new`] makes the handle and the [`AmpProtocol`] to give a
/// transport: connect it with an endpoint, return it from a factory, or
/// run it over a child process's pipes with [`AmpProcessProtocol`].
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use torsion::endpoints::{client_from_string, server_from_string};
/// use torsion::{Failure, Reactor};
/// use torsion_amp::{Amp, NoError, Responders};
///
/// #[derive(Serialize, Deserialize)]
/// pub struct Pair { a: i64, b: i64 }
/// #[derive(Serialize, Deserialize)]
/// pub struct Total { total: i64 }
///
/// torsion_amp::command! {
///     /// Adds two integers.
///     pub struct Sum = "Sum" { arguments: Pair, response: Total, errors: NoError }
/// }
///
/// let reactor = Reactor::new()?;
/// let r = reactor.clone();
/// let done = reactor.spawn(async move {
///     // A server answering Sum...
///     let responders = Responders::new().respond::<Sum>(|_, p| Ok(Total { total: p.a + p.b }));
///     let port = server_from_string(&r, "tcp:0:interface=127.0.0.1")?
///         .listen(Amp::factory(responders))
///         .await?;
///     // ...and a client calling it.
///     let (amp, protocol) = Amp::new(Responders::new());
///     let address = format!("tcp:host=127.0.0.1:port={}", port.tcp_address().unwrap().port());
///     client_from_string(&r, &address)?.connect(protocol).await?;
///     let answer = amp.call_remote::<Sum>(Pair { a: 13, b: 81 }).await?;
///     assert_eq!(answer.total, 94);
///     r.stop()?;
///     Ok::<(), Failure>(())
/// });
/// reactor.run()?;
/// # assert!(done.is_fired());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Amp {
    state: Rc<RefCell<State>>,
}

pub(crate) struct State {
    /// This state, for the flush the reactor runs later.
    this: Weak<RefCell<State>>,
    transport: Option<Transport>,
    /// What was sent before the connection was up.
    unsent: BytesMut,
    /// Boxes encoded and not yet written: they go out together at the
    /// next turn of the reactor, one write for all the answers to a read
    /// and all the calls a turn makes (Twisted writes at its next
    /// `doWrite` the same way).
    outgoing: BytesMut,
    /// The reactor that flushes `outgoing`; without one (a connection
    /// driven by hand) every box is written at once.
    reactor: Option<Reactor>,
    flush_scheduled: bool,
    /// The last tag used (tags are this counter in hex, as Twisted's).
    counter: u64,
    outstanding: HashMap<u64, Pending>,
    responders: Responders,
    /// Why the connection ended, once it has.
    closed: Option<Failure>,
    /// A protocol error that is the reason the connection is closing.
    broken: Option<Failure>,
}

impl Amp {
    /// A connection's handle and the protocol to connect, answering the
    /// peer's commands with `responders`.
    pub fn new(responders: Responders) -> (Amp, AmpProtocol) {
        let amp = Amp {
            state: Rc::new_cyclic(|weak| {
                RefCell::new(State {
                    this: weak.clone(),
                    transport: None,
                    unsent: BytesMut::new(),
                    outgoing: BytesMut::new(),
                    reactor: None,
                    flush_scheduled: false,
                    counter: 0,
                    outstanding: HashMap::new(),
                    responders,
                    closed: None,
                    broken: None,
                })
            }),
        };
        let protocol = AmpProtocol::new(amp.clone());
        (amp, protocol)
    }

    /// A factory giving each connection an [`AmpProtocol`] answering with
    /// `responders` (a responder reaches its connection through the
    /// [`Amp`] it is given).
    pub fn factory(responders: Responders) -> impl Factory {
        factory_fn(move |_| Some(Amp::new(responders.clone()).1))
    }

    /// Calls `C` on the peer (Twisted's `callRemote`). The Deferred fires
    /// with the response, or fails with:
    ///
    /// - one of `C`'s declared errors, as `C::Error` itself
    ///   (`failure.downcast_ref::<C::Error>()`);
    /// - [`AmpError::UnhandledCommand`] when the peer has no responder;
    /// - [`AmpError::Remote`] for an undeclared error code (`UNKNOWN`
    ///   when the peer's responder failed unexpectedly);
    /// - [`AmpError::ConnectionLost`] when the connection ends first or
    ///   had ended;
    /// - [`AmpError::TooLong`] (nothing sent) when an argument is over
    ///   65535 bytes, or another [`AmpError`] when the arguments cannot
    ///   be encoded or the response does not read as `C::Response`.
    ///
    /// Cancelling the Deferred forgets the call: its answer, if it comes,
    /// is dropped quietly. Any number of calls may be in flight.
    pub fn call_remote<C: Command>(&self, arguments: C::Arguments) -> Deferred<C::Response> {
        let amp_box = match to_box(&arguments) {
            Ok(amp_box) => amp_box,
            Err(error) => return Deferred::fail(error),
        };
        let weak: Weak<RefCell<State>> = Rc::downgrade(&self.state);
        let mut state = self.state.borrow_mut();
        if let Some(reason) = &state.closed {
            return Deferred::fail(AmpError::ConnectionLost(reason.clone()));
        }
        let tag = match state.send_command(C::NAME, amp_box, true) {
            Ok(tag) => tag,
            Err(error) => return Deferred::fail(error),
        };
        let (deferred, resolver) = Deferred::with_canceller(move || {
            // A late answer to this tag is dropped quietly from now on.
            let pending = weak.upgrade().and_then(|state| {
                let mut state = state.try_borrow_mut().ok()?;
                state.outstanding.remove(&tag)
            });
            // Fired here, as cancelled: dropped unfired, it would fail
            // with `ResolverDropped` instead.
            if let Some(pending) = pending {
                pending(Reply::Cancelled);
            }
        });
        state.outstanding.insert(
            tag,
            Box::new(move |reply| resolver.complete(response::<C>(reply))),
        );
        deferred
    }

    /// Calls `C` on the peer without asking for an answer (Twisted's
    /// `callRemote` of a command with `requiresAnswer = False`): no
    /// `_ask` tag is sent and the peer sends nothing back.
    ///
    /// # Errors
    ///
    /// [`AmpError::ConnectionLost`] once the connection has ended; an
    /// encoding error such as [`AmpError::TooLong`] (nothing sent).
    pub fn call_remote_no_answer<C: Command>(
        &self,
        arguments: C::Arguments,
    ) -> Result<(), AmpError> {
        let amp_box = to_box(&arguments)?;
        let mut state = self.state.borrow_mut();
        if let Some(reason) = &state.closed {
            return Err(AmpError::ConnectionLost(reason.clone()));
        }
        state.send_command(C::NAME, amp_box, false).map(drop)
    }

    /// The transport, while connected.
    pub fn transport(&self) -> Option<Transport> {
        self.state.borrow().transport.clone()
    }

    /// True once the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.state.borrow().closed.is_some()
    }

    /// How many calls wait for their answer.
    pub fn outstanding(&self) -> usize {
        self.state.borrow().outstanding.len()
    }

    /// Closes the connection once what was written has gone out; calls
    /// still waiting fail with [`AmpError::ConnectionLost`].
    pub fn lose_connection(&self) {
        self.state.borrow_mut().lose_connection();
    }

    pub(crate) fn state(&self) -> &Rc<RefCell<State>> {
        &self.state
    }
}

impl State {
    /// Sends a command box, with `_ask` when an answer is wanted; returns
    /// the tag used. The counter moves on for every command, as Twisted's.
    fn send_command(
        &mut self,
        name: &'static str,
        mut amp_box: AmpBox,
        ask: bool,
    ) -> Result<u64, AmpError> {
        let tag = self.counter + 1;
        amp_box.insert("_command", name);
        if ask {
            amp_box.insert("_ask", format!("{tag:x}"));
        }
        self.send(&amp_box)?;
        self.counter = tag;
        Ok(tag)
    }

    /// Encodes a box to be written at the reactor's next turn (or keeps
    /// it until the connection is up); nothing once the connection has
    /// ended.
    pub(crate) fn send(&mut self, amp_box: &AmpBox) -> Result<(), AmpError> {
        if self.closed.is_some() {
            return Ok(());
        }
        if self.transport.is_none() {
            return amp_box.encode_into(&mut self.unsent);
        }
        amp_box.encode_into(&mut self.outgoing)?;
        match &self.reactor {
            Some(reactor) if !self.flush_scheduled => {
                self.flush_scheduled = true;
                let state = self.this.clone();
                reactor.call_later(Duration::ZERO, move || {
                    if let Some(state) = state.upgrade() {
                        let mut state = state.borrow_mut();
                        state.flush_scheduled = false;
                        state.flush();
                    }
                });
            }
            Some(_) => {}
            None => self.flush(),
        }
        Ok(())
    }

    /// Writes what was sent and not yet written.
    pub(crate) fn flush(&mut self) {
        if let Some(transport) = &self.transport
            && !self.outgoing.is_empty()
        {
            transport.write(&self.outgoing);
            self.outgoing.clear();
        }
    }

    /// Closes the connection once everything sent has been written.
    pub(crate) fn lose_connection(&mut self) {
        self.flush();
        if let Some(transport) = &self.transport {
            transport.lose_connection();
        }
    }
}

/// Turns a reply into the command's response or failure.
fn response<C: Command>(reply: Reply) -> Result<C::Response, Failure> {
    match reply {
        Reply::Answer(amp_box) => from_box(&amp_box).map_err(Failure::new),
        Reply::Error { code, description } => {
            if code == UNHANDLED_ERROR_CODE {
                Err(Failure::new(AmpError::UnhandledCommand { description }))
            } else if let Some(error) = C::Error::from_code(&code, &description) {
                Err(Failure::new(error))
            } else {
                Err(Failure::new(AmpError::Remote { code, description }))
            }
        }
        Reply::Lost(reason) => Err(Failure::new(AmpError::ConnectionLost(reason))),
        Reply::Cancelled => Err(Failure::new(torsion::error::Cancelled)),
    }
}

impl fmt::Debug for Amp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.state.try_borrow() {
            Ok(state) => f
                .debug_struct("Amp")
                .field("connected", &state.transport.is_some())
                .field("closed", &state.closed.is_some())
                .field("outstanding", &state.outstanding.len())
                .field("responders", &state.responders)
                .finish(),
            Err(_) => f.write_str("Amp { .. }"),
        }
    }
}

#[cfg(test)]
mod tests;
