//! [`Network`]: what listening and connecting need from a reactor, so that
//! code written against it (such as [`endpoints`](crate::endpoints)) runs on
//! a real [`Reactor`] and, in tests, on a
//! [`MemoryReactor`](crate::testing::MemoryReactor).

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::rc::Rc;

use crate::net::{
    Address, ConnectOptions, Factory, ListenOptions, ListeningPort, Protocol, Transport,
    UnixListenOptions,
};
use crate::{Deferred, Reactor};

/// Listening, connecting and resolving host names (Twisted's
/// `IReactorTCP`, `IReactorUNIX` and `IReactorPluggableNameResolver` in
/// one).
///
/// [`Reactor`] opens real sockets; [`MemoryReactor`](crate::testing::MemoryReactor)
/// only records the calls. Code that takes an `impl Network` can be tested
/// without a network.
pub trait Network {
    /// What a successful listen gives back: a [`ListeningPort`] on a
    /// reactor, a record of the call on a memory reactor.
    type Port: 'static;

    /// Listens on a TCP address; failing to bind is an immediate error.
    fn listen_tcp_port(
        &self,
        address: SocketAddr,
        factory: Rc<dyn Factory>,
        options: ListenOptions,
    ) -> io::Result<Self::Port>;

    /// Listens on a UNIX socket at `path`.
    fn listen_unix_port(
        &self,
        path: &Path,
        factory: Rc<dyn Factory>,
        options: UnixListenOptions,
    ) -> io::Result<Self::Port>;

    /// Connects `protocol` to `address`; fires with its transport once
    /// connected, or fails with why not. Cancelling the Deferred abandons
    /// the attempt.
    fn connect_protocol(
        &self,
        address: Address,
        protocol: Box<dyn Protocol>,
        options: ConnectOptions,
    ) -> Deferred<Transport>;

    /// The addresses `host` has for `port`, without blocking the calling
    /// thread. Fails with a [`DnsLookupError`](crate::error::DnsLookupError)
    /// naming the host when it has none.
    fn resolve_host(&self, host: &str, port: u16) -> Deferred<Vec<SocketAddr>>;
}

impl Network for Reactor {
    type Port = ListeningPort;

    fn listen_tcp_port(
        &self,
        address: SocketAddr,
        factory: Rc<dyn Factory>,
        options: ListenOptions,
    ) -> io::Result<ListeningPort> {
        self.listen_tcp_with(address, factory, options)
    }

    fn listen_unix_port(
        &self,
        path: &Path,
        factory: Rc<dyn Factory>,
        options: UnixListenOptions,
    ) -> io::Result<ListeningPort> {
        self.listen_unix_with(path, factory, options)
    }

    fn connect_protocol(
        &self,
        address: Address,
        protocol: Box<dyn Protocol>,
        options: ConnectOptions,
    ) -> Deferred<Transport> {
        Reactor::connect_protocol(self, address, protocol, options)
    }

    /// Asks the installed [`NameResolver`](crate::net::NameResolver) (the
    /// system's unless [`Reactor::install_name_resolver`] installed
    /// another).
    fn resolve_host(&self, host: &str, port: u16) -> Deferred<Vec<SocketAddr>> {
        self.name_resolver().resolve_host_name(host, port)
    }
}
