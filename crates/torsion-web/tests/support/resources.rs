//! Resources the client tests are served: one that answers with what it
//! saw, and the responses they are built from.

use torsion::Failure;
use torsion::net::Address;
use torsion_web::http::{HeaderValue, StatusCode};
use torsion_web::{Body, Reply, Request, RequestExt, Response};

/// Answers every request with a JSON description of it: method, path,
/// query, headers, body, and the client's port.
pub fn echo(request: Request) -> Reply {
    Reply::later(async move {
        let peer_port = match request.connection().map(|info| &info.peer) {
            Some(Address::Tcp(address)) => address.port(),
            _ => 0,
        };
        let (parts, body) = request.into_parts();
        let body = body.bytes().await?;
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

/// A response with `value` as its JSON body.
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
