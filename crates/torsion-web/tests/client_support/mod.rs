//! Shared by the client tests: a reactor run bounded in time, and a torsion
//! server that answers with what it saw.
#![allow(dead_code)]

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use torsion::endpoints::server_from_string;
use torsion::net::Address;
use torsion::time::Scheduler;
use torsion::{Failure, Reactor};
use torsion_web::http::{HeaderValue, StatusCode};
use torsion_web::{Body, ConnectionInfo, Listening, Reply, Request, Resource, Response, Server};

/// Runs `test` on a new reactor; fails if it fails, panics, or takes
/// longer than `limit`.
pub fn run<F, Fut>(limit: Duration, test: F)
where
    F: FnOnce(Reactor) -> Fut,
    Fut: Future<Output = Result<(), Failure>> + 'static,
{
    let reactor = Reactor::new().unwrap();
    let outcome = Rc::new(RefCell::new(None));
    let o = outcome.clone();
    let r = reactor.clone();
    let finished = reactor.spawn(test(reactor.clone())).both(move |result| {
        *o.borrow_mut() = Some(result);
        let _ = r.stop();
        Ok::<(), Failure>(())
    });
    let r = reactor.clone();
    let _guard = reactor.call_later(limit, move || {
        let _ = r.stop();
    });
    reactor.run().unwrap();
    drop(finished);
    match outcome.borrow_mut().take() {
        Some(Ok(())) => {}
        Some(Err(failure)) => panic!("the test failed: {failure}"),
        None => panic!("the test did not finish within {limit:?}"),
    };
}

/// Serves `resource` on a loopback port; gives the base URL
/// (`http://127.0.0.1:PORT`) and the running server.
pub async fn serve(
    reactor: &Reactor,
    resource: impl Resource,
) -> Result<(String, Listening), Failure> {
    let endpoint = server_from_string(reactor, "tcp:0:interface=127.0.0.1")?;
    let listening = Server::new(resource).listen(reactor, &endpoint).await?;
    let Address::Tcp(address) = listening.address().clone() else {
        panic!("a TCP address");
    };
    Ok((format!("http://{address}"), listening))
}

/// Answers every request with a JSON description of it: method, path,
/// query, headers, body, and the client's port.
pub fn echo(request: Request) -> Reply {
    Reply::later(async move {
        let (parts, body) = request.into_parts();
        let body = body.bytes().await?;
        let peer_port = match parts
            .extensions
            .get::<ConnectionInfo>()
            .map(|info| &info.peer)
        {
            Some(Address::Tcp(address)) => address.port(),
            _ => 0,
        };
        let headers: serde_json::Map<String, serde_json::Value> = parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into(),
                )
            })
            .collect();
        let description = serde_json::json!({
            "method": parts.method.as_str(),
            "path": parts.uri.path(),
            "query": parts.uri.query().unwrap_or(""),
            "headers": headers,
            "body": String::from_utf8_lossy(&body),
            "peer_port": peer_port,
        });
        Ok::<_, Failure>(json_response(StatusCode::OK, &description))
    })
}

pub fn json_response(status: StatusCode, value: &serde_json::Value) -> Response {
    let mut response = Response::new(Body::from(value.to_string()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    response
}

/// A redirect to `location` with `status`.
pub fn redirect(status: u16, location: &str) -> Response {
    let mut response = Response::new(Body::from("moved\n"));
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    response
        .headers_mut()
        .insert("location", HeaderValue::from_str(location).unwrap());
    response
}

/// A certificate for `localhost` and 127.0.0.1, self-signed: (certificate
/// PEM, key PEM).
pub fn self_signed() -> (String, String) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    (certified.cert.pem(), certified.signing_key.serialize_pem())
}
