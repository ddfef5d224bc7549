//! The well-known errors of torsion, in one place.
//!
//! Each is its own small type so that an errback can ask for exactly the one
//! it handles (`failure.trap::<Cancelled>()`), the way Twisted code traps
//! `CancelledError` or `ConnectionDone`. Display texts are for people and may
//! change; match on the types.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use crate::Failure;

/// A Deferred was cancelled (Twisted's `CancelledError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the operation was cancelled")]
pub struct Cancelled;

/// An operation did not finish in the time it was given (Twisted's
/// `defer.TimeoutError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the operation timed out after {0:?}")]
pub struct TimedOut(pub std::time::Duration);

/// The firing half of a Deferred was dropped without firing it, so no result
/// will ever arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the Deferred's resolver was dropped before it fired")]
pub struct ResolverDropped;

/// User code panicked; the panic was caught and became this failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("panicked: {message}")]
pub struct Panicked {
    /// The panic message, or a note that the payload was not a string.
    pub message: String,
}

/// Why a [`DelayedCall`](crate::time::DelayedCall) could not be cancelled,
/// reset or delayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DelayedCallError {
    /// The call already ran (it may be running right now).
    #[error("the delayed call has already been called")]
    AlreadyCalled,
    /// The call was cancelled earlier.
    #[error("the delayed call has already been cancelled")]
    AlreadyCancelled,
}

/// The connection was closed cleanly (Twisted's `ConnectionDone`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the connection was closed cleanly")]
pub struct ConnectionDone;

/// The connection was lost in a non-clean fashion (Twisted's `ConnectionLost`),
/// with the socket error that ended it when there was one.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the connection was lost in a non-clean fashion")]
pub struct ConnectionLost {
    /// Shared, so that a connection's protocol and its client factory can
    /// each be told of the one error.
    #[source]
    cause: Option<Arc<io::Error>>,
}

impl ConnectionLost {
    /// A loss with no further detail.
    pub fn new() -> ConnectionLost {
        ConnectionLost { cause: None }
    }

    /// The socket error behind the loss, if any.
    pub fn cause(&self) -> Option<&io::Error> {
        self.cause.as_deref()
    }

    pub(crate) fn shared(cause: Arc<io::Error>) -> ConnectionLost {
        ConnectionLost { cause: Some(cause) }
    }
}

impl Default for ConnectionLost {
    fn default() -> Self {
        ConnectionLost::new()
    }
}

impl From<io::Error> for ConnectionLost {
    fn from(cause: io::Error) -> Self {
        ConnectionLost::shared(Arc::new(cause))
    }
}

/// A TLS handshake did not finish within its bound (see
/// [`ListenOptions::tls_handshake_timeout`](crate::net::ListenOptions::tls_handshake_timeout)):
/// the connection was aborted, and its protocol's `connection_lost` gets
/// this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the TLS handshake did not finish within {0:?}")]
pub struct TlsHandshakeTimeout(pub std::time::Duration);

/// The peer refused the connection (Twisted's `ConnectionRefusedError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the connection was refused by the other side")]
pub struct ConnectionRefused;

/// A host name that did not resolve to any address (Twisted's
/// `DNSLookupError`); connecting fails with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot resolve host {host:?}: {reason}")]
pub struct DnsLookupError {
    /// The name looked up.
    pub host: String,
    /// What the resolver said.
    pub reason: String,
}

/// The connection was aborted locally (Twisted's `ConnectionAborted`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the connection was aborted locally")]
pub struct ConnectionAborted;

/// What went wrong with a socket beyond the operating system's own error:
/// a misuse the socket layer refuses, or an OS error with the address it
/// happened on.
///
/// Socket calls keep returning [`io::Result`], as std's and mio's do; a
/// `NetError` travels inside the [`io::Error`] (with a matching
/// [`io::ErrorKind`]), and [`NetError::find`] gets it back:
///
/// ```
/// use torsion::error::NetError;
/// use torsion::net::{Protocol, factory_fn};
/// use torsion::Reactor;
///
/// struct Quiet;
/// impl Protocol for Quiet {
///     fn data_received(&mut self, _: &[u8]) {}
/// }
///
/// let reactor = Reactor::new()?;
/// let port = reactor.listen_tcp("127.0.0.1:0".parse()?, factory_fn(|_| Some(Quiet)))?;
/// let taken = port.tcp_address().unwrap();
/// let error = reactor.listen_tcp(taken, factory_fn(|_| Some(Quiet))).unwrap_err();
/// assert!(NetError::find(&error).is_some_and(NetError::is_address_in_use));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// Binding or listening failed; names the address, which the OS error
    /// alone ("address in use") does not.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The address (or socket path) asked for.
        address: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// Connecting failed at once; names the destination.
    #[error("cannot connect to {address}: {source}")]
    Connect {
        /// The destination.
        address: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A socket file is in use by a live socket, so it is not replaced.
    #[error("{} is in use by a live socket", .0.display())]
    SocketFileInUse(PathBuf),
    /// An address this socket cannot use (a UNIX path on a UDP socket, an
    /// address without a path).
    #[error("{0} is not an address this socket can use")]
    UnusableAddress(String),
    /// A connected datagram transport was asked to send elsewhere.
    #[error("this transport is connected to {connected}; it cannot send to {to}")]
    ConnectedElsewhere {
        /// Where the transport is connected.
        connected: String,
        /// Where the datagram was to go.
        to: String,
    },
    /// `write` without an address on a datagram transport that is not
    /// connected.
    #[error("write needs a connected transport; use write_to")]
    NotConnected,
    /// A datagram transport was connected a second time.
    #[error("already connected to {0}; reconnecting is not supported")]
    AlreadyConnected(String),
    /// The socket has been closed.
    #[error("the socket is closed")]
    Closed,
    /// An option that only TCP sockets have.
    #[error("not a TCP socket")]
    NotTcp,
    /// A multicast option on a socket that is not UDP.
    #[error("multicast options apply to UDP sockets only")]
    NotUdp,
    /// An IPv4 multicast interface is chosen by address, not by index.
    #[error("an IPv4 outgoing interface is chosen by address")]
    Ipv4InterfaceByIndex,
    /// An IPv6 multicast interface is chosen by index, not by address.
    #[error("an IPv6 group takes an interface index, not {0}")]
    Ipv6InterfaceByAddress(std::net::Ipv4Addr),
    /// TLS was started on a connection that already has it.
    #[error("TLS is already on")]
    TlsAlreadyStarted,
    /// TLS cannot run over this kind of transport.
    #[error("TLS cannot start on this transport")]
    TlsUnsupported,
    /// A TLS question was asked of a connection without TLS.
    #[error("the connection does not use TLS")]
    NotTls,
    /// The peer closed the socket without TLS's close_notify: a truncation
    /// attack looks exactly like this.
    #[error("the peer closed the connection without a TLS close_notify")]
    TlsTruncated,
    /// The connection closed before its TLS handshake finished.
    #[error("the connection closed during the TLS handshake")]
    HandshakeInterrupted,
    /// The connection under an async stream ended other than cleanly.
    #[error("the connection ended: {0}")]
    ConnectionEnded(String),
}

impl NetError {
    /// The [`io::ErrorKind`] this error travels as.
    pub fn kind(&self) -> io::ErrorKind {
        use io::ErrorKind as Kind;
        match self {
            NetError::Listen { source, .. } | NetError::Connect { source, .. } => source.kind(),
            NetError::SocketFileInUse(_) => Kind::AddrInUse,
            NetError::UnusableAddress(_)
            | NetError::ConnectedElsewhere { .. }
            | NetError::Ipv6InterfaceByAddress(_)
            | NetError::NotTls => Kind::InvalidInput,
            NetError::NotConnected | NetError::Closed => Kind::NotConnected,
            NetError::AlreadyConnected(_) | NetError::TlsAlreadyStarted => Kind::AlreadyExists,
            NetError::NotTcp
            | NetError::NotUdp
            | NetError::Ipv4InterfaceByIndex
            | NetError::TlsUnsupported => Kind::Unsupported,
            NetError::TlsTruncated | NetError::HandshakeInterrupted => Kind::UnexpectedEof,
            NetError::ConnectionEnded(_) => Kind::ConnectionReset,
        }
    }

    /// The `NetError` inside an [`io::Error`], if it carries one.
    pub fn find(error: &io::Error) -> Option<&NetError> {
        error.get_ref()?.downcast_ref::<NetError>()
    }

    /// True when the address (or socket file) is already taken.
    pub fn is_address_in_use(&self) -> bool {
        self.kind() == io::ErrorKind::AddrInUse
    }

    /// True when the socket was already closed.
    pub fn is_closed(&self) -> bool {
        matches!(self, NetError::Closed)
    }

    /// True for a misuse of an API (a wrong address kind, an option the
    /// socket does not have), as opposed to an error the network caused.
    pub fn is_misuse(&self) -> bool {
        matches!(
            self.kind(),
            io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported | io::ErrorKind::AlreadyExists
        )
    }
}

impl From<NetError> for io::Error {
    fn from(error: NetError) -> io::Error {
        io::Error::new(error.kind(), error)
    }
}

/// Errors from the reactor's life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReactorError {
    /// `run` was called while the reactor is already running.
    #[error("the reactor is already running")]
    AlreadyRunning,
    /// `run` was called on a reactor that has already run and stopped; a
    /// reactor runs once.
    #[error("the reactor cannot be restarted")]
    NotRestartable,
    /// `stop` was called on a reactor that is not running (or already
    /// stopping).
    #[error("the reactor is not running")]
    NotRunning,
    /// The reactor has stopped and its thread no longer takes calls.
    #[error("the reactor has stopped")]
    Stopped,
    /// The system event trigger id is unknown or was already removed.
    #[error("no such system event trigger")]
    NoSuchTrigger,
    /// The reader or writer watch id is unknown or was already removed.
    #[error("no such watch")]
    NoSuchWatch,
}

/// Why a reactor took neither SIGINT nor SIGTERM (see
/// [`Reactor::install_signal_handlers`](crate::Reactor::install_signal_handlers)).
#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    /// Both signals already have a handler: another reactor of this
    /// process holds them, or the program (a debugger, a framework)
    /// installed its own. The reactor never takes a handler over.
    #[error("SIGINT and SIGTERM are already handled")]
    AlreadyHandled,
    /// The reactor has finished; it handles nothing any more.
    #[error("the reactor has finished")]
    Finished,
    /// The signal pipe could not be made or watched, or the system refused
    /// the handler.
    #[error("could not install the signal handlers")]
    Io(#[source] std::io::Error),
}

/// Work was offered to a [`ThreadPool`](crate::threads::ThreadPool) that
/// has been stopped (or to the reactor's pool after its shutdown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the thread pool has stopped")]
pub struct PoolStopped;

/// A call that blocks until the reactor answers was made on the reactor's
/// own thread, where it could only deadlock; it fails at once instead (see
/// [`blocking_call_from_thread`](crate::threads::blocking_call_from_thread)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a blocking call was made on the reactor thread, where it would deadlock")]
pub struct OnReactorThread;

/// One member of a [`gather`](crate::defer::gather) failed; carries that
/// member's failure and its index (Twisted's `FirstError`).
#[derive(Debug)]
pub struct FirstError {
    /// The failure of the member that failed first.
    pub failure: Failure,
    /// The position of that member in the input.
    pub index: usize,
}

impl fmt::Display for FirstError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The member's failure is the source: a report that walks the
        // chain (as `Failure`'s Display does) shows it once, after this.
        write!(f, "member {} failed", self.index)
    }
}

impl StdError for FirstError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(self.failure.error())
    }
}

/// Every member of a [`race`](crate::defer::race) failed; the failures are in
/// input order (Twisted's `FailureGroup`).
#[derive(Debug)]
pub struct FailureGroup {
    /// One failure per member, in input order.
    pub failures: Vec<Failure>,
}

impl fmt::Display for FailureGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "all {} members failed", self.failures.len())?;
        for (index, failure) in self.failures.iter().enumerate() {
            write!(f, "; [{index}] {failure}")?;
        }
        Ok(())
    }
}

impl StdError for FailureGroup {}

/// A `put` on a full [`DeferredQueue`](crate::defer::DeferredQueue).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the queue is full")]
pub struct QueueOverflow;

/// A `get` on a [`DeferredQueue`](crate::defer::DeferredQueue) whose backlog
/// of waiting getters is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many pending gets on the queue")]
pub struct QueueUnderflow;

/// Why a [`LoopingCall`](crate::time::LoopingCall) could not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LoopingCallError {
    /// The loop is already running (or waiting on its function's Deferred).
    #[error("the looping call is already running")]
    AlreadyRunning,
}

/// How a cooperative task ended, when asked to do something it no longer can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// The task was stopped with `stop()`.
    #[error("the cooperative task was stopped")]
    Stopped,
    /// The task's iterator is exhausted.
    #[error("the cooperative task is done")]
    Done,
    /// A step of the task failed.
    #[error("the cooperative task failed")]
    Failed,
    /// The cooperator running the task was stopped.
    #[error("the cooperator was stopped")]
    SchedulerStopped,
    /// `resume` was called on a task that is not paused.
    #[error("the cooperative task is not paused")]
    NotPaused,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_error_names_the_index_and_chains_the_failure() {
        let error = FirstError {
            failure: Failure::new(Cancelled),
            index: 1,
        };
        assert_eq!(error.to_string(), "member 1 failed");
        assert!(error.source().unwrap().is::<Cancelled>());
    }

    #[test]
    fn a_first_error_report_shows_the_inner_error_once() {
        let failure = Failure::new(FirstError {
            failure: Failure::new(ConnectionLost::new()),
            index: 0,
        });
        let text = failure.to_string();
        assert_eq!(text.matches("the connection was lost").count(), 1, "{text}");
        assert!(text.starts_with("member 0 failed: "), "{text}");
    }

    #[test]
    fn failure_group_lists_every_failure() {
        let group = FailureGroup {
            failures: vec![Failure::new(Cancelled), Failure::new(ConnectionLost::new())],
        };
        let text = group.to_string();
        assert!(text.starts_with("all 2 members failed"));
        assert!(text.contains("[1] the connection was lost"));
    }
}
