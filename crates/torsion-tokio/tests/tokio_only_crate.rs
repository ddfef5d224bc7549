//! A tokio-only crate (hyper-util's pooled legacy client, which needs
//! tokio's runtime for its connector and executor) and torsion protocols
//! (torsion-web's HTTP server, a torsion echo server) in one program, each
//! doing real loopback I/O: torsion code asks the client for pages and
//! gets Deferreds back.

mod support;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use torsion::endpoints::server_from_string;
use torsion::net::Address;
use torsion::testing::echo_server;
use torsion::{Deferred, Failure, Reactor};
use torsion_web::{Body, Request, Response, Server};

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Empty<Bytes>>;

/// A torsion-web server answering with the request's path.
fn serve_paths(reactor: &Reactor) -> Deferred<SocketAddr> {
    let server = Server::new(|request: Request| {
        Response::new(Body::from(format!(
            "torsion served {}",
            request.uri().path()
        )))
    });
    let endpoint = server_from_string(reactor, "tcp:0:interface=127.0.0.1").unwrap();
    server
        .listen(reactor, &endpoint)
        .map(|listening| match listening.address() {
            Address::Tcp(address) => *address,
            other => panic!("not TCP: {other:?}"),
        })
}

/// GETs `url` with the tokio-only client, as a Deferred of the body.
fn fetch(
    client: &HttpClient,
    url: String,
    on: Option<&tokio::runtime::Handle>,
) -> Deferred<String> {
    let client = client.clone();
    let request = async move {
        let response = client.get(url.parse()?).await?;
        let body = response.into_body().collect().await?.to_bytes();
        Ok::<_, Failure>(String::from_utf8_lossy(&body).into_owned())
    };
    match on {
        Some(handle) => torsion_tokio::from_future_on(handle, request),
        None => torsion_tokio::from_future(request),
    }
}

/// Ten requests one after another through the pooled client; the
/// Deferred fires once all are in.
fn fetch_ten(
    reactor: &Reactor,
    client: HttpClient,
    on: Option<tokio::runtime::Handle>,
) -> (Rc<RefCell<Vec<String>>>, Deferred<()>) {
    let bodies = Rc::new(RefCell::new(Vec::new()));
    let got = bodies.clone();
    let served = serve_paths(reactor);
    let done = reactor.spawn(async move {
        let address = served.await?;
        for n in 0..10 {
            let body = fetch(&client, format!("http://{address}/page/{n}"), on.as_ref()).await?;
            got.borrow_mut().push(body);
        }
        Ok::<(), Failure>(())
    });
    (bodies, done)
}

fn stop_after_long(reactor: &Reactor) {
    let r = reactor.clone();
    reactor.call_later(support::LONG, move || {
        let _ = r.stop();
    });
}

fn check(bodies: &[String]) {
    assert_eq!(bodies.len(), 10, "{bodies:?}");
    for (n, body) in bodies.iter().enumerate() {
        assert_eq!(body, &format!("torsion served /page/{n}"));
    }
}

#[test]
fn inside_tokio_hyper_util_s_client_fetches_from_a_torsion_web_server_on_the_same_thread() {
    let reactor = Reactor::new().unwrap();
    // A torsion echo server busy with a tokio client at the same time.
    let echo = echo_server(&reactor);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    let echoes = local.spawn_local(async move {
        let mut stream = tokio::net::TcpStream::connect(echo).await.unwrap();
        let mut back = [0u8; 5];
        let mut count = 0;
        for _ in 0..100 {
            stream.write_all(b"hello").await.unwrap();
            stream.read_exact(&mut back).await.unwrap();
            count += usize::from(&back == b"hello");
        }
        count
    });
    let (bodies, echoed) = local.block_on(&runtime, async {
        // The client needs tokio's runtime: made inside it.
        let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
        let (bodies, fetched) = fetch_ten(&reactor, client, None);
        // torsion code awaits both: its Deferred and tokio's JoinHandle.
        let r = reactor.clone();
        let echoed = reactor.spawn(async move {
            fetched.await?;
            let echoed = echoes.await.map_err(Failure::new)?;
            r.stop()?;
            Ok::<_, Failure>(echoed)
        });
        stop_after_long(&reactor);
        torsion_tokio::run(&reactor).await.unwrap();
        (bodies, echoed)
    });
    check(&bodies.borrow());
    let count = Rc::new(RefCell::new(None));
    let slot = count.clone();
    drop(echoed.both(move |outcome| {
        *slot.borrow_mut() = Some(outcome.map_err(|f| f.to_string()));
        Ok::<(), Failure>(())
    }));
    assert_eq!(count.borrow_mut().take().unwrap().unwrap(), 100);
}

#[test]
fn beside_tokio_hyper_util_s_client_on_tokio_s_threads_fetches_for_torsion_code() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let client: HttpClient = {
        let _entered = runtime.enter();
        Client::builder(TokioExecutor::new()).build_http()
    };
    let reactor = Reactor::new().unwrap();
    let (bodies, fetched) = fetch_ten(&reactor, client, Some(runtime.handle().clone()));
    let r = reactor.clone();
    drop(fetched.map(move |()| r.stop().unwrap()));
    stop_after_long(&reactor);
    reactor.run().unwrap();
    check(&bodies.borrow());
}
