//! The io_uring backend with real sockets: writes handed to the ring arrive
//! whole and in order, count as buffered until they complete, and a
//! connection that closes with a write under way does not send it to
//! whichever socket takes its descriptor number next.
//!
//! The whole core suite also runs on this backend (`TORSION_BACKEND=io_uring`
//! in `scripts/test`); these tests build their reactors for it explicitly.

use std::cell::RefCell;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use torsion::Reactor;
use torsion::net::{Protocol, Transport, factory_fn};
use torsion::reactor::Backend;

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
    let port = reactor
        .listen_tcp(
            "127.0.0.1:0".parse().unwrap(),
            factory_fn(|_| Some(Echo(None))),
        )
        .unwrap();
    let address = port.tcp_address().unwrap();
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
    let port = reactor
        .listen_tcp(
            "127.0.0.1:0".parse().unwrap(),
            factory_fn(move |_| Some(Kept(keep.clone()))),
        )
        .unwrap();
    let address = port.tcp_address().unwrap();
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
