//! TCP, UDP and UNIX sockets over real loopback, with blocking std
//! clients on other threads as peers.

use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use torsion::Reactor;
use torsion::net::factory_fn;
use torsion::testing::echo_server;
use torsion::time::LoopingCall;

use crate::Runner;
use crate::support::{DatagramEcho, Echo, LIMIT, stop_after};

/// A TCP echo server answers a blocking client on another thread, which
/// then stops the reactor through its handle.
pub fn tcp_echo_with_a_blocking_client_thread(run: Runner) {
    let reactor = Reactor::new().unwrap();
    let address = echo_server(&reactor);
    let handle = reactor.handle();
    let client = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(address).unwrap();
        stream.set_read_timeout(Some(LIMIT)).unwrap();
        stream.write_all(b"hello").unwrap();
        let mut reply = [0u8; 5];
        let read = stream.read_exact(&mut reply);
        let _ = handle.stop();
        read.map(|()| reply)
    });
    stop_after(&reactor, LIMIT);
    run(&reactor).unwrap();
    assert_eq!(&client.join().unwrap().unwrap(), b"hello");
}

/// Stopping the reactor closes its connections and ports: a connected
/// client sees end-of-file and nothing accepts on the port any more.
pub fn stopping_the_reactor_closes_every_connection_and_port(run: Runner) {
    let reactor = Reactor::new().unwrap();
    let address = echo_server(&reactor);
    let handle = reactor.handle();
    let client = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(address).unwrap();
        stream.set_read_timeout(Some(LIMIT)).unwrap();
        // Echoed: the connection is up on the reactor's side.
        stream.write_all(b"x").unwrap();
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).unwrap();
        let _ = handle.stop();
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).map(|_| rest)
    });
    stop_after(&reactor, LIMIT);
    run(&reactor).unwrap();
    let rest = client.join().unwrap();
    assert!(matches!(rest.as_deref(), Ok([])), "{rest:?}");
    assert_eq!(reactor.stats().sources, 0);
    assert!(TcpStream::connect(address).is_err());
}

/// A UDP echo port answers a std socket on another thread.
pub fn udp_echo_with_a_std_socket_in_a_thread(run: Runner) {
    let reactor = Reactor::new().unwrap();
    let server = reactor
        .listen_udp("127.0.0.1:0".parse().unwrap(), DatagramEcho::default())
        .unwrap();
    let address = server.udp_address().unwrap();
    let handle = reactor.handle();
    let peer = std::thread::spawn(move || {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        socket.send_to(b"hello", address).unwrap();
        let mut reply = [0u8; 64];
        let received = socket.recv_from(&mut reply);
        let _ = handle.stop();
        received.map(|(n, from)| (reply[..n].to_vec(), from))
    });
    stop_after(&reactor, LIMIT);
    run(&reactor).unwrap();
    let (reply, from) = peer.join().unwrap().unwrap();
    assert_eq!(reply, b"hello");
    assert_eq!(from, address);
}

/// A UNIX socket echo server answers a std client on another thread, and
/// stopping listening removes its file.
pub fn unix_socket_echo_and_stop_listening_removes_the_file(run: Runner) {
    let reactor = Reactor::new().unwrap();
    let dir = std::env::temp_dir().join(format!(
        "torsion-conformance-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("echo.sock");
    let port = reactor
        .listen_unix(&path, factory_fn(|_| Some(Echo::default())))
        .unwrap();
    assert!(path.exists());
    let client_done = Arc::new(AtomicBool::new(false));
    let done = client_done.clone();
    let client_path = path.clone();
    let client = std::thread::spawn(move || {
        let outcome = (|| {
            let mut stream = UnixStream::connect(client_path)?;
            stream.set_read_timeout(Some(LIMIT))?;
            stream.write_all(b"over unix")?;
            let mut reply = [0u8; 9];
            stream.read_exact(&mut reply)?;
            Ok::<_, std::io::Error>(reply)
        })();
        done.store(true, Ordering::SeqCst);
        outcome
    });
    // The port is the reactor's (`!Send`): the reactor itself stops
    // listening once the client is done, and looks at the file then,
    // before the shutdown closes anything.
    let file_after_stop = Rc::new(Cell::new(None));
    let seen = file_after_stop.clone();
    let port = RefCell::new(Some(port));
    let r = reactor.clone();
    let poll_client = LoopingCall::new(reactor.clone(), move || {
        if client_done.load(Ordering::SeqCst)
            && let Some(port) = port.borrow_mut().take()
        {
            let (seen, path, r) = (seen.clone(), path.clone(), r.clone());
            drop(port.stop_listening().map(move |()| {
                seen.set(Some(path.exists()));
                let _ = r.stop();
            }));
        }
    });
    drop(poll_client.start(Duration::from_millis(2), true).unwrap());
    stop_after(&reactor, LIMIT);
    run(&reactor).unwrap();
    assert_eq!(&client.join().unwrap().unwrap(), b"over unix");
    assert_eq!(
        file_after_stop.get(),
        Some(false),
        "stop_listening removed the file"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
