//! Listening ports: accept in batches, build a protocol per connection, and
//! back off when the process runs out of descriptors.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use mio::Token;

use crate::failure::catch_panic;
use crate::net::protocol::FactoryUse;
use crate::net::stream::{StreamConn, StreamSocket};
use crate::net::sys;
use crate::net::tls::{ServerTls, TlsSession, TlsSetup};
use crate::net::{Address, Factory, Transport};
use crate::reactor::{IoSource, Readiness, WeakReactor};
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
    /// Set while accepting is paused after EMFILE / ENFILE.
    paused: Cell<bool>,
    /// The last pause; zero once an accept succeeds again.
    last_backoff: Cell<Duration>,
    accepted: Cell<u64>,
}

impl PortSource {
    fn accept_batch(&self, reactor: &Reactor) {
        if self.paused.get() {
            return;
        }
        for _ in 0..ACCEPTS_PER_TURN {
            let accepted = match &*self.listener.borrow() {
                Some(listener) => listener.accept(),
                None => return,
            };
            match accepted {
                Ok(socket) => {
                    if !self.last_backoff.get().is_zero() {
                        self.last_backoff.set(Duration::ZERO);
                        tracing::info!(address = %self.address, "accepting again");
                    }
                    self.serve(reactor, socket);
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                    ) => {}
                Err(error) if sys::is_resource_exhaustion(&error) => {
                    self.back_off(reactor, &error);
                    return;
                }
                Err(error) => {
                    tracing::error!(%error, address = %self.address, "accept failed");
                    return;
                }
            }
        }
        // More may be waiting; no new edge will say so.
        reactor.settle_later(self.token);
    }

    /// Stops accepting for a while; waiting costs no CPU, and the retry
    /// picks up what queued in the backlog meanwhile.
    fn back_off(&self, reactor: &Reactor, error: &io::Error) {
        let last = self.last_backoff.get();
        let delay = if last.is_zero() {
            tracing::warn!(%error, address = %self.address, "out of descriptors; accepting paused");
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
        reactor.remove_source(self.token, listener.as_raw_fd());
        drop(listener);
        if let Some(path) = &self.unlink {
            let _ = std::fs::remove_file(path);
        }
        let factory_use = self.factory_use.borrow_mut().take();
        drop(factory_use);
        true
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
        tls: Option<ServerTls>,
        unlink: Option<PathBuf>,
    ) -> io::Result<ListeningPort> {
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
                accepted: Cell::new(0),
            }))
        })?;
        *source.factory_use.borrow_mut() = Some(FactoryUse::start(factory));
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

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.source.accepted.get()
    }

    /// True while the port is paused after running out of descriptors.
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
