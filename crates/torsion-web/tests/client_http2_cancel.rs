//! Cancelling an HTTP/2 request of torsion's client while it waits for its
//! response resets that stream (RST_STREAM with CANCEL) and leaves the
//! shared connection serving the other requests. The server is the `h2`
//! crate on a tokio runtime of its own thread, so that the test sees the
//! frames themselves: which stream was reset, and with what reason.

mod support;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use h2::Reason;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use torsion::{Failure, Reactor};
use torsion_web::Body;
use torsion_web::client::Client;
use torsion_web::http::{Response, StatusCode, Version};

use support::{run, self_signed, server_tls_config};

const LIMIT: Duration = Duration::from_secs(20);

/// An HTTP/2 server (TLS, ALPN `h2` only). A path starting with `/slow`
/// is never answered (nor its body read): the server waits for the client
/// to reset the stream and reports the reason. `/slow-body` is answered
/// with headers and a first chunk of a body that never ends, then waits
/// likewise. Any other path gets `200 fast` at once.
struct H2Server {
    address: SocketAddr,
    certificate: String,
    connections: Arc<AtomicUsize>,
    /// The path of each request, as its HEADERS arrive.
    requests: UnboundedReceiver<String>,
    /// The reason of each RST_STREAM the client sent for a `/slow` path.
    resets: UnboundedReceiver<Reason>,
}

impl H2Server {
    fn start() -> H2Server {
        let (certificate, key) = self_signed();
        let tls = server_tls_config(&certificate, &key, &[b"h2"]);
        let connections = Arc::new(AtomicUsize::new(0));
        let (request_sender, requests) = unbounded_channel();
        let (reset_sender, resets) = unbounded_channel();
        let (address_sender, address) = std::sync::mpsc::channel();
        let counted = connections.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                address_sender.send(listener.local_addr().unwrap()).unwrap();
                let acceptor = tokio_rustls::TlsAcceptor::from(tls);
                loop {
                    let (tcp, _) = listener.accept().await.unwrap();
                    counted.fetch_add(1, Ordering::SeqCst);
                    let acceptor = acceptor.clone();
                    let requests = request_sender.clone();
                    let resets = reset_sender.clone();
                    tokio::spawn(async move {
                        let Ok(tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        serve_connection(tls, requests, resets).await;
                    });
                }
            });
        });
        let address = address
            .recv_timeout(Duration::from_secs(10))
            .expect("the h2 server started");
        H2Server {
            address,
            certificate,
            connections,
            requests,
            resets,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.address.port())
    }

    fn client(&self, reactor: &Reactor) -> Result<Client, Failure> {
        Ok(Client::builder()
            .add_root_certificate_pem(&self.certificate)?
            .build(reactor))
    }

    async fn next_request(&mut self) -> String {
        self.requests.recv().await.expect("the server runs")
    }

    async fn next_reset(&mut self) -> Reason {
        self.resets.recv().await.expect("the server runs")
    }
}

/// Accepts the streams of one connection until it ends; each is answered
/// by a task of its own while `accept` goes on driving the connection.
async fn serve_connection(
    tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    requests: UnboundedSender<String>,
    resets: UnboundedSender<Reason>,
) {
    let Ok(mut connection) = h2::server::handshake(tls).await else {
        return;
    };
    while let Some(Ok((request, mut respond))) = connection.accept().await {
        let path = request.uri().path().to_owned();
        let _ = requests.send(path.clone());
        let resets = resets.clone();
        tokio::spawn(async move {
            if path == "/slow-body" {
                let Ok(mut body) = respond.send_response(Response::new(()), false) else {
                    return;
                };
                let _ = body.send_data(Bytes::from_static(b"first"), false);
                let reason = std::future::poll_fn(|cx| body.poll_reset(cx)).await;
                if let Ok(reason) = reason {
                    let _ = resets.send(reason);
                }
                return;
            }
            if path.starts_with("/slow") {
                let reason = std::future::poll_fn(|cx| respond.poll_reset(cx)).await;
                if let Ok(reason) = reason {
                    let _ = resets.send(reason);
                }
                return;
            }
            let Ok(mut body) = respond.send_response(Response::new(()), false) else {
                return;
            };
            let _ = body.send_data(Bytes::from_static(b"fast"), true);
        });
    }
}

/// Polls `future` once, so that it counts as awaited, and hands it back.
async fn poll_once<F: Future + Unpin>(mut future: F) -> F {
    std::future::poll_fn(|cx| {
        assert!(
            Pin::new(&mut future).poll(cx).is_pending(),
            "not answered yet"
        );
        Poll::Ready(())
    })
    .await;
    future
}

/// Opens the client's connection with a first request, so that the
/// cancelled request travels on a connection both sides already use.
async fn warm_up(client: &Client, server: &mut H2Server) -> Result<(), Failure> {
    let response = client.get(&server.url("/fast")).fetch().await?;
    assert_eq!(response.version(), Version::HTTP_2);
    assert_eq!(server.next_request().await, "/fast");
    Ok(())
}

#[test]
fn cancelling_a_pending_http2_request_resets_its_stream_with_cancel() {
    let mut server = H2Server::start();
    run(LIMIT, move |reactor| async move {
        let client = server.client(&reactor)?;
        warm_up(&client, &mut server).await?;
        let pending = client.get(&server.url("/slow")).send();
        assert_eq!(server.next_request().await, "/slow");
        pending.cancel();
        assert_eq!(server.next_reset().await, Reason::CANCEL);
        Ok(())
    });
}

#[test]
fn dropping_an_awaited_http2_request_resets_its_stream_with_cancel() {
    let mut server = H2Server::start();
    run(LIMIT, move |reactor| async move {
        let client = server.client(&reactor)?;
        warm_up(&client, &mut server).await?;
        let pending = poll_once(client.get(&server.url("/slow")).send()).await;
        assert_eq!(server.next_request().await, "/slow");
        drop(pending);
        assert_eq!(server.next_reset().await, Reason::CANCEL);
        Ok(())
    });
}

#[test]
fn cancelling_an_http2_upload_still_sending_its_body_resets_its_stream_with_cancel() {
    let mut server = H2Server::start();
    run(LIMIT, move |reactor| async move {
        let client = server.client(&reactor)?;
        warm_up(&client, &mut server).await?;
        let (body_sender, body) = Body::channel(4);
        body_sender.send("the first part of a body that never ends")?;
        let pending = client.post(&server.url("/slow-upload")).body(body).send();
        assert_eq!(server.next_request().await, "/slow-upload");
        pending.cancel();
        assert_eq!(server.next_reset().await, Reason::CANCEL);
        drop(body_sender);
        Ok(())
    });
}

#[test]
fn dropping_a_half_read_http2_response_resets_its_stream_with_cancel() {
    let mut server = H2Server::start();
    run(LIMIT, move |reactor| async move {
        let client = server.client(&reactor)?;
        warm_up(&client, &mut server).await?;
        let mut response = client.get(&server.url("/slow-body")).send().await?;
        let first = response.chunk().await.expect("a first chunk")?;
        assert_eq!(&first[..], b"first");
        drop(response);
        assert_eq!(server.next_reset().await, Reason::CANCEL);
        Ok(())
    });
}

#[test]
fn an_http2_connection_goes_on_serving_after_one_of_its_requests_is_cancelled() {
    let mut server = H2Server::start();
    let connections = server.connections.clone();
    run(LIMIT, move |reactor| async move {
        let client = server.client(&reactor)?;
        warm_up(&client, &mut server).await?;
        let pending = client.get(&server.url("/slow")).send();
        assert_eq!(server.next_request().await, "/slow");
        pending.cancel();
        assert_eq!(server.next_reset().await, Reason::CANCEL);
        let response = client.get(&server.url("/after")).fetch().await?;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.version(), Version::HTTP_2);
        assert_eq!(&response.bytes()[..], b"fast");
        assert_eq!(server.next_request().await, "/after");
        Ok(())
    });
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "every request went over the first connection"
    );
}
