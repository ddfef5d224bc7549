//! The opening handshake (RFC 6455 section 4): checking a client's upgrade
//! request and answering it on the server; building the request and
//! checking the server's answer on the client.

use bytes::Bytes;
use http::header::{
    CONNECTION, HeaderMap, HeaderValue, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY,
    SEC_WEBSOCKET_PROTOCOL, SEC_WEBSOCKET_VERSION, UPGRADE,
};
use http::{Method, StatusCode, Version};
use tungstenite::handshake::derive_accept_key;

use super::WebSocketError;
use crate::{Body, Request, Response};

/// A valid upgrade request: the answer to send, and the subprotocol chosen.
#[derive(Debug)]
pub(crate) struct Accepted {
    pub(crate) response: Response,
    pub(crate) subprotocol: Option<String>,
}

/// Checks an upgrade request and builds the `101 Switching Protocols`
/// answer, choosing the first of `subprotocols` (the server's, in order of
/// preference) that the client offered. A request that is not a valid
/// WebSocket upgrade gets an error response saying what is wrong.
pub(crate) fn accept(
    request: &Request,
    subprotocols: &[String],
) -> Result<Accepted, Box<Response>> {
    let headers = request.headers();
    if request.method() != Method::GET {
        let mut response = refusal(
            StatusCode::METHOD_NOT_ALLOWED,
            "a WebSocket upgrade request must use GET",
        );
        response
            .headers_mut()
            .insert(http::header::ALLOW, HeaderValue::from_static("GET"));
        return Err(Box::new(response));
    }
    if request.version() != Version::HTTP_11 {
        return Err(Box::new(refusal(
            StatusCode::BAD_REQUEST,
            "WebSocket upgrades need HTTP/1.1",
        )));
    }
    if !has_token(headers, &UPGRADE, "websocket") {
        let mut response = refusal(
            StatusCode::UPGRADE_REQUIRED,
            "this resource speaks WebSocket only: the request needs \"Upgrade: websocket\"",
        );
        insert_upgrade_headers(response.headers_mut());
        return Err(Box::new(response));
    }
    if !has_token(headers, &CONNECTION, "upgrade") {
        return Err(Box::new(refusal(
            StatusCode::BAD_REQUEST,
            "a WebSocket upgrade request needs \"Connection: Upgrade\"",
        )));
    }
    if headers
        .get(SEC_WEBSOCKET_VERSION)
        .map(HeaderValue::as_bytes)
        != Some(b"13")
    {
        let mut response = refusal(
            StatusCode::UPGRADE_REQUIRED,
            "unsupported WebSocket version: \"Sec-WebSocket-Version: 13\" is required",
        );
        insert_upgrade_headers(response.headers_mut());
        return Err(Box::new(response));
    }
    let key = match headers
        .get_all(SEC_WEBSOCKET_KEY)
        .iter()
        .collect::<Vec<_>>()[..]
    {
        [key] if is_valid_key(key.as_bytes()) => key,
        [] => {
            return Err(Box::new(refusal(
                StatusCode::BAD_REQUEST,
                "a WebSocket upgrade request needs a Sec-WebSocket-Key header",
            )));
        }
        _ => {
            return Err(Box::new(refusal(
                StatusCode::BAD_REQUEST,
                "Sec-WebSocket-Key must be one base64-encoded 16-byte value",
            )));
        }
    };
    let offered = tokens(headers, &SEC_WEBSOCKET_PROTOCOL);
    let subprotocol = subprotocols
        .iter()
        .find(|ours| offered.iter().any(|theirs| theirs == *ours))
        .cloned();

    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let response_headers = response.headers_mut();
    response_headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    response_headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    let accept = derive_accept_key(key.as_bytes());
    response_headers.insert(
        SEC_WEBSOCKET_ACCEPT,
        HeaderValue::from_str(&accept).expect("base64 is a valid header value"),
    );
    if let Some(subprotocol) = &subprotocol {
        response_headers.insert(
            SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_str(subprotocol).expect("offered as a header value"),
        );
    }
    Ok(Accepted {
        response,
        subprotocol,
    })
}

/// A plain-text error answer.
pub(crate) fn refusal(status: StatusCode, message: &str) -> Response {
    let mut response = Response::new(Body::from(format!("{status}: {message}\n")));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// What a 426 answer carries: how to ask again.
fn insert_upgrade_headers(headers: &mut HeaderMap) {
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
}

/// A key is 16 random bytes in base64: 22 characters and "==".
fn is_valid_key(key: &[u8]) -> bool {
    key.len() == 24
        && key.ends_with(b"==")
        && key[..22]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// The comma-separated tokens of every `name` header.
fn tokens(headers: &HeaderMap, name: &http::header::HeaderName) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|token| token.trim().to_owned())
        .filter(|token| !token.is_empty())
        .collect()
}

fn has_token(headers: &HeaderMap, name: &http::header::HeaderName, token: &str) -> bool {
    tokens(headers, name)
        .iter()
        .any(|found| found.eq_ignore_ascii_case(token))
}

/// The client's upgrade request for `uri` (absolute, ws or wss), and the
/// key its answer must match.
pub(crate) fn client_request(
    uri: &http::Uri,
    subprotocols: &[String],
    extra_headers: &HeaderMap,
) -> Result<(http::Request<http_body_util::Empty<Bytes>>, String), WebSocketError> {
    let invalid = |problem: &str| WebSocketError::InvalidUrl {
        url: uri.to_string(),
        problem: problem.to_owned(),
    };
    let authority = uri.authority().ok_or_else(|| invalid("it has no host"))?;
    let target = uri.path_and_query().map_or("/", |path| path.as_str());
    let key = tungstenite::handshake::client::generate_key();
    let mut builder = http::Request::get(target)
        .header(http::header::HOST, authority.as_str())
        .header(UPGRADE, "websocket")
        .header(CONNECTION, "Upgrade")
        .header(SEC_WEBSOCKET_VERSION, "13")
        .header(SEC_WEBSOCKET_KEY, &key);
    if !subprotocols.is_empty() {
        builder = builder.header(SEC_WEBSOCKET_PROTOCOL, subprotocols.join(", "));
    }
    let mut request = builder
        .body(http_body_util::Empty::new())
        .map_err(|error| invalid(&error.to_string()))?;
    for (name, value) in extra_headers {
        request.headers_mut().append(name, value.clone());
    }
    Ok((request, key))
}

/// Checks a `101` answer against the request's key and the subprotocols
/// offered; gives the subprotocol the server chose.
pub(crate) fn verify_answer(
    headers: &HeaderMap,
    key: &str,
    subprotocols: &[String],
) -> Result<Option<String>, WebSocketError> {
    let wrong = |problem: &str| Err(WebSocketError::Handshake(problem.to_owned()));
    if !has_token(headers, &UPGRADE, "websocket") {
        return wrong("no \"Upgrade: websocket\" in the answer");
    }
    if !has_token(headers, &CONNECTION, "upgrade") {
        return wrong("no \"Connection: Upgrade\" in the answer");
    }
    let expected = derive_accept_key(key.as_bytes());
    if headers.get(SEC_WEBSOCKET_ACCEPT).map(HeaderValue::as_bytes) != Some(expected.as_bytes()) {
        return wrong("Sec-WebSocket-Accept does not match the key sent");
    }
    match headers.get(SEC_WEBSOCKET_PROTOCOL).map(HeaderValue::to_str) {
        None => Ok(None),
        Some(Ok(chosen)) if subprotocols.iter().any(|offered| offered == chosen) => {
            Ok(Some(chosen.to_owned()))
        }
        Some(_) => wrong("the server chose a subprotocol that was not offered"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upgrade_request() -> http::request::Builder {
        http::Request::get("/chat")
            .header("Upgrade", "WebSocket")
            .header("Connection", "keep-alive, Upgrade")
            .header("Sec-WebSocket-Version", "13")
            .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
    }

    #[test]
    fn a_valid_request_gets_the_rfc_accept_key_and_the_preferred_offered_subprotocol() {
        let request = upgrade_request()
            .header("Sec-WebSocket-Protocol", "chat.v1, chat.v2")
            .body(Body::empty())
            .unwrap();
        let ours = ["chat.v2".to_owned(), "chat.v1".to_owned()];
        let accepted = accept(&request, &ours).unwrap();
        assert_eq!(accepted.response.status(), StatusCode::SWITCHING_PROTOCOLS);
        let headers = accepted.response.headers();
        // The example of RFC 6455 section 1.3.
        assert_eq!(
            headers["Sec-WebSocket-Accept"],
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(headers["Sec-WebSocket-Protocol"], "chat.v2");
        assert_eq!(accepted.subprotocol.as_deref(), Some("chat.v2"));
    }

    #[test]
    fn each_missing_or_wrong_part_gets_its_own_refusal() {
        let status_of = |request: Request| accept(&request, &[]).unwrap_err().status();
        let post = upgrade_request()
            .method("POST")
            .body(Body::empty())
            .unwrap();
        assert_eq!(status_of(post), StatusCode::METHOD_NOT_ALLOWED);
        let plain = http::Request::get("/").body(Body::empty()).unwrap();
        assert_eq!(status_of(plain), StatusCode::UPGRADE_REQUIRED);
        let mut no_connection = upgrade_request().body(Body::empty()).unwrap();
        no_connection.headers_mut().remove("Connection");
        assert_eq!(status_of(no_connection), StatusCode::BAD_REQUEST);
        let mut old = upgrade_request().body(Body::empty()).unwrap();
        old.headers_mut()
            .insert("Sec-WebSocket-Version", HeaderValue::from_static("8"));
        let refused = accept(&old, &[]).unwrap_err();
        assert_eq!(refused.status(), StatusCode::UPGRADE_REQUIRED);
        assert_eq!(refused.headers()["Sec-WebSocket-Version"], "13");
        let mut no_key = upgrade_request().body(Body::empty()).unwrap();
        no_key.headers_mut().remove("Sec-WebSocket-Key");
        assert_eq!(status_of(no_key), StatusCode::BAD_REQUEST);
        let mut bad_key = upgrade_request().body(Body::empty()).unwrap();
        bad_key
            .headers_mut()
            .insert("Sec-WebSocket-Key", HeaderValue::from_static("short"));
        assert_eq!(status_of(bad_key), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn the_client_checks_the_accept_key_and_the_subprotocol() {
        let uri: http::Uri = "ws://127.0.0.1:9/chat?room=1".parse().unwrap();
        let offered = ["chat".to_owned()];
        let (request, key) = client_request(&uri, &offered, &HeaderMap::new()).unwrap();
        assert_eq!(request.uri(), "/chat?room=1");
        assert_eq!(request.headers()["Host"], "127.0.0.1:9");
        let server_side = request.map(|_| Body::empty());
        let accepted = accept(&server_side, &offered).unwrap();
        let headers = accepted.response.headers();
        assert_eq!(
            verify_answer(headers, &key, &offered).unwrap().as_deref(),
            Some("chat")
        );
        assert!(verify_answer(headers, "another key", &offered).is_err());
        assert!(verify_answer(headers, &key, &[]).is_err(), "not offered");
    }
}
