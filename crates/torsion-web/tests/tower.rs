//! tower services served by torsion to curl: an axum Router (routing,
//! extractors, JSON, a streamed request body, the connection's info as an
//! `Extension`) and a plain service_fn; and
//! what happens to a handler that needs tokio's runtime, with and without
//! one.
#![cfg(feature = "tower")]

mod support;

use std::convert::Infallible;
use std::time::Duration;

use axum::Extension;
use axum::extract::Path;
use axum::routing::{get, post};
use axum::{Json, Router as AxumRouter};
use torsion::Reactor;
use torsion_web::{ConnectionInfo, Router, TowerResource};

use support::{curl, serve_while};

fn axum_app() -> AxumRouter {
    AxumRouter::new()
        .route("/", get(|| async { "hello from axum\n" }))
        .route(
            "/users/{id}",
            get(|Path(id): Path<u64>| async move { format!("user {id}\n") }),
        )
        .route(
            "/echo",
            post(|Json(value): Json<serde_json::Value>| async move {
                Json(serde_json::json!({ "got": value }))
            }),
        )
        .route(
            "/count",
            post(|body: axum::body::Bytes| async move { format!("{} bytes\n", body.len()) }),
        )
        .route(
            "/peer",
            get(|Extension(info): Extension<ConnectionInfo>| async move {
                format!("{}\n", info.peer)
            }),
        )
        .route(
            "/nap",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                "rested\n"
            }),
        )
}

#[test]
fn curl_reaches_an_axum_router_served_by_torsion_without_a_tokio_runtime() {
    let reactor = Reactor::new().unwrap();
    serve_while(&reactor, TowerResource::new(axum_app()), |address| {
        let url = |path: &str| format!("http://{address}{path}");
        let hello = curl(&[&url("/")]);
        assert_eq!(
            (hello.status, hello.text().as_str()),
            (200, "hello from axum\n")
        );
        assert_eq!(hello.header("content-length"), Some("16"));

        assert_eq!(curl(&[&url("/users/7")]).text(), "user 7\n");
        assert_eq!(
            curl(&[&url("/users/seven")]).status,
            400,
            "axum's Path rejection"
        );
        assert_eq!(curl(&[&url("/missing")]).status, 404);
        let peer = curl(&[&url("/peer")]);
        assert_eq!(peer.status, 200, "{}", peer.text());
        assert!(peer.text().starts_with("127.0.0.1:"), "{}", peer.text());

        let echo = curl(&[
            "-H",
            "content-type: application/json",
            "--data",
            r#"{"a":[1,2]}"#,
            &url("/echo"),
        ]);
        assert_eq!(echo.text(), r#"{"got":{"a":[1,2]}}"#);

        // 1.5 MiB (under axum's 2 MB default limit) through the
        // flow-controlled request body.
        let big = std::env::temp_dir().join(format!("torsion-tower-{}", std::process::id()));
        std::fs::write(&big, vec![b'q'; 3 << 19]).unwrap();
        let counted = curl(&[
            "--data-binary",
            &format!("@{}", big.display()),
            &url("/count"),
        ]);
        std::fs::remove_file(&big).unwrap();
        assert_eq!(counted.text(), format!("{} bytes\n", 3 << 19));

        // tokio::time without a runtime panics inside the handler: a 500,
        // and the server goes on.
        assert_eq!(curl(&[&url("/nap")]).status, 500);
        assert_eq!(curl(&[&url("/")]).status, 200);
    });
}

#[test]
fn a_handler_using_tokio_time_works_once_given_a_runtime() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_time()
        .build()
        .unwrap();
    let reactor = Reactor::new().unwrap();
    let resource = TowerResource::new(axum_app()).tokio_handle(runtime.handle().clone());
    serve_while(&reactor, resource, |address| {
        let nap = curl(&[&format!("http://{address}/nap")]);
        assert_eq!((nap.status, nap.text().as_str()), (200, "rested\n"));
    });
}

#[test]
fn a_plain_service_fn_mounted_in_a_torsion_router() {
    let service = tower::service_fn(
        |request: http::Request<torsion_web::TowerBody>| async move {
            // Past 1 MiB a response body is streamed, not collected.
            let body = match request.uri().path() {
                "/big" => "b".repeat(3 << 20),
                _ => format!("{} {}\n", request.method(), request.uri()),
            };
            Ok::<_, Infallible>(http::Response::new(body))
        },
    );
    let reactor = Reactor::new().unwrap();
    let router = Router::new().mount("/svc", TowerResource::new(service));
    serve_while(&reactor, router, |address| {
        let answer = curl(&["-X", "PUT", &format!("http://{address}/svc/a/b?q=1")]);
        assert_eq!(answer.text(), "PUT /a/b?q=1\n");
        let big = curl(&[&format!("http://{address}/svc/big")]);
        assert_eq!(big.header("transfer-encoding"), Some("chunked"));
        assert_eq!(big.body.len(), 3 << 20);
    });
}
