//! `Reactor::snapshot` over real sockets, a real thread pool and a real
//! bridge: what it lists is what is open, pending and busy.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::Duration;

use common::{Echo, turn_until};
use torsion::defer::pending_deferreds;
use torsion::net::factory_fn;
use torsion::reactor::introspect::ConnectionInfo;
use torsion::testing::echo_server;
use torsion::{Deferred, Reactor, blocking};

const LIMIT: Duration = Duration::from_secs(20);

/// Sends `data` and reads the echo back, turning the loop meanwhile.
fn round_trip(reactor: &Reactor, client: &mut TcpStream, data: &[u8]) {
    client.write_all(data).unwrap();
    let mut echoed = vec![0; data.len()];
    let mut got = 0;
    turn_until(reactor, LIMIT, || {
        match client.read(&mut echoed[got..]) {
            Ok(n) => got += n,
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(error) => panic!("{error}"),
        }
        got == data.len()
    });
    assert_eq!(echoed, data);
}

fn connection_from<'a>(
    connections: &'a [ConnectionInfo],
    client: &TcpStream,
) -> &'a ConnectionInfo {
    let peer = client.local_addr().unwrap().to_string();
    connections
        .iter()
        .find(|connection| connection.peer == peer)
        .unwrap_or_else(|| panic!("no connection from {peer} in {connections:?}"))
}

#[test]
fn open_connections_are_listed_with_peer_protocol_growing_counters_and_age() {
    let reactor = Reactor::new().unwrap();
    let address = echo_server(&reactor);
    let mut clients: Vec<TcpStream> = (0..3)
        .map(|_| {
            let client = TcpStream::connect(address).unwrap();
            client.set_nonblocking(true).unwrap();
            client
        })
        .collect();
    turn_until(&reactor, LIMIT, || {
        reactor.snapshot().connections.len() == 3
    });

    round_trip(&reactor, &mut clients[0], b"hello");
    let first = reactor.snapshot();
    let before = connection_from(&first.connections, &clients[0]).clone();
    assert_eq!(before.transport, "tcp");
    assert_eq!(before.protocol, std::any::type_name::<Echo>());
    assert_eq!(before.host, address.to_string());
    assert_eq!((before.bytes_in, before.bytes_out), (Some(5), Some(5)));

    std::thread::sleep(Duration::from_millis(30));
    round_trip(&reactor, &mut clients[0], &[7u8; 1000]);
    let second = reactor.snapshot();
    let after = connection_from(&second.connections, &clients[0]);
    assert_eq!((after.bytes_in, after.bytes_out), (Some(1005), Some(1005)));
    assert!(after.age >= before.age + Duration::from_millis(30));
    let quiet = connection_from(&second.connections, &clients[1]);
    assert_eq!((quiet.bytes_in, quiet.bytes_out), (Some(0), Some(0)));

    assert_eq!(second.ports.len(), 1);
    assert_eq!(second.ports[0].address, address.to_string());
    assert_eq!(second.ports[0].kind, "tcp");
    assert_eq!(second.ports[0].accepted, 3);

    // A closed connection leaves the list.
    drop(clients.remove(2));
    turn_until(&reactor, LIMIT, || {
        reactor.snapshot().connections.len() == 2
    });
}

#[test]
fn a_unix_connection_is_listed_without_byte_counts() {
    let reactor = Reactor::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("echo.sock");
    reactor
        .listen_unix(&path, factory_fn(|_| Some(Echo::default())))
        .unwrap();
    let _client = std::os::unix::net::UnixStream::connect(&path).unwrap();
    turn_until(&reactor, LIMIT, || {
        reactor.snapshot().connections.len() == 1
    });
    let connection = reactor.snapshot().connections.remove(0);
    assert_eq!(connection.transport, "unix");
    // The kernel counts bytes for TCP only.
    assert_eq!((connection.bytes_in, connection.bytes_out), (None, None));
}

#[test]
fn a_pending_call_shows_in_the_timer_count_with_its_deadline() {
    let reactor = Reactor::new().unwrap();
    let empty = reactor.snapshot();
    assert_eq!(empty.timers.pending, 0);
    assert!(empty.timers.next.is_empty());

    let late = reactor.call_later(Duration::from_secs(90), || {});
    let soon = reactor.call_later(Duration::from_secs(30), || {});
    let timers = reactor.snapshot().timers;
    assert_eq!(timers.pending, 2);
    assert_eq!(timers.next.len(), 2);
    assert!(timers.next[0] <= Duration::from_secs(30));
    assert!(timers.next[0] > Duration::from_secs(29));
    assert!(timers.next[1] > Duration::from_secs(89));

    soon.cancel().unwrap();
    let timers = reactor.snapshot().timers;
    assert_eq!(timers.pending, 1);
    assert!(timers.next[0] > Duration::from_secs(89));
    late.cancel().unwrap();
    assert_eq!(reactor.snapshot().timers.pending, 0);
}

#[test]
fn only_the_earliest_deadlines_are_listed() {
    let reactor = Reactor::new().unwrap();
    let calls: Vec<_> = (1..=25u64)
        .rev()
        .map(|s| reactor.call_later(Duration::from_secs(s), || {}))
        .collect();
    let timers = reactor.snapshot().timers;
    assert_eq!(timers.pending, 25);
    assert_eq!(
        timers.next.len(),
        torsion::reactor::introspect::NEXT_DEADLINES
    );
    assert!(timers.next.windows(2).all(|pair| pair[0] <= pair[1]));
    assert!(timers.next.last().unwrap() <= &Duration::from_secs(10));
    drop(calls);
}

#[test]
fn a_blocked_thread_job_shows_the_pool_busy_and_a_deferred_waiting() {
    let reactor = Reactor::new().unwrap();
    assert!(
        reactor.snapshot().thread_pools.is_empty(),
        "no pool until one is used"
    );
    let (release, blocked) = mpsc::channel::<u32>();
    let result = reactor.defer_to_thread(move || blocked.recv().unwrap());
    let busy = || {
        let snapshot = reactor.snapshot();
        // Once the worker has taken the job from the queue.
        snapshot
            .thread_pools
            .first()
            .is_some_and(|pool| pool.busy == 1 && pool.queued == 0)
    };
    turn_until(&reactor, LIMIT, busy);
    let snapshot = reactor.snapshot();
    let pool = &snapshot.thread_pools[0];
    assert_eq!(pool.name, torsion::threads::REACTOR_POOL_NAME);
    assert_eq!((pool.workers, pool.busy, pool.queued), (1, 1, 0));
    assert_eq!(snapshot.waiting_for_threads, 1);

    release.send(42).unwrap();
    let value = std::rc::Rc::new(std::cell::Cell::new(0));
    let seen = value.clone();
    drop(result.map(move |n| seen.set(n)));
    turn_until(&reactor, LIMIT, || value.get() == 42);
    assert_eq!(reactor.snapshot().waiting_for_threads, 0);
    turn_until(&reactor, LIMIT, || {
        let pool = &reactor.snapshot().thread_pools[0];
        pool.busy == 0 && pool.completed == 1
    });
}

#[test]
fn unfired_deferreds_are_counted_until_they_fire_or_are_dropped() {
    let reactor = Reactor::new().unwrap();
    let base = reactor.snapshot().pending_deferreds;
    assert_eq!(base, pending_deferreds());
    let (first, fire_first) = Deferred::<u32>::new();
    let (second, fire_second) = Deferred::<u32>::new();
    let _already = Deferred::succeed(1u32);
    assert_eq!(reactor.snapshot().pending_deferreds, base + 2);
    fire_first.resolve(1);
    assert_eq!(reactor.snapshot().pending_deferreds, base + 1);
    // Dropping the resolver fails the Deferred: it has fired.
    drop(fire_second);
    assert_eq!(reactor.snapshot().pending_deferreds, base);
    drop((first, second));
    let (unfired, resolver) = Deferred::<u32>::new();
    drop(unfired);
    drop(resolver);
    assert_eq!(pending_deferreds(), base);
}

thread_local! {
    /// The resolver of the bridged operation, kept on the reactor thread.
    static BRIDGED: std::cell::RefCell<Option<torsion::defer::Resolver<u32>>> =
        const { std::cell::RefCell::new(None) };
}

#[test]
fn a_bridged_reactor_reports_the_blocking_callers_waiting_on_it() {
    let reactor = Reactor::new().unwrap();
    assert!(reactor.snapshot().bridge.is_none());
    let bridge = blocking::Bridge::for_reactor(&reactor);
    assert_eq!(reactor.snapshot().bridge.unwrap().waiting, 0);
    let caller = std::thread::spawn(move || {
        let eventual = bridge.run_in_reactor(|_reactor| {
            let (deferred, resolver) = Deferred::<u32>::new();
            BRIDGED.with(|slot| *slot.borrow_mut() = Some(resolver));
            deferred
        });
        eventual.wait(LIMIT).unwrap()
    });
    turn_until(&reactor, LIMIT, || {
        BRIDGED.with(|slot| slot.borrow().is_some())
    });
    assert_eq!(reactor.snapshot().bridge.unwrap().waiting, 1);
    let resolver = BRIDGED.with(|slot| slot.borrow_mut().take()).unwrap();
    resolver.resolve(9);
    turn_until(&reactor, LIMIT, || caller.is_finished());
    assert_eq!(caller.join().unwrap(), 9);
    assert_eq!(reactor.snapshot().bridge.unwrap().waiting, 0);
}
