//! The live view over real sockets: TCP clients of an echo server and a
//! WebSocket, seen through `/live.json` fetched with curl, as the page a
//! browser loads.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use support::with_server;
use torsion::net::{Address, factory_fn};
use torsion::protocols::wire::Echo;
use torsion::service::Service;
use torsion::threads::{ThreadPool, defer_to_thread_pool};
use torsion::{Failure, Reactor};
use torsion_web::LiveView;
use torsion_web::websocket::{Message, WebSocketResource, connect_websocket};

fn websocket_echo() -> WebSocketResource {
    WebSocketResource::from_async(|ws, mut messages| async move {
        while let Some(message) = messages.next().await {
            if ws.send(message).is_err() {
                break;
            }
        }
    })
}

/// Runs curl on a pool of the test's own, so that the reactor's default
/// pool (which the live view reports) sees only the jobs under test.
async fn curl(reactor: &Reactor, pool: &ThreadPool, url: String) -> Result<String, Failure> {
    let output = defer_to_thread_pool(reactor, pool, move || {
        Command::new("curl")
            .args(["-sS", "--fail", "--max-time", "10", &url])
            .output()
    })
    .await??;
    assert!(output.status.success(), "curl {output:?}");
    Ok(String::from_utf8(output.stdout).unwrap())
}

async fn live_json(reactor: &Reactor, pool: &ThreadPool, base: &str) -> Result<Value, Failure> {
    let body = curl(reactor, pool, format!("{base}/live.json")).await?;
    Ok(serde_json::from_str(&body).unwrap())
}

fn connection_from<'a>(document: &'a Value, peer: &str) -> &'a Value {
    document["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|connection| connection["peer"] == peer)
        .unwrap_or_else(|| panic!("no connection from {peer} in {document:#}"))
}

/// What the TCP clients' thread is told to do next.
enum Step {
    SendMore,
    Close,
}

/// Three clients of the echo server on a thread of their own: each sends
/// 5 bytes and reads them back, then on `SendMore` the first sends 1000
/// more. Reports the clients' local addresses, then each step done.
fn tcp_clients(
    server: SocketAddr,
    steps: mpsc::Receiver<Step>,
    done: mpsc::Sender<Vec<String>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let round_trip = |client: &mut TcpStream, data: &[u8]| {
            client.write_all(data).unwrap();
            let mut echoed = vec![0; data.len()];
            client.read_exact(&mut echoed).unwrap();
            assert_eq!(echoed, data);
        };
        let mut clients: Vec<TcpStream> = (0..3)
            .map(|_| {
                let client = TcpStream::connect(server).unwrap();
                client
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
                client
            })
            .collect();
        for client in &mut clients {
            round_trip(client, b"hello");
        }
        let peers = clients
            .iter()
            .map(|client| client.local_addr().unwrap().to_string())
            .collect();
        done.send(peers).unwrap();
        while let Ok(step) = steps.recv() {
            match step {
                Step::SendMore => {
                    round_trip(&mut clients[0], &[7; 1000]);
                    done.send(Vec::new()).unwrap();
                }
                Step::Close => return,
            }
        }
    })
}

#[test]
fn live_json_lists_connections_ports_timers_and_a_busy_pool() {
    with_server(websocket_echo(), |reactor, ws_port| async move {
        let curl_pool = ThreadPool::new("test-curl", 0, 2);
        let view = LiveView::service(&reactor, 0)?;
        view.start_service()?;
        let Some(Address::Tcp(view_address)) = view.address() else {
            panic!("the live view listens on TCP");
        };
        assert!(view_address.ip().is_loopback(), "bound to 127.0.0.1");
        let base = format!("http://{view_address}");

        let echo_port = reactor.listen_tcp(
            "127.0.0.1:0".parse().unwrap(),
            factory_fn(|_| Some(Echo::default())),
        )?;
        let Address::Tcp(echo_address) = echo_port.address() else {
            panic!("a TCP port");
        };
        let (step, steps) = mpsc::channel();
        let (done_sender, done) = mpsc::channel();
        let clients = tcp_clients(echo_address, steps, done_sender);
        let wait_done = {
            let done = std::sync::Arc::new(std::sync::Mutex::new(done));
            let pool = curl_pool.clone();
            let reactor = reactor.clone();
            move || {
                let done = done.clone();
                defer_to_thread_pool(&reactor, &pool, move || {
                    done.lock().unwrap().recv_timeout(Duration::from_secs(10))
                })
            }
        };
        let peers = wait_done().await??;

        let ws_url = format!("ws://127.0.0.1:{ws_port}/ws");
        let (ws, mut messages) = connect_websocket(&reactor, &ws_url).await?;
        ws.send_text("hi")?;
        assert_eq!(messages.next().await, Some(Message::Text("hi".into())));

        let timer = reactor.call_later(Duration::from_secs(60), || {});
        let first = live_json(&reactor, &curl_pool, &base).await?;
        assert_eq!(first["pid"], std::process::id());

        // The echo server's clients, with what they sent and got back.
        for peer in &peers {
            let connection = connection_from(&first, peer);
            assert_eq!(connection["transport"], "tcp");
            assert_eq!(connection["protocol"], std::any::type_name::<Echo>());
            assert_eq!(connection["host"], echo_address.to_string());
            assert_eq!(connection["bytes_in"], 5);
            assert_eq!(connection["bytes_out"], 5);
        }
        // The WebSocket, from both sides: the server's end (its host is
        // the server's port) and the client's (its peer is).
        let ws_address = format!("127.0.0.1:{ws_port}");
        let connections = first["connections"].as_array().unwrap();
        for side in ["host", "peer"] {
            let websocket = connections
                .iter()
                .find(|c| c[side] == ws_address.as_str())
                .unwrap_or_else(|| panic!("no WebSocket {side} {ws_address} in {first:#}"));
            assert_eq!(websocket["protocol"], "websocket");
            assert!(websocket["bytes_in"].as_u64().unwrap() > 0);
            assert!(websocket["bytes_out"].as_u64().unwrap() > 0);
        }
        // curl's own request, on the live view's server.
        assert!(
            first["connections"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["protocol"] == "http/1.1" && c["host"] == view_address.to_string()),
            "{first:#}"
        );

        let ports: Vec<&str> = first["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|port| port["address"].as_str().unwrap())
            .collect();
        for address in [echo_address.to_string(), view_address.to_string()] {
            assert!(ports.contains(&address.as_str()), "{address} in {ports:?}");
        }
        assert!(first["timers"]["pending"].as_u64().unwrap() >= 1);
        let next: Vec<u64> = first["timers"]["next_ms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|ms| ms.as_u64().unwrap())
            .collect();
        assert!(
            next.iter().any(|ms| (55_000..=60_000).contains(ms)),
            "the minute's timer among {next:?}"
        );

        // The counters grow; so does the age.
        let first_age = connection_from(&first, &peers[0])["age_ms"]
            .as_u64()
            .unwrap();
        step.send(Step::SendMore).unwrap();
        wait_done().await??;
        torsion::time::defer_later(
            &reactor,
            Duration::from_millis(50),
            || Ok::<(), Failure>(()),
        )
        .await?;
        let second = live_json(&reactor, &curl_pool, &base).await?;
        let grown = connection_from(&second, &peers[0]);
        assert_eq!(
            (grown["bytes_in"].as_u64(), grown["bytes_out"].as_u64()),
            (Some(1005), Some(1005))
        );
        assert!(grown["age_ms"].as_u64().unwrap() >= first_age + 50);
        assert_eq!(connection_from(&second, &peers[1])["bytes_in"], 5);

        // A job blocked in the reactor's pool shows it busy.
        let (release, blocked) = mpsc::channel::<()>();
        let job = reactor.defer_to_thread(move || blocked.recv().is_ok());
        let mut busy = Value::Null;
        for _ in 0..100 {
            busy = live_json(&reactor, &curl_pool, &base).await?;
            let pool = &busy["thread_pools"][0];
            if pool["busy"] == 1 && pool["queued"] == 0 {
                break;
            }
        }
        let pool = &busy["thread_pools"][0];
        assert_eq!(
            pool["name"],
            torsion::threads::REACTOR_POOL_NAME,
            "{busy:#}"
        );
        assert_eq!(
            (pool["busy"].as_u64(), pool["queued"].as_u64()),
            (Some(1), Some(0))
        );
        assert!(busy["waiting_for_threads"].as_u64().unwrap() >= 1);
        release.send(()).unwrap();
        assert!(job.await?);

        timer.cancel().unwrap();
        step.send(Step::Close).unwrap();
        let _ = clients.join();
        drop(view.stop_service());
        Ok(())
    });
}

#[test]
fn the_page_loads_and_refreshes_itself_from_live_json() {
    with_server(LiveView::new(), |reactor, port| async move {
        let pool = ThreadPool::new("test-curl", 0, 1);
        let page = curl(&reactor, &pool, format!("http://127.0.0.1:{port}/")).await?;
        assert!(page.starts_with("<!doctype html>"));
        assert!(page.contains(r#"fetch("live.json""#), "fetches the figures");
        assert!(
            page.contains("setTimeout(refresh, REFRESH_MS)") && page.contains("REFRESH_MS = 2000"),
            "and asks again every 2 s"
        );
        assert!(!page.contains("{{"), "every placeholder is filled");
        // Mounted under a prefix, the page's relative fetch still works.
        let json = curl(
            &reactor,
            &pool,
            format!("http://127.0.0.1:{port}/debug/live.json"),
        )
        .await?;
        let document: Value = serde_json::from_str(&json).unwrap();
        assert!(document["connections"].is_array());
        Ok(())
    });
}
