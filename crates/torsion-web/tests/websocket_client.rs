//! torsion's WebSocket client against torsion's server (plain and TLS),
//! flow control with a slow reader, and refused upgrades (curl and the
//! client).

mod support;

use std::cell::Cell;
use std::process::Command;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use support::{Log, Recorder, TestCertificate, describe, wait_until, with_server, with_server_on};
use torsion::time::defer_later;
use torsion::{Failure, Reactor};
use torsion_web::websocket::{
    CloseCode, Message, WebSocketClient, WebSocketError, WebSocketOptions, WebSocketResource,
    connect_websocket,
};
use torsion_web::{Body, Request, Resource, Response};

fn echo() -> WebSocketResource {
    WebSocketResource::from_async(|ws, mut messages| async move {
        while let Some(message) = messages.next().await {
            if ws.send(message).is_err() {
                break;
            }
        }
    })
}

#[test]
fn torsions_client_and_server_exchange_messages_and_close_with_code_and_reason() {
    let server_saw = Rc::new(std::cell::RefCell::new(None));
    let seen = server_saw.clone();
    let resource = WebSocketResource::from_async(move |ws, mut messages| {
        let seen = seen.clone();
        async move {
            while let Some(message) = messages.next().await {
                let _ = ws.send(message);
            }
            *seen.borrow_mut() = messages.close_reason();
        }
    });
    with_server(resource, move |reactor, port| async move {
        let url = format!("ws://127.0.0.1:{port}/echo");
        let (ws, mut messages) = connect_websocket(&reactor, &url).await?;
        assert_eq!(ws.uri(), url.as_str());
        ws.send_text("hello")?;
        ws.send_binary(Bytes::from_static(b"\x00\xff"))?;
        assert_eq!(messages.next().await, Some(Message::Text("hello".into())));
        assert_eq!(
            messages.next().await,
            Some(Message::Binary(Bytes::from_static(b"\x00\xff")))
        );
        ws.close(CloseCode::from(4000), "done here");
        assert!(ws.send_text("too late").unwrap_err().is_closed());
        let reason = ws.when_closed().await?;
        assert_eq!(describe(&reason), "closed 4000 \"done here\" clean=true");
        assert_eq!(messages.next().await, None);
        assert_eq!(messages.close_reason(), Some(reason));
        wait_until(&reactor, "the server's close", || {
            server_saw.borrow().is_some()
        })
        .await?;
        let server_reason = server_saw.borrow().clone().unwrap();
        assert_eq!(
            describe(&server_reason),
            "closed 4000 \"done here\" clean=true"
        );
        Ok(())
    });
}

#[test]
fn a_protocol_client_pings_and_both_sides_negotiate_a_subprotocol() {
    let server_log = Log::default();
    let l = server_log.clone();
    let resource =
        WebSocketResource::new(move || Recorder::new(&l)).subprotocols(["chat.v1", "chat.v2"]);
    with_server(resource, move |reactor, port| async move {
        let client_log = Log::default();
        let ws = WebSocketClient::new(&format!("ws://127.0.0.1:{port}/"))?
            .subprotocols(["chat.v2", "chat.v1"])
            .connect_protocol(&reactor, Recorder::new(&client_log))
            .await?;
        assert_eq!(ws.subprotocol(), Some("chat.v1"), "the server's preference");
        ws.send_text("close me")?;
        let reason = ws.when_closed().await?;
        assert_eq!(
            describe(&reason),
            "closed 4001 \"server says bye\" clean=true"
        );
        for log in [&client_log, &server_log] {
            assert!(log.contains("pong server ping"), "{:?}", log.lines());
            assert!(
                log.contains("opened subprotocol=Some(\"chat.v1\")"),
                "{:?}",
                log.lines()
            );
        }
        wait_until(&reactor, "the server's close", || {
            server_log.contains("closed 4001 \"server says bye\" clean=true")
        })
        .await?;
        Ok(())
    });
}

#[test]
fn wss_connects_over_torsions_tls_endpoints() {
    let certificate = TestCertificate::new("wss");
    let description = certificate.endpoint();
    let roots = certificate.cert.clone();
    with_server_on(&description, echo(), move |reactor, port| async move {
        let url = format!("wss://localhost:{port}/secure");
        let (ws, mut messages) = WebSocketClient::new(&url)?
            .ca_certs(roots)
            .connect(&reactor)
            .await?;
        ws.send_text("over TLS")?;
        assert_eq!(
            messages.next().await,
            Some(Message::Text("over TLS".into()))
        );
        ws.close(CloseCode::Normal, "");
        assert!(ws.when_closed().await?.clean);

        let no_roots = connect_websocket(&reactor, &url).await.unwrap_err();
        assert!(no_roots.to_string().contains("trust roots"), "{no_roots}");
        Ok(())
    });
}

/// 1024 messages of 64 KiB (64 MiB) from a server that awaits `ready`
/// between them, to a client that does not read for a while.
#[test]
fn a_slow_reader_holds_the_sender_back_and_nothing_piles_up() {
    const CHUNK: usize = 64 * 1024;
    const COUNT: usize = 1024;
    let sent = Rc::new(Cell::new(0usize));
    let most_buffered = Rc::new(Cell::new(0usize));
    let (s, m) = (sent.clone(), most_buffered.clone());
    let resource = WebSocketResource::from_async(move |ws, _messages| {
        let (sent, most_buffered) = (s.clone(), m.clone());
        async move {
            let chunk = Bytes::from(vec![7u8; CHUNK]);
            for _ in 0..COUNT {
                if ws.ready().await.is_err() || ws.send_binary(chunk.clone()).is_err() {
                    return;
                }
                sent.set(sent.get() + 1);
                most_buffered.set(most_buffered.get().max(ws.buffered_amount()));
            }
            // Stay open until the client has read everything and closes.
            let _ = ws.when_closed().await;
        }
    });
    with_server(resource, move |reactor, port| async move {
        let url = format!("ws://127.0.0.1:{port}/flood");
        let (ws, mut messages) = WebSocketClient::new(&url)?
            .options(WebSocketOptions::default().max_queued_messages(4))
            .connect(&reactor)
            .await?;
        defer_later(&reactor, Duration::from_millis(500), || {
            Ok::<(), Failure>(())
        })
        .await?;
        let sent_while_stalled = sent.get();
        assert!(
            sent_while_stalled < COUNT / 2,
            "the server kept sending to a reader that did not read: {sent_while_stalled} of {COUNT}"
        );
        assert!(messages.queued() <= 4, "{} queued", messages.queued());
        let mut received = 0;
        while received < COUNT {
            let message = messages.next().await.expect("all messages arrive");
            assert_eq!(message.len(), CHUNK);
            received += 1;
        }
        ws.close(CloseCode::Normal, "");
        ws.when_closed().await?;
        assert_eq!(sent.get(), COUNT);
        // One message may go out over the 64 KiB mark before `ready` waits.
        assert!(
            most_buffered.get() <= 64 * 1024 + CHUNK + 16,
            "the server buffered up to {} bytes",
            most_buffered.get()
        );
        Ok(())
    });
}

#[test]
fn a_panicking_async_handler_closes_its_connection_with_1011() {
    let resource = WebSocketResource::from_async(|_ws, mut messages| async move {
        if let Some(message) = messages.next().await {
            panic!("cannot handle {message:?}");
        }
    });
    with_server(resource, |reactor, port| async move {
        let url = format!("ws://127.0.0.1:{port}/");
        let (ws, _messages) = connect_websocket(&reactor, &url).await?;
        ws.send_text("anything")?;
        let reason = ws.when_closed().await?;
        assert_eq!(
            describe(&reason),
            "closed 1011 \"internal error\" clean=true"
        );
        // The server goes on serving.
        let (ws, _messages) = connect_websocket(&reactor, &url).await?;
        assert!(ws.is_open());
        ws.close(CloseCode::Normal, "");
        assert!(ws.when_closed().await?.clean);
        Ok(())
    });
}

/// A site with a WebSocket at /ws and nothing else.
fn site() -> impl Resource {
    let ws = echo();
    move |request: Request| {
        if request.uri().path() == "/ws" {
            ws.handle(request)
        } else {
            let mut response = Response::new(Body::from("no such page\n"));
            *response.status_mut() = http::StatusCode::NOT_FOUND;
            response.into()
        }
    }
}

#[test]
fn bad_upgrade_requests_are_refused_with_a_status_that_says_why() {
    with_server(site(), |reactor, port| async move {
        let url = format!("http://127.0.0.1:{port}/ws");
        let curl = |args: &[&str]| {
            let mut command = Command::new("curl");
            command.args(["-sS", "--max-time", "10", "-w", "\n%{http_code}"]);
            command.args(args).arg(&url);
            command
        };
        let mut plain = curl(&[]);
        let mut no_key = curl(&[
            "-H",
            "Upgrade: websocket",
            "-H",
            "Connection: Upgrade",
            "-H",
            "Sec-WebSocket-Version: 13",
        ]);
        let mut old_version = curl(&[
            "-H",
            "Upgrade: websocket",
            "-H",
            "Connection: Upgrade",
            "-H",
            "Sec-WebSocket-Version: 8",
            "-H",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        ]);
        let outputs = reactor
            .defer_to_thread(move || {
                [plain.output(), no_key.output(), old_version.output()]
                    .map(|output| String::from_utf8_lossy(&output.unwrap().stdout).into_owned())
            })
            .await?;
        assert!(outputs[0].ends_with("\n426"), "{}", outputs[0]);
        assert!(outputs[0].contains("Upgrade: websocket"), "{}", outputs[0]);
        assert!(outputs[1].ends_with("\n400"), "{}", outputs[1]);
        assert!(outputs[1].contains("Sec-WebSocket-Key"), "{}", outputs[1]);
        assert!(outputs[2].ends_with("\n426"), "{}", outputs[2]);
        assert!(
            outputs[2].contains("Sec-WebSocket-Version: 13"),
            "{}",
            outputs[2]
        );

        let refused = connect_websocket(&reactor, &format!("ws://127.0.0.1:{port}/elsewhere"))
            .await
            .unwrap_err();
        match refused.downcast_ref::<WebSocketError>() {
            Some(WebSocketError::Rejected { status, body }) => {
                assert_eq!(*status, http::StatusCode::NOT_FOUND);
                assert_eq!(body, "no such page");
            }
            _ => panic!("expected a rejection, got {refused}"),
        }
        // The server still serves WebSockets after all that.
        let (ws, mut messages) =
            connect_websocket(&reactor, &format!("ws://127.0.0.1:{port}/ws")).await?;
        ws.send_text("still fine")?;
        assert_eq!(
            messages.next().await,
            Some(Message::Text("still fine".into()))
        );
        Ok(())
    });
}

#[test]
fn the_client_refuses_bad_urls_and_reports_refused_connections() {
    let reactor = Reactor::new().unwrap();
    for (url, problem) in [
        ("http://127.0.0.1/", "the scheme must be ws or wss"),
        ("127.0.0.1:80", "the scheme must be ws or wss"),
    ] {
        let error = WebSocketClient::new(url).unwrap_err();
        assert!(
            error.to_string().contains(problem),
            "{url}: {error} should mention {problem}"
        );
    }
    // Port 1 on loopback: nothing listens there.
    let refused = connect_websocket(&reactor, "ws://127.0.0.1:1/");
    let r = reactor.clone();
    let outcome = Rc::new(Cell::new(None));
    let o = outcome.clone();
    drop(reactor.spawn(async move {
        o.set(Some(refused.await.is_err()));
        r.stop()?;
        Ok::<(), Failure>(())
    }));
    reactor.run().unwrap();
    assert_eq!(outcome.get(), Some(true));
}
