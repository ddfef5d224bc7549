//! Taking a connection over from HTTP with `upgrade::on_switch`: a CONNECT
//! tunnel that echoes, fed the bytes the client sent right behind its
//! request, and a switch the response turns down, after which the
//! connection goes on with HTTP.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::serve;
use torsion::{Failure, Reactor};
use torsion_web::{Body, Reply, Request, Response, Server, upgrade};

/// Answers a CONNECT with 200 and echoes what comes through the tunnel;
/// turns down an `Upgrade` with 426, taking the offer all the same; answers
/// anything else with its path.
fn tunnel_server() -> Server {
    Server::new(|request: Request| -> Reply {
        let path = request.uri().path().to_owned();
        let Some(switched) = upgrade::on_switch(&request) else {
            return Response::new(Body::from(format!("path {path}\n"))).into();
        };
        let refused = request.method() != http::Method::CONNECT;
        let reactor = Reactor::current().expect("on the reactor");
        drop(reactor.spawn(async move {
            let Ok((stream, already_read)) = switched.await else {
                assert!(refused, "a CONNECT answered 200 switches");
                return Ok::<(), Failure>(());
            };
            assert!(!refused, "a 426 never switches");
            stream.write_all_now(&already_read);
            let mut buf = [0u8; 64];
            loop {
                let n = stream.read(&mut buf).await?;
                if n == 0 {
                    return Ok(());
                }
                stream.write_all_now(&buf[..n]);
            }
        }));
        let mut response = Response::new(Body::empty());
        if refused {
            *response.status_mut() = http::StatusCode::UPGRADE_REQUIRED;
        }
        response.into()
    })
}

/// A client connection that gives up reading after 10 s.
fn connect(address: std::net::SocketAddr) -> TcpStream {
    let client = TcpStream::connect(address).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    client
}

/// Reads until `stream` has given `want` bytes.
fn read_exactly(stream: &mut TcpStream, want: usize) -> String {
    let mut got = vec![0u8; want];
    stream.read_exact(&mut got).unwrap();
    String::from_utf8_lossy(&got).into_owned()
}

/// Reads a response head, up to its empty line.
fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

#[test]
fn a_connect_tunnel_gets_the_bytes_sent_behind_its_request_then_the_stream() {
    let server = serve(|_| tunnel_server());
    let mut client = connect(server.address);
    // The tunnel's first bytes travel in the same write as the request.
    client
        .write_all(b"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\nearly")
        .unwrap();
    let head = read_head(&mut client);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(!head.contains("content-length"), "{head}");
    assert_eq!(read_exactly(&mut client, 5), "early");
    client.write_all(b"then more").unwrap();
    assert_eq!(read_exactly(&mut client, 9), "then more");
}

#[test]
fn a_switch_the_response_turns_down_leaves_the_connection_to_http() {
    let server = serve(|_| tunnel_server());
    let mut client = connect(server.address);
    client
        .write_all(
            b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n\
              GET /next HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    let mut answers = String::new();
    client.read_to_string(&mut answers).unwrap();
    assert!(
        answers.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{answers}"
    );
    assert!(answers.ends_with("path /next\n"), "{answers}");
}
