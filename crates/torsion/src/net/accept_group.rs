//! [`AcceptGroup`]: TCP ports on different reactors, usually one
//! SO_REUSEPORT socket per reactor of a
//! [`ReactorPool`](crate::reactor_pool::ReactorPool), that even out the
//! connections they serve.
//!
//! The kernel picks a socket for each new connection by hashing its
//! addresses and ports, so the split is random: with 64 connections
//! between two sockets one standard deviation is 4 connections, an eighth
//! of a share. A port in a group asks the group, for every connection it
//! accepts, which member should serve it: the open member that has been
//! given the fewest so far, itself on a tie. A connection for another
//! member is handed to it as a plain socket, through an inbox and one call
//! posted to its reactor per batch; that reactor builds the protocol as if
//! it had accepted the connection itself.
//!
//! ```text
//!   reactor 0: accept -> group: "1 has fewer" -> inbox of 1 --post-->
//!   reactor 1: (its next turn) inbox -> protocol, counted as accepted by 1
//! ```
//!
//! What is evened out is the count of connections given, not of those
//! still open: a member whose connections last longer keeps more of them.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::rc::{Rc, Weak};
use std::sync::atomic::AtomicU64;

use crate::reactor::Extension;
use crate::sync::{Arc, AtomicBool, Mutex, Ordering, lock};
use crate::{Reactor, ReactorHandle};

/// Ids of members, to find a member's port on its reactor.
static NEXT_MEMBER: AtomicU64 = AtomicU64::new(1);

/// TCP ports on different reactors that share out the connections they
/// accept evenly.
///
/// Several SO_REUSEPORT sockets on one port split new connections by the
/// kernel's hash of their addresses, at random: with 64 connections
/// between two sockets one standard deviation is 4 connections. A port in
/// a group asks, for each connection it accepts, which member has been
/// given the fewest so far; it keeps the connection on a tie and otherwise
/// hands the socket to that member, whose reactor serves it as if it had
/// accepted it (and counts it in its port's
/// [`accepted`](crate::net::ListeningPort::accepted)). Each member serves
/// within one connection of an equal share. The count evened out is of
/// connections given, not of those still open.
///
/// Join a port to a group with
/// [`ListenOptions::accept_group`](crate::net::ListenOptions::accept_group)
/// or [`ServerEndpoint::in_accept_group`](crate::endpoints::ServerEndpoint::in_accept_group);
/// [`ReactorPool::listen`](crate::reactor_pool::ReactorPool::listen)
/// makes one for each pool port. Cheap to clone, `Send` and `Sync`.
///
/// ```
/// use std::io::Read;
/// use std::net::{SocketAddr, TcpStream};
/// use std::time::Duration;
/// use torsion::net::{AcceptGroup, ListenOptions, Protocol, Transport, factory_fn};
/// use torsion::reactor_pool::ReactorPool;
///
/// struct Hello;
/// impl Protocol for Hello {
///     fn connection_made(&mut self, transport: &Transport) {
///         transport.write(b"hello");
///         transport.lose_connection();
///     }
///     fn data_received(&mut self, _: &[u8]) {}
/// }
///
/// // Two reactors, each with a socket of its own on one port.
/// let pool = ReactorPool::new(2)?;
/// let group = AcceptGroup::new();
/// let mut address: SocketAddr = "127.0.0.1:0".parse()?;
/// for bridge in pool.bridges() {
///     let (group, at) = (group.clone(), address);
///     address = bridge.wait_for(Duration::from_secs(5), move |reactor| {
///         let options = ListenOptions {
///             reuse_port: true,
///             accept_group: Some(group),
///             ..ListenOptions::default()
///         };
///         let port = reactor.listen_tcp_with(at, factory_fn(|_| Some(Hello)), options)?;
///         Ok::<_, torsion::Failure>(port.tcp_address().unwrap())
///     })?;
/// }
/// for _ in 0..4 {
///     let mut answer = String::new();
///     TcpStream::connect(address)?.read_to_string(&mut answer)?;
///     assert_eq!(answer, "hello");
/// }
/// // However the kernel spread them, each reactor served two.
/// assert_eq!(group.given(), [2, 2]);
/// pool.stop(Duration::from_secs(5))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
pub struct AcceptGroup {
    members: Arc<Mutex<Vec<Arc<Member>>>>,
}

/// One port of a group, as the other ports see it.
pub(crate) struct Member {
    id: u64,
    /// Connections this member was given: accepted and kept, or handed to
    /// it. Changed only under the group's lock.
    given: AtomicU64,
    /// False once its port closed or its reactor stopped: it is given
    /// nothing more.
    open: AtomicBool,
    /// Sockets handed to it that its reactor has not taken yet.
    inbox: Mutex<Vec<std::net::TcpStream>>,
    handle: ReactorHandle,
}

/// A port of a group, on its reactor's thread.
pub(crate) trait GroupPort {
    /// Serves the sockets other ports of the group handed to this one.
    fn take_handed(&self, reactor: &Reactor);
}

/// Where an accepted connection goes.
pub(crate) enum Route {
    /// The accepting port serves it.
    Here,
    /// Another member serves it.
    To(Arc<Member>),
}

impl AcceptGroup {
    /// An empty group.
    pub fn new() -> AcceptGroup {
        AcceptGroup::default()
    }

    /// Connections each open member was given so far, in the order the
    /// members joined.
    pub fn given(&self) -> Vec<u64> {
        lock(&self.members)
            .iter()
            .filter(|member| member.open.load(Ordering::Acquire))
            .map(|member| member.given.load(Ordering::Relaxed))
            .collect()
    }

    /// Joins `port`, opening on `reactor`'s thread. It starts level with
    /// the members given the fewest, so that it does not take every new
    /// connection until it has caught up with ports open for longer.
    pub(crate) fn join(&self, reactor: &Reactor, port: Weak<dyn GroupPort>) -> Arc<Member> {
        let mut members = lock(&self.members);
        members.retain(|member| member.open.load(Ordering::Acquire));
        let fewest = members
            .iter()
            .map(|member| member.given.load(Ordering::Relaxed))
            .min()
            .unwrap_or(0);
        let member = Arc::new(Member {
            id: NEXT_MEMBER.fetch_add(1, Ordering::Relaxed),
            given: AtomicU64::new(fewest),
            open: AtomicBool::new(true),
            inbox: Mutex::new(Vec::new()),
            handle: reactor.handle(),
        });
        reactor
            .extension::<GroupPorts>()
            .ports
            .borrow_mut()
            .insert(member.id, port);
        members.push(member.clone());
        member
    }

    /// Which member serves the connection `me` has just accepted, counted
    /// as given to it.
    pub(crate) fn route(&self, me: &Arc<Member>) -> Route {
        match self.give_one(me, true) {
            Some(target) if !Arc::ptr_eq(&target, me) => Route::To(target),
            _ => Route::Here,
        }
    }

    /// Hands `sockets` to the open members other than `me`, as evenly as
    /// `route` would: for a closing member's inbox. Sockets nobody can take
    /// are closed.
    pub(crate) fn rehome(&self, me: &Arc<Member>, sockets: Vec<std::net::TcpStream>) {
        for socket in sockets {
            let refused = match self.give_one(me, false) {
                Some(target) => target.hand(socket),
                None => vec![socket],
            };
            for socket in refused {
                tracing::debug!(peer = ?socket.peer_addr().ok(), "no port of the group is open; connection closed");
            }
        }
    }

    /// The open member given the fewest connections so far, counted as
    /// given one more. `me` is a candidate, winning a tie, when `me_too`;
    /// otherwise it is left out.
    fn give_one(&self, me: &Arc<Member>, me_too: bool) -> Option<Arc<Member>> {
        let members = lock(&self.members);
        let mut target = me_too.then_some(me);
        let others = members
            .iter()
            .filter(|member| !Arc::ptr_eq(member, me) && member.open.load(Ordering::Acquire));
        for member in others {
            let fewer = target.is_none_or(|target| {
                member.given.load(Ordering::Relaxed) < target.given.load(Ordering::Relaxed)
            });
            if fewer {
                target = Some(member);
            }
        }
        let target = target?;
        target.given.fetch_add(1, Ordering::Relaxed);
        Some(target.clone())
    }
}

impl Member {
    /// Puts `socket` in this member's inbox and, if the inbox was empty,
    /// posts a call that has its reactor take what is there. Returns the
    /// sockets the member cannot take (it closed, or its reactor has
    /// stopped) for the caller to serve.
    pub(crate) fn hand(&self, socket: std::net::TcpStream) -> Vec<std::net::TcpStream> {
        let mut inbox = lock(&self.inbox);
        if !self.open.load(Ordering::Acquire) {
            return vec![socket];
        }
        inbox.push(socket);
        if inbox.len() > 1 {
            // A call to take them is already on its way.
            return Vec::new();
        }
        drop(inbox);
        let id = self.id;
        let posted = self.handle.call_from_thread(move |reactor| {
            let port = reactor.extension::<GroupPorts>().port(id);
            if let Some(port) = port {
                port.take_handed(reactor);
            }
        });
        match posted {
            Ok(()) => Vec::new(),
            Err(_) => self.leave(),
        }
    }

    /// Takes the sockets handed to this member so far.
    pub(crate) fn take_inbox(&self) -> Vec<std::net::TcpStream> {
        std::mem::take(&mut *lock(&self.inbox))
    }

    /// Closes this member to new connections and returns the sockets
    /// handed to it that it will now never take.
    pub(crate) fn leave(&self) -> Vec<std::net::TcpStream> {
        let mut inbox = lock(&self.inbox);
        self.open.store(false, Ordering::Release);
        std::mem::take(&mut *inbox)
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }
}

impl fmt::Debug for AcceptGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcceptGroup")
            .field("given", &self.given())
            .finish()
    }
}

/// The ports of this reactor that belong to groups, by member id: where a
/// call posted by [`Member::hand`] finds its port.
#[derive(Default)]
struct GroupPorts {
    ports: RefCell<HashMap<u64, Weak<dyn GroupPort>>>,
}

impl GroupPorts {
    fn port(&self, id: u64) -> Option<Rc<dyn GroupPort>> {
        self.ports.borrow().get(&id).and_then(Weak::upgrade)
    }
}

impl Extension for GroupPorts {}

/// Forgets the port of member `id` on `reactor` (it closed).
pub(crate) fn forget_port(reactor: &Reactor, id: u64) {
    reactor
        .extension::<GroupPorts>()
        .ports
        .borrow_mut()
        .remove(&id);
}

#[cfg(test)]
mod tests {
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    use super::*;

    /// A port that is never there to take anything.
    struct Gone;

    impl GroupPort for Gone {
        fn take_handed(&self, _: &Reactor) {}
    }

    fn join(group: &AcceptGroup, reactor: &Reactor) -> Arc<Member> {
        group.join(reactor, Weak::<Gone>::new())
    }

    fn goes_to(route: Route, member: &Arc<Member>) -> bool {
        matches!(route, Route::To(target) if Arc::ptr_eq(&target, member))
    }

    #[test]
    fn each_connection_goes_to_the_member_given_the_fewest_and_a_tie_stays_put() {
        let reactor = Reactor::new().unwrap();
        let group = AcceptGroup::new();
        let (a, b) = (join(&group, &reactor), join(&group, &reactor));
        assert!(matches!(group.route(&a), Route::Here));
        assert!(goes_to(group.route(&a), &b));
        assert!(matches!(group.route(&a), Route::Here));
        assert!(matches!(group.route(&b), Route::Here));
        assert_eq!(group.given(), [2, 2]);
    }

    #[test]
    fn a_late_member_starts_level_and_a_closed_one_is_given_nothing() {
        let reactor = Reactor::new().unwrap();
        let group = AcceptGroup::new();
        let (a, b) = (join(&group, &reactor), join(&group, &reactor));
        for _ in 0..4 {
            group.route(&a);
        }
        let c = join(&group, &reactor);
        assert_eq!(group.given(), [2, 2, 2], "the newcomer does not take all");
        assert!(b.leave().is_empty());
        assert!(matches!(group.route(&a), Route::Here));
        assert!(goes_to(group.route(&a), &c));
        assert!(matches!(group.route(&a), Route::Here));
        assert_eq!(
            group.given(),
            [4, 3],
            "b, closed, is neither listed nor given"
        );
    }

    #[test]
    fn a_socket_handed_to_a_stopped_reactor_comes_back_and_its_member_closes() {
        let stopped = Reactor::new().unwrap();
        let group = AcceptGroup::new();
        let gone = join(&group, &stopped);
        let r = stopped.clone();
        stopped.call_later(Duration::ZERO, move || r.stop().unwrap());
        stopped.run().unwrap();

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (socket, _) = listener.accept().unwrap();
        let back = gone.hand(socket);
        assert_eq!(back.len(), 1, "the caller serves it");
        assert!(group.given().is_empty(), "the member closed");
    }
}
