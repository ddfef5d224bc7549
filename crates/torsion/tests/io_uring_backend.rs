//! The io_uring backend with real sockets: writes handed to the ring arrive
//! whole and in order, count as buffered until they complete, and a
//! connection that closes with a write under way does not send it to
//! whichever socket takes its descriptor number next. Ports accept through
//! the ring, TCP and UNIX alike, and one that stops while the kernel is
//! accepting for it closes what it was given and refuses what comes next.
//!
//! The whole core suite also runs on this backend (`TORSION_BACKEND=io_uring`
//! in `scripts/test`); these tests build their reactors for it explicitly.

use std::cell::RefCell;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use torsion::Reactor;
use torsion::net::{ListeningPort, Protocol, Transport, factory_fn};
use torsion::reactor::{Backend, Phase, SystemEvent};

mod common;

/// A reactor on io_uring, or `None` (and a note) where this kernel
/// refuses it, as the backend itself then falls back to epoll.
fn ring_reactor() -> Option<Reactor> {
    let reactor = Reactor::with_backend(Backend::IoUring).unwrap();
    if reactor.backend() == Backend::IoUring {
        return Some(reactor);
    }
    let disabled =
        std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled").unwrap_or_default();
    assert_ne!(
        disabled.trim(),
        "0",
        "io_uring is enabled here, yet the reactor fell back to epoll"
    );
    eprintln!("io_uring is disabled on this kernel; skipping");
    None
}

/// Runs a server on its own thread with a ring reactor; returns its
/// address and a way to stop it.
fn serve(
    make: impl Fn() -> Box<dyn Protocol> + Send + 'static,
) -> Option<(
    SocketAddr,
    torsion::ReactorHandle,
    std::thread::JoinHandle<()>,
)> {
    let (tell, told) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let Some(reactor) = ring_reactor() else {
            tell.send(None).unwrap();
            return;
        };
        let port = reactor
            .listen_tcp(
                "127.0.0.1:0".parse().unwrap(),
                factory_fn(move |_| Some(make())),
            )
            .unwrap();
        tell.send(Some((port.tcp_address().unwrap(), reactor.handle())))
            .unwrap();
        reactor.run().unwrap();
    });
    let (address, handle) = told.recv_timeout(Duration::from_secs(10)).unwrap()?;
    Some((address, handle, thread))
}

struct Echo(Option<Transport>);

impl Protocol for Echo {
    fn connection_made(&mut self, transport: &Transport) {
        self.0 = Some(transport.clone());
    }
    fn data_received(&mut self, data: &[u8]) {
        self.0.as_ref().unwrap().write(data);
    }
}

#[test]
fn a_reactor_built_for_io_uring_says_which_backend_it_got() {
    let reactor = Reactor::with_backend(Backend::IoUring).unwrap();
    let disabled =
        std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled").unwrap_or_default();
    if disabled.trim() == "0" {
        assert_eq!(reactor.backend(), Backend::IoUring);
    }
    assert_eq!(
        Reactor::with_backend(Backend::Epoll).unwrap().backend(),
        Backend::Epoll
    );
}

#[test]
fn bytes_written_through_the_ring_come_back_whole_and_in_order() {
    let Some((address, handle, thread)) = serve(|| Box::new(Echo(None))) else {
        return;
    };
    // More than the two sockets' buffers hold, so sends complete in part
    // and the rest goes again, while the client writes on.
    let data: Vec<u8> = (0..16 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let mut client = TcpStream::connect(address).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut writer = client.try_clone().unwrap();
    let sent = data.clone();
    let writing = std::thread::spawn(move || {
        for chunk in sent.chunks(100_003) {
            writer.write_all(chunk).unwrap();
        }
    });
    let mut echoed = vec![0u8; data.len()];
    client.read_exact(&mut echoed).unwrap();
    writing.join().unwrap();
    assert!(echoed == data, "the echo differs from what was sent");
    handle.stop().unwrap();
    thread.join().unwrap();
}

/// Writes a large reply, says how much of it is buffered, then closes once
/// it is flushed.
struct BigReply {
    size: usize,
    tell: mpsc::Sender<usize>,
}

impl Protocol for BigReply {
    fn connection_made(&mut self, transport: &Transport) {
        // Small writes, which the ring takes as copies (a large one with
        // nothing queued would be written at once).
        for _ in 0..self.size / 1024 {
            transport.write(&[7u8; 1024]);
        }
        // The ring holds the bytes until its sends complete.
        let _ = self.tell.send(transport.buffered());
        transport.lose_connection();
    }
    fn data_received(&mut self, _data: &[u8]) {}
}

#[test]
fn a_connection_closing_after_its_writes_waits_for_the_ring_to_send_them() {
    const SIZE: usize = 8 * 1024 * 1024;
    let (tell, told) = mpsc::channel();
    let Some((address, handle, thread)) = serve(move || {
        Box::new(BigReply {
            size: SIZE,
            tell: tell.clone(),
        })
    }) else {
        return;
    };
    let mut client = TcpStream::connect(address).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut received = Vec::new();
    client.read_to_end(&mut received).unwrap();
    assert_eq!(received.len(), SIZE);
    assert!(received.iter().all(|&byte| byte == 7));
    assert_eq!(told.recv_timeout(Duration::from_secs(5)).unwrap(), SIZE);
    handle.stop().unwrap();
    thread.join().unwrap();
}

/// On "go", writes a secret and aborts in the same callback, so the
/// descriptor is closed while the write is only queued for the ring.
struct WriteThenAbort(Option<Transport>);

impl Protocol for WriteThenAbort {
    fn connection_made(&mut self, transport: &Transport) {
        self.0 = Some(transport.clone());
    }
    fn data_received(&mut self, data: &[u8]) {
        if data.starts_with(b"go") {
            let transport = self.0.as_ref().unwrap();
            transport.write(b"secret for the first connection only");
            transport.abort_connection();
        }
    }
}

#[test]
fn a_write_under_way_when_its_connection_aborts_never_reaches_the_next_socket() {
    for _ in 0..20 {
        let Some((address, handle, thread)) = serve(|| Box::new(WriteThenAbort(None))) else {
            return;
        };
        let mut first = TcpStream::connect(address).unwrap();
        // Hold the loop so that the first connection's "go" and the second
        // connection arrive in the same turn: the second is accepted just
        // after the first closes, into its descriptor number.
        let (held, hold) = mpsc::channel::<()>();
        handle
            .call_from_thread(move |_| {
                let _ = hold.recv_timeout(Duration::from_secs(5));
            })
            .unwrap();
        std::thread::sleep(Duration::from_millis(20));
        first.write_all(b"go").unwrap();
        let mut second = TcpStream::connect(address).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        held.send(()).unwrap();
        second
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut leaked = [0u8; 64];
        let started = Instant::now();
        match second.read(&mut leaked) {
            Ok(0) => panic!("the second connection was closed"),
            Ok(n) => panic!(
                "the second connection got {:?}",
                String::from_utf8_lossy(&leaked[..n])
            ),
            Err(error) => assert!(
                matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
                "{error} after {:?}",
                started.elapsed()
            ),
        }
        handle.stop().unwrap();
        thread.join().unwrap();
    }
}

#[test]
fn a_host_loop_sleeping_on_the_ring_gets_the_writes_of_the_turn_it_ran() {
    use std::os::fd::AsRawFd;

    let Some(reactor) = ring_reactor() else {
        return;
    };
    let (_port, address) = listen_loopback(&reactor, || Echo(None));
    let client = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let started = Instant::now();
        stream.write_all(b"over the ring").unwrap();
        let mut back = [0u8; 13];
        stream
            .read_exact(&mut back)
            .map(|()| (back, started.elapsed()))
    });
    // The host: its own poller watching the reactor's descriptor, then a
    // turn that does not wait, as torsion-tokio and torsion-glib do.
    let mut host = mio::Poll::new().unwrap();
    let fd = reactor.as_raw_fd();
    host.registry()
        .register(
            &mut mio::unix::SourceFd(&fd),
            mio::Token(0),
            mio::Interest::READABLE,
        )
        .unwrap();
    let mut events = mio::Events::with_capacity(8);
    reactor.start().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !client.is_finished() && Instant::now() < deadline {
        reactor.run_once(Some(Duration::ZERO)).unwrap();
        let wait = reactor.next_timeout().unwrap_or(Duration::from_secs(3));
        // The kernel interrupts the host's wait to post the ring's
        // completions on this thread, as a signal would.
        match host.poll(&mut events, Some(wait)) {
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            other => other.unwrap(),
        }
    }
    let (back, took) = client.join().unwrap().unwrap();
    assert_eq!(&back, b"over the ring");
    // Not at the host's next wake-up, seconds later.
    assert!(took < Duration::from_secs(1), "the echo took {took:?}");
}

/// A TCP port on a free loopback port, serving each connection with a
/// protocol from `make`, and its address.
fn listen_loopback<P: Protocol + 'static>(
    reactor: &Reactor,
    make: impl Fn() -> P + 'static,
) -> (ListeningPort, SocketAddr) {
    let port = reactor
        .listen_tcp(
            "127.0.0.1:0".parse().unwrap(),
            factory_fn(move |_| Some(make())),
        )
        .unwrap();
    let address = port.tcp_address().unwrap();
    (port, address)
}

/// Keeps its transport where the test can reach every connection's.
struct Kept(Rc<RefCell<Vec<Transport>>>);

impl Protocol for Kept {
    fn connection_made(&mut self, transport: &Transport) {
        self.0.borrow_mut().push(transport.clone());
    }
    fn data_received(&mut self, _data: &[u8]) {}
}

#[test]
fn more_sends_in_one_turn_than_the_ring_holds_all_arrive() {
    // More sends than the submission queue (1,024) and completions than
    // the completion queue (2,048) hold, all queued by one callback.
    const CONNECTIONS: usize = 2_500;
    let limit = common::set_fd_limit(2 * CONNECTIONS as u64 + 500);
    assert!(
        limit >= 2 * CONNECTIONS as u64 + 100,
        "descriptor limit {limit}"
    );
    let Some(reactor) = ring_reactor() else {
        return;
    };
    let kept = Rc::new(RefCell::new(Vec::new()));
    let keep = kept.clone();
    let (_port, address) = listen_loopback(&reactor, move || Kept(keep.clone()));
    let clients = std::thread::spawn(move || {
        let streams: Vec<TcpStream> = (0..CONNECTIONS)
            .map(|_| TcpStream::connect(address).unwrap())
            .collect();
        streams
    });
    common::turn_until(&reactor, Duration::from_secs(30), || {
        kept.borrow().len() == CONNECTIONS
    });
    let message: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
    for transport in kept.borrow().iter() {
        transport.write(&message);
    }
    let streams = clients.join().unwrap();
    let reader = std::thread::spawn(move || {
        for mut stream in streams {
            stream
                .set_read_timeout(Some(Duration::from_secs(20)))
                .unwrap();
            let mut got = vec![0u8; 1000];
            stream.read_exact(&mut got)?;
            assert!(got.iter().enumerate().all(|(i, &byte)| byte == i as u8));
        }
        Ok::<(), std::io::Error>(())
    });
    common::turn_until(&reactor, Duration::from_secs(30), || reader.is_finished());
    reader.join().unwrap().unwrap();
    assert!(
        kept.borrow()
            .iter()
            .all(|transport| transport.buffered() == 0)
    );
}

#[test]
fn a_port_on_the_ring_accepts_every_connection_through_it() {
    const CLIENTS: usize = 500;
    const THREADS: usize = 4;
    let Some(reactor) = ring_reactor() else {
        return;
    };
    let (port, address) = listen_loopback(&reactor, || Echo(None));
    let clients: Vec<_> = (0..THREADS)
        .map(|thread| {
            std::thread::spawn(move || {
                for i in 0..CLIENTS / THREADS {
                    let mut stream = TcpStream::connect(address)?;
                    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
                    let hello = [thread as u8, i as u8, 0xA5];
                    stream.write_all(&hello)?;
                    let mut back = [0u8; 3];
                    stream.read_exact(&mut back)?;
                    assert_eq!(back, hello);
                }
                Ok::<(), std::io::Error>(())
            })
        })
        .collect();
    common::turn_until(&reactor, Duration::from_secs(30), || {
        clients.iter().all(|client| client.is_finished())
    });
    for client in clients {
        client.join().unwrap().unwrap();
    }
    assert_eq!(port.accepted(), CLIENTS as u64);
    // Every connection served came from the ring's accept, none from an
    // accept4 on a readiness event.
    assert_eq!(reactor.stats().ring_accepts, CLIENTS as u64);
}

#[test]
fn a_unix_port_on_the_ring_accepts_through_it_too() {
    use std::os::unix::net::UnixStream;

    const CLIENTS: usize = 20;
    let Some(reactor) = ring_reactor() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ring.sock");
    let port = reactor
        .listen_unix(&path, factory_fn(|_| Some(Echo(None))))
        .unwrap();
    let client = std::thread::spawn(move || {
        for i in 0..CLIENTS {
            let mut stream = UnixStream::connect(&path)?;
            stream.set_read_timeout(Some(Duration::from_secs(10)))?;
            stream.write_all(&[i as u8; 4])?;
            let mut back = [0u8; 4];
            stream.read_exact(&mut back)?;
            assert_eq!(back, [i as u8; 4]);
        }
        Ok::<(), std::io::Error>(())
    });
    common::turn_until(&reactor, Duration::from_secs(10), || client.is_finished());
    client.join().unwrap().unwrap();
    assert_eq!(port.accepted(), CLIENTS as u64);
    assert_eq!(reactor.stats().ring_accepts, CLIENTS as u64);
}

/// Set in the child process that runs a test needing this process's
/// descriptor table to itself.
const ALONE_ENV: &str = "TORSION_RING_TEST_ALONE";

/// Runs `test` (this binary's test of that name) in a child process, so
/// that no other test opens or closes descriptors while it counts them;
/// true in the child, which then runs the test's body.
fn in_own_process(test: &str) -> bool {
    if std::env::var(ALONE_ENV).is_ok() {
        return true;
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(ALONE_ENV, "1")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{test} failed in its own process:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    false
}

/// A thread that connects to `address` every millisecond, holding every
/// stream, until a connect is refused (true) or it gives up (false).
fn connect_until_refused(address: SocketAddr) -> std::thread::JoinHandle<bool> {
    std::thread::spawn(move || {
        let mut streams = Vec::new();
        while streams.len() < 400 {
            match TcpStream::connect(address) {
                Ok(stream) => streams.push(stream),
                Err(error) if error.kind() == ErrorKind::ConnectionRefused => return true,
                Err(error) => panic!("connect: {error}"),
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        false
    })
}

/// Descriptors open in this process.
fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn a_port_stopped_while_connections_arrive_leaks_no_descriptor_and_refuses_later_ones() {
    if !in_own_process(
        "a_port_stopped_while_connections_arrive_leaks_no_descriptor_and_refuses_later_ones",
    ) {
        return;
    }
    let Some(reactor) = ring_reactor() else {
        return;
    };
    let kept = Rc::new(RefCell::new(Vec::new()));
    let keep = kept.clone();
    let (port, address) = listen_loopback(&reactor, move || Kept(keep.clone()));
    let before = open_descriptors();
    let clients = connect_until_refused(address);
    common::turn_until(&reactor, Duration::from_secs(10), || port.accepted() >= 30);
    // The loop does not turn, and the kernel goes on accepting: those
    // connections wait as completions that nobody has taken.
    std::thread::sleep(Duration::from_millis(50));
    port.stop_listening();
    let refused = TcpStream::connect(address).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
    common::turn_until(&reactor, Duration::from_secs(10), || clients.is_finished());
    assert!(clients.join().unwrap(), "the clients were never refused");
    for transport in kept.borrow().iter() {
        transport.abort_connection();
    }
    common::turn_until(&reactor, Duration::from_secs(10), || {
        reactor.stats().sources == 0
    });
    for _ in 0..3 {
        reactor.run_once(Some(Duration::from_millis(10))).unwrap();
    }
    let stats = reactor.stats();
    assert!(
        stats.ring_accepts > port.accepted(),
        "no connection was accepted after the port stopped: {} accepted, {} served",
        stats.ring_accepts,
        port.accepted()
    );
    // The listener is closed, and so is every socket accepted for it.
    assert_eq!(open_descriptors(), before - 1);
}

#[test]
fn a_ring_port_out_of_descriptors_refuses_as_on_epoll_then_takes_the_ring_back() {
    if !in_own_process(
        "a_ring_port_out_of_descriptors_refuses_as_on_epoll_then_takes_the_ring_back",
    ) {
        return;
    }
    // Few enough to fill; the kernel's accept reads the limit when armed.
    common::set_fd_limit(128);
    let Some(reactor) = ring_reactor() else {
        return;
    };
    let (port, address) = listen_loopback(&reactor, || Echo(None));
    reactor.start().unwrap();
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    let mut filler = Vec::new();
    while let Ok(file) = std::fs::File::open("/dev/null") {
        filler.push(file);
    }
    // One slot for the client; none for the server's side of it.
    filler.pop();
    let mut refused = TcpStream::connect(address).unwrap();
    common::turn_until(&reactor, Duration::from_secs(10), || port.refused() == 1);
    refused
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert!(matches!(refused.read(&mut [0u8; 1]), Ok(0) | Err(_)));
    assert_eq!(port.accepted(), 0);
    drop(refused);
    filler.truncate(filler.len() - 10);
    // The first connection after is accepted by readiness, which ends the
    // episode; the ring takes the next ones.
    let mut clients = Vec::new();
    for i in 0..4u8 {
        let mut client = TcpStream::connect(address).unwrap();
        client.write_all(&[i]).unwrap();
        common::turn_until(&reactor, Duration::from_secs(10), || {
            port.accepted() == u64::from(i) + 1
        });
        clients.push(client);
    }
    let ring_accepts = reactor.stats().ring_accepts;
    assert_eq!(ring_accepts, 3, "the ring was not armed again");
    for (i, client) in clients.iter_mut().enumerate() {
        let mut back = [0u8; 1];
        client.set_nonblocking(true).unwrap();
        common::turn_until(&reactor, Duration::from_secs(10), || {
            client.read_exact(&mut back).is_ok()
        });
        assert_eq!(back, [i as u8]);
    }
}

#[test]
fn a_reactor_stopping_while_connections_arrive_closes_every_socket_accepted_for_it() {
    if !in_own_process(
        "a_reactor_stopping_while_connections_arrive_closes_every_socket_accepted_for_it",
    ) {
        return;
    }
    let Some(reactor) = ring_reactor() else {
        return;
    };
    let (port, address) = listen_loopback(&reactor, || Echo(None));
    let before = open_descriptors();
    let clients = connect_until_refused(address);
    common::turn_until(&reactor, Duration::from_secs(10), || port.accepted() >= 30);
    // Between the shutdown's last flush of the ring and the port's close,
    // the kernel accepts connections that the port never sees.
    reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, || {
        std::thread::sleep(Duration::from_millis(50));
    });
    reactor.stop().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !reactor.is_finished() {
        assert!(Instant::now() < deadline, "the reactor never finished");
        reactor.run_once(Some(Duration::from_millis(10))).unwrap();
    }
    let refused = TcpStream::connect(address).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
    assert!(clients.join().unwrap(), "the clients were never refused");
    assert!(reactor.stats().ring_accepts > port.accepted());
    // The reactor is still alive: it closed its connections, its port
    // and the sockets the kernel accepted after the last turn.
    assert_eq!(open_descriptors(), before - 1);
}
