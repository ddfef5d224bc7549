//! A request head the checker has let past, taken apart into the request
//! a resource is handed: method, target, version and fields, the target
//! and the values sharing the bytes read rather than copied.

use bytes::Bytes;
use http::header::{CONNECTION, EXPECT};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri, Version};

/// A request head, and what it tells the connection.
pub(super) struct Head {
    pub(super) method: Method,
    pub(super) uri: Uri,
    pub(super) version: Version,
    pub(super) headers: HeaderMap,
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

/// Takes `head` apart: the bytes from the request line (empty lines before
/// it allowed) to the empty line that ends the head, as the checker
/// passed them.
pub(super) fn parse(head: Bytes) -> Result<Head, Unparsable> {
    let bytes = &head[..];
    let mut at = bytes
        .iter()
        .position(|&byte| byte != b'\r' && byte != b'\n')
        .ok_or("empty request head")?;
    let request_line = line_end(bytes, at);
    let line = &bytes[at..request_line.content];
    let method_len = line
        .iter()
        .position(|&byte| byte == b' ')
        .ok_or("malformed request line")?;
    let target_at = method_len + 1;
    let target_len = line[target_at..]
        .iter()
        .position(|&byte| byte == b' ')
        .ok_or("malformed request line")?;
    let method = Method::from_bytes(&line[..method_len]).map_err(|_| "malformed method")?;
    let target = head.slice(at + target_at..at + target_at + target_len);
    let uri = Uri::from_maybe_shared(target).map_err(|_| "malformed request target")?;
    let version = match &line[target_at + target_len + 1..] {
        b"HTTP/1.0" => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    at = request_line.next;
    let mut headers = HeaderMap::with_capacity(field_lines(&bytes[at..]));
    loop {
        let end = line_end(bytes, at);
        if end.content == at {
            break;
        }
        let line = &bytes[at..end.content];
        let colon = line
            .iter()
            .position(|&byte| byte == b':')
            .ok_or("malformed header field")?;
        let name = HeaderName::from_bytes(&line[..colon]).map_err(|_| "malformed header name")?;
        let value = trim_whitespace(line, colon + 1);
        let value = HeaderValue::from_maybe_shared(head.slice(at + value.start..at + value.end))
            .map_err(|_| "malformed header value")?;
        headers.append(name, value);
        at = end.next;
    }
    let keep_alive = match version {
        Version::HTTP_10 => has_token(&headers, "keep-alive"),
        _ => !has_token(&headers, "close"),
    };
    let expects_continue = version != Version::HTTP_10
        && headers
            .get(EXPECT)
            .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    Ok(Head {
        method,
        uri,
        version,
        headers,
        keep_alive,
        expects_continue,
    })
}

/// Where a line's content ends and the next line starts.
struct LineEnd {
    content: usize,
    next: usize,
}

/// The end of the line starting at `at`: CRLF or a bare LF (the checker
/// has refused a bare CR). A head always ends with an empty line.
fn line_end(bytes: &[u8], at: usize) -> LineEnd {
    let lf = bytes[at..]
        .iter()
        .position(|&byte| byte == b'\n')
        .map_or(bytes.len(), |lf| at + lf);
    let content = if lf > at && bytes[lf - 1] == b'\r' {
        lf - 1
    } else {
        lf
    };
    LineEnd {
        content,
        next: (lf + 1).min(bytes.len()),
    }
}

/// How many field lines follow, at most: room for the map at once.
fn field_lines(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .filter(|&&byte| byte == b'\n')
        .count()
        .saturating_sub(1)
}

/// The value after `from` in `line`, without the whitespace around it.
fn trim_whitespace(line: &[u8], from: usize) -> std::ops::Range<usize> {
    let is_space = |byte: &u8| *byte == b' ' || *byte == b'\t';
    let start = line[from..]
        .iter()
        .position(|byte| !is_space(byte))
        .map_or(line.len(), |skip| from + skip);
    let end = line[start..]
        .iter()
        .rposition(|byte| !is_space(byte))
        .map_or(start, |last| start + last + 1);
    start..end
}

/// Whether any `Connection` field lists `token`.
fn has_token(headers: &HeaderMap, token: &str) -> bool {
    headers.get_all(CONNECTION).iter().any(|value| {
        value
            .as_bytes()
            .split(|&byte| byte == b',')
            .any(|item| item.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(head: &'static str) -> Head {
        parse(Bytes::from_static(head.as_bytes())).expect("parses")
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
