//! torsion's HTTP client against torsion's own server, over loopback.

mod support;

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::Value;
use torsion::error::ConnectionRefused;
use torsion::time::defer_later;
use torsion::{Failure, Reactor};
use torsion_web::client::{Client, ClientError};
use torsion_web::http::{Method, StatusCode};
use torsion_web::{Body, Reply, Request, Response};

use support::{echo, redirect, run, serve_local};

const LIMIT: Duration = Duration::from_secs(20);

#[test]
fn methods_headers_query_and_bodies_reach_the_server() {
    run(LIMIT, |reactor| async move {
        let (base, _server) = serve_local(&reactor, echo).await?;
        let client = Client::new(&reactor);
        let url = format!("{base}/things?sort=name");

        let seen: Value = client
            .get(&url)
            .query(&[("page", "2"), ("q", "a b&c")])
            .header("x-trace", "42")
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(seen["method"], "GET");
        assert_eq!(seen["path"], "/things");
        assert_eq!(seen["query"], "sort=name&page=2&q=a+b%26c");
        assert_eq!(seen["headers"]["x-trace"], "42");
        assert_eq!(seen["headers"]["host"], base.trim_start_matches("http://"));
        assert!(
            seen["headers"]["user-agent"]
                .as_str()
                .unwrap()
                .starts_with("torsion-web/")
        );

        let seen: Value = client
            .post(&url)
            .json(&serde_json::json!({"name": "ada", "n": 1}))
            .fetch()
            .await?
            .json()?;
        assert_eq!(seen["method"], "POST");
        assert_eq!(seen["headers"]["content-type"], "application/json");
        let body: Value = serde_json::from_str(seen["body"].as_str().unwrap()).unwrap();
        assert_eq!(body, serde_json::json!({"name": "ada", "n": 1}));

        let seen: Value = client
            .put(&url)
            .form(&[("name", "ada lovelace"), ("lang", "en")])
            .fetch()
            .await?
            .json()?;
        assert_eq!(seen["method"], "PUT");
        assert_eq!(
            seen["headers"]["content-type"],
            "application/x-www-form-urlencoded"
        );
        assert_eq!(seen["body"], "name=ada+lovelace&lang=en");

        let seen: Value = client.delete(&url).fetch().await?.json()?;
        assert_eq!(seen["method"], "DELETE");

        let seen: Value = client
            .request(Method::PATCH, &url)
            .bytes(&b"raw bytes"[..])
            .fetch()
            .await?
            .json()?;
        assert_eq!(seen["method"], "PATCH");
        assert_eq!(seen["body"], "raw bytes");
        assert_eq!(seen["headers"]["content-length"], "9");

        let head = client.head(&url).fetch().await?;
        assert_eq!(head.status(), StatusCode::OK);
        assert!(head.bytes().is_empty(), "a HEAD response has no body");
        Ok(())
    });
}

#[test]
fn basic_auth_is_seen_by_the_server_from_the_builder_and_from_the_url() {
    run(LIMIT, |reactor| async move {
        let (base, _server) = serve_local(&reactor, echo).await?;
        let client = Client::new(&reactor);
        let seen: Value = client
            .get(&format!("{base}/private"))
            .basic_auth("alice", Some("open sesame"))
            .fetch()
            .await?
            .json()?;
        // base64("alice:open sesame")
        assert_eq!(
            seen["headers"]["authorization"],
            "Basic YWxpY2U6b3BlbiBzZXNhbWU="
        );
        let with_credentials = base.replacen("http://", "http://bob:p%40ss@", 1);
        let response = client
            .get(&format!("{with_credentials}/private"))
            .fetch()
            .await?;
        let seen: Value = response.json()?;
        // base64("bob:p@ss")
        assert_eq!(seen["headers"]["authorization"], "Basic Ym9iOnBAc3M=");
        assert_eq!(
            response.url().username(),
            "",
            "credentials do not stay in the URL"
        );
        Ok(())
    });
}

fn redirecting(request: Request) -> Reply {
    let path = request.uri().path().to_owned();
    match path.as_str() {
        "/301" => redirect(301, "/echo").into(),
        "/302" => redirect(302, "/echo").into(),
        "/303" => redirect(303, "/echo").into(),
        "/307" => redirect(307, "/echo?kept=yes").into(),
        "/308" => redirect(308, "/echo").into(),
        "/chain/3" => redirect(302, "/chain/2").into(),
        "/chain/2" => redirect(302, "1").into(),
        "/chain/1" => redirect(302, "/echo").into(),
        "/loop" => redirect(302, "/loop").into(),
        _ => echo(request),
    }
}

#[test]
fn redirects_turn_into_get_or_keep_the_method_and_body_as_their_status_says() {
    run(LIMIT, |reactor| async move {
        let (base, _server) = serve_local(&reactor, redirecting).await?;
        let client = Client::new(&reactor);
        for (status, method, body) in [
            ("301", "GET", ""),
            ("302", "GET", ""),
            ("303", "GET", ""),
            ("307", "POST", "payload"),
            ("308", "POST", "payload"),
        ] {
            let response = client
                .post(&format!("{base}/{status}"))
                .form(&[("p", "ayload")])
                .bytes("payload")
                .fetch()
                .await?;
            assert_eq!(response.status(), StatusCode::OK, "after {status}");
            assert_eq!(response.url().path(), "/echo", "after {status}");
            let seen: Value = response.json()?;
            assert_eq!(seen["method"], method, "after {status}");
            assert_eq!(seen["body"], body, "after {status}");
            if body.is_empty() {
                assert!(
                    seen["headers"].get("content-type").is_none(),
                    "the body's type went with it after {status}"
                );
            }
        }
        let response = client.get(&format!("{base}/chain/3")).fetch().await?;
        assert_eq!(response.url().as_str(), format!("{base}/echo"));

        let unfollowed = client
            .get(&format!("{base}/302"))
            .follow_redirects(false)
            .fetch()
            .await?;
        assert_eq!(unfollowed.status(), StatusCode::FOUND);
        assert_eq!(unfollowed.headers()["location"], "/echo");
        Ok(())
    });
}

#[test]
fn a_redirect_loop_fails_with_an_error_naming_the_limit() {
    run(LIMIT, |reactor| async move {
        let (base, _server) = serve_local(&reactor, redirecting).await?;
        let client = Client::builder().max_redirects(3).build(&reactor);
        let failure = client
            .get(&format!("{base}/loop"))
            .send()
            .await
            .unwrap_err();
        let error = failure
            .downcast_ref::<ClientError>()
            .expect("a client error");
        assert!(error.is_redirect_limit(), "{error}");
        assert!(error.to_string().contains("more than 3"), "{error}");
        // Within the limit the chain of three is followed.
        let ok = client.get(&format!("{base}/chain/3")).fetch().await?;
        assert_eq!(ok.status(), StatusCode::OK);
        Ok(())
    });
}

#[test]
fn sequential_requests_reuse_one_connection_and_the_pool_can_be_turned_off() {
    run(LIMIT, |reactor| async move {
        let (base, _server) = serve_local(&reactor, echo).await?;
        let url = format!("{base}/echo");
        let pooled = Client::new(&reactor);
        let mut ports = Vec::new();
        for _ in 0..3 {
            let seen: Value = pooled.get(&url).fetch().await?.json()?;
            ports.push(seen["peer_port"].as_u64().unwrap());
            // Back in the pool as soon as its response was read.
            assert_eq!(pooled.idle_connections(), 1);
        }
        assert!(ports.iter().all(|port| *port == ports[0]), "{ports:?}");

        let unpooled = Client::builder().max_idle_per_host(0).build(&reactor);
        let first: Value = unpooled.get(&url).fetch().await?.json()?;
        let second: Value = unpooled.get(&url).fetch().await?.json()?;
        assert_ne!(first["peer_port"], second["peer_port"]);
        assert_eq!(unpooled.idle_connections(), 0);
        Ok(())
    });
}

#[test]
fn an_idle_connection_is_closed_after_the_idle_timeout() {
    run(LIMIT, |reactor| async move {
        let (base, _server) = serve_local(&reactor, echo).await?;
        let url = format!("{base}/echo");
        let client = Client::builder()
            .idle_timeout(Duration::from_millis(100))
            .build(&reactor);
        let first: Value = client.get(&url).fetch().await?.json()?;
        assert_eq!(client.idle_connections(), 1);
        defer_later(
            &reactor,
            Duration::from_millis(300),
            || Ok::<_, Failure>(()),
        )
        .await?;
        assert_eq!(client.idle_connections(), 0);
        let second: Value = client.get(&url).fetch().await?.json()?;
        assert_ne!(first["peer_port"], second["peer_port"]);
        Ok(())
    });
}

const SIXTEEN_MIB: usize = 16 * 1024 * 1024;

/// Streams 16 MiB in 64 KiB pieces, counting what it has handed over.
fn sixteen_mib(produced: Rc<Cell<usize>>) -> impl Fn(Request) -> Response {
    move |_request: Request| {
        let (sender, body) = Body::channel(64 * 1024);
        let produced = produced.clone();
        let reactor = Reactor::current().expect("on the reactor");
        drop(reactor.spawn(async move {
            let piece = bytes::Bytes::from(vec![7u8; 64 * 1024]);
            while produced.get() < SIXTEEN_MIB {
                sender.send_data(piece.clone()).await?;
                produced.set(produced.get() + piece.len());
            }
            Ok::<(), Failure>(())
        }));
        Response::new(body)
    }
}

#[test]
fn a_streamed_16_mib_response_is_read_in_chunks_as_the_reader_takes_them() {
    run(LIMIT, |reactor| async move {
        let produced = Rc::new(Cell::new(0));
        let (base, _server) = serve_local(&reactor, sixteen_mib(produced.clone())).await?;
        let client = Client::new(&reactor);
        let mut response = client.get(&format!("{base}/big")).send().await?;
        let mut consumed = 0;
        let mut chunks = 0;
        while let Some(chunk) = response.chunk().await {
            let chunk = chunk?;
            assert!(chunk.iter().all(|byte| *byte == 7));
            consumed += chunk.len();
            chunks += 1;
            if chunks == 1 {
                // The reader stops: once the buffers between them are
                // full, the server must stop too, far short of the end.
                defer_later(
                    &reactor,
                    Duration::from_millis(300),
                    || Ok::<_, Failure>(()),
                )
                .await?;
                let stalled_at = produced.get();
                defer_later(
                    &reactor,
                    Duration::from_millis(200),
                    || Ok::<_, Failure>(()),
                )
                .await?;
                assert_eq!(produced.get(), stalled_at, "the server kept producing");
                assert!(
                    stalled_at - consumed < SIXTEEN_MIB / 2,
                    "the server ran {} bytes ahead of a reader that stopped",
                    stalled_at - consumed
                );
            }
        }
        assert_eq!(consumed, SIXTEEN_MIB);
        assert!(chunks > 16, "{chunks} chunks");
        Ok(())
    });
}

#[test]
fn a_refused_connection_is_a_connect_error_holding_connection_refused() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    run(LIMIT, move |reactor| async move {
        let client = Client::new(&reactor);
        let failure = client
            .get(&format!("http://127.0.0.1:{port}/"))
            .send()
            .await
            .unwrap_err();
        assert!(failure.find::<ConnectionRefused>().is_some(), "{failure}");
        let error = failure.downcast_ref::<ClientError>().unwrap();
        assert!(error.is_connect());
        assert!(
            error.to_string().contains(&format!("127.0.0.1:{port}")),
            "{error}"
        );
        Ok(())
    });
}

#[test]
fn a_server_that_never_answers_times_the_request_out() {
    // Accepts, reads nothing, says nothing.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let silent = std::thread::spawn(move || {
        let mut held = Vec::new();
        listener.set_nonblocking(true).unwrap();
        let until = Instant::now() + Duration::from_secs(10);
        while held.len() < 2 && Instant::now() < until {
            match listener.accept() {
                Ok((stream, _)) => held.push(stream),
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        std::thread::sleep(Duration::from_secs(2));
    });
    run(LIMIT, move |reactor| async move {
        let url = format!("http://{address}/");
        let started = Instant::now();
        let failure = Client::new(&reactor)
            .get(&url)
            .timeout(Duration::from_millis(300))
            .send()
            .await
            .unwrap_err();
        assert!(failure.is_timeout(), "{failure}");
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");

        let client = Client::builder()
            .timeout(Duration::from_millis(200))
            .build(&reactor);
        let failure = client.get(&url).fetch().await.unwrap_err();
        assert!(failure.is_timeout(), "the client's timeout: {failure}");
        Ok(())
    });
    silent.join().unwrap();
}

#[test]
fn the_timeout_also_bounds_reading_a_body_that_stalls() {
    run(LIMIT, |reactor| async move {
        let (base, _server) = serve_local(&reactor, |_request: Request| {
            let (sender, body) = Body::channel(1024);
            sender.send("a first piece, then nothing").unwrap();
            // Kept open and silent for longer than the test.
            std::mem::forget(sender);
            Response::new(body)
        })
        .await?;
        let client = Client::new(&reactor);
        let failure = client
            .get(&base)
            .timeout(Duration::from_millis(300))
            .fetch()
            .await
            .unwrap_err();
        assert!(failure.is_timeout(), "{failure}");

        let mut response = client
            .get(&base)
            .timeout(Duration::from_millis(300))
            .send()
            .await?;
        let first = response.chunk().await.unwrap()?;
        assert_eq!(first, "a first piece, then nothing");
        let stalled = response.chunk().await.unwrap().unwrap_err();
        assert!(stalled.is_timeout(), "{stalled}");
        Ok(())
    });
}

#[test]
fn bad_urls_are_clear_errors() {
    run(LIMIT, |reactor| async move {
        let client = Client::new(&reactor);
        for (url, expected) in [
            ("not a url", "invalid URL"),
            ("ftp://127.0.0.1/file", "unsupported URL scheme \"ftp\""),
        ] {
            let failure = client.get(url).send().await.unwrap_err();
            assert!(failure.is::<ClientError>(), "{failure}");
            assert!(failure.to_string().contains(expected), "{failure}");
        }
        let failure = client
            .get("http://127.0.0.1:1/")
            .header("bad header", "x")
            .send()
            .await
            .unwrap_err();
        assert!(failure.to_string().contains("invalid header"), "{failure}");
        Ok(())
    });
}

#[test]
fn concurrent_requests_all_complete() {
    run(LIMIT, |reactor| async move {
        let (base, _server) = serve_local(&reactor, echo).await?;
        let client = Client::new(&reactor);
        let pending: Vec<_> = (0..20)
            .map(|i| client.get(&format!("{base}/n/{i}")).fetch())
            .collect();
        for (i, deferred) in pending.into_iter().enumerate() {
            let seen: Value = deferred.await?.json()?;
            assert_eq!(seen["path"], format!("/n/{i}"));
        }
        assert!(client.idle_connections() <= torsion_web::client::DEFAULT_MAX_IDLE_PER_HOST);
        Ok(())
    });
}

#[test]
fn a_streamed_request_body_is_sent_once_and_a_307_to_it_is_returned() {
    run(LIMIT, |reactor| async move {
        let (base, _server) = serve_local(&reactor, redirecting).await?;
        let client = Client::new(&reactor);
        let (sender, body) = Body::channel(16);
        let sending = client.post(&format!("{base}/echo")).body(body).fetch();
        for piece in ["streamed ", "in ", "pieces"] {
            sender.send_data(piece).await.unwrap();
        }
        drop(sender);
        let seen: Value = sending.await?.json()?;
        assert_eq!(seen["body"], "streamed in pieces");

        let (sender, body) = Body::channel(16);
        sender.send("once").unwrap();
        drop(sender);
        let response = client
            .post(&format!("{base}/307"))
            .body(body)
            .fetch()
            .await?;
        assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
        Ok(())
    });
}
