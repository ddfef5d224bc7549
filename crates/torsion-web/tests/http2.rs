//! HTTP/2 with curl: cleartext with prior knowledge on the same port as
//! HTTP/1.1, and over TLS agreed by ALPN.

mod support;

use support::{TestCertificate, curl_output, serve, serve_on};
use torsion_web::{Body, Request, RequestExt, Response, Server};

/// Answers with the request's HTTP version and the ALPN protocol agreed.
fn version_server() -> Server {
    Server::new(|request: Request| {
        let alpn = request
            .connection()
            .and_then(|info| info.tls.as_ref())
            .and_then(|tls| tls.alpn_protocol.clone())
            .map(|alpn| String::from_utf8_lossy(&alpn).into_owned())
            .unwrap_or_else(|| "none".to_owned());
        Response::new(Body::from(format!(
            "{:?} alpn={alpn} {}\n",
            request.version(),
            request.uri().path()
        )))
    })
}

#[test]
fn curl_with_http2_prior_knowledge_and_http1_share_one_port() {
    let server = serve(|_| version_server());
    // One URL per run: curl 7.88 fails to reuse a prior-knowledge
    // connection for a second URL (curl/curl#10634); reuse over HTTP/2 is
    // shown over TLS below.
    for path in ["/a", "/b"] {
        let output = curl_output(&["--http2-prior-knowledge", &server.url(path)]);
        assert!(output.status.success(), "{output:?}");
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            format!("HTTP/2.0 alpn=none {path}\n")
        );
    }
    let output = curl_output(&["--http1.1", &server.url("/c")]);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "HTTP/1.1 alpn=none /c\n"
    );
}

#[test]
fn curl_over_tls_agrees_on_h2_by_alpn_reuses_the_connection_and_http1_still_works() {
    let certificate = TestCertificate::new("h2");
    let server = serve_on(&certificate.endpoint(), |_| version_server());
    let cacert = certificate.cert.display().to_string();
    let url = format!("https://localhost:{}/secure", server.address.port());
    let resolve = format!("localhost:{}:127.0.0.1", server.address.port());
    let output = curl_output(&[
        "-v",
        "--http2",
        "--cacert",
        &cacert,
        "--resolve",
        &resolve,
        &url,
        &url,
    ]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "HTTP/2.0 alpn=h2 /secure\nHTTP/2.0 alpn=h2 /secure\n"
    );
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("ALPN: server accepted h2"), "{log}");
    assert!(log.contains("Re-using existing connection"), "{log}");

    let output = curl_output(&[
        "--http1.1",
        "--cacert",
        &cacert,
        "--resolve",
        &resolve,
        &url,
    ]);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "HTTP/1.1 alpn=http/1.1 /secure\n"
    );
}
