//! [`MemoryReactor`]: a [`Network`] that records listens and connects
//! without opening sockets.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::defer::Resolver;
use crate::error::DnsLookupError;
use crate::net::{
    Address, ConnectOptions, Factory, ListenOptions, Network, Protocol, Transport,
    UnixListenOptions,
};
use crate::{Deferred, Failure};

/// A fake reactor that records every listen and connect asked of it and
/// opens nothing (Twisted's `MemoryReactor`), so code that listens or
/// connects through [`Network`] (endpoints, say) can be tested without a
/// network.
///
/// Listening succeeds with a [`MemoryPort`] (or fails with the error given
/// to [`fail_next_listen`](MemoryReactor::fail_next_listen)). Connecting
/// returns a Deferred that stays pending: the test takes the protocol from
/// the recorded [`ConnectCall`] and drives it, or fails the attempt.
/// Host names resolve from a table, where `localhost` is `127.0.0.1`.
/// Clones share the same records.
///
/// ```
/// use torsion::endpoints::server_from_string;
/// use torsion::net::{Protocol, factory_fn};
/// use torsion::testing::MemoryReactor;
///
/// struct Discard;
/// impl Protocol for Discard {
///     fn data_received(&mut self, _: &[u8]) {}
/// }
///
/// let reactor = MemoryReactor::new();
/// let endpoint = server_from_string(&reactor, "tcp:8080:backlog=7")?;
/// drop(endpoint.listen(factory_fn(|_| Some(Discard))));
/// let listens = reactor.tcp_listens();
/// assert_eq!(listens[0].address, "0.0.0.0:8080".parse()?);
/// assert_eq!(listens[0].options.backlog, 7);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
pub struct MemoryReactor {
    state: Rc<State>,
}

#[derive(Default)]
struct State {
    tcp_listens: RefCell<Vec<Rc<TcpListenCall>>>,
    unix_listens: RefCell<Vec<Rc<UnixListenCall>>>,
    connects: RefCell<Vec<Rc<ConnectCall>>>,
    hosts: RefCell<HashMap<String, Vec<IpAddr>>>,
    lookups: RefCell<Vec<String>>,
    listen_error: RefCell<Option<io::Error>>,
}

/// A recorded TCP listen.
pub struct TcpListenCall {
    /// The address asked for.
    pub address: SocketAddr,
    /// The options (backlog, TLS configuration).
    pub options: ListenOptions,
    /// The factory the port would build protocols with.
    pub factory: Rc<dyn Factory>,
}

/// A recorded UNIX listen.
pub struct UnixListenCall {
    /// The socket path asked for.
    pub path: PathBuf,
    /// The options (backlog, mode).
    pub options: UnixListenOptions,
    /// The factory the port would build protocols with.
    pub factory: Rc<dyn Factory>,
}

/// A recorded connect, still pending until the test fails it.
pub struct ConnectCall {
    /// Where the connection was to go.
    pub address: Address,
    /// The options (timeout, local address, TLS).
    pub options: ConnectOptions,
    protocol: RefCell<Option<Box<dyn Protocol>>>,
    resolver: RefCell<Option<Resolver<Transport>>>,
    cancelled: Cell<bool>,
}

impl ConnectCall {
    /// Takes the protocol the connection was for, to drive it by hand.
    pub fn take_protocol(&self) -> Option<Box<dyn Protocol>> {
        self.protocol.borrow_mut().take()
    }

    /// Fails the attempt (a refusal, a timeout): the connect Deferred fails
    /// with `failure`.
    pub fn fail(&self, failure: impl Into<Failure>) {
        let resolver = self.resolver.borrow_mut().take();
        if let Some(resolver) = resolver {
            resolver.reject(failure);
        }
    }

    /// True once the connect Deferred was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.get()
    }
}

/// The port a [`MemoryReactor`] listen gives back.
#[derive(Clone, Debug)]
pub struct MemoryPort {
    address: Address,
    listening: Rc<Cell<bool>>,
}

impl MemoryPort {
    /// The address that was asked for.
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// True until [`stop_listening`](MemoryPort::stop_listening).
    pub fn is_listening(&self) -> bool {
        self.listening.get()
    }

    /// Stops "listening"; fires at once.
    pub fn stop_listening(&self) -> Deferred<()> {
        self.listening.set(false);
        Deferred::succeed(())
    }
}

impl MemoryReactor {
    /// A memory reactor with no records.
    pub fn new() -> MemoryReactor {
        MemoryReactor::default()
    }

    /// Every TCP listen so far, oldest first.
    pub fn tcp_listens(&self) -> Vec<Rc<TcpListenCall>> {
        self.state.tcp_listens.borrow().clone()
    }

    /// Every UNIX listen so far, oldest first.
    pub fn unix_listens(&self) -> Vec<Rc<UnixListenCall>> {
        self.state.unix_listens.borrow().clone()
    }

    /// Every connect so far, oldest first.
    pub fn connects(&self) -> Vec<Rc<ConnectCall>> {
        self.state.connects.borrow().clone()
    }

    /// Every host name looked up so far.
    pub fn lookups(&self) -> Vec<String> {
        self.state.lookups.borrow().clone()
    }

    /// Makes `host` resolve to `addresses` (in that order).
    pub fn add_host(&self, host: &str, addresses: Vec<IpAddr>) {
        self.state
            .hosts
            .borrow_mut()
            .insert(host.to_ascii_lowercase(), addresses);
    }

    /// Makes the next listen fail with `error` (an address in use, say).
    pub fn fail_next_listen(&self, error: io::Error) {
        *self.state.listen_error.borrow_mut() = Some(error);
    }

    fn listen_error(&self) -> io::Result<()> {
        match self.state.listen_error.borrow_mut().take() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

impl Network for MemoryReactor {
    type Port = MemoryPort;

    fn listen_tcp_port(
        &self,
        address: SocketAddr,
        factory: Rc<dyn Factory>,
        options: ListenOptions,
    ) -> io::Result<MemoryPort> {
        self.listen_error()?;
        self.state
            .tcp_listens
            .borrow_mut()
            .push(Rc::new(TcpListenCall {
                address,
                options,
                factory,
            }));
        Ok(MemoryPort {
            address: Address::Tcp(address),
            listening: Rc::new(Cell::new(true)),
        })
    }

    fn listen_unix_port(
        &self,
        path: &Path,
        factory: Rc<dyn Factory>,
        options: UnixListenOptions,
    ) -> io::Result<MemoryPort> {
        self.listen_error()?;
        self.state
            .unix_listens
            .borrow_mut()
            .push(Rc::new(UnixListenCall {
                path: path.to_owned(),
                options,
                factory,
            }));
        Ok(MemoryPort {
            address: Address::Unix(Some(path.to_owned())),
            listening: Rc::new(Cell::new(true)),
        })
    }

    fn connect_protocol(
        &self,
        address: Address,
        protocol: Box<dyn Protocol>,
        options: ConnectOptions,
    ) -> Deferred<Transport> {
        let call = Rc::new(ConnectCall {
            address,
            options,
            protocol: RefCell::new(Some(protocol)),
            resolver: RefCell::new(None),
            cancelled: Cell::new(false),
        });
        let weak = Rc::downgrade(&call);
        let (deferred, resolver) = Deferred::with_canceller(move || {
            if let Some(call) = weak.upgrade() {
                call.cancelled.set(true);
                if let Some(resolver) = call.resolver.borrow_mut().take() {
                    resolver.disarm();
                }
            }
        });
        *call.resolver.borrow_mut() = Some(resolver);
        self.state.connects.borrow_mut().push(call);
        deferred
    }

    fn resolve_host(&self, host: &str, port: u16) -> Deferred<Vec<SocketAddr>> {
        self.state.lookups.borrow_mut().push(host.to_owned());
        let name = host.to_ascii_lowercase();
        let known = self.state.hosts.borrow().get(&name).cloned();
        let addresses = match known {
            Some(addresses) => addresses,
            None if name == "localhost" => vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
            None => {
                return Deferred::fail(DnsLookupError {
                    host: host.to_owned(),
                    reason: "not in the memory reactor's host table".into(),
                });
            }
        };
        Deferred::succeed(
            addresses
                .into_iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect(),
        )
    }
}

impl fmt::Debug for MemoryReactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryReactor")
            .field("tcp_listens", &self.state.tcp_listens.borrow().len())
            .field("unix_listens", &self.state.unix_listens.borrow().len())
            .field("connects", &self.state.connects.borrow().len())
            .finish()
    }
}

impl fmt::Debug for TcpListenCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListenCall")
            .field("address", &self.address)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for UnixListenCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListenCall")
            .field("path", &self.path)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for ConnectCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectCall")
            .field("address", &self.address)
            .field("options", &self.options)
            .field("cancelled", &self.cancelled.get())
            .finish_non_exhaustive()
    }
}
