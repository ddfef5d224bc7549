//! A request head the checker has let past, taken apart into the request
//! a resource is handed: method, target, version and fields, the target
//! and the values sharing the bytes read rather than copied.

use bytes::Bytes;
use http::header::{CONNECTION, EXPECT};
use http::{HeaderName, HeaderValue, Method, Uri, Version};

use crate::server::http1_check::{HeadSpans, line_for_log};

/// What a request head tells the connection beyond the request itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Asks {
    /// The client lets the connection carry another request after this
    /// one: HTTP/1.1 without `Connection: close`, HTTP/1.0 with
    /// `Connection: keep-alive`.
    pub(super) keep_alive: bool,
    /// The client waits for `100 Continue` before it sends the body.
    pub(super) expects_continue: bool,
}

/// Why a head the checker passed cannot be taken apart: a target or a
/// value the `http` crate will not hold.
pub(super) type Unparsable = &'static str;

/// Takes `head` apart into `request` (its method, target, version and
/// fields): the bytes from the request line (empty lines before it
/// allowed) to the empty line that ends the head, as the checker passed
/// them, with where the checker found their parts.
pub(super) fn parse<B>(
    head: &Bytes,
    spans: &HeadSpans,
    request: &mut http::Request<B>,
) -> Result<Asks, Unparsable> {
    let bytes = &head[..];
    let range = |(start, end): (u32, u32)| start as usize..end as usize;
    // Matched rather than mapped: each step of a `map_err` chain moves the
    // value (a `Uri` is 88 bytes) once more.
    match Method::from_bytes(&bytes[range(spans.method)]) {
        Ok(method) => *request.method_mut() = method,
        Err(_) => return Err("malformed method"),
    }
    match Uri::from_maybe_shared(head.slice(range(spans.target))) {
        Ok(uri) => *request.uri_mut() = uri,
        Err(_) => return Err("malformed request target"),
    }
    let version = if spans.http10 {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    *request.version_mut() = version;
    let headers = request.headers_mut();
    headers.reserve(spans.fields.len());
    let (mut close, mut keep_alive, mut expects_continue) = (false, false, false);
    for field in &spans.fields {
        let name = match field.field.header_name() {
            Some(name) => name,
            None => HeaderName::from_bytes(&bytes[field.name as usize..field.colon as usize])
                .map_err(|_| "malformed header name")?,
        };
        let value = trim_whitespace(bytes, field.colon as usize + 1, field.end as usize);
        if name == CONNECTION {
            for token in bytes[value.clone()].split(|&byte| byte == b',') {
                let token = token.trim_ascii();
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name == EXPECT {
            expects_continue = bytes[value.clone()].eq_ignore_ascii_case(b"100-continue");
        }
        match HeaderValue::from_maybe_shared(head.slice(value)) {
            Ok(value) => headers.append(name, value),
            Err(_) => return Err("malformed header value"),
        };
    }
    Ok(Asks {
        keep_alive: match version {
            Version::HTTP_10 => keep_alive,
            _ => !close,
        },
        expects_continue: expects_continue && version != Version::HTTP_10,
    })
}

/// The request line of a head the checker passed, as the log shows it.
pub(super) fn request_line(head: &[u8], spans: &HeadSpans) -> String {
    line_for_log(&head[spans.method.0 as usize..], true)
}

/// The part of `bytes` from `start` to `end` without the whitespace
/// around it.
fn trim_whitespace(bytes: &[u8], mut start: usize, mut end: usize) -> std::ops::Range<usize> {
    let is_space = |byte: u8| byte == b' ' || byte == b'\t';
    while start < end && is_space(bytes[start]) {
        start += 1;
    }
    while end > start && is_space(bytes[end - 1]) {
        end -= 1;
    }
    start..end
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::http1_check::{Http1Check, Step};

    /// A head taken apart: the request's parts and what it asks.
    struct Head {
        method: Method,
        uri: Uri,
        version: Version,
        headers: http::HeaderMap,
        keep_alive: bool,
        expects_continue: bool,
    }

    fn taken_apart(bytes: Vec<u8>, spans: &HeadSpans) -> Head {
        let mut request = http::Request::new(());
        let asks = parse(&Bytes::from(bytes), spans, &mut request).expect("parses");
        let (parts, ()) = request.into_parts();
        Head {
            method: parts.method,
            uri: parts.uri,
            version: parts.version,
            headers: parts.headers,
            keep_alive: asks.keep_alive,
            expects_continue: asks.expects_continue,
        }
    }

    /// The head as a connection parses it: read by the checker, then
    /// taken apart where the checker found its parts.
    fn parsed(head: &'static str) -> Head {
        let mut check = Http1Check::new(8192, 100);
        let mut bytes = head.as_bytes().to_vec();
        let Step::Head { used, .. } = check.read(&mut bytes) else {
            panic!("the checker reads a whole head");
        };
        assert_eq!(used, bytes.len());
        taken_apart(bytes, check.spans())
    }

    #[test]
    fn the_state_machine_finds_the_same_parts_as_the_whole_head_reader() {
        let text = "GET /x?y HTTP/1.1\r\nHost: h\r\nA:  1 \r\nB:\r\n\r\n";
        let whole = parsed(text);
        let mut check = Http1Check::new(8192, 100);
        let mut bytes = text.as_bytes().to_vec();
        let mut at = 0;
        for piece in bytes.clone().chunks(3) {
            let end = at + piece.len();
            match check.read(&mut bytes[at..end]) {
                Step::MoreHead => {}
                Step::Head { used, .. } => assert_eq!(at + used, text.len()),
                other => panic!("{other:?}"),
            }
            at = end;
        }
        let split = taken_apart(bytes, check.spans());
        assert_eq!(split.uri, whole.uri);
        assert_eq!(split.headers, whole.headers);
        assert_eq!(split.headers["a"], "1");
        assert_eq!(split.headers["b"], "");
    }

    #[test]
    fn a_head_is_taken_apart_with_its_values_trimmed() {
        let head = parsed(
            "\r\nGET /a/b?c=d HTTP/1.1\r\nHost: example.com\r\nX-Two:  one \t\r\nx-two:two\r\n\r\n",
        );
        assert_eq!(head.method, Method::GET);
        assert_eq!(head.uri, "/a/b?c=d");
        assert_eq!(head.version, Version::HTTP_11);
        assert_eq!(head.headers["host"], "example.com");
        let twos: Vec<_> = head.headers.get_all("x-two").iter().collect();
        assert_eq!(twos, ["one", "two"]);
        assert!(head.keep_alive);
        assert!(!head.expects_continue);
    }

    #[test]
    fn bare_line_feeds_end_lines_too() {
        let head =
            parsed("POST /up HTTP/1.1\nHost: h\nExpect: 100-Continue\nContent-Length: 3\n\n");
        assert_eq!(head.method, Method::POST);
        assert_eq!(head.headers["content-length"], "3");
        assert!(head.expects_continue);
    }

    #[test]
    fn the_names_the_checker_knows_are_taken_in_any_case() {
        let head = parsed(
            "POST / HTTP/1.1\r\nHOST: h\r\nUpGrade: x\r\ncontent-LENGTH: 0\r\nX-A: 1\r\n\r\n",
        );
        let names: Vec<_> = head.headers.keys().map(HeaderName::as_str).collect();
        assert_eq!(names, ["host", "upgrade", "content-length", "x-a"]);
        assert_eq!(head.headers[http::header::HOST], "h");
        assert_eq!(head.headers[http::header::CONTENT_LENGTH], "0");
    }

    #[test]
    fn keep_alive_follows_the_version_and_connection_tokens() {
        assert!(!parsed("GET / HTTP/1.0\r\n\r\n").keep_alive);
        assert!(parsed("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
        assert!(
            !parsed("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade, close\r\n\r\n").keep_alive
        );
        assert!(parsed("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n\r\n").keep_alive);
    }

    #[test]
    fn an_empty_value_and_other_target_forms_parse() {
        let head =
            parsed("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nX-Empty:\r\n\r\n");
        assert_eq!(head.method, Method::CONNECT);
        assert_eq!(head.uri.authority().unwrap(), "example.com:443");
        assert_eq!(head.headers["x-empty"], "");
        let head = parsed("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(head.uri, "*");
    }
}
