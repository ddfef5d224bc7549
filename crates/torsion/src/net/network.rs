//! [`Network`]: what listening and connecting need from a reactor, so that
//! code written against it (such as [`endpoints`](crate::endpoints)) runs on
//! a real [`Reactor`] and, in tests, on a
//! [`MemoryReactor`](crate::testing::MemoryReactor).

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::rc::Rc;

use crate::defer::Resolver;
use crate::error::DnsLookupError;
use crate::net::{
    Address, ConnectOptions, Factory, ListenOptions, ListeningPort, Protocol, Transport,
    UnixListenOptions,
};
use crate::{Deferred, Failure, Reactor};

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
    /// thread. Fails with a [`DnsLookupError`] naming the host when it has
    /// none.
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

    /// Resolves with the system resolver on a short-lived thread, so the
    /// reactor thread never blocks; the answer comes back through
    /// [`ReactorHandle::call_from_thread`](crate::ReactorHandle::call_from_thread).
    fn resolve_host(&self, host: &str, port: u16) -> Deferred<Vec<SocketAddr>> {
        let id = LOOKUPS.with(|lookups| lookups.borrow_mut().next_id());
        let (deferred, resolver) = Deferred::with_canceller(move || {
            let pending = LOOKUPS.with(|lookups| lookups.borrow_mut().pending.remove(&id));
            // Dropped without firing: the cancellation fails the Deferred.
            if let Some(resolver) = pending {
                resolver.disarm();
            }
        });
        LOOKUPS.with(|lookups| lookups.borrow_mut().pending.insert(id, resolver));
        let handle = self.handle();
        let name = host.to_owned();
        let spawned = std::thread::Builder::new()
            .name("torsion-resolve".into())
            .spawn(move || {
                let result = lookup(&name, port);
                // If the reactor has finished nobody waits for the answer.
                let _ = handle.call_from_thread(move |_| finish_lookup(id, result));
            });
        if let Err(error) = spawned {
            finish_lookup(
                id,
                Err(DnsLookupError {
                    host: host.to_owned(),
                    reason: format!("cannot start a resolver thread: {error}"),
                }),
            );
        }
        deferred
    }
}

fn lookup(host: &str, port: u16) -> Result<Vec<SocketAddr>, DnsLookupError> {
    match (host, port).to_socket_addrs() {
        Ok(addresses) => {
            let addresses: Vec<SocketAddr> = addresses.collect();
            if addresses.is_empty() {
                Err(DnsLookupError {
                    host: host.to_owned(),
                    reason: "no addresses".into(),
                })
            } else {
                Ok(addresses)
            }
        }
        Err(error) => Err(DnsLookupError {
            host: host.to_owned(),
            reason: error.to_string(),
        }),
    }
}

fn finish_lookup(id: u64, result: Result<Vec<SocketAddr>, DnsLookupError>) {
    let pending = LOOKUPS.with(|lookups| lookups.borrow_mut().pending.remove(&id));
    if let Some(resolver) = pending {
        resolver.complete(result.map_err(Failure::new));
    }
}

/// Lookups in progress on this thread's reactor: a resolver is not `Send`,
/// so the resolving thread sends back only the lookup's number.
#[derive(Default)]
struct Lookups {
    last: u64,
    pending: HashMap<u64, Resolver<Vec<SocketAddr>>>,
}

impl Lookups {
    fn next_id(&mut self) -> u64 {
        self.last += 1;
        self.last
    }
}

impl Drop for Lookups {
    /// The thread is ending with lookups unanswered (its reactor stopped
    /// first): nothing can run their callbacks any more, so the resolvers
    /// are let go without firing.
    fn drop(&mut self) {
        for (_, resolver) in self.pending.drain() {
            resolver.disarm();
        }
    }
}

thread_local! {
    static LOOKUPS: RefCell<Lookups> = RefCell::new(Lookups::default());
}
