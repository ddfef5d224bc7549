//! The HTTP client fetching several URLs at once and printing their
//! sizes: treq's `getPage` in a loop, awaited together.
//!
//! ```text
//! cargo run -p torsion-web --example fetch                     # its own local server
//! cargo run -p torsion-web --example fetch -- http://127.0.0.1:8080/ ...
//! ```
//!
//! Without arguments it starts a torsion-web server on a free loopback
//! port that serves bodies of a few sizes (`/bytes/N`), and fetches those.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use torsion::endpoints::server_from_string;
use torsion::net::Address;
use torsion::{Deferred, Failure, Reactor};
use torsion_web::client::{Client, FullResponse};
use torsion_web::http::StatusCode;
use torsion_web::{Body, Request, Response, Server};

/// `/bytes/N` answers with N bytes; anything else is 404.
fn sized(request: Request) -> Response {
    let size = request
        .uri()
        .path()
        .strip_prefix("/bytes/")
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n <= 64 * 1024 * 1024);
    match size {
        Some(size) => Response::new(Body::from(vec![b'x'; size])),
        None => {
            let mut response = Response::new(Body::from("not found\n"));
            *response.status_mut() = StatusCode::NOT_FOUND;
            response
        }
    }
}

async fn fetch_all(reactor: Reactor, mut urls: Vec<String>) -> Result<(), Failure> {
    let _server = if urls.is_empty() {
        let endpoint = server_from_string(&reactor, "tcp:0:interface=127.0.0.1")?;
        let listening = Server::new(sized).listen(&reactor, &endpoint).await?;
        let Address::Tcp(address) = listening.address().clone() else {
            return Err(Failure::msg("the server should listen on TCP"));
        };
        println!("serving test bodies on http://{address}");
        urls = [0, 1, 1000, 65_536, 1_000_000, 10_000_000]
            .iter()
            .map(|size| format!("http://{address}/bytes/{size}"))
            .collect();
        urls.push(format!("http://{address}/missing"));
        Some(listening)
    } else {
        None
    };

    let client = Client::builder()
        .timeout(Duration::from_secs(30))
        .build(&reactor);
    let started = Instant::now();
    // Every request starts now; they run concurrently on the reactor.
    let pending: Vec<(String, Deferred<FullResponse>)> = urls
        .into_iter()
        .map(|url| {
            let fetching = client.get(&url).fetch();
            (url, fetching)
        })
        .collect();
    let mut failures = 0;
    for (url, fetching) in pending {
        match fetching.await {
            Ok(response) => println!(
                "{url}: {} {} bytes",
                response.status().as_u16(),
                response.bytes().len()
            ),
            Err(failure) => {
                failures += 1;
                println!("{url}: failed: {failure}");
            }
        }
    }
    println!(
        "fetched in {:.0?}; {} connection(s) left open for reuse",
        started.elapsed(),
        client.idle_connections()
    );
    if failures > 0 {
        return Err(Failure::msg(format!("{failures} fetch(es) failed")));
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let urls: Vec<String> = std::env::args().skip(1).collect();
    let reactor = Reactor::new()?;
    let outcome = Rc::new(RefCell::new(None));
    let o = outcome.clone();
    let r = reactor.clone();
    drop(reactor.spawn(async move {
        let result = fetch_all(r.clone(), urls).await;
        *o.borrow_mut() = Some(result);
        r.stop()?;
        Ok::<(), Failure>(())
    }));
    reactor.run()?;
    match outcome.take() {
        Some(Ok(())) => Ok(()),
        Some(Err(failure)) => {
            eprintln!("fetch: {failure}");
            std::process::exit(1);
        }
        None => Err("the reactor stopped before the fetches finished".into()),
    }
}
