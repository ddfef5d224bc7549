//! `RequestExt::connection`, as every kind of resource reaches it: a plain
//! resource, one behind a router, a blocking app on a worker thread, and a
//! resource behind a middleware that names another client (a proxy's); each
//! answers with the client address it sees, checked against the socket's.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use torsion::net::Address;
use torsion_web::{
    BlockingApp, BlockingRequest, BlockingResponse, Body, ConnectionInfo, Reply, Request,
    RequestExt, Resource, Response, Router,
};

use support::{parse_response, serve_while};

/// The client's address as `request` tells it, or "none".
fn peer_of<B: 'static>(request: &torsion_web::http::Request<B>) -> String {
    request
        .connection()
        .map_or_else(|| "none".to_owned(), |info| info.peer.to_string())
}

/// Names the client `X-Forwarded-For` gives, for the resource it wraps,
/// as a resource behind a trusted proxy would.
struct Forwarded<R>(R);

impl<R: Resource> Resource for Forwarded<R> {
    fn handle(&self, mut request: Request) -> Reply {
        let forwarded = request
            .headers()
            .get("x-forwarded-for")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<SocketAddr>().ok());
        if let (Some(client), Some(info)) = (forwarded, request.connection()) {
            let info = ConnectionInfo {
                peer: Address::Tcp(client),
                ..info.clone()
            };
            request.extensions_mut().insert(info);
        }
        self.0.handle(request)
    }
}

/// GETs `path` on a connection of its own, with `extra` header lines;
/// the client's own address and the body of the answer.
fn get(address: SocketAddr, path: &str, extra: &str) -> (SocketAddr, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    let client = stream.local_addr().unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: test\r\n{extra}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let fetched = parse_response(&raw);
    assert_eq!(fetched.status, 200, "{path}: {}", fetched.text());
    (client, fetched.text())
}

#[test]
fn every_kind_of_resource_sees_the_client_that_sent_its_request() {
    let reactor = torsion::Reactor::new().unwrap();
    let router = Router::new()
        .get("/plain", |request: Request| {
            Response::new(Body::from(peer_of(&request)))
        })
        .get(
            "/blocking",
            BlockingApp::new(|request: BlockingRequest| {
                BlockingResponse::new(peer_of(&request).into())
            }),
        )
        .get("/local", |request: Request| {
            let local = request.connection().map(|info| info.local.to_string());
            Response::new(Body::from(local.unwrap_or_default()))
        });
    let forwarded = Router::new().mount("/app", router).get(
        "/forwarded",
        Forwarded(|request: Request| Response::new(Body::from(peer_of(&request)))),
    );
    serve_while(&reactor, forwarded, |address| {
        for path in ["/app/plain", "/app/blocking"] {
            let (client, seen) = get(address, path, "");
            assert_eq!(seen, client.to_string(), "{path}");
        }
        let (_, local) = get(address, "/app/local", "");
        assert_eq!(local, address.to_string());

        let (_, seen) = get(address, "/forwarded", "X-Forwarded-For: 192.0.2.7:4711\r\n");
        assert_eq!(seen, "192.0.2.7:4711", "the middleware's value comes first");
        let (client, seen) = get(address, "/forwarded", "");
        assert_eq!(seen, client.to_string());
    });
}

#[test]
fn a_request_built_by_hand_has_a_connection_only_when_given_one() {
    let mut request = Request::new(Body::from("made here"));
    assert!(request.connection().is_none());
    let info = ConnectionInfo {
        peer: Address::Tcp("127.0.0.1:1".parse().unwrap()),
        local: Address::Tcp("127.0.0.1:2".parse().unwrap()),
        tls: None,
    };
    request.extensions_mut().insert(info);
    assert_eq!(peer_of(&request), "127.0.0.1:1");
}
