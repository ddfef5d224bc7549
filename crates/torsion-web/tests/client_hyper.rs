//! torsion's HTTP client against hyper's server running on a tokio runtime
//! in another thread: plain HTTP/1.1, and TLS where ALPN picks HTTP/2 or
//! HTTP/1.1.

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use torsion_web::client::{Client, ClientError};
use torsion_web::http::{StatusCode, Version};

use support::{run, self_signed, server_tls_config};

const LIMIT: Duration = Duration::from_secs(20);

/// A hyper server on a current-thread tokio runtime of its own thread.
struct HyperServer {
    address: SocketAddr,
    connections: Arc<AtomicUsize>,
}

/// Answers with a JSON description of the request; `/moved` redirects
/// (307) to `/echo`.
async fn describe(
    request: hyper::Request<Incoming>,
    peer: SocketAddr,
    sni: Option<String>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    if request.uri().path() == "/moved" {
        return Ok(hyper::Response::builder()
            .status(307)
            .header("location", "/echo")
            .body(Full::new(Bytes::new()))
            .unwrap());
    }
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
    };
    let description = serde_json::json!({
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": parts.uri.query(),
        "authority": parts.uri.authority().map(|a| a.to_string()).or_else(|| header("host")),
        "version": format!("{:?}", parts.version),
        "authorization": header("authorization"),
        "content_type": header("content-type"),
        "body": String::from_utf8_lossy(&body),
        "peer_port": peer.port(),
        "sni": sni,
    });
    Ok(hyper::Response::new(Full::new(Bytes::from(
        description.to_string(),
    ))))
}

impl HyperServer {
    /// Plain HTTP/1.1, or TLS with `h2` and `http/1.1` offered by ALPN.
    fn start(tls: Option<Arc<rustls::ServerConfig>>) -> HyperServer {
        let (sender, receiver) = std::sync::mpsc::channel();
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                sender.send(listener.local_addr().unwrap()).unwrap();
                let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
                loop {
                    let (tcp, peer) = listener.accept().await.unwrap();
                    counted.fetch_add(1, Ordering::SeqCst);
                    let acceptor = acceptor.clone();
                    tokio::spawn(async move {
                        let Some(acceptor) = acceptor else {
                            let service = service_fn(move |request| describe(request, peer, None));
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(tcp), service)
                                .await;
                            return;
                        };
                        let Ok(stream) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let sni = stream.get_ref().1.server_name().map(str::to_owned);
                        let service =
                            service_fn(move |request| describe(request, peer, sni.clone()));
                        let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
                        let io = TokioIo::new(stream);
                        if h2 {
                            let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                                .serve_connection(io, service)
                                .await;
                        } else {
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(io, service)
                                .await;
                        }
                    });
                }
            });
        });
        let address = receiver
            .recv_timeout(Duration::from_secs(10))
            .expect("the hyper server started");
        HyperServer {
            address,
            connections,
        }
    }
}

#[test]
fn requests_to_hyper_on_tokio_carry_methods_bodies_auth_and_follow_redirects() {
    let server = HyperServer::start(None);
    let base = format!("http://{}", server.address);
    run(LIMIT, move |reactor| async move {
        let client = Client::new(&reactor);
        let seen: Value = client
            .get(&format!("{base}/echo"))
            .query(&[("a", "1")])
            .basic_auth("alice", None)
            .fetch()
            .await?
            .json()?;
        assert_eq!(seen["method"], "GET");
        assert_eq!(seen["query"], "a=1");
        assert_eq!(seen["version"], "HTTP/1.1");
        assert_eq!(seen["authority"], base.trim_start_matches("http://"));
        // base64("alice:")
        assert_eq!(seen["authorization"], "Basic YWxpY2U6");
        let first_port = seen["peer_port"].clone();

        let response = client
            .post(&format!("{base}/moved"))
            .json(&serde_json::json!({"kept": true}))
            .fetch()
            .await?;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.url().path(), "/echo");
        let seen: Value = response.json()?;
        assert_eq!(seen["method"], "POST", "a 307 keeps the method");
        assert_eq!(seen["body"], r#"{"kept":true}"#);
        assert_eq!(seen["content_type"], "application/json");
        assert_eq!(seen["peer_port"], first_port, "one keep-alive connection");
        Ok(())
    });
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
}

#[test]
fn over_tls_alpn_picks_http2_and_concurrent_requests_share_one_connection() {
    let (certificate, key) = self_signed();
    let server = HyperServer::start(Some(server_tls_config(
        &certificate,
        &key,
        &[b"h2", b"http/1.1"],
    )));
    let base = format!("https://localhost:{}", server.address.port());
    let trusted = certificate.clone();
    run(LIMIT, move |reactor| async move {
        let client = Client::builder()
            .add_root_certificate_pem(&trusted)?
            .build(&reactor);
        let pending: Vec<_> = (0..5)
            .map(|i| client.get(&format!("{base}/h2/{i}")).fetch())
            .collect();
        for (i, deferred) in pending.into_iter().enumerate() {
            let response = deferred.await?;
            assert_eq!(response.version(), Version::HTTP_2);
            let seen: Value = response.json()?;
            assert_eq!(seen["path"], format!("/h2/{i}"));
            assert_eq!(seen["version"], "HTTP/2.0");
            assert_eq!(seen["sni"], "localhost");
            assert_eq!(
                seen["authority"],
                format!("localhost:{}", base.rsplit(':').next().unwrap())
            );
        }
        let again = client.get(&format!("{base}/again")).fetch().await?;
        assert_eq!(again.version(), Version::HTTP_2);

        let http1_only = Client::builder()
            .add_root_certificate_pem(&trusted)?
            .http2(false)
            .build(&reactor);
        let response = http1_only.get(&format!("{base}/h1")).fetch().await?;
        assert_eq!(response.version(), Version::HTTP_11);
        Ok(())
    });
    // The first request's connection carried every HTTP/2 request (the
    // five started at once may each have connected before the first
    // handshake finished, but no more), and the HTTP/1.1 client one more.
    let connections = server.connections.load(Ordering::SeqCst);
    assert!((2..=6).contains(&connections), "{connections} connections");
}

#[test]
fn a_server_whose_certificate_is_not_trusted_is_refused_with_a_clear_error() {
    let (certificate, key) = self_signed();
    let server = HyperServer::start(Some(server_tls_config(
        &certificate,
        &key,
        &[b"h2", b"http/1.1"],
    )));
    let base = format!("https://localhost:{}", server.address.port());
    run(LIMIT, move |reactor| async move {
        let failure = Client::new(&reactor)
            .get(&format!("{base}/"))
            .send()
            .await
            .unwrap_err();
        let error = failure
            .downcast_ref::<ClientError>()
            .expect("a client error");
        assert!(error.is_tls(), "{error}");
        let message = error.to_string();
        assert!(message.contains("invalid peer certificate"), "{message}");
        assert!(message.contains(&base), "{message}");
        Ok(())
    });
}
