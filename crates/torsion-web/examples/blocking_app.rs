//! A blocking application served from the reactor's thread pool: plain
//! functions that sleep, compute and stream with `std::io::Write`, the way
//! a WSGI app would, while the reactor stays free (its own `/ping` route
//! answers at once whatever the workers do).
//!
//! ```text
//! cargo run -p torsion-web --example blocking_app -- --listen tcp:8081:interface=127.0.0.1
//! curl localhost:8081/slow            # 200 ms in a worker thread
//! curl localhost:8081/primes/50000    # CPU work in a worker thread
//! curl -N localhost:8081/countdown    # streamed, one line every 100 ms
//! curl localhost:8081/ping            # the reactor itself
//! ```

use std::io::Write;
use std::time::Duration;

use clap::Parser;
use torsion::Reactor;
use torsion::endpoints::server_from_string;
use torsion_web::respond::text;
use torsion_web::{
    BlockingApp, BlockingBody, BlockingRequest, BlockingResponse, Request, RequestExt, Router,
    Server,
};

#[derive(Parser)]
struct Args {
    /// Where to listen, as a torsion endpoint string.
    #[arg(long, default_value = "tcp:8081:interface=127.0.0.1")]
    listen: String,
    /// Threads in the reactor's pool.
    #[arg(long, default_value_t = 16)]
    threads: usize,
}

/// A blocking handler: sleeps like a slow database call.
fn slow(_request: BlockingRequest) -> BlockingResponse {
    std::thread::sleep(Duration::from_millis(200));
    let worker = std::thread::current().name().unwrap_or("?").to_owned();
    BlockingResponse::new(format!("slept 200 ms on {worker}\n").into())
}

/// CPU-bound: counts primes below the path's number (a 400 if it is not
/// one).
fn primes(request: BlockingRequest) -> BlockingResponse {
    let limit: u64 = match request.param::<u64>("limit") {
        Ok(limit) => limit.min(5_000_000),
        Err(error) => {
            let mut response = BlockingResponse::new(format!("{}\n", error.message()).into());
            *response.status_mut() = error.status();
            return response;
        }
    };
    let count = (2..limit)
        .filter(|n| (2..).take_while(|d| d * d <= *n).all(|d| n % d != 0))
        .count();
    BlockingResponse::new(format!("{count} primes below {limit}\n").into())
}

/// Streams its body from the worker thread through `std::io::Write`.
fn countdown(_request: BlockingRequest) -> BlockingResponse {
    let mut response = BlockingResponse::new(BlockingBody::writer(|out| {
        for n in (0..=5).rev() {
            writeln!(out, "{n}")?;
            std::thread::sleep(Duration::from_millis(100));
        }
        writeln!(out, "liftoff")
    }));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let reactor = Reactor::new()?;
    reactor.thread_pool().adjust(0, args.threads);
    let router = Router::new()
        .get("/slow", BlockingApp::new(slow))
        .get("/primes/{limit}", BlockingApp::new(primes))
        .get("/countdown", BlockingApp::new(countdown))
        .get("/ping", |_request: Request| text("pong\n"));
    let endpoint = server_from_string(&reactor, &args.listen)?;
    let listening = Server::new(router)
        .listen(&reactor, &endpoint)
        .map(|listening| {
            println!("blocking_app listening on {}", listening.address());
            listening
        });
    reactor.run()?;
    drop(listening);
    Ok(())
}
