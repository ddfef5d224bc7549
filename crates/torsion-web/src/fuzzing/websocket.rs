//! The WebSocket opening handshake: any request gets an answer without a
//! panic, an accepted one is a valid upgrade, and the client's own check
//! agrees with the server's answer.

use http::header::{HeaderName, HeaderValue, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY};
use http::{Method, StatusCode, Version};
use tungstenite::handshake::derive_accept_key;

use super::Input;
use crate::Body;
use crate::websocket::handshake::{accept, verify_answer};

/// The subprotocols the server offers, in order of preference.
const SUBPROTOCOLS: [&str; 3] = ["chat.v2", "chat", "superchat"];

/// Builds a request from the input (a method, a version, then header
/// lines `name: value`) and hands it to the server's check. An accepted
/// request is a GET over HTTP/1.1 with one valid key; the answer is a 101
/// with the key's accept value and a subprotocol the client offered; and
/// the client's check of that answer accepts it with the same
/// subprotocol. A refused one gets a client error status.
pub fn websocket_handshake(data: &[u8]) {
    let mut input = Input::new(data);
    let method = [Method::GET, Method::POST, Method::HEAD][usize::from(input.byte() % 3)].clone();
    let version =
        [Version::HTTP_11, Version::HTTP_10, Version::HTTP_2][usize::from(input.byte() % 3)];
    let mut request = http::Request::new(Body::empty());
    *request.method_mut() = method;
    *request.version_mut() = version;
    for line in input.rest().split(|&byte| byte == b'\n') {
        let Some(colon) = line.iter().position(|&byte| byte == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            request.headers_mut().append(name, value);
        }
    }
    let ours: Vec<String> = SUBPROTOCOLS.iter().map(|&name| name.to_owned()).collect();
    let accepted = match accept(&request, &ours) {
        Ok(accepted) => accepted,
        Err(refusal) => {
            assert!(refusal.status().is_client_error(), "{}", refusal.status());
            return;
        }
    };
    assert_eq!(request.method(), Method::GET);
    assert_eq!(request.version(), Version::HTTP_11);
    let keys: Vec<&HeaderValue> = request
        .headers()
        .get_all(SEC_WEBSOCKET_KEY)
        .iter()
        .collect();
    let [key] = keys[..] else {
        panic!("accepted with keys {keys:?}");
    };
    let response = accepted.response;
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(
        response.headers()[SEC_WEBSOCKET_ACCEPT],
        derive_accept_key(key.as_bytes())
    );
    if let Some(chosen) = &accepted.subprotocol {
        assert!(ours.contains(chosen), "chose {chosen:?}");
    }
    let key = key.to_str().expect("a valid key is base64");
    let checked = verify_answer(response.headers(), key, &ours)
        .unwrap_or_else(|error| panic!("the client refuses the answer: {error}"));
    assert_eq!(checked, accepted.subprotocol);
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::fuzzing::property_config;

    /// Header lines an upgrade request is made of, right or nearly.
    fn header_line() -> impl Strategy<Value = String> {
        let names = vec![
            "Upgrade",
            "Connection",
            "Sec-WebSocket-Version",
            "Sec-WebSocket-Key",
            "Sec-WebSocket-Protocol",
            "Host",
        ];
        let values = vec![
            "websocket",
            "WebSocket",
            "Upgrade",
            "keep-alive, Upgrade",
            "13",
            "8",
            "",
            "dGhlIHNhbXBsZSBub25jZQ==",
            "dGhlIHNhbXBsZSBub25jZQ=",
            "chat",
            "chat.v2, chat",
            "superchat,,",
            " , ",
            "ümlaut",
        ];
        (
            proptest::sample::select(names),
            prop_oneof![3 => proptest::sample::select(values).prop_map(str::to_owned), 1 => ".{0,30}"],
        )
            .prop_map(|(name, value)| format!("{name}: {value}"))
    }

    fn requests() -> impl Strategy<Value = Vec<u8>> {
        (any::<u8>(), any::<u8>(), vec(header_line(), 0..8)).prop_map(|(method, version, lines)| {
            let mut data = vec![method % 2 * 3, version % 2 * 3];
            data.extend_from_slice(lines.join("\n").as_bytes());
            data
        })
    }

    proptest! {
        #![proptest_config(property_config(2048))]

        #[test]
        fn any_upgrade_request_gets_a_consistent_answer(data in requests()) {
            websocket_handshake(&data);
        }
    }
}
