//! Blocking code fetching web pages with torsion-web's HTTP client: a
//! plain `main`, no async anywhere. The reactor runs on a background
//! thread (`torsion::blocking::setup`); a small torsion-web server on it
//! serves the pages, and each download is one `run_in_reactor` call.
//!
//! ```text
//! cargo run -p torsion-web --example download_page
//! ```

use std::time::Duration;

use torsion::Deferred;
use torsion::blocking;
use torsion::endpoints::server_from_string;
use torsion::net::Address;
use torsion_web::client::Client;
use torsion_web::http::StatusCode;
use torsion_web::{Body, Request, Response, Server};

const TIMEOUT: Duration = Duration::from_secs(5);

/// The pages the server knows.
fn page(path: &str) -> Option<&'static str> {
    match path {
        "/" => Some("Welcome to the torsion-web page server.\nSee also: /about, /news.\n"),
        "/about" => Some("A reactor on a background thread serves these pages.\n"),
        "/news" => Some("Blocking code can use torsion's HTTP client now.\n"),
        _ => None,
    }
}

fn pages(request: Request) -> Response {
    match page(request.uri().path()) {
        Some(text) => Response::new(Body::from(text)),
        None => {
            let mut response = Response::new(Body::from("not found\n"));
            *response.status_mut() = StatusCode::NOT_FOUND;
            response
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The reactor runs until `_reactor` is dropped at the end of main.
    blocking::setup()?;

    let address = blocking::wait_for(TIMEOUT, |reactor| {
        let endpoint = match server_from_string(&reactor, "tcp:0:interface=127.0.0.1") {
            Ok(endpoint) => endpoint,
            Err(error) => return Deferred::fail(error),
        };
        Server::new(pages)
            .listen(&reactor, &endpoint)
            .map(|listening| {
                let address = listening.address().clone();
                // Serving until the reactor stops.
                std::mem::forget(listening);
                address
            })
    })?;
    let Address::Tcp(address) = address else {
        return Err("the server should listen on TCP".into());
    };
    println!("page server listening on http://{address}");

    // Start every download first: they run concurrently on the reactor.
    let paths = ["/", "/about", "/news", "/missing"];
    let downloads: Vec<_> = paths
        .iter()
        .map(|path| {
            let url = format!("http://{address}{path}");
            blocking::run_in_reactor(move |reactor| Client::new(&reactor).get(&url).fetch())
        })
        .collect();

    // Then block for each result in turn.
    for (path, download) in paths.iter().zip(downloads) {
        let page = download.wait(TIMEOUT)?;
        println!(
            "--- {path}: {} ({} bytes)",
            page.status(),
            page.bytes().len()
        );
        print!("{}", page.text());
    }
    println!("all pages fetched");
    Ok(())
}
