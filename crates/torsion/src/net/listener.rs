//! Listening ports: accept in batches, build a protocol per connection, and
//! answer running out of descriptors as Twisted does.
//!
//! When `accept` fails with EMFILE or ENFILE, the connections waiting in
//! the backlog would wait there until a descriptor frees up, which may be
//! never; their clients would hang. So the port closes the process's
//! reserved descriptor (`sys::with_reserve_released`), accepts the waiting
//! connections one at a time into the slot it freed and closes each at
//! once, then takes the reserve back: those clients see their connection
//! closed at once and can retry or go elsewhere. Each readiness event
//! tries an ordinary accept first, so serving resumes with the first
//! connection that arrives after a descriptor frees up. A stretch of
//! exhaustion is one *episode*: one warning when it starts, one line with
//! the count of refused connections when it ends.
//!
//! Running out of kernel memory (ENOBUFS, ENOMEM), or of descriptors with
//! no reserve left to release, pauses accepting instead, for a back-off
//! that doubles while it keeps failing: connections wait in the backlog,
//! and waiting costs no CPU.
//!
//! On the io_uring backend the kernel accepts instead (see [`ring`]): a
//! port arms one multishot accept and gets a completion per connection.
//! When the kernel ends it (out of descriptors or memory, mostly), the
//! port goes back to readiness and `accept4`, where all of the above
//! applies unchanged, and arms the ring again once a batch of accepts
//! has emptied the backlog with nothing failing.

mod ring;

use std::cell::{Cell, OnceCell, RefCell};
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use mio::Token;

use crate::failure::catch_panic;
use crate::net::accept_group::{self, AcceptGroup, GroupPort, Member, Route};
use crate::net::protocol::FactoryUse;
use crate::net::stream::{StreamConn, StreamSocket};
use crate::net::sys;
use crate::net::tls::{ServerTls, TlsSession, TlsSetup};
use crate::net::{Address, Factory, Transport};
use crate::reactor::introspect::{PortInfo, SourceInfo};
use crate::reactor::{IoSource, OpDone, Readiness, WeakReactor};
use crate::sync::Arc;
use crate::{Deferred, Reactor};

/// Connections accepted per readiness event before the port yields.
const ACCEPTS_PER_TURN: usize = 128;
/// The first pause after running out of descriptors; it doubles up to
/// [`MAX_BACKOFF`] while accepting keeps failing.
const FIRST_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_millis(250);

#[derive(Debug)]
pub(crate) enum Listener {
    Tcp(mio::net::TcpListener),
    Unix(mio::net::UnixListener),
}

impl Listener {
    fn accept(&self) -> io::Result<StreamSocket> {
        match self {
            Listener::Tcp(listener) => listener.accept().map(|(s, _)| StreamSocket::Tcp(s)),
            Listener::Unix(listener) => listener.accept().map(|(s, _)| StreamSocket::Unix(s)),
        }
    }

    /// A socket this listener's ring accept took, as its own `accept`
    /// would have given it.
    fn socket_from(&self, fd: OwnedFd) -> StreamSocket {
        match self {
            Listener::Tcp(_) => tcp_socket(fd.into()),
            Listener::Unix(_) => StreamSocket::Unix(mio::net::UnixStream::from_std(fd.into())),
        }
    }

    fn address(&self) -> Address {
        match self {
            Listener::Tcp(l) => l.local_addr().map(Address::Tcp).unwrap_or(Address::Unknown),
            Listener::Unix(l) => l
                .local_addr()
                .map(Address::from)
                .unwrap_or(Address::Unknown),
        }
    }
}

impl AsRawFd for Listener {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Listener::Tcp(l) => l.as_raw_fd(),
            Listener::Unix(l) => l.as_raw_fd(),
        }
    }
}

/// What one accept attempt came to.
enum Accepted {
    Socket(StreamSocket),
    /// The backlog is empty.
    Drained,
    /// Nothing accepted, but trying again at once may work.
    Retry,
    Failed(io::Error),
}

/// A stretch of time during which accepting failed for lack of
/// descriptors or memory.
#[derive(Clone, Copy, Debug)]
struct Exhaustion {
    since: Instant,
    /// The port's refused count when the episode began.
    refused_before: u64,
}

/// What a port does about connections while it is exhausted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Response {
    /// Closes them at once, through the reserved descriptor.
    Refusing,
    /// Leaves them in the backlog while accepting is paused.
    Pausing,
}

/// How a turn of refusing connections ended.
enum Refusal {
    /// The backlog is empty: the next connection brings a new edge.
    Drained,
    /// The turn's bound was reached with connections still waiting.
    MoreWaiting,
    /// Accepting failed even with the reserve's slot (another thread took
    /// it, or the system is out), or there was no reserve.
    Failed,
}

/// How a batch of accepts by readiness ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BatchEnd {
    /// An accept found the backlog empty, with nothing failing before it.
    Drained,
    /// Anything else: the turn's bound, a failure, exhaustion.
    Stopped,
}

/// What a port does besides accepting and serving.
#[derive(Default)]
pub(crate) struct PortExtras {
    /// Serve TLS on every connection.
    pub(crate) tls: Option<ServerTls>,
    /// Removed when the port stops (a UNIX socket file).
    pub(crate) unlink: Option<PathBuf>,
    /// Even out the connections served with the group's other ports.
    pub(crate) group: Option<AcceptGroup>,
}

/// A port's place in its [`AcceptGroup`].
struct Grouped {
    group: AcceptGroup,
    member: Arc<Member>,
}

pub(crate) struct PortSource {
    token: Token,
    reactor: WeakReactor,
    listener: RefCell<Option<Listener>>,
    address: Address,
    factory: Rc<dyn Factory>,
    /// This port's use of its factory, released when the port closes.
    factory_use: RefCell<Option<FactoryUse>>,
    tls: Option<ServerTls>,
    /// Removed when the port stops (a UNIX socket file).
    unlink: Option<PathBuf>,
    /// Set while accepting is paused after running out of memory, or of
    /// descriptors with no reserve to release.
    paused: Cell<bool>,
    /// The last pause; zero once an accept succeeds again.
    last_backoff: Cell<Duration>,
    /// The episode of exhaustion under way, if any.
    exhaustion: Cell<Option<Exhaustion>>,
    accepted: Cell<u64>,
    refused: Cell<u64>,
    /// Set once, when the port opens in a group.
    grouped: OnceCell<Grouped>,
    /// Whether the io_uring backend's ring accepts for the port now.
    ring_accept: Cell<ring::RingAccept>,
}

impl PortSource {
    fn accept_one(&self) -> Accepted {
        let accepted = match &*self.listener.borrow() {
            Some(listener) => listener.accept(),
            None => return Accepted::Drained,
        };
        match accepted {
            Ok(socket) => Accepted::Socket(socket),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => Accepted::Drained,
            // A connection reset while it waited, or a signal.
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                ) =>
            {
                Accepted::Retry
            }
            Err(error) => Accepted::Failed(error),
        }
    }

    /// Accepts by readiness, unless the ring accepts for the port; hands
    /// accepting back to the ring once a batch empties the backlog.
    fn accept_batch(&self, reactor: &Reactor) {
        if self.paused.get() || self.ring_accept.get().is_armed() {
            return;
        }
        if self.accept_ready(reactor) == BatchEnd::Drained {
            self.arm_ring_accept(reactor);
        }
    }

    fn accept_ready(&self, reactor: &Reactor) -> BatchEnd {
        for _ in 0..ACCEPTS_PER_TURN {
            match self.accept_one() {
                Accepted::Socket(socket) => {
                    self.end_exhaustion();
                    self.ring_accept_works();
                    self.route(reactor, socket);
                }
                Accepted::Drained => return BatchEnd::Drained,
                Accepted::Retry => {}
                Accepted::Failed(error) if sys::is_out_of_descriptors(&error) => {
                    // Linux fails an accept for want of a descriptor even
                    // with nobody waiting: the episode starts with the
                    // first client turned away, not with a full table.
                    let refused_before = self.refused.get();
                    let refusal = self.refuse_waiting();
                    if matches!(refusal, Refusal::Failed) {
                        self.begin_exhaustion(&error, refused_before, Response::Pausing);
                    } else if self.refused.get() > refused_before {
                        self.begin_exhaustion(&error, refused_before, Response::Refusing);
                    }
                    match refusal {
                        Refusal::Drained => return BatchEnd::Stopped,
                        Refusal::MoreWaiting => break,
                        Refusal::Failed => {
                            self.back_off(reactor);
                            return BatchEnd::Stopped;
                        }
                    }
                }
                Accepted::Failed(error) if sys::is_resource_exhaustion(&error) => {
                    self.begin_exhaustion(&error, self.refused.get(), Response::Pausing);
                    self.back_off(reactor);
                    return BatchEnd::Stopped;
                }
                Accepted::Failed(error) => {
                    tracing::error!(%error, address = %self.address, "accept failed");
                    return BatchEnd::Stopped;
                }
            }
        }
        // More may be waiting; no new edge will say so.
        reactor.settle_later(self.token);
        BatchEnd::Stopped
    }

    /// Accepts the waiting connections into the reserved descriptor's slot
    /// and closes each at once, up to a turn's worth.
    fn refuse_waiting(&self) -> Refusal {
        let refusal = sys::with_reserve_released(|| {
            for _ in 0..ACCEPTS_PER_TURN {
                match self.accept_one() {
                    // Dropped here: closed before anything else can take
                    // the slot.
                    Accepted::Socket(socket) => {
                        drop(socket);
                        self.refused.set(self.refused.get() + 1);
                    }
                    Accepted::Drained => return Refusal::Drained,
                    Accepted::Retry => {}
                    Accepted::Failed(_) => return Refusal::Failed,
                }
            }
            Refusal::MoreWaiting
        });
        refusal.unwrap_or(Refusal::Failed)
    }

    /// Starts an episode of exhaustion, with its one warning, unless one
    /// is under way; `refused_before` is the port's refused count before
    /// the episode's first refusal.
    fn begin_exhaustion(&self, error: &io::Error, refused_before: u64, response: Response) {
        if self.exhaustion.get().is_some() {
            return;
        }
        self.exhaustion.set(Some(Exhaustion {
            since: Instant::now(),
            refused_before,
        }));
        let address = &self.address;
        match response {
            Response::Refusing => tracing::warn!(
                %error,
                %address,
                "out of descriptors: closing new connections at once until some are freed"
            ),
            Response::Pausing => tracing::warn!(
                %error,
                %address,
                "out of resources: accepting paused until some are freed"
            ),
        }
    }

    /// Ends the episode under way, if any, with its one line saying how
    /// many connections it refused; takes the reserve back if it was lost.
    fn end_exhaustion(&self) {
        let Some(episode) = self.exhaustion.take() else {
            return;
        };
        self.last_backoff.set(Duration::ZERO);
        let refused = self.refused.get() - episode.refused_before;
        let lasted_ms = episode.since.elapsed().as_millis() as u64;
        tracing::info!(address = %self.address, refused, lasted_ms, "accepting again");
        if let Err(error) = sys::reserve_descriptor() {
            tracing::debug!(%error, "cannot reserve a descriptor again yet");
        }
    }

    /// Stops accepting for a while; waiting costs no CPU, and the retry
    /// picks up what queued in the backlog meanwhile.
    fn back_off(&self, reactor: &Reactor) {
        let last = self.last_backoff.get();
        let delay = if last.is_zero() {
            FIRST_BACKOFF
        } else {
            (last * 2).min(MAX_BACKOFF)
        };
        self.paused.set(true);
        self.last_backoff.set(delay);
        let weak = self.reactor.clone();
        let token = self.token;
        reactor.call_later(delay, move || {
            let Some(reactor) = weak.upgrade() else {
                return;
            };
            let source = reactor.source(token);
            if let Some(source) = source {
                source.settle(&reactor);
            }
        });
    }

    /// Serves an accepted connection, or hands it to the member of the
    /// port's group that was given the fewest.
    fn route(&self, reactor: &Reactor, socket: StreamSocket) {
        let route = match (self.grouped.get(), &socket) {
            (Some(grouped), StreamSocket::Tcp(_)) => grouped.group.route(&grouped.member),
            _ => Route::Here,
        };
        match (route, socket) {
            (Route::To(target), StreamSocket::Tcp(stream)) => {
                // What the target cannot take (it closed meanwhile) is
                // served here.
                for socket in target.hand(stream.into()) {
                    self.serve(reactor, tcp_socket(socket));
                }
            }
            (_, socket) => self.serve(reactor, socket),
        }
    }

    fn serve(&self, reactor: &Reactor, socket: StreamSocket) {
        let peer = socket.peer();
        let built = catch_panic(|| self.factory.build_protocol(&peer));
        let protocol = match built {
            Ok(Some(protocol)) => protocol,
            Ok(None) => return,
            Err(failure) => {
                tracing::error!(%failure, %peer, "panic in build_protocol; connection refused");
                return;
            }
        };
        let tls = match &self.tls {
            Some(tls) => match TlsSession::new(TlsSetup::Server(tls.config.clone())) {
                Ok(session) => Some(session),
                Err(error) => {
                    tracing::error!(%error, %peer, "cannot start TLS; connection dropped");
                    return;
                }
            },
            None => None,
        };
        let added = StreamConn::register(reactor, socket, Some(protocol));
        let conn = match added {
            Ok(conn) => conn,
            Err(error) => {
                tracing::error!(%error, %peer, "cannot watch an accepted connection");
                return;
            }
        };
        self.accepted.set(self.accepted.get() + 1);
        if let Some(session) = tls {
            let timeout = self.tls.as_ref().and_then(|tls| tls.handshake_timeout);
            conn.start_handshake(reactor, session, timeout);
        }
        let transport = Transport::new(conn.clone());
        conn.make_connection(reactor, &transport);
    }

    fn close(&self, reactor: &Reactor) -> bool {
        let Some(listener) = self.listener.borrow_mut().take() else {
            return false;
        };
        // Before the descriptor closes (see `stop_ring_accept`).
        self.stop_ring_accept(reactor);
        reactor.remove_source(self.token, listener.as_raw_fd());
        drop(listener);
        if let Some(grouped) = self.grouped.get() {
            // Connections handed to this port but not served yet go to the
            // group's other ports.
            let left = grouped.member.leave();
            accept_group::forget_port(reactor, grouped.member.id());
            grouped.group.rehome(&grouped.member, left);
        }
        if let Some(path) = &self.unlink {
            let _ = std::fs::remove_file(path);
        }
        let factory_use = self.factory_use.borrow_mut().take();
        drop(factory_use);
        true
    }
}

impl GroupPort for PortSource {
    fn take_handed(&self, reactor: &Reactor) {
        let Some(grouped) = self.grouped.get() else {
            return;
        };
        for socket in grouped.member.take_inbox() {
            self.serve(reactor, tcp_socket(socket));
        }
    }
}

impl IoSource for PortSource {
    fn ready(&self, reactor: &Reactor, readiness: Readiness) {
        if readiness.readable || readiness.error {
            self.accept_batch(reactor);
        }
    }

    fn settle(&self, reactor: &Reactor) {
        // The back-off timer, or a batch that stopped early.
        self.paused.set(false);
        self.accept_batch(reactor);
    }

    fn shutdown(&self, reactor: &Reactor) {
        self.close(reactor);
    }

    fn ring_done(&self, reactor: &Reactor, done: OpDone) {
        // A port starts accepts only; anything else is not its own.
        if let OpDone::Accepted(done) = done {
            self.ring_accepted(reactor, done);
        }
    }

    fn describe(&self, _now: Instant) -> Option<SourceInfo> {
        let kind = match &*self.listener.borrow() {
            _ if self.tls.is_some() => "tls",
            Some(Listener::Tcp(_)) => "tcp",
            Some(Listener::Unix(_)) => "unix",
            None => return None,
        };
        Some(SourceInfo::Port(PortInfo::new(
            self.address.to_string(),
            kind,
            self.accepted.get(),
        )))
    }
}

/// A port accepting connections (Twisted's `IListeningPort`).
#[derive(Clone)]
pub struct ListeningPort {
    source: Rc<PortSource>,
}

impl ListeningPort {
    pub(crate) fn open(
        reactor: &Reactor,
        listener: Listener,
        factory: Rc<dyn Factory>,
        extras: PortExtras,
    ) -> io::Result<ListeningPort> {
        let PortExtras { tls, unlink, group } = extras;
        let address = listener.address();
        let source = reactor.add_source(|registry, token| {
            let fd = listener.as_raw_fd();
            registry.register(
                &mut mio::unix::SourceFd(&fd),
                token,
                mio::Interest::READABLE,
            )?;
            Ok(Rc::new(PortSource {
                token,
                reactor: reactor.downgrade(),
                listener: RefCell::new(Some(listener)),
                address,
                factory: factory.clone(),
                factory_use: RefCell::new(None),
                tls,
                unlink,
                paused: Cell::new(false),
                last_backoff: Cell::new(Duration::ZERO),
                exhaustion: Cell::new(None),
                accepted: Cell::new(0),
                refused: Cell::new(0),
                grouped: OnceCell::new(),
                ring_accept: Cell::new(ring::RingAccept::for_reactor(reactor)),
            }))
        })?;
        if let Some(group) = group {
            let port: Weak<PortSource> = Rc::downgrade(&source);
            let member = group.join(reactor, port);
            let _ = source.grouped.set(Grouped { group, member });
        }
        if let Err(error) = sys::reserve_descriptor() {
            tracing::warn!(%error, address = %source.address, "no descriptor reserved: when descriptors run out, new connections will wait instead of being closed");
        }
        *source.factory_use.borrow_mut() = Some(FactoryUse::start(factory));
        source.arm_ring_accept(reactor);
        Ok(ListeningPort { source })
    }

    /// The address the port is bound to; with port 0 asked, the port the
    /// system chose.
    pub fn address(&self) -> Address {
        self.source.address.clone()
    }

    /// The bound TCP address, for the common case of a TCP port.
    pub fn tcp_address(&self) -> Option<std::net::SocketAddr> {
        match self.source.address {
            Address::Tcp(address) => Some(address),
            _ => None,
        }
    }

    /// Connections served so far: those this port accepted and kept, and,
    /// in an [`AcceptGroup`], those other ports of the group handed to it.
    pub fn accepted(&self) -> u64 {
        self.source.accepted.get()
    }

    /// Connections closed unserved because the process was out of
    /// descriptors when they arrived.
    pub fn refused(&self) -> u64 {
        self.source.refused.get()
    }

    /// True while the port is paused after running out of memory, or of
    /// descriptors with no reserved one to release.
    pub fn is_backing_off(&self) -> bool {
        self.source.paused.get()
    }

    /// Stops accepting and closes the port (connections already accepted
    /// stay up). The Deferred fires once the port is closed; stopping twice
    /// is harmless.
    pub fn stop_listening(&self) -> Deferred<()> {
        if let Some(reactor) = self.source.reactor.upgrade() {
            self.source.close(&reactor);
        }
        Deferred::succeed(())
    }
}

impl fmt::Debug for ListeningPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListeningPort")
            .field("address", &self.source.address)
            .field("open", &self.source.listener.borrow().is_some())
            .finish()
    }
}

/// A socket handed over by another port of a group, as the ports' own
/// accepted sockets are.
fn tcp_socket(socket: std::net::TcpStream) -> StreamSocket {
    StreamSocket::Tcp(mio::net::TcpStream::from_std(socket))
}
