//! The server driven by hyper's HTTP/1.1 client over torsion's in-memory
//! stream pair (`torsion::testing::stream_pair`): the same connection code
//! as over TCP, with no socket, port or kernel in the way, so these run in
//! milliseconds.

mod support;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use torsion::testing::stream_pair;
use torsion::time::defer_later;
use torsion::{Failure, Reactor};
use torsion_web::{Body, Reply, Request, Response, Server};

use support::run;

const LIMIT: Duration = Duration::from_secs(10);

/// Connects hyper's client to `server` through an in-memory pair.
async fn connect(reactor: &Reactor, server: &Server) -> Result<SendRequest<Full<Bytes>>, Failure> {
    let (client, server_end) = stream_pair(reactor);
    server.serve_connection(reactor, server_end);
    let (sender, connection) = http1::handshake(client).await.map_err(Failure::new)?;
    drop(reactor.spawn(async move { connection.await.map_err(Failure::new) }));
    Ok(sender)
}

fn request(method: &str, path: &str, body: &'static str) -> hyper::Request<Full<Bytes>> {
    hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "in-memory")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}

async fn text(response: hyper::Response<Incoming>) -> Result<String, Failure> {
    let body = response.into_body().collect().await.map_err(Failure::new)?;
    Ok(String::from_utf8_lossy(&body.to_bytes()).into_owned())
}

/// Answers with the method, the path and the request body's length.
fn describing_server() -> Server {
    Server::new(|request: Request| -> Reply {
        Reply::later(async move {
            let method = request.method().clone();
            let path = request.uri().path().to_owned();
            let body = request.into_body().bytes().await?;
            Ok::<_, Failure>(Response::new(Body::from(format!(
                "{method} {path} {}",
                body.len()
            ))))
        })
    })
}

#[test]
fn a_request_gets_its_response_without_a_socket() {
    run(LIMIT, |reactor| async move {
        let server = describing_server();
        let mut sender = connect(&reactor, &server).await?;
        let response = sender
            .send_request(request("GET", "/hello", ""))
            .await
            .map_err(Failure::new)?;
        assert_eq!(response.status(), 200);
        assert_eq!(text(response).await?, "GET /hello 0");
        Ok(())
    });
}

#[test]
fn a_request_body_reaches_the_resource() {
    run(LIMIT, |reactor| async move {
        let server = describing_server();
        let mut sender = connect(&reactor, &server).await?;
        let response = sender
            .send_request(request("POST", "/upload", "twelve bytes"))
            .await
            .map_err(Failure::new)?;
        assert_eq!(text(response).await?, "POST /upload 12");
        Ok(())
    });
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    run(LIMIT, |reactor| async move {
        let server = describing_server();
        let mut sender = connect(&reactor, &server).await?;
        for path in ["/one", "/two", "/three"] {
            sender.ready().await.map_err(Failure::new)?;
            let response = sender
                .send_request(request("GET", path, ""))
                .await
                .map_err(Failure::new)?;
            assert_eq!(text(response).await?, format!("GET {path} 0"));
        }
        assert_eq!(server.connection_count(), 1);
        Ok(())
    });
}

#[test]
fn a_streamed_body_arrives_in_pieces_as_it_is_sent() {
    run(LIMIT, |reactor| async move {
        let sent = Rc::new(Cell::new(0));
        let counter = sent.clone();
        let server = Server::new(move |_request: Request| -> Reply {
            let (sender, body) = Body::channel(1024);
            let counter = counter.clone();
            let reactor = Reactor::current().expect("resources run on the reactor");
            let r = reactor.clone();
            drop(reactor.spawn(async move {
                for piece in ["one ", "two ", "three"] {
                    sender.send(piece)?;
                    counter.set(counter.get() + 1);
                    defer_later(&r, Duration::from_millis(5), || Ok::<_, Failure>(())).await?;
                }
                sender.finish();
                Ok::<_, Failure>(())
            }));
            Response::new(body).into()
        });
        let mut sender = connect(&reactor, &server).await?;
        let response = sender
            .send_request(request("GET", "/stream", ""))
            .await
            .map_err(Failure::new)?;
        assert_eq!(
            response.headers().get("transfer-encoding").unwrap(),
            "chunked"
        );
        let mut body = response.into_body();
        let mut pieces = Vec::new();
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.map_err(Failure::new)?.into_data() {
                // Each piece is read before the next one is even sent.
                pieces.push((String::from_utf8_lossy(&data).into_owned(), sent.get()));
            }
        }
        let text: String = pieces.iter().map(|(piece, _)| piece.as_str()).collect();
        assert_eq!(text, "one two three");
        assert!(pieces.len() >= 3, "{pieces:?}");
        assert_eq!(pieces[0], ("one ".to_owned(), 1));
        Ok(())
    });
}
