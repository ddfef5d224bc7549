//! A thousand WebSocket clients that vanish in the middle of a message:
//! each announces a 1 MiB frame, sends a few bytes of it, and resets or
//! closes the connection without a close frame. The protocol of every one
//! hears `closed` (abnormal, 1006), the server keeps no descriptor or heap
//! byte for them, and a normal WebSocket client is echoed afterwards.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use support::{CountingAllocator, Rounds, Vanish, mib, python, serve};
use torsion_web::Server;
use torsion_web::websocket::{
    CloseReason, Message, WebSocket, WebSocketProtocol, WebSocketResource,
};

/// Clients in a round.
const CLIENTS: usize = 1000;
/// Clients connected at once.
const BATCH: usize = 50;
/// What each client's frame announces, of which it sends only
/// `PARTIAL.len()` bytes.
const ANNOUNCED: u64 = 1 << 20;
const PARTIAL: &[u8] = b"half a mes";
/// Most the settled resident size may grow from the warm-up round to the
/// attack round (a frame buffer kept per client would be 1,000 of them).
const MAX_GROWTH_KIB: i64 = 8 * 1024;
/// Most the live heap may grow from the warm-up round to the attack round:
/// 64 bytes a client.
const MAX_HEAP_GROWTH: isize = 64 * CLIENTS as isize;

#[global_allocator]
static HEAP: CountingAllocator = CountingAllocator;

/// How the server's protocols ended, counted across threads.
#[derive(Default)]
struct Ends {
    opened: AtomicUsize,
    closed: AtomicUsize,
    /// Messages received: none should be, as none was finished.
    messages: AtomicUsize,
    /// Closes that were not 1006 (abnormal) or were marked clean: none
    /// should be, as no close frame was ever exchanged.
    unexpected: AtomicUsize,
}

/// Counts its connection's opening and end.
struct Counted(Arc<Ends>);

impl WebSocketProtocol for Counted {
    fn opened(&mut self, _ws: &WebSocket) {
        self.0.opened.fetch_add(1, Ordering::Relaxed);
    }

    fn message_received(&mut self, _message: Message) {
        self.0.messages.fetch_add(1, Ordering::Relaxed);
    }

    fn closed(&mut self, reason: &CloseReason) {
        self.0.closed.fetch_add(1, Ordering::Relaxed);
        if u16::from(reason.code) != 1006 || reason.clean {
            self.0.unexpected.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Completes an upgrade on a fresh connection, then sends the start of a
/// masked binary frame that announces `ANNOUNCED` bytes.
fn start_message(address: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(
            b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
              Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
              Sec-WebSocket-Version: 13\r\n\r\n",
        )
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1, "the server hung up");
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    // FIN and binary; masked, 64-bit length; the mask; a few bytes.
    let mut frame = vec![0x82, 0x80 | 127];
    frame.extend_from_slice(&ANNOUNCED.to_be_bytes());
    frame.extend_from_slice(&[1, 2, 3, 4]);
    frame.extend_from_slice(PARTIAL);
    stream.write_all(&frame).unwrap();
    stream
}

const ECHO: &str = r#"
import sys, time
from websockets.sync.client import connect
started = time.monotonic()
with connect(sys.argv[1], open_timeout=5, close_timeout=5) as ws:
    ws.send("still there?")
    print(ws.recv(timeout=5))
print(f"{(time.monotonic() - started) * 1000:.0f} ms")
"#;

/// Echoes the messages of a normal client.
struct Echo(Option<WebSocket>);

impl WebSocketProtocol for Echo {
    fn opened(&mut self, ws: &WebSocket) {
        self.0 = Some(ws.clone());
    }

    fn message_received(&mut self, message: Message) {
        let _ = self.0.as_ref().unwrap().send(message);
    }
}

#[test]
fn a_thousand_clients_vanishing_mid_message_are_each_closed_and_leave_nothing_behind() {
    let ends = Arc::new(Ends::default());
    let counted = ends.clone();
    let server = serve(move |_| {
        let router = torsion_web::Router::new()
            .get(
                "/ws",
                WebSocketResource::new(move || Counted(counted.clone())),
            )
            .get("/echo", WebSocketResource::new(|| Echo(None)));
        Server::new(router)
    });
    let address = server.address;

    let mut attack_time = Duration::ZERO;
    let rounds = Rounds::measure(
        Duration::from_secs(10),
        || {
            let started = Instant::now();
            for batch in 0..CLIENTS / BATCH {
                let clients: Vec<TcpStream> = (0..BATCH).map(|_| start_message(address)).collect();
                for (index, client) in clients.into_iter().enumerate() {
                    Vanish::alternating(batch * BATCH + index).leave(client);
                }
            }
            attack_time = started.elapsed();
        },
        |rounds| ends.closed.load(Ordering::Relaxed) == rounds * CLIENTS,
    );

    let output = python(ECHO, &[&format!("ws://{address}/echo")]);

    println!(
        "{CLIENTS} vanishing WebSocket clients in {attack_time:.2?}: opened {}, closed {}, \
         descriptors {:?} (before, after warm-up, after attack); RSS {:.1} -> {:.1} MiB \
         settled, peak +{:.1} MiB; live heap {:?} bytes; a normal client then: {}",
        ends.opened.load(Ordering::Relaxed),
        ends.closed.load(Ordering::Relaxed),
        rounds.descriptors,
        mib(rounds.resident_kib[0]),
        mib(rounds.resident_kib[1]),
        mib(rounds.peak_growth_kib),
        rounds.live_heap_bytes,
        output.replace('\n', " "),
    );
    assert!(output.starts_with("still there?\n"), "{output}");
    assert_eq!(ends.opened.load(Ordering::Relaxed), 2 * CLIENTS);
    assert_eq!(ends.closed.load(Ordering::Relaxed), 2 * CLIENTS);
    assert_eq!(ends.unexpected.load(Ordering::Relaxed), 0);
    assert_eq!(ends.messages.load(Ordering::Relaxed), 0);
    assert!(
        rounds.descriptors_returned(),
        "every connection the clients opened is closed: {:?}",
        rounds.descriptors
    );
    assert!(
        rounds.growth_kib() < MAX_GROWTH_KIB,
        "the server grew by {} KiB over a round",
        rounds.growth_kib()
    );
    assert!(
        rounds.heap_growth() < MAX_HEAP_GROWTH,
        "the live heap grew by {} bytes over a round",
        rounds.heap_growth()
    );
}
