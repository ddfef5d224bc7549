use super::*;

use http::{HeaderMap, Response};

/// An HTTP/1.1 GET that allows keep-alive.
const GET_11: Answering = Answering {
    head_request: false,
    connect: false,
    version: Version::HTTP_11,
    keep_alive: true,
};

/// An HTTP/1.0 GET without `Connection: keep-alive`.
const GET_10: Answering = Answering {
    version: Version::HTTP_10,
    keep_alive: false,
    ..GET_11
};

/// An HTTP/1.0 GET with `Connection: keep-alive`.
const GET_10_KEEP_ALIVE: Answering = Answering {
    version: Version::HTTP_10,
    ..GET_11
};

/// An HTTP/1.1 HEAD that allows keep-alive.
const HEAD_11: Answering = Answering {
    head_request: true,
    ..GET_11
};

/// An HTTP/1.1 CONNECT.
const CONNECT_11: Answering = Answering {
    connect: true,
    ..GET_11
};

/// The parts of a response with `status` and `headers`, in order.
fn parts(status: u16, headers: &[(&str, &str)]) -> Parts {
    let mut map = HeaderMap::new();
    for &(name, value) in headers {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    let mut response = Response::new(());
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    *response.headers_mut() = map;
    response.into_parts().0
}

/// The head as text with the date value replaced by `<date>`, after
/// checking its shape, and what the encoder said.
fn encode(parts: &Parts, body: Option<u64>, answering: &Answering) -> (String, Encoded) {
    let mut out = b"before".to_vec();
    let encoded = encode_head(parts.into(), body, answering, &mut out);
    assert_eq!(&out[..6], b"before");
    let head = String::from_utf8(out[6..].to_vec()).unwrap();
    assert!(head.ends_with("\r\n\r\n"), "{head:?}");
    let Some(at) = head.find("\r\ndate: ") else {
        return (head, encoded);
    };
    let value = &head[at + 8..at + 8 + DATE_LEN];
    assert!(value.ends_with(" GMT"), "{value:?}");
    assert!(httpdate::parse_http_date(value).is_ok(), "{value:?}");
    (head.replacen(value, "<date>", 1), encoded)
}

/// What the encoder says for a body framed by `framing` when the
/// connection goes on.
fn open(framing: Framing) -> Encoded {
    Encoded {
        framing,
        close: false,
        refused: None,
    }
}

/// What the encoder says for a body framed by `framing` when the
/// connection closes after it.
fn closing(framing: Framing) -> Encoded {
    Encoded {
        close: true,
        ..open(framing)
    }
}

#[test]
fn hello_with_two_headers() {
    let parts = parts(
        200,
        &[("content-type", "text/plain"), ("x-served-by", "torsion")],
    );
    let (head, encoded) = encode(&parts, Some(5), &GET_11);
    assert_eq!(
        head,
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-served-by: torsion\r\n\
         content-length: 5\r\ndate: <date>\r\n\r\n"
    );
    assert_eq!(encoded, open(Framing::Length(5)));
}

#[test]
fn status_line_has_the_canonical_reason() {
    let (head, _) = encode(&parts(404, &[]), Some(3), &GET_11);
    assert_eq!(
        head,
        "HTTP/1.1 404 Not Found\r\ncontent-length: 3\r\ndate: <date>\r\n\r\n"
    );
}

#[test]
fn status_without_a_canonical_reason_says_none() {
    let (head, _) = encode(&parts(599, &[]), Some(3), &GET_11);
    assert!(head.starts_with("HTTP/1.1 599 <none>\r\n"), "{head}");
}

#[test]
fn status_line_has_hypers_reason_phrase_extension() {
    let mut parts = parts(200, &[]);
    let reason = hyper::ext::ReasonPhrase::try_from(&b"Fine Indeed"[..]).unwrap();
    parts.extensions.insert(reason);
    let (head, _) = encode(&parts, Some(3), &GET_11);
    assert!(head.starts_with("HTTP/1.1 200 Fine Indeed\r\n"), "{head}");
}

#[test]
fn response_version_10_is_written() {
    let mut parts = parts(200, &[]);
    parts.version = Version::HTTP_10;
    let (head, encoded) = encode(&parts, None, &GET_11);
    // 1.0 has no chunked coding: the body ends with the connection.
    assert_eq!(head, "HTTP/1.0 200 OK\r\ndate: <date>\r\n\r\n");
    assert_eq!(encoded, closing(Framing::UntilClose));
}

#[test]
fn response_versions_other_than_10_are_written_as_11() {
    for version in [Version::HTTP_09, Version::HTTP_2, Version::HTTP_3] {
        let mut parts = parts(204, &[]);
        parts.version = version;
        let (head, _) = encode(&parts, None, &GET_11);
        assert_eq!(head, "HTTP/1.1 204 No Content\r\ndate: <date>\r\n\r\n");
    }
}

#[test]
fn http10_request_is_answered_in_10_and_closed() {
    let (head, encoded) = encode(&parts(200, &[]), Some(2), &GET_10);
    assert_eq!(
        head,
        "HTTP/1.0 200 OK\r\ncontent-length: 2\r\ndate: <date>\r\n\r\n"
    );
    assert_eq!(encoded, closing(Framing::Length(2)));
}

#[test]
fn http10_keep_alive_request_is_told_keep_alive() {
    let parts = parts(200, &[("server", "t")]);
    let (head, encoded) = encode(&parts, Some(2), &GET_10_KEEP_ALIVE);
    assert_eq!(
        head,
        "HTTP/1.0 200 OK\r\nserver: t\r\nconnection: keep-alive\r\ncontent-length: 2\r\n\
         date: <date>\r\n\r\n"
    );
    assert_eq!(encoded, open(Framing::Length(2)));
}

#[test]
fn http10_keep_alive_joins_the_responses_connection_line() {
    let parts = parts(200, &[("connection", "x-private")]);
    let (head, encoded) = encode(&parts, Some(2), &GET_10_KEEP_ALIVE);
    assert_eq!(
        head,
        "HTTP/1.0 200 OK\r\nconnection: x-private, keep-alive\r\ncontent-length: 2\r\n\
         date: <date>\r\n\r\n"
    );
    assert_eq!(encoded, open(Framing::Length(2)));
}

#[test]
fn http10_keep_alive_response_that_says_it_is_unchanged() {
    let parts = parts(200, &[("connection", "Keep-Alive")]);
    let (head, encoded) = encode(&parts, Some(2), &GET_10_KEEP_ALIVE);
    assert_eq!(
        head,
        "HTTP/1.0 200 OK\r\nconnection: Keep-Alive\r\ncontent-length: 2\r\n\
         date: <date>\r\n\r\n"
    );
    assert_eq!(encoded, open(Framing::Length(2)));
}

#[test]
fn http10_keep_alive_response_that_closes_is_not_told_keep_alive() {
    let parts = parts(200, &[("connection", "close")]);
    let (head, encoded) = encode(&parts, Some(2), &GET_10_KEEP_ALIVE);
    assert_eq!(
        head,
        "HTTP/1.0 200 OK\r\nconnection: close\r\ncontent-length: 2\r\ndate: <date>\r\n\r\n"
    );
    assert_eq!(encoded, closing(Framing::Length(2)));
}

#[test]
fn http10_keep_alive_with_a_10_response_closes() {
    let mut parts = parts(200, &[]);
    parts.version = Version::HTTP_10;
    let (head, encoded) = encode(&parts, Some(2), &GET_10_KEEP_ALIVE);
    assert_eq!(
        head,
        "HTTP/1.0 200 OK\r\ncontent-length: 2\r\ndate: <date>\r\n\r\n"
    );
    assert_eq!(encoded, closing(Framing::Length(2)));
}

#[test]
fn http10_keep_alive_with_a_10_response_that_says_keep_alive_stays_open() {
    let mut parts = parts(200, &[("connection", "keep-alive")]);
    parts.version = Version::HTTP_10;
    let (head, encoded) = encode(&parts, Some(2), &GET_10_KEEP_ALIVE);
    assert_eq!(
        head,
        "HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 2\r\n\
         date: <date>\r\n\r\n"
    );
    assert_eq!(encoded, open(Framing::Length(2)));
}

#[test]
fn http10_streamed_body_ends_with_the_connection() {
    let (head, encoded) = encode(&parts(200, &[]), None, &GET_10);
    assert_eq!(head, "HTTP/1.0 200 OK\r\ndate: <date>\r\n\r\n");
    assert_eq!(encoded, closing(Framing::UntilClose));
}

#[test]
fn http10_keep_alive_streamed_body_is_not_told_keep_alive() {
    let (head, encoded) = encode(&parts(200, &[]), None, &GET_10_KEEP_ALIVE);
    assert_eq!(head, "HTTP/1.0 200 OK\r\ndate: <date>\r\n\r\n");
    assert_eq!(encoded, closing(Framing::UntilClose));
}

#[test]
fn http10_keep_alive_streamed_body_with_a_length_stays_open() {
    let parts = parts(200, &[("content-length", "7")]);
    let (head, encoded) = encode(&parts, None, &GET_10_KEEP_ALIVE);
    assert_eq!(
        head,
        "HTTP/1.0 200 OK\r\ncontent-length: 7\r\nconnection: keep-alive\r\n\
         date: <date>\r\n\r\n"
    );
    assert_eq!(encoded, open(Framing::Length(7)));
}

#[test]
fn http10_drops_transfer_encoding_and_trailer() {
    let parts = parts(
        200,
        &[("transfer-encoding", "chunked"), ("trailer", "x-sum")],
    );
    let (head, encoded) = encode(&parts, Some(4), &GET_10);
    assert_eq!(
        head,
        "HTTP/1.0 200 OK\r\ncontent-length: 4\r\ndate: <date>\r\n\r\n"
    );
    assert_eq!(encoded, closing(Framing::Length(4)));
}

#[test]
fn values_of_one_name_each_have_a_line() {
    let parts = parts(
        200,
        &[("set-cookie", "a=1"), ("vary", "x"), ("set-cookie", "b=2")],
    );
    let (head, _) = encode(&parts, Some(1), &GET_11);
    assert_eq!(
        head,
        "HTTP/1.1 200 OK\r\nset-cookie: a=1\r\nset-cookie: b=2\r\nvary: x\r\n\
         content-length: 1\r\ndate: <date>\r\n\r\n"
    );
}

#[test]
fn the_responses_date_is_kept() {
    let parts = parts(
        200,
        &[("date", "Sun, 06 Nov 1994 08:49:37 GMT"), ("x", "y")],
    );
    let mut head = Vec::new();
    encode_head((&parts).into(), Some(1), &GET_11, &mut head);
    assert_eq!(
        String::from_utf8(head).unwrap(),
        "HTTP/1.1 200 OK\r\ndate: Sun, 06 Nov 1994 08:49:37 GMT\r\nx: y\r\n\
         content-length: 1\r\n\r\n"
    );
}

#[test]
fn the_date_is_cached_within_a_second() {
    let mut first = Vec::new();
    let mut second = Vec::new();
    push_date(&mut first);
    push_date(&mut second);
    if first != second {
        // The second turned between the two: the next one is the same.
        first.clear();
        push_date(&mut first);
    }
    assert_eq!(first, second);
    assert_eq!(first.len(), DATE_LEN);
}

#[test]
fn the_responses_content_length_is_kept_in_its_place() {
    let parts = parts(200, &[("content-length", "5"), ("x", "y")]);
    let (head, encoded) = encode(&parts, Some(5), &GET_11);
    assert_eq!(
        head,
        "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx: y\r\ndate: <date>\r\n\r\n"
    );
    assert_eq!(encoded, open(Framing::Length(5)));
}

#[test]
fn a_content_length_that_disagrees_with_the_body_is_replaced() {
    let parts = parts(200, &[("content-length", "50"), ("content-length", "5")]);
    let (head, encoded) = encode(&parts, Some(5), &GET_11);
    assert_eq!(
        head,
        "HTTP/1.1 200 OK\r\ncontent-length: 5\r\ndate: <date>\r\n\r\n"
    );
    assert_eq!(encoded, open(Framing::Length(5)));
}

#[test]
fn an_empty_body_has_content_length_0() {
    let (head, encoded) = encode(&parts(200, &[]), Some(0), &GET_11);
    assert_eq!(
        head,
        "HTTP/1.1 200 OK\r\ncontent-length: 0\r\ndate: <date>\r\n\r\n"
    );
    assert_eq!(encoded, open(Framing::None));
}

#[test]
fn an_empty_body_drops_the_responses_content_length() {
    let parts = parts(200, &[("content-length", "10"), ("x", "y")]);
    let (head, encoded) = encode(&parts, Some(0), &GET_11);
    assert_eq!(
        head,
        "HTTP/1.1 200 OK\r\nx: y\r\ncontent-length: 0\r\ndate: <date>\r\n\r\n"
    );
    assert_eq!(encoded, open(Framing::None));
}

#[test]
fn head_gets_the_length_of_a_known_body_and_no_body() {
    let (head, encoded) = encode(&parts(200, &[]), Some(12), &HEAD_11);
    assert_eq!(
        head,
        "HTTP/1.1 200 OK\r\ncontent-length: 12\r\ndate: <date>\r\n\r\n"
    );
    assert_eq!(encoded, open(Framing::None));
}

#[test]
fn head_with_an_empty_body_has_no_length() {
    let (head, encoded) = encode(&parts(200, &[]), Some(0), &HEAD_11);
    assert_eq!(head, "HTTP/1.1 200 OK\r\ndate: <date>\r\n\r\n");
    assert_eq!(encoded, open(Framing::None));
}

#[test]
fn head_keeps_the_responses_content_length_of_an_empty_body() {
    let parts = parts(
        200,
        &[("content-length", "1234"), ("content-length", "1234")],
    );
    let (head, encoded) = encode(&parts, Some(0), &HEAD_11);
    assert_eq!(
        head,
        "HTTP/1.1 200 OK\r\ncontent-length: 1234\r\ndate: <date>\r\n\r\n"
    );
    assert_eq!(encoded, open(Framing::None));
}

#[test]
fn head_with_a_streamed_body_has_no_framing_and_stays_open() {
    let parts = parts(200, &[("transfer-encoding", "chunked")]);
    let (head, encoded) = encode(&parts, None, &HEAD_11);
    assert_eq!(head, "HTTP/1.1 200 OK\r\ndate: <date>\r\n\r\n");
    assert_eq!(encoded, open(Framing::None));
}

#[test]
fn streamed_body_is_chunked() {
    let (head, encoded) = encode(&parts(200, &[("x", "y")]), None, &GET_11);
    assert_eq!(
        head,
        "HTTP/1.1 200 OK\r\nx: y\r\ntransfer-encoding: chunked\r\ndate: <date>\r\n\r\n"
    );
    assert_eq!(encoded, open(Framing::Chunked));
}

#[test]
fn streamed_body_with_a_content_length_is_sent_by_length() {
    let parts = parts(200, &[("content-length", "7"), ("content-length", "7")]);
    let (head, encoded) = encode(&parts, None, &GET_11);
    assert_eq!(
        head,
        "HTTP/1.1 200 OK\r\ncontent-length: 7\r\ndate: <date>\r\n\r\n"
    );
    assert_eq!(encoded, open(Framing::Length(7)));
}

#[test]
fn known_body_with_transfer_encoding_chunked_is_chunked() {
    let parts = parts(200, &[("transfer-encoding", "chunked"), ("x", "y")]);
    let (head, encoded) = encode(&parts, Some(5), &GET_11);
    assert_eq!(
        head,
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nx: y\r\ndate: <date>\r\n\r\n"
    );
    assert_eq!(encoded, open(Framing::Chunked));
}

#[test]
fn empty_body_with_transfer_encoding_chunked_is_chunked() {
    let parts = parts(200, &[("transfer-encoding", "chunked")]);
    let (head, encoded) = encode(&parts, Some(0), &GET_11);
    assert_eq!(
        head,
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ndate: <date>\r\n\r\n"
    );
    assert_eq!(encoded, open(Framing::Chunked));
}

#[test]
fn transfer_encoding_values_are_joined_and_end_chunked() {
    let parts = parts(
        200,
        &[
            ("transfer-encoding", "gzip"),
            ("transfer-encoding", "br"),
            ("connection", "x"),
        ],
    );
    let (head, encoded) = encode(&parts, None, &GET_11);
    assert_eq!(
        head,
        "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, br, chunked\r\nconnection: x\r\n\
         date: <date>\r\n\r\n"
    );
    assert_eq!(encoded, open(Framing::Chunked));
}

#[test]
fn transfer_encoding_on_204_is_dropped() {
    let parts = parts(204, &[("transfer-encoding", "chunked")]);
    let (head, encoded) = encode(&parts, None, &GET_11);
    assert_eq!(head, "HTTP/1.1 204 No Content\r\ndate: <date>\r\n\r\n");
    assert_eq!(encoded, open(Framing::None));
}

#[test]
fn trailer_is_kept_on_a_chunked_response() {
    let parts = parts(200, &[("trailer", "x-a"), ("trailer", "x-b")]);
    let (head, encoded) = encode(&parts, None, &GET_11);
    assert_eq!(
        head,
        "HTTP/1.1 200 OK\r\ntrailer: x-a, x-b\r\ntransfer-encoding: chunked\r\n\
         date: <date>\r\n\r\n"
    );
    assert_eq!(encoded, open(Framing::Chunked));
}

#[test]
fn trailer_on_head_is_dropped() {
    let parts = parts(200, &[("trailer", "x-a")]);
    let (head, _) = encode(&parts, None, &HEAD_11);
    assert_eq!(head, "HTTP/1.1 200 OK\r\ndate: <date>\r\n\r\n");
}

#[test]
fn content_length_and_transfer_encoding_are_refused() {
    for headers in [
        [("content-length", "5"), ("transfer-encoding", "chunked")],
        [("transfer-encoding", "chunked"), ("content-length", "5")],
    ] {
        let (head, encoded) = encode(&parts(200, &headers), Some(5), &GET_11);
        assert_eq!(
            head,
            "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\ndate: <date>\r\n\r\n"
        );
        assert_eq!(
            encoded,
            Encoded {
                refused: Some(Refused::LengthAndTransferEncoding),
                ..closing(Framing::None)
            }
        );
    }
}

#[test]
fn streamed_body_with_an_invalid_content_length_is_refused() {
    let parts = parts(200, &[("content-length", "+5")]);
    let (head, encoded) = encode(&parts, None, &GET_11);
    assert!(head.starts_with("HTTP/1.1 500 "), "{head}");
    assert_eq!(encoded.refused, Some(Refused::InvalidContentLength));
    assert!(encoded.close);
}

#[test]
fn streamed_body_with_differing_content_lengths_is_refused() {
    let parts = parts(200, &[("content-length", "5"), ("content-length", "6")]);
    let (_, encoded) = encode(&parts, None, &GET_11);
    assert_eq!(encoded.refused, Some(Refused::ConflictingContentLength));
}

#[test]
fn no_content_and_not_modified_have_no_length_nor_body() {
    for status in [204, 304] {
        let (head, encoded) = encode(&parts(status, &[]), Some(9), &GET_11);
        let reason = StatusCode::from_u16(status)
            .unwrap()
            .canonical_reason()
            .unwrap();
        assert_eq!(
            head,
            format!("HTTP/1.1 {status} {reason}\r\ndate: <date>\r\n\r\n")
        );
        assert_eq!(encoded, open(Framing::None));
    }
}

#[test]
fn not_modified_keeps_the_responses_content_length_of_a_known_body() {
    let parts = parts(304, &[("content-length", "1234")]);
    let (head, encoded) = encode(&parts, Some(9), &GET_11);
    assert_eq!(
        head,
        "HTTP/1.1 304 Not Modified\r\ncontent-length: 1234\r\ndate: <date>\r\n\r\n"
    );
    assert_eq!(encoded, open(Framing::None));
}

#[test]
fn head_keeps_the_responses_content_length_of_a_known_body() {
    let parts = parts(200, &[("content-length", "1234")]);
    let (head, encoded) = encode(&parts, Some(9), &HEAD_11);
    assert_eq!(
        head,
        "HTTP/1.1 200 OK\r\ncontent-length: 1234\r\ndate: <date>\r\n\r\n"
    );
    assert_eq!(encoded, open(Framing::None));
}

#[test]
fn informational_status_is_refused() {
    let (head, encoded) = encode(&parts(103, &[("link", "</a>")]), None, &GET_10);
    assert_eq!(
        head,
        "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\ndate: <date>\r\n\r\n"
    );
    assert_eq!(
        encoded.refused,
        Some(Refused::InformationalStatus(StatusCode::EARLY_HINTS))
    );
    assert!(encoded.close);
    let (head, _) = encode(&parts(100, &[]), None, &HEAD_11);
    assert_eq!(
        head,
        "HTTP/1.1 500 Internal Server Error\r\ndate: <date>\r\n\r\n"
    );
}

#[test]
fn switching_protocols_has_no_framing() {
    let parts = parts(101, &[("upgrade", "websocket"), ("connection", "upgrade")]);
    let (head, encoded) = encode(&parts, None, &GET_11);
    assert_eq!(
        head,
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\
         date: <date>\r\n\r\n"
    );
    assert_eq!(encoded, open(Framing::None));
    let (head, _) = encode(&parts, Some(4), &GET_11);
    assert!(!head.contains("content-length"), "{head}");
}

#[test]
fn connect_success_has_no_framing() {
    let parts = parts(
        200,
        &[("content-length", "5"), ("transfer-encoding", "chunked")],
    );
    let (head, encoded) = encode(&parts, None, &CONNECT_11);
    assert_eq!(head, "HTTP/1.1 200 OK\r\ndate: <date>\r\n\r\n");
    assert_eq!(encoded, open(Framing::None));
}

#[test]
fn connect_failure_is_framed() {
    let (head, encoded) = encode(&parts(502, &[]), Some(3), &CONNECT_11);
    assert_eq!(
        head,
        "HTTP/1.1 502 Bad Gateway\r\ncontent-length: 3\r\ndate: <date>\r\n\r\n"
    );
    assert_eq!(encoded, open(Framing::Length(3)));
}

#[test]
fn connection_close_in_the_response_closes() {
    let parts = parts(200, &[("connection", "Close")]);
    let (head, encoded) = encode(&parts, Some(1), &GET_11);
    assert_eq!(
        head,
        "HTTP/1.1 200 OK\r\nconnection: Close\r\ncontent-length: 1\r\ndate: <date>\r\n\r\n"
    );
    assert_eq!(encoded, closing(Framing::Length(1)));
}

#[test]
fn connection_values_are_joined() {
    let parts = parts(
        200,
        &[("connection", "x-a"), ("x", "y"), ("connection", "close")],
    );
    let (head, encoded) = encode(&parts, Some(1), &GET_11);
    assert_eq!(
        head,
        "HTTP/1.1 200 OK\r\nconnection: x-a, close\r\nx: y\r\ncontent-length: 1\r\n\
         date: <date>\r\n\r\n"
    );
    assert_eq!(encoded, closing(Framing::Length(1)));
}

#[test]
fn closing_http11_says_connection_close() {
    let answering = Answering {
        keep_alive: false,
        ..GET_11
    };
    let (head, encoded) = encode(&parts(200, &[("x", "y")]), None, &answering);
    assert_eq!(
        head,
        "HTTP/1.1 200 OK\r\nx: y\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\
         date: <date>\r\n\r\n"
    );
    assert_eq!(encoded, closing(Framing::Chunked));
}

#[test]
fn closing_http11_adds_close_to_the_connection_line() {
    let answering = Answering {
        keep_alive: false,
        ..GET_11
    };
    let joined = parts(200, &[("connection", "x-a"), ("x", "y")]);
    let (head, _) = encode(&joined, Some(1), &answering);
    assert_eq!(
        head,
        "HTTP/1.1 200 OK\r\nconnection: x-a, close\r\nx: y\r\ncontent-length: 1\r\n\
         date: <date>\r\n\r\n"
    );
    let said = parts(200, &[("connection", "close")]);
    let (head, _) = encode(&said, Some(1), &answering);
    assert!(head.contains("\r\nconnection: close\r\n"), "{head}");
}

#[test]
fn chunk_header_is_uppercase_hex() {
    let mut out = Vec::new();
    chunk_header(0x1a, &mut out);
    chunk_header(0, &mut out);
    chunk_header(4096, &mut out);
    chunk_header(usize::MAX, &mut out);
    let max = format!("{:X}\r\n", usize::MAX);
    assert_eq!(out, [&b"1A\r\n0\r\n1000\r\n"[..], max.as_bytes()].concat());
    assert_eq!(LAST_CHUNK, b"0\r\n\r\n");
    assert_eq!(CHUNK_END, b"\r\n");
}

#[test]
fn decimal_lengths() {
    let mut out = Vec::new();
    for n in [0, 9, 10, 1234567890, u64::MAX] {
        push_decimal(n, &mut out);
        out.push(b' ');
    }
    assert_eq!(out, b"0 9 10 1234567890 18446744073709551615 ");
}

#[test]
fn content_length_syntax() {
    let length = |text: &str| parse_length(&HeaderValue::from_str(text).unwrap());
    assert_eq!(length("0"), Some(0));
    assert_eq!(length("0012"), Some(12));
    assert_eq!(length("18446744073709551615"), Some(u64::MAX));
    assert_eq!(length("18446744073709551616"), None);
    for bad in ["", "+1", "-1", " 1", "1 ", "1,1", "0x1"] {
        assert_eq!(length(bad), None, "{bad:?}");
    }
}
