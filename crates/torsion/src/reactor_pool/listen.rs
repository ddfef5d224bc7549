//! [`ReactorPool::listen`]: one endpoint, one socket per reactor, and the
//! [`PoolPort`] that counts and closes them.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::ReactorPool;
use crate::blocking::{Bridge, BridgeError};
use crate::endpoints::server_from_string;
use crate::net::{AcceptGroup, Factory, ListeningPort};
use crate::reactor::Extension;
use crate::{Deferred, Failure, Reactor};

/// How long a reactor may take to open its socket: it only binds, so
/// anything near this means the reactor is stuck.
const LISTEN_BOUND: Duration = Duration::from_secs(10);

/// Ids of pool ports, to find each reactor's socket of one.
static NEXT_PORT: AtomicU64 = AtomicU64::new(1);

/// The sockets one reactor opened for pool ports, by port id. They live
/// on the reactor's thread, where `ListeningPort` must stay.
#[derive(Default)]
struct PoolSockets {
    ports: RefCell<HashMap<u64, ListeningPort>>,
}

impl Extension for PoolSockets {}

impl ReactorPool {
    /// Listens on the endpoint `description` on every reactor: a TCP or
    /// TLS endpoint given `reusePort=true` (see
    /// [`endpoints`](crate::endpoints)), so that each reactor opens a
    /// socket of its own on the same port and the kernel spreads
    /// connections among them. `make_factory` runs on each reactor's
    /// thread with its index and builds that reactor's factory. The
    /// sockets form an [`AcceptGroup`], so the reactors serve equal shares
    /// of the connections whatever the kernel's split.
    ///
    /// Port 0 is allowed: the first reactor's socket gets a free port and
    /// the others bind the same one. If one reactor cannot listen, the
    /// sockets already open are closed and the error is returned. With a
    /// single reactor `reusePort` is not required.
    pub fn listen<F, M>(&self, description: &str, make_factory: M) -> Result<PoolPort, BridgeError>
    where
        F: Factory,
        M: Fn(usize, &Reactor) -> F + Send + Sync + 'static,
    {
        let make_factory = Arc::new(make_factory);
        let group = AcceptGroup::new();
        let port = PoolPort {
            id: NEXT_PORT.fetch_add(1, Ordering::Relaxed),
            address: SocketAddr::from(([0, 0, 0, 0], 0)),
            bridges: self.bridges.clone(),
        };
        let mut address = None;
        for (index, bridge) in self.bridges.iter().enumerate() {
            let description = description.to_owned();
            let make_factory = make_factory.clone();
            let group = group.clone();
            let (id, many) = (port.id, self.len() > 1);
            let bound_port = address.map(|address: SocketAddr| address.port());
            let opened = bridge.wait_for(LISTEN_BOUND, move |reactor| {
                listen_here(&reactor, &description, bound_port, many, id, &group, || {
                    make_factory(index, &reactor)
                })
            });
            match opened {
                Ok(bound) => address = address.or(Some(bound)),
                Err(error) => {
                    let _ = port.stop_listening();
                    return Err(error);
                }
            }
        }
        Ok(PoolPort {
            address: address.expect("a pool has at least one reactor"),
            ..port
        })
    }
}

/// On a reactor's thread: opens its socket of pool port `id`, on `port`
/// when given (the port the first reactor bound), in `group`.
fn listen_here<F: Factory>(
    reactor: &Reactor,
    description: &str,
    port: Option<u16>,
    many: bool,
    id: u64,
    group: &AcceptGroup,
    make_factory: impl FnOnce() -> F,
) -> Deferred<SocketAddr> {
    let endpoint = match server_from_string(reactor, description) {
        Ok(endpoint) => endpoint,
        Err(error) => return Deferred::fail(Failure::new(error)),
    };
    if many && !endpoint.reuses_port() {
        return Deferred::fail(Failure::new(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{description:?}: a pool of reactors listens with a TCP or TLS endpoint \
                 given reusePort=true, one socket per reactor"
            ),
        )));
    }
    let endpoint = match port {
        Some(port) => endpoint.on_port(port),
        None => endpoint,
    }
    .in_accept_group(group);
    let sockets = reactor.extension::<PoolSockets>();
    endpoint.listen(make_factory()).then(move |listening| {
        let address = listening
            .tcp_address()
            .ok_or_else(|| Failure::new(io::Error::other("a pool port listens on TCP")))?;
        sockets.ports.borrow_mut().insert(id, listening);
        Ok::<_, Failure>(address)
    })
}

/// A port that every reactor of a [`ReactorPool`] listens on, each with
/// its own socket ([`ReactorPool::listen`]). `Send` and `Sync`; its
/// sockets stay on their reactors' threads and close when those reactors
/// stop, or at [`stop_listening`](PoolPort::stop_listening).
#[derive(Clone)]
pub struct PoolPort {
    id: u64,
    address: SocketAddr,
    bridges: Arc<[Bridge]>,
}

impl PoolPort {
    /// The address every socket is bound to (with port 0 asked, the port
    /// the system chose for the first one).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Connections each reactor has served on this port so far, in the
    /// pool's order: those its socket accepted and kept, and those the
    /// other reactors handed to it. A reactor that has stopped (or closed
    /// its socket) counts 0.
    pub fn accepted(&self) -> Vec<u64> {
        let id = self.id;
        self.bridges
            .iter()
            .map(|bridge| {
                bridge
                    .wait_for(LISTEN_BOUND, move |reactor| {
                        let sockets = reactor.extension::<PoolSockets>();
                        let accepted = sockets.ports.borrow().get(&id).map(ListeningPort::accepted);
                        Ok::<_, Failure>(accepted.unwrap_or(0))
                    })
                    .unwrap_or(0)
            })
            .collect()
    }

    /// Closes every reactor's socket (connections already accepted stay
    /// up) and waits until they are closed. Reactors already stopped have
    /// closed theirs; calling it twice is harmless.
    pub fn stop_listening(&self) -> Result<(), BridgeError> {
        let id = self.id;
        for bridge in self.bridges.iter() {
            let closed = bridge.wait_for(LISTEN_BOUND, move |reactor| {
                let sockets = reactor.extension::<PoolSockets>();
                let port = sockets.ports.borrow_mut().remove(&id);
                match port {
                    Some(port) => port.stop_listening(),
                    None => Deferred::succeed(()),
                }
            });
            match closed {
                Ok(()) | Err(BridgeError::ReactorStopped) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }
}

impl fmt::Debug for PoolPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolPort")
            .field("address", &self.address)
            .field("reactors", &self.bridges.len())
            .finish()
    }
}
