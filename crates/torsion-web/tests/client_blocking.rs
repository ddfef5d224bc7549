//! Blocking code uses the HTTP client through torsion's blocking bridge,
//! one line a request.

mod support;

use std::time::Duration;

use torsion::{Failure, blocking};
use torsion_web::client::Client;
use torsion_web::{Body, Request, Response, Server};

use support::{LOOPBACK, listen};

#[test]
fn blocking_code_fetches_a_page_in_one_line() {
    blocking::setup().unwrap();
    // The server runs on the bridge's reactor too.
    let address = blocking::wait_for(Duration::from_secs(5), |reactor| {
        let r = reactor.clone();
        reactor.spawn(async move {
            let server = Server::new(|request: Request| {
                Response::new(Body::from(format!("page {}", request.uri().path())))
            });
            let (address, listening) = listen(&r, &server, LOOPBACK).await?;
            // Serve for the rest of the process.
            std::mem::forget(listening);
            Ok::<_, Failure>(address)
        })
    })
    .unwrap();

    let url = format!("http://{address}/hello");
    let page = blocking::wait_for(Duration::from_secs(5), move |reactor| {
        Client::new(&reactor).get(&url).fetch()
    })
    .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.text(), "page /hello");

    // The streaming response crosses threads too; its status is there.
    let url = format!("http://{address}/head-only");
    let response = blocking::wait_for(Duration::from_secs(5), move |reactor| {
        Client::new(&reactor).get(&url).send()
    })
    .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.url().path(), "/head-only");

    // A failure arrives as the bridge's error, with the client's reason.
    let refused = blocking::wait_for(Duration::from_secs(5), |reactor| {
        Client::new(&reactor).get("http://127.0.0.1:1/").fetch()
    })
    .unwrap_err();
    assert!(refused.to_string().contains("cannot connect"), "{refused}");
}
