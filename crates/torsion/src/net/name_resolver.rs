//! [`NameResolver`]: how a reactor turns host names into addresses, and
//! how to replace it (Twisted's `IHostnameResolver` and
//! `reactor.installNameResolver`).
//!
//! Every connection to a host name, through an endpoint or
//! [`Network::resolve_host`](crate::net::Network::resolve_host), asks the
//! reactor's installed resolver. Until another is installed that is the
//! [`SystemResolver`]: the operating system's lookup (`getaddrinfo`, which
//! reads `/etc/hosts` and `/etc/resolv.conf`) on a short-lived thread. A
//! program that wants its own DNS client, a fixed table in tests, or a
//! cache installs it once with [`Reactor::install_name_resolver`]:
//!
//! ```
//! use std::net::{IpAddr, Ipv4Addr, SocketAddr};
//! use std::rc::Rc;
//! use torsion::net::NameResolver;
//! use torsion::{Deferred, Reactor};
//!
//! /// Every name is this machine.
//! struct AllLocal;
//!
//! impl NameResolver for AllLocal {
//!     fn resolve_host_name(&self, _host: &str, port: u16) -> Deferred<Vec<SocketAddr>> {
//!         Deferred::succeed(vec![SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)])
//!     }
//! }
//!
//! let reactor = Reactor::new()?;
//! let previous = reactor.install_name_resolver(Rc::new(AllLocal));
//! // From now on `tcp:host=anything.example:port=80` connects to 127.0.0.1:80.
//! # drop(previous);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::rc::Rc;

use crate::defer::Resolver;
use crate::error::DnsLookupError;
use crate::reactor::Extension;
use crate::{Deferred, Failure, Reactor, ReactorHandle};

/// Turns a host name into the socket addresses to try for it (Twisted's
/// `IHostnameResolver`, in the shape of its older `IResolverSimple`).
///
/// Called on the reactor's thread, by endpoints connecting to a name that
/// is not an IP address. The resolver must not block: it answers through
/// the Deferred, which fails with a [`DnsLookupError`] naming the host
/// when the name has no addresses. Cancelling the Deferred abandons the
/// lookup.
pub trait NameResolver {
    /// The addresses of `host`, each with `port`, in the order to try
    /// them.
    fn resolve_host_name(&self, host: &str, port: u16) -> Deferred<Vec<SocketAddr>>;
}

/// The operating system's resolver, run on a short-lived thread so that
/// the reactor's never blocks; the answer comes back through
/// [`ReactorHandle::call_from_thread`]. What a reactor uses until another
/// resolver is installed.
#[derive(Clone, Debug)]
pub struct SystemResolver {
    handle: ReactorHandle,
}

impl SystemResolver {
    /// A system resolver answering on `reactor`'s thread.
    pub fn new(reactor: &Reactor) -> SystemResolver {
        SystemResolver {
            handle: reactor.handle(),
        }
    }
}

impl NameResolver for SystemResolver {
    fn resolve_host_name(&self, host: &str, port: u16) -> Deferred<Vec<SocketAddr>> {
        let id = LOOKUPS.with(|lookups| lookups.borrow_mut().next_id());
        let (deferred, resolver) = Deferred::with_canceller(move || {
            let pending = LOOKUPS.with(|lookups| lookups.borrow_mut().pending.remove(&id));
            // Dropped without firing: the cancellation fails the Deferred.
            if let Some(resolver) = pending {
                resolver.disarm();
            }
        });
        LOOKUPS.with(|lookups| lookups.borrow_mut().pending.insert(id, resolver));
        let handle = self.handle.clone();
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

impl Reactor {
    /// Makes `resolver` the one this reactor's connections to host names
    /// use, and returns the one it replaces (Twisted's
    /// `installNameResolver`). Lookups already started finish with the
    /// resolver that started them. The resolver is let go when the reactor
    /// finishes, so it may hold a clone of the reactor.
    pub fn install_name_resolver(&self, resolver: Rc<dyn NameResolver>) -> Rc<dyn NameResolver> {
        let installed = self.extension::<InstalledResolver>();
        let previous = installed.0.borrow_mut().replace(resolver);
        previous.unwrap_or_else(|| Rc::new(SystemResolver::new(self)))
    }

    /// The resolver this reactor's connections to host names use: the
    /// [`SystemResolver`] unless another was installed.
    pub fn name_resolver(&self) -> Rc<dyn NameResolver> {
        let installed = self.extension::<InstalledResolver>();
        let current = installed.0.borrow().clone();
        current.unwrap_or_else(|| Rc::new(SystemResolver::new(self)))
    }
}

/// The resolver installed on a reactor, if any.
#[derive(Default)]
struct InstalledResolver(RefCell<Option<Rc<dyn NameResolver>>>);

impl Extension for InstalledResolver {
    /// A resolver holding a clone of its reactor would otherwise keep the
    /// reactor alive through its own extension slot.
    fn reactor_finished(&self, _reactor: &Reactor) {
        let resolver = self.0.borrow_mut().take();
        drop(resolver);
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

#[cfg(test)]
mod tests;
