//! The pool on real sockets: one SO_REUSEPORT socket per reactor on one
//! port, connections counted per reactor, stop closing everything, a
//! panic staying on its reactor, and each reactor's timers and thread
//! pool on its own threads.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use super::ReactorPool;
use crate::Failure;
use crate::blocking::BridgeError;
use crate::net::{Protocol, Transport, factory_fn};
use crate::time::defer_later;

const WAIT: Duration = Duration::from_secs(10);
const LOOPBACK_ANY_PORT: &str = "tcp:0:interface=127.0.0.1:reusePort=true";

/// Says which reactor it runs on as soon as it is connected, echoes what
/// it gets, and panics on `boom` when told to.
struct Tell {
    index: usize,
    panics: bool,
    transport: Option<Transport>,
}

impl Protocol for Tell {
    fn connection_made(&mut self, transport: &Transport) {
        transport.write(&[b'0' + self.index as u8]);
        self.transport = Some(transport.clone());
    }

    fn data_received(&mut self, data: &[u8]) {
        if self.panics && data == b"boom" {
            panic!("boom on reactor {}", self.index);
        }
        if let Some(transport) = &self.transport {
            transport.write(data);
        }
    }
}

fn listen(pool: &ReactorPool, panicking_reactor: Option<usize>) -> super::PoolPort {
    pool.listen(LOOPBACK_ANY_PORT, move |index, _| {
        let panics = panicking_reactor == Some(index);
        factory_fn(move |_| {
            Some(Tell {
                index,
                panics,
                transport: None,
            })
        })
    })
    .unwrap()
}

/// Connects and reads the index of the reactor that accepted.
fn connect(address: SocketAddr) -> (TcpStream, usize) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut which = [0u8];
    stream.read_exact(&mut which).unwrap();
    (stream, usize::from(which[0] - b'0'))
}

/// The connection's protocol echoes what it is sent.
fn assert_echoes(stream: &mut TcpStream) {
    stream.write_all(b"ping").unwrap();
    let mut echo = [0u8; 4];
    stream.read_exact(&mut echo).unwrap();
    assert_eq!(&echo, b"ping");
}

/// Sockets listening on `port` (IPv4), from /proc/net/tcp.
fn listening_sockets(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let local = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields
                .get(1)
                .is_some_and(|address| address.ends_with(&local))
                && fields.get(3) == Some(&"0A")
        })
        .count()
}

/// The kernel's id of the calling thread.
fn kernel_thread_id() -> String {
    let link = std::fs::read_link("/proc/thread-self").unwrap();
    link.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn two_reactors_serve_one_port_with_a_socket_each_and_count_their_connections() {
    let pool = ReactorPool::new(2).unwrap();
    let port = listen(&pool, None);
    assert_eq!(listening_sockets(port.address().port()), 2);
    let mut served = [0u64; 2];
    let clients: Vec<(TcpStream, usize)> = (0..64).map(|_| connect(port.address())).collect();
    for (mut stream, which) in clients {
        assert_echoes(&mut stream);
        served[which] += 1;
    }
    // However the kernel hashed the 64 connections over the two sockets
    // (an even split by chance has odds of 1 in 10), the reactors handed
    // connections over until each served half, and the pool's counts
    // agree with what the clients were told.
    assert_eq!(served, [32, 32]);
    assert_eq!(port.accepted(), served);
    pool.stop(WAIT).unwrap();
}

#[test]
fn clients_connecting_at_once_from_many_threads_are_split_evenly() {
    let pool = ReactorPool::new(2).unwrap();
    let port = listen(&pool, None);
    let address = port.address();
    let clients: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                (0..25)
                    .map(|_| connect(address))
                    .collect::<Vec<(TcpStream, usize)>>()
            })
        })
        .collect();
    let mut served = [0u64; 2];
    let mut streams = Vec::new();
    for client in clients {
        for (stream, which) in client.join().unwrap() {
            served[which] += 1;
            streams.push(stream);
        }
    }
    assert_eq!(served, [100, 100]);
    // Every connection handed over is served like one accepted there.
    for stream in &mut streams {
        assert_echoes(stream);
    }
    assert_eq!(port.accepted(), served);
    pool.stop(WAIT).unwrap();
}

#[test]
fn stopping_the_pool_ends_every_reactor_thread_and_closes_every_socket() {
    let pool = ReactorPool::new(2).unwrap();
    let port = listen(&pool, None);
    let threads: Vec<String> = pool
        .run_on_each(|_, _| Ok::<_, Failure>(kernel_thread_id()))
        .into_iter()
        .map(|tid| tid.wait(WAIT).unwrap())
        .collect();
    // A connection still open while the pool stops.
    let (_open, _) = connect(port.address());
    pool.stop(WAIT).unwrap();
    assert!(pool.is_stopped());
    assert_eq!(listening_sockets(port.address().port()), 0);
    // Bound again without SO_REUSEPORT: no socket of the pool is left.
    drop(TcpListener::bind(port.address()).unwrap());
    // The threads were joined; their /proc entries go a moment later.
    let deadline = Instant::now() + WAIT;
    while threads
        .iter()
        .any(|tid| Path::new(&format!("/proc/self/task/{tid}")).exists())
    {
        assert!(Instant::now() < deadline, "reactor threads still there");
        std::thread::sleep(Duration::from_millis(5));
    }
    let late = pool.run_on_each(|_, _| Ok::<_, Failure>(()));
    assert!(
        late.iter()
            .all(|result| matches!(result.wait(WAIT), Err(BridgeError::ReactorStopped)))
    );
    pool.stop(WAIT).unwrap();
}

#[test]
fn a_panic_in_one_reactors_protocol_leaves_every_reactor_serving() {
    let pool = ReactorPool::new(2).unwrap();
    let port = listen(&pool, Some(0));
    let mut seen = [0u64; 2];
    for _ in 0..32 {
        let (mut stream, which) = connect(port.address());
        seen[which] += 1;
        if which == 0 {
            // That connection is aborted; its reactor carries on.
            stream.write_all(b"boom").unwrap();
            let mut rest = Vec::new();
            let _ = stream.read_to_end(&mut rest);
            assert!(rest.is_empty(), "{rest:?}");
        } else {
            assert_echoes(&mut stream);
        }
    }
    assert!(seen.iter().all(|&count| count > 0), "{seen:?}");
    // Both reactors still run code and accept.
    for alive in pool.run_on_each(|index, _| Ok::<_, Failure>(index)) {
        alive.wait(WAIT).unwrap();
    }
    let mut again = [0u64; 2];
    for _ in 0..32 {
        again[connect(port.address()).1] += 1;
    }
    assert!(again.iter().all(|&count| count > 0), "{again:?}");
    pool.stop(WAIT).unwrap();
}

#[test]
fn each_reactors_timers_and_thread_work_run_on_its_own_threads() {
    #[derive(Clone)]
    struct Seen {
        reactor: ThreadId,
        timer: ThreadId,
        worker: ThreadId,
        back: ThreadId,
        pool: crate::threads::ThreadPool,
    }
    let pool = ReactorPool::new(2).unwrap();
    let seen: Vec<Seen> = pool
        .run_on_each(|_, reactor| {
            let r = reactor.clone();
            defer_later(&reactor, Duration::from_millis(5), || {
                Ok::<_, Failure>(std::thread::current().id())
            })
            .then(move |timer| {
                let pool = r.thread_pool();
                r.defer_to_thread(|| std::thread::current().id())
                    .map(move |worker| Seen {
                        reactor: std::thread::current().id(),
                        timer,
                        worker,
                        back: std::thread::current().id(),
                        pool,
                    })
            })
        })
        .into_iter()
        .map(|seen| seen.wait(WAIT).unwrap())
        .collect();
    let reactors: Vec<ThreadId> = pool
        .run_on_each(|_, _| Ok::<_, Failure>(std::thread::current().id()))
        .into_iter()
        .map(|id| id.wait(WAIT).unwrap())
        .collect();
    for (seen, reactor) in seen.iter().zip(&reactors) {
        assert_eq!(seen.reactor, *reactor);
        assert_eq!(
            seen.timer, *reactor,
            "a timer fires on its reactor's thread"
        );
        assert_eq!(seen.back, *reactor, "a result comes back to its reactor");
        assert_ne!(seen.worker, *reactor);
        // One job in this reactor's own pool, not two in a shared one (the
        // count moves just after the result is handed back).
        let deadline = Instant::now() + WAIT;
        while seen.pool.stats().completed < 1 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(seen.pool.stats().completed, 1);
    }
    assert_ne!(reactors[0], reactors[1]);
    assert_ne!(seen[0].worker, seen[1].worker);
    pool.stop(WAIT).unwrap();
}

#[test]
fn a_pool_refuses_an_endpoint_without_reuse_port_and_closes_what_it_opened() {
    let pool = ReactorPool::new(2).unwrap();
    let error = pool
        .listen("tcp:0:interface=127.0.0.1", |_, _| {
            factory_fn(|_| None::<Tell>)
        })
        .unwrap_err();
    assert!(error.to_string().contains("reusePort=true"), "{error}");
    let error = pool
        .listen("tcp:0:reusePort=maybe", |_, _| factory_fn(|_| None::<Tell>))
        .unwrap_err();
    assert!(error.to_string().contains("reusePort"), "{error}");
    // A port taken by a socket without SO_REUSEPORT: nothing is left open.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap();
    let description = format!("tcp:{}:interface=127.0.0.1:reusePort=true", address.port());
    assert!(
        pool.listen(&description, |_, _| factory_fn(|_| None::<Tell>))
            .is_err()
    );
    assert_eq!(listening_sockets(address.port()), 1);
    pool.stop(WAIT).unwrap();
}

#[test]
fn run_returns_once_one_reactor_stops_and_stops_the_others() {
    let pool = ReactorPool::new(2).unwrap();
    let port = listen(&pool, None);
    let first = pool.bridges()[0].handle().clone();
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        first.stop().unwrap();
    });
    pool.run(WAIT).unwrap();
    stopper.join().unwrap();
    assert!(pool.is_stopped());
    assert_eq!(listening_sockets(port.address().port()), 0);
}
