//! What the WebSocket tests share: a server on a loopback port, real
//! clients run on a thread, a protocol that records what it sees.

#![allow(dead_code)]

use std::cell::RefCell;
use std::future::Future;
use std::process::{Command, Output};
use std::rc::Rc;
use std::time::{Duration, Instant};

use torsion::endpoints::server_from_string;
use torsion::net::Address;
use torsion::time::{Scheduler, defer_later};
use torsion::{Failure, Reactor};
use torsion_web::websocket::{CloseCode, CloseReason, Message, WebSocket, WebSocketProtocol};
use torsion_web::{Resource, Server};

/// No test runs longer than this; the reactor is stopped and the test fails.
const TEST_DEADLINE: Duration = Duration::from_secs(60);

/// Serves `resource` on a loopback port and runs `body` with the reactor and
/// the port; fails the test with `body`'s error or panic.
pub fn with_server<F, Fut>(resource: impl Resource, body: F)
where
    F: FnOnce(Reactor, u16) -> Fut + 'static,
    Fut: Future<Output = Result<(), Failure>> + 'static,
{
    with_server_on("tcp:0:interface=127.0.0.1", resource, body);
}

/// [`with_server`] on the server endpoint `description` (port 0).
pub fn with_server_on<F, Fut>(description: &str, resource: impl Resource, body: F)
where
    F: FnOnce(Reactor, u16) -> Fut + 'static,
    Fut: Future<Output = Result<(), Failure>> + 'static,
{
    let reactor = Reactor::new().unwrap();
    let server = Server::new(resource);
    let endpoint = server_from_string(&reactor, description).unwrap();
    let listening = server.listen(&reactor, &endpoint);
    let outcome: Rc<RefCell<Option<Result<(), Failure>>>> = Rc::default();
    let o = outcome.clone();
    let r = reactor.clone();
    drop(reactor.spawn(async move {
        let result = async {
            let listening = listening.await?;
            let Address::Tcp(address) = listening.address().clone() else {
                panic!("a TCP address");
            };
            // A panic in the body fails its Deferred instead of the loop.
            r.spawn(body(r.clone(), address.port())).await
        }
        .await;
        *o.borrow_mut() = Some(result);
        r.stop().unwrap();
        Ok::<(), Failure>(())
    }));
    let handle = reactor.handle();
    let watchdog = reactor.call_later(TEST_DEADLINE, move || handle.stop().unwrap());
    reactor.run().unwrap();
    let _ = watchdog.cancel();
    match outcome.take() {
        Some(result) => result.unwrap(),
        None => panic!("the test did not finish within {TEST_DEADLINE:?}"),
    }
}

/// Runs a Python script (with `websockets` at hand) on a thread, bounded
/// in time; gives its standard output, failing when it did.
pub async fn python(
    reactor: &Reactor,
    script: &'static str,
    args: Vec<String>,
) -> Result<String, Failure> {
    let output: Output = reactor
        .defer_to_thread(move || {
            Command::new("timeout")
                .args(["30", "python3", "-c", script])
                .args(args)
                .output()
        })
        .await??;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(Failure::msg(format!(
            "python failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    Ok(stdout)
}

/// Waits on the reactor (without blocking it) until `done` holds.
pub async fn wait_until(
    reactor: &Reactor,
    what: &str,
    done: impl Fn() -> bool,
) -> Result<(), Failure> {
    let started = Instant::now();
    while !done() {
        if started.elapsed() > Duration::from_secs(10) {
            return Err(Failure::msg(format!("waited 10 s for {what}")));
        }
        defer_later(reactor, Duration::from_millis(10), || Ok::<(), Failure>(())).await?;
    }
    Ok(())
}

/// What a [`Recorder`] saw, line by line.
#[derive(Clone, Default)]
pub struct Log(Rc<RefCell<Vec<String>>>);

impl Log {
    pub fn push(&self, line: String) {
        self.0.borrow_mut().push(line);
    }
    pub fn lines(&self) -> Vec<String> {
        self.0.borrow().clone()
    }
    pub fn contains(&self, line: &str) -> bool {
        self.0.borrow().iter().any(|seen| seen == line)
    }
}

/// Echoes messages, pings on opening, and records everything; "close me"
/// makes it close with 4001, "panic" makes it panic.
pub struct Recorder {
    pub ws: Option<WebSocket>,
    pub log: Log,
}

impl Recorder {
    pub fn new(log: &Log) -> Recorder {
        Recorder {
            ws: None,
            log: log.clone(),
        }
    }
}

pub fn describe(reason: &CloseReason) -> String {
    let code: u16 = reason.code.into();
    format!("closed {code} {:?} clean={}", reason.reason, reason.clean)
}

impl WebSocketProtocol for Recorder {
    fn opened(&mut self, ws: &WebSocket) {
        self.log
            .push(format!("opened subprotocol={:?}", ws.subprotocol()));
        ws.ping("server ping").unwrap();
        self.ws = Some(ws.clone());
    }

    fn message_received(&mut self, message: Message) {
        let ws = self.ws.as_ref().unwrap();
        match message.as_text() {
            Some("close me") => ws.close(CloseCode::from(4001), "server says bye"),
            Some("panic") => panic!("a protocol bug"),
            _ => {
                self.log.push(format!("message of {} bytes", message.len()));
                ws.send(message).unwrap();
            }
        }
    }

    fn pong_received(&mut self, payload: bytes::Bytes) {
        self.log
            .push(format!("pong {}", String::from_utf8_lossy(&payload)));
    }

    fn closed(&mut self, reason: &CloseReason) {
        self.log.push(describe(reason));
    }
}
