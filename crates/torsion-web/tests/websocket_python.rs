//! The WebSocket server against a real client: Python's `websockets`
//! package, run as a separate process over loopback.

mod support;

use support::{Log, Recorder, python_on, wait_until, with_server};
use torsion_web::websocket::{WebSocketOptions, WebSocketResource};

const ECHO: &str = r#"
import sys
from websockets.sync.client import connect
with connect(sys.argv[1], open_timeout=5, close_timeout=5, max_size=None) as ws:
    ws.send("hello")
    print(repr(ws.recv(timeout=5)))
    ws.send(b"\x00\x01\xff")
    print(repr(ws.recv(timeout=5)))
    ws.send(["frag", "mented"])
    print(repr(ws.recv(timeout=5)))
    big = bytes(range(256)) * 4096
    ws.send(big)
    print("1 MiB echoed:", ws.recv(timeout=10) == big)
"#;

#[test]
fn python_gets_text_binary_fragmented_and_large_messages_echoed() {
    let log = Log::default();
    let l = log.clone();
    with_server(
        WebSocketResource::new(move || Recorder::new(&l)),
        move |reactor, port| async move {
            let url = format!("ws://127.0.0.1:{port}/echo");
            let output = python_on(&reactor, ECHO, vec![url]).await?;
            assert_eq!(
                output,
                "'hello'\nb'\\x00\\x01\\xff'\n'fragmented'\n1 MiB echoed: True\n"
            );
            wait_until(&reactor, "the server's close", || {
                log.lines().iter().any(|line| line.starts_with("closed"))
            })
            .await?;
            assert!(log.contains("message of 10 bytes"), "{:?}", log.lines());
            assert!(
                log.contains("closed 1000 \"\" clean=true"),
                "{:?}",
                log.lines()
            );
            Ok(())
        },
    );
}

const PING: &str = r#"
import sys, time
from websockets.sync.client import connect
with connect(sys.argv[1], open_timeout=5, close_timeout=5) as ws:
    print("pong arrived:", ws.ping(b"client ping").wait(5))
    ws.send("done")
    ws.recv(timeout=5)
"#;

#[test]
fn pings_are_answered_both_ways() {
    let log = Log::default();
    let l = log.clone();
    with_server(
        WebSocketResource::new(move || Recorder::new(&l)),
        move |reactor, port| async move {
            let url = format!("ws://127.0.0.1:{port}/");
            let output = python_on(&reactor, PING, vec![url]).await?;
            assert_eq!(output, "pong arrived: True\n");
            // The server pinged on opening; Python answered by itself.
            assert!(log.contains("pong server ping"), "{:?}", log.lines());
            Ok(())
        },
    );
}

const CLIENT_CLOSES: &str = r#"
import sys
from websockets.sync.client import connect
ws = connect(sys.argv[1], open_timeout=5, close_timeout=5)
ws.send("hi")
ws.recv(timeout=5)
ws.close(code=4000, reason="client says bye")
print(ws.close_code, ws.close_reason)
"#;

const SERVER_CLOSES: &str = r#"
import sys
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
with connect(sys.argv[1], open_timeout=5, close_timeout=5) as ws:
    ws.send("close me")
    try:
        ws.recv(timeout=5)
    except ConnectionClosed as closed:
        print(closed.rcvd.code, closed.rcvd.reason, closed.sent.code)
"#;

#[test]
fn the_close_handshake_carries_code_and_reason_to_both_sides_whoever_starts_it() {
    let log = Log::default();
    let l = log.clone();
    with_server(
        WebSocketResource::new(move || Recorder::new(&l)),
        move |reactor, port| async move {
            let url = format!("ws://127.0.0.1:{port}/");
            let output = python_on(&reactor, CLIENT_CLOSES, vec![url.clone()]).await?;
            assert_eq!(output, "4000 client says bye\n");
            wait_until(&reactor, "the server's close", || {
                log.contains("closed 4000 \"client says bye\" clean=true")
            })
            .await?;

            let output = python_on(&reactor, SERVER_CLOSES, vec![url]).await?;
            assert_eq!(output, "4001 server says bye 4001\n");
            wait_until(&reactor, "the server's close", || {
                log.contains("closed 4001 \"server says bye\" clean=true")
            })
            .await?;
            Ok(())
        },
    );
}

const TOO_BIG: &str = r#"
import sys
from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import connect
for message in ["x" * 2048, ["y" * 600, "y" * 600]]:
    with connect(sys.argv[1], open_timeout=5, close_timeout=5) as ws:
        ws.send("small")
        ws.recv(timeout=5)
        try:
            # The close may come before a fragmented send ends (websockets
            # ends it with an empty final frame), so the send is inside.
            ws.send(message)
            ws.recv(timeout=5)
            print("no close")
        except ConnectionClosedError as closed:
            print(closed.rcvd.code, closed.rcvd.reason)
"#;

#[test]
fn a_message_or_frame_over_the_limit_closes_with_1009() {
    let log = Log::default();
    let l = log.clone();
    let resource = WebSocketResource::new(move || Recorder::new(&l))
        .options(WebSocketOptions::default().max_message_size(1024));
    with_server(resource, move |reactor, port| async move {
        let url = format!("ws://127.0.0.1:{port}/");
        // A single 2 KiB frame, then a 1200-byte message in two frames of
        // 600 (each under the limit).
        let output = python_on(&reactor, TOO_BIG, vec![url]).await?;
        assert_eq!(output, "1009 message too big\n1009 message too big\n");
        wait_until(&reactor, "both closes", || {
            log.lines()
                .iter()
                .filter(|line| line.starts_with("closed 1009 \"message too big\" clean=false"))
                .count()
                == 2
        })
        .await?;
        Ok(())
    });
}

/// Python's raw sockets: a client that breaks the protocol on purpose.
const MALFORMED: &str = r#"
import socket, sys
host, port = "127.0.0.1", int(sys.argv[1])
def upgrade():
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += s.recv(1)
    assert answer.startswith(b"HTTP/1.1 101"), answer
    return s
def close_code(s):
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    # Skip the server's opening ping; find its close frame.
    while data:
        opcode, length = data[0] & 0x0F, data[1] & 0x7F
        if opcode == 8:
            return int.from_bytes(data[2:4], "big")
        data = data[2 + length:]
    return None
# An unmasked frame from a client.
s = upgrade()
s.sendall(b"\x81\x05hello")
print("unmasked:", close_code(s))
# Reserved bits set, masked with a zero key.
s = upgrade()
s.sendall(b"\xf1\x85\x00\x00\x00\x00hello")
print("reserved bits:", close_code(s))
# Invalid UTF-8 in a text frame.
s = upgrade()
s.sendall(b"\x81\x82\x00\x00\x00\x00\xc3\x28")
print("bad utf-8:", close_code(s))
"#;

#[test]
fn malformed_frames_close_with_1002_and_bad_utf8_with_1007() {
    let log = Log::default();
    let l = log.clone();
    with_server(
        WebSocketResource::new(move || Recorder::new(&l)),
        move |reactor, port| async move {
            let output = python_on(&reactor, MALFORMED, vec![port.to_string()]).await?;
            assert_eq!(
                output,
                "unmasked: 1002\nreserved bits: 1002\nbad utf-8: 1007\n"
            );
            Ok(())
        },
    );
}

const PANIC: &str = r#"
import sys
from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import connect
url = sys.argv[1]
with connect(url, open_timeout=5, close_timeout=5) as bystander:
    with connect(url, open_timeout=5, close_timeout=5) as victim:
        victim.send("panic")
        try:
            victim.recv(timeout=5)
        except ConnectionClosedError as closed:
            print("victim:", closed.rcvd.code, closed.rcvd.reason)
    bystander.send("still here?")
    print("bystander:", bystander.recv(timeout=5))
with connect(url, open_timeout=5, close_timeout=5) as newcomer:
    newcomer.send("and me?")
    print("newcomer:", newcomer.recv(timeout=5))
"#;

#[test]
fn a_panicking_protocol_closes_only_its_own_connection_with_1011() {
    let log = Log::default();
    let l = log.clone();
    with_server(
        WebSocketResource::new(move || Recorder::new(&l)),
        move |reactor, port| async move {
            let url = format!("ws://127.0.0.1:{port}/");
            let output = python_on(&reactor, PANIC, vec![url]).await?;
            assert_eq!(
                output,
                "victim: 1011 internal error\nbystander: still here?\nnewcomer: and me?\n"
            );
            assert!(
                log.contains("closed 1011 \"internal error\" clean=false"),
                "closed is still called after the panic: {:?}",
                log.lines()
            );
            Ok(())
        },
    );
}

const SUBPROTOCOL: &str = r#"
import sys
from websockets.sync.client import connect
with connect(sys.argv[1], open_timeout=5, close_timeout=5, subprotocols=["chat.v1", "chat.v2"]) as ws:
    print(ws.subprotocol)
"#;

#[test]
fn the_servers_preferred_subprotocol_among_those_offered_is_chosen() {
    let log = Log::default();
    let l = log.clone();
    let resource =
        WebSocketResource::new(move || Recorder::new(&l)).subprotocols(["chat.v2", "chat.v1"]);
    with_server(resource, move |reactor, port| async move {
        let url = format!("ws://127.0.0.1:{port}/");
        let output = python_on(&reactor, SUBPROTOCOL, vec![url]).await?;
        assert_eq!(output, "chat.v2\n");
        assert!(log.contains("opened subprotocol=Some(\"chat.v2\")"));
        Ok(())
    });
}
