//! WebSockets when what serves them stops: a server's connections go away
//! with 1001 when its reactor stops (or the server is shut down), a peer
//! that never answers is cut at the server's shutdown timeout, and a
//! client's connections go away with 1001 when the client's reactor stops.
//! A second stop signal ends a shutdown that waits for a silent peer at
//! once (in a child process, so the signals hit nothing else).

mod support;

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{Log, Recorder, describe, listen, python_command, serve, serve_on, wait_until};
use torsion::reactor::{Phase, SystemEvent};
use torsion::{Deferred, Failure, Reactor};
use torsion_web::websocket::{
    CloseReason, Message, WebSocket, WebSocketClient, WebSocketOptions, WebSocketProtocol,
    WebSocketResource, connect_websocket,
};
use torsion_web::{Router, Server, ServerOptions};

/// The closes a server's protocols heard, readable from the test's thread.
#[derive(Clone, Default)]
struct Closes(Arc<Mutex<Vec<String>>>);

impl Closes {
    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// Waits (on the test's thread) until `count` closes were heard.
    fn wait_for(&self, count: usize) -> Vec<String> {
        let started = Instant::now();
        while self.lines().len() < count && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.lines()
    }
}

/// Says "welcome" on opening (so a client knows the server has it) and
/// records how the connection closed.
struct Welcome {
    closes: Closes,
}

impl WebSocketProtocol for Welcome {
    fn opened(&mut self, ws: &WebSocket) {
        ws.send_text("welcome").unwrap();
    }

    fn message_received(&mut self, _message: Message) {}

    fn closed(&mut self, reason: &CloseReason) {
        self.closes.0.lock().unwrap().push(describe(reason));
    }
}

fn welcome(closes: &Closes) -> WebSocketResource {
    let closes = closes.clone();
    WebSocketResource::new(move || Welcome {
        closes: closes.clone(),
    })
}

const WAIT_FOR_THE_CLOSE: &str = r#"
import sys
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
with connect(sys.argv[1], open_timeout=5, close_timeout=5) as ws:
    print(ws.recv(timeout=5), flush=True)
    try:
        ws.recv(timeout=10)
        print("no close")
    except ConnectionClosed as closed:
        print(closed.rcvd.code, closed.rcvd.reason, closed.sent.code)
"#;

#[test]
fn a_python_client_gets_1001_when_the_servers_reactor_stops() {
    let closes = Closes::default();
    let c = closes.clone();
    let running = serve(move |_reactor| Server::new(welcome(&c)));
    let url = format!("ws://{}/chat", running.address);
    let mut client = python_command()
        .args(["-c", WAIT_FOR_THE_CLOSE, &url])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut lines = BufReader::new(client.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "welcome");

    running.stop();

    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    assert!(client.wait().unwrap().success());
    assert_eq!(rest, ["1001 server shutting down 1001"]);
    assert_eq!(
        closes.lines(),
        ["closed 1001 \"server shutting down\" clean=true"],
        "the server's protocol heard the close, once"
    );
}

/// Upgrades a raw socket to a WebSocket and then reads whatever comes,
/// never answering, until the server ends the connection.
fn silent_peer(address: std::net::SocketAddr) -> std::thread::JoinHandle<Vec<u8>> {
    let mut socket = TcpStream::connect(address).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    socket
        .write_all(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        )
        .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8];
        socket.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{head:?}");
    std::thread::spawn(move || {
        let mut received = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = socket.read(&mut buf) {
            if n == 0 {
                break;
            }
            received.extend_from_slice(&buf[..n]);
        }
        received
    })
}

/// The code of the first close frame among `frames` (unmasked, as a
/// server sends them).
fn close_code(mut frames: &[u8]) -> Option<u16> {
    while frames.len() >= 2 {
        let (opcode, length) = (frames[0] & 0x0F, usize::from(frames[1] & 0x7F));
        if opcode == 8 {
            return Some(u16::from_be_bytes([frames[2], frames[3]]));
        }
        frames = frames.get(2 + length..)?;
    }
    None
}

#[test]
fn a_peer_that_never_answers_the_close_is_cut_at_the_servers_shutdown_timeout() {
    const SHUTDOWN_TIMEOUT: Duration = Duration::from_millis(300);
    let closes = Closes::default();
    let c = closes.clone();
    let running = serve(move |_reactor| {
        // The connection's own close timeout is longer: the server's bound
        // is what cuts.
        let resource =
            welcome(&c).options(WebSocketOptions::default().close_timeout(Duration::from_secs(30)));
        Server::new(resource).with_options(ServerOptions {
            shutdown_timeout: SHUTDOWN_TIMEOUT,
            ..ServerOptions::default()
        })
    });
    let peer = silent_peer(running.address);
    let started = Instant::now();
    running.stop();
    let took = started.elapsed();

    assert!(took >= SHUTDOWN_TIMEOUT, "stopped after {took:?}");
    assert!(took < Duration::from_secs(5), "stopped after {took:?}");
    let received = peer.join().unwrap();
    assert_eq!(close_code(&received), Some(1001), "{received:?}");
    assert_eq!(
        closes.lines(),
        [
            "closed 1001 \"no answer to the close frame within the server's shutdown timeout\" clean=false"
        ]
    );
}

#[test]
fn a_reactor_that_stops_waiting_for_the_server_still_tells_the_protocol_it_closed() {
    const REACTOR_SHUTDOWN_TIMEOUT: Duration = Duration::from_millis(300);
    let closes = Closes::default();
    let c = closes.clone();
    let running = serve(move |reactor| {
        // The reactor gives up on the server's graceful stop long before
        // the server or the connection would.
        reactor.set_shutdown_timeout(REACTOR_SHUTDOWN_TIMEOUT);
        let resource =
            welcome(&c).options(WebSocketOptions::default().close_timeout(Duration::from_secs(30)));
        Server::new(resource).with_options(ServerOptions {
            shutdown_timeout: Duration::from_secs(30),
            ..ServerOptions::default()
        })
    });
    let peer = silent_peer(running.address);
    let started = Instant::now();
    running.stop();
    let took = started.elapsed();

    assert!(took >= REACTOR_SHUTDOWN_TIMEOUT, "stopped after {took:?}");
    assert!(took < Duration::from_secs(5), "stopped after {took:?}");
    assert_eq!(close_code(&peer.join().unwrap()), Some(1001));
    assert_eq!(
        closes.lines(),
        ["closed 1006 \"the reactor stopped before the connection ended\" clean=false"]
    );
}

#[test]
fn torsions_client_hears_1001_when_the_server_shuts_down_and_the_server_waits_for_it() {
    support::run(Duration::from_secs(30), |reactor| async move {
        let server_log = Log::default();
        let l = server_log.clone();
        let server = Server::new(WebSocketResource::new(move || Recorder::new(&l)));
        let (address, _listening) = listen(&reactor, &server, support::LOOPBACK).await?;
        let (ws, mut messages) = connect_websocket(&reactor, &format!("ws://{address}/")).await?;
        assert_eq!(
            server.connection_count(),
            1,
            "the server counts the upgraded connection"
        );

        server.shutdown(&reactor, Duration::from_secs(10)).await?;

        assert_eq!(
            server_log.lines().last().map(String::as_str),
            Some("closed 1001 \"server shutting down\" clean=true"),
            "the server's stop waited for its protocol's close"
        );
        assert_eq!(server.connection_count(), 0);
        let reason = ws.when_closed().await?;
        assert_eq!(
            describe(&reason),
            "closed 1001 \"server shutting down\" clean=true"
        );
        assert_eq!(messages.next().await, None);
        assert_eq!(messages.close_reason(), Some(reason));
        Ok(())
    });
}

#[test]
fn websockets_mounted_deep_in_a_router_go_away_with_their_server() {
    support::run(Duration::from_secs(30), |reactor| async move {
        let closes = Closes::default();
        let api = Router::new().get("/live", welcome(&closes));
        let site = Router::new().mount("/v1", Router::new().mount("/api", api));
        let server = Server::new(site);
        let (address, _listening) = listen(&reactor, &server, support::LOOPBACK).await?;
        let url = format!("ws://{address}/v1/api/live");
        let (first, _messages) = connect_websocket(&reactor, &url).await?;
        let (second, _messages) = connect_websocket(&reactor, &url).await?;

        server.shutdown(&reactor, Duration::from_secs(10)).await?;

        for ws in [first, second] {
            assert_eq!(
                describe(&ws.when_closed().await?),
                "closed 1001 \"server shutting down\" clean=true"
            );
        }
        assert_eq!(closes.lines().len(), 2, "{:?}", closes.lines());
        Ok(())
    });
}

#[test]
fn a_client_websocket_goes_away_with_1001_when_its_reactor_stops() {
    let closes = Closes::default();
    let c = closes.clone();
    let running = serve_on(support::LOOPBACK, move |_reactor| Server::new(welcome(&c)));
    let url = format!("ws://{}/", running.address);

    let reactor = Reactor::new().unwrap();
    let client_log = Log::default();
    let when_closed = Rc::new(RefCell::new(None::<Deferred<CloseReason>>));
    let (r, log, w) = (reactor.clone(), client_log.clone(), when_closed.clone());
    drop(reactor.spawn(async move {
        let ws = WebSocketClient::new(&url)?
            .connect_protocol(&r, Recorder::new(&log))
            .await?;
        wait_until(&r, "the welcome", || log.contains("message of 7 bytes")).await?;
        *w.borrow_mut() = Some(ws.when_closed());
        r.stop()?;
        Ok::<(), Failure>(())
    }));
    let r = reactor.clone();
    let _limit = reactor.call_later(Duration::from_secs(30), move || {
        let _ = r.stop();
    });
    reactor.run().unwrap();

    assert_eq!(
        client_log.lines().last().map(String::as_str),
        Some("closed 1001 \"client shutting down\" clean=true"),
        "{:?}",
        client_log.lines()
    );
    let closed = when_closed
        .borrow_mut()
        .take()
        .expect("the client connected in time");
    assert!(
        closed.is_fired(),
        "when_closed fired before the reactor finished"
    );
    assert_eq!(
        closes.wait_for(1),
        ["closed 1001 \"client shutting down\" clean=true"]
    );
    running.stop();
}

/// Prints how each connection closed, for the parent test to read.
struct PrintCloses;

impl WebSocketProtocol for PrintCloses {
    fn message_received(&mut self, _message: Message) {}

    fn closed(&mut self, reason: &CloseReason) {
        println!("CLOSED {}", describe(reason));
    }
}

#[test]
#[ignore = "a child process of a_second_stop_signal_ends_a_shutdown_waiting_for_a_silent_peer"]
fn child_serves_websockets_until_signalled() {
    let reactor = Reactor::new().unwrap();
    let server = Server::new(WebSocketResource::new(|| PrintCloses)).with_options(ServerOptions {
        shutdown_timeout: Duration::from_secs(60),
        ..ServerOptions::default()
    });
    reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, || {
        println!("STOPPING");
    });
    let r = reactor.clone();
    let listening = reactor.spawn(async move {
        let (address, listening) = listen(&r, &server, support::LOOPBACK).await?;
        println!("LISTENING {address}");
        Ok::<_, Failure>(listening)
    });
    reactor.run().unwrap();
    drop(listening);
    println!("RUN-RETURNED");
}

#[test]
fn a_second_stop_signal_ends_a_shutdown_waiting_for_a_silent_peer() {
    let mut child = std::process::Command::new(std::env::current_exe().unwrap());
    child
        .args(["--exact", "child_serves_websockets_until_signalled"])
        .args(["--ignored", "--nocapture", "--test-threads=1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    // SAFETY: between fork and exec the closure only calls signal(2), which
    // is async-signal-safe, and allocates nothing. A background job of a
    // script inherits SIGINT ignored; SIGTERM is made sure of the same way.
    unsafe {
        child.pre_exec(|| {
            libc::signal(libc::SIGTERM, libc::SIG_DFL);
            Ok(())
        });
    }
    let mut child = child.spawn().unwrap();
    let (tell, lines) = std::sync::mpsc::channel();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            let _ = tell.send(line);
        }
    });
    let mut printed = Vec::new();
    let mut expect = |needle: &str| -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // The harness may print its own words before the child's.
            if let Some(at) = printed
                .iter()
                .find_map(|line: &String| line.find(needle).map(|at| line[at..].to_owned()))
            {
                return at;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => printed.push(line),
                Err(_) => panic!("the child never printed {needle:?}: {printed:?}"),
            }
        }
    };
    let terminate = |pid: u32| {
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    };

    let listening = expect("LISTENING ");
    let address = listening["LISTENING ".len()..].parse().unwrap();
    let peer = silent_peer(address);
    terminate(child.id());
    expect("STOPPING");
    let started = Instant::now();
    terminate(child.id());
    expect("RUN-RETURNED");
    let took = started.elapsed();
    let status = child.wait().unwrap();

    assert!(status.success(), "{status:?}");
    assert!(took < Duration::from_secs(5), "the child took {took:?}");
    assert_eq!(
        expect("CLOSED "),
        "CLOSED closed 1006 \"the reactor stopped before the connection ended\" clean=false"
    );
    assert_eq!(close_code(&peer.join().unwrap()), Some(1001));
}
