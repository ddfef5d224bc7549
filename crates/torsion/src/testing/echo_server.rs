//! An echo server to test against.

use std::net::SocketAddr;

use crate::Reactor;
use crate::net::factory_fn;
use crate::protocols::wire::Echo;

/// Listens with a [`wire::Echo`](crate::protocols::wire::Echo) on a free
/// TCP port of 127.0.0.1 and returns the port's address: the peer for a
/// test of a client, of I/O beside another event loop, or of what a
/// reactor does with its connections. The port listens until the reactor
/// stops.
///
/// # Panics
///
/// If the reactor cannot listen on 127.0.0.1: a test has nothing to talk
/// to then.
///
/// ```
/// use std::cell::RefCell;
/// use std::io::{Read, Write};
/// use std::rc::Rc;
///
/// let reactor = torsion::Reactor::new()?;
/// let address = torsion::testing::echo_server(&reactor);
/// let echoed = Rc::new(RefCell::new(None));
/// let (r, out) = (reactor.clone(), echoed.clone());
/// let done = reactor.spawn(async move {
///     // A blocking client, on a pool thread.
///     let back = r
///         .defer_to_thread(move || {
///             let mut stream = std::net::TcpStream::connect(address).unwrap();
///             stream.write_all(b"ping").unwrap();
///             let mut back = [0; 4];
///             stream.read_exact(&mut back).unwrap();
///             back
///         })
///         .await;
///     *out.borrow_mut() = Some(back?);
///     r.stop()?;
///     Ok::<(), torsion::Failure>(())
/// });
/// reactor.run()?;
/// assert!(done.is_fired());
/// assert_eq!(echoed.borrow().as_ref(), Some(b"ping"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn echo_server(reactor: &Reactor) -> SocketAddr {
    let port = reactor
        .listen_tcp(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            factory_fn(|_| Some(Echo::default())),
        )
        .expect("listen on 127.0.0.1");
    port.tcp_address().expect("a TCP port's address")
}
