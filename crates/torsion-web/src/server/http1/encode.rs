//! The response encoder: a response's status line and header section, and
//! how the body after them is framed, written byte for byte as hyper's
//! HTTP/1 server writes them so that clients see no difference.
//!
//! Header names go out lowercase, one `name: value` line per value, in the
//! order of the response's `HeaderMap`; `Connection`, `Transfer-Encoding`
//! and `Trailer` are joined into one line each. The encoder adds what the
//! response leaves out: the framing header (`content-length` for a body of
//! known length, `transfer-encoding: chunked` for a streamed one answering
//! HTTP/1.1), the `Connection` token that tells the client whether the
//! connection goes on, and a `date`.
//!
//! A response whose framing cannot be written (1xx other than 101, both a
//! `Content-Length` and a `Transfer-Encoding`, a bad `Content-Length` on a
//! streamed body) is replaced by an empty 500 after which the connection
//! closes. hyper writes nothing for the framing cases, and a client left
//! with a closed connection learns less than one given a 500.
//!
//! Where hyper's choice would put a contradiction on the wire, or refuse a
//! response that can be sent, the encoder departs from it: a body's exact
//! length wins over a `Content-Length` that disagrees with it where the
//! body is sent, `keep-alive` is not promised to an HTTP/1.0 client the
//! connection will close on, a `chunked` added to a `Transfer-Encoding`
//! line is not repeated on the lines after it, a 2xx to CONNECT loses the
//! framing headers it must not have, and an answer to HEAD keeps the first
//! of its `Content-Length` values.

use std::cell::Cell;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::response::Parts;
use http::{Extensions, StatusCode, Version};

/// What the encoder must know of the request being answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Answering {
    /// The request is a HEAD: the head describes the body a GET would get,
    /// and no body follows it.
    pub(crate) head_request: bool,
    /// The request is a CONNECT: a 2xx answer opens a tunnel, which has no
    /// framing of its own.
    pub(crate) connect: bool,
    /// The request's version: `HTTP_10`, or `HTTP_11` (any other version is
    /// answered as 1.1).
    pub(crate) version: Version,
    /// The connection may go on after this response: the request allows it
    /// (1.1 without `Connection: close`, 1.0 with `Connection: keep-alive`)
    /// and the server is not closing the connection (shutting down, say).
    /// When it is false, an HTTP/1.1 response says `connection: close`.
    pub(crate) keep_alive: bool,
}

/// How the body that follows the head is framed on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body bytes at all, whatever the response's body holds: an answer
    /// to HEAD, a 101, a 204, a 304, a 2xx to CONNECT, or a length of 0.
    None,
    /// Exactly this many bytes (never 0); more are not sent, fewer break
    /// the connection.
    Length(u64),
    /// Each piece of data in a chunk ([`chunk_header`], the data,
    /// [`CHUNK_END`]), then [`LAST_CHUNK`].
    Chunked,
    /// The bytes as they come, ended by closing the connection.
    UntilClose,
}

/// What the connection must do after writing a head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Encoded {
    /// How the body is written.
    pub(crate) framing: Framing,
    /// The connection closes after this response. Never set for a 101 or a
    /// 2xx to CONNECT: the connection is handed over to whatever takes the
    /// upgrade, and closed if nothing does.
    pub(crate) close: bool,
    /// The response could not be written as it was: an empty 500 was
    /// written instead, and the connection closes after it.
    pub(crate) refused: Option<Refused>,
}

/// Why a response was replaced by a 500.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// A 1xx status other than 101: a service gives one response per
    /// request, so an interim response would leave the request unanswered.
    InformationalStatus(StatusCode),
    /// Both `Content-Length` and `Transfer-Encoding`, which RFC 9112
    /// (section 6.2) forbids a sender.
    LengthAndTransferEncoding,
    /// A streamed body whose `Content-Length` is not a number, so its end
    /// cannot be known.
    InvalidContentLength,
    /// A streamed body with two `Content-Length` values that differ.
    ConflictingContentLength,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::InformationalStatus(status) => {
                write!(
                    f,
                    "response with 1xx status {} not supported",
                    status.as_u16()
                )
            }
            Refused::LengthAndTransferEncoding => {
                f.write_str("response has both Content-Length and Transfer-Encoding")
            }
            Refused::InvalidContentLength => {
                f.write_str("streamed response has an invalid Content-Length")
            }
            Refused::ConflictingContentLength => {
                f.write_str("streamed response has differing Content-Length values")
            }
        }
    }
}

/// Ends each chunk's data.
pub(crate) const CHUNK_END: &[u8] = b"\r\n";

/// Ends a chunked body (no trailers).
pub(crate) const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Appends the size line that goes before a chunk of `len` bytes: the size
/// in uppercase hexadecimal, as hyper writes it.
pub(crate) fn chunk_header(len: usize, out: &mut Vec<u8>) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut digits = [0; 2 * size_of::<usize>() + 2];
    let mut at = digits.len() - 2;
    digits[at..].copy_from_slice(b"\r\n");
    let mut rest = len;
    loop {
        at -= 1;
        digits[at] = DIGITS[rest % 16];
        rest /= 16;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// What of a response its head is written from, looked at where the
/// response lies: a response is some 200 bytes, and the connection encodes
/// it without moving it.
#[derive(Clone, Copy)]
pub(crate) struct Head<'a> {
    status: StatusCode,
    version: Version,
    headers: &'a HeaderMap,
    extensions: &'a Extensions,
}

impl Head<'_> {
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }
}

impl<'a, B> From<&'a http::Response<B>> for Head<'a> {
    fn from(response: &'a http::Response<B>) -> Head<'a> {
        Head {
            status: response.status(),
            version: response.version(),
            headers: response.headers(),
            extensions: response.extensions(),
        }
    }
}

impl<'a> From<&'a Parts> for Head<'a> {
    fn from(parts: &'a Parts) -> Head<'a> {
        Head {
            status: parts.status,
            version: parts.version,
            headers: &parts.headers,
            extensions: &parts.extensions,
        }
    }
}

/// Appends the status line and header section (ending with the blank line)
/// for a response to `out`, and says how the body is framed.
///
/// `body_length` is the body's exact length when it is known before the
/// body is polled (`SizeHint::exact`), and `Some(0)` as well for a body
/// that is already at its end (`is_end_stream`); `None` for a body streamed
/// to an unknown length.
pub(crate) fn encode_head(
    head: Head<'_>,
    body_length: Option<u64>,
    answering: &Answering,
    out: &mut Vec<u8>,
) -> Encoded {
    if head.status.is_informational() && head.status != StatusCode::SWITCHING_PROTOCOLS {
        return refuse(Refused::InformationalStatus(head.status), answering, out);
    }
    let start = out.len();
    match write_head(head, body_length, answering, out) {
        Ok(encoded) => encoded,
        Err(refused) => {
            out.truncate(start);
            refuse(refused, answering, out)
        }
    }
}

/// The body as the framing rules see it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Body {
    /// Nothing to send: a `Content-Length` of the response's own is kept
    /// only on an answer to HEAD, where it describes a GET's body.
    Empty,
    /// Exactly this many bytes, more than 0.
    Known(u64),
    /// An unknown length.
    Streamed,
}

/// The header names the encoder treats specially.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Name {
    /// Written as it is, a line per value.
    Other,
    /// Says the body's length, unless the body or the status decides.
    ContentLength,
    /// Says the body is chunked, where a chunked body can be sent.
    TransferEncoding,
    /// One line, to which the encoder may add a token.
    Connection,
    /// Names trailer fields, which only a chunked body can carry.
    Trailer,
    /// The response's own date, which spares the encoder its own.
    Date,
}

impl Name {
    /// Which of the special names `name` is.
    fn of(name: &HeaderName) -> Name {
        if *name == header::CONTENT_LENGTH {
            Name::ContentLength
        } else if *name == header::TRANSFER_ENCODING {
            Name::TransferEncoding
        } else if *name == header::CONNECTION {
            Name::Connection
        } else if *name == header::DATE {
            Name::Date
        } else if *name == header::TRAILER {
            Name::Trailer
        } else {
            Name::Other
        }
    }
}

/// Room for everything a head holds beyond its status line's reason and
/// the response's own header lines: the rest of the status line (15), a
/// `, chunked` (9), a `connection: keep-alive` line (24), a framing line
/// (`content-length: ` and 20 digits, 38), the date line (37), and the
/// blank line (2).
const HEAD_OVERHEAD: usize = 15 + 9 + 24 + 38 + 37 + 2;

/// The room reserved for each header line of the response.
const AVERAGE_LINE: usize = 64;

/// The head of `encode_head`, or why it cannot be written; on an error
/// `out` holds a partial head that the caller discards.
fn write_head(
    head: Head<'_>,
    body_length: Option<u64>,
    answering: &Answering,
    out: &mut Vec<u8>,
) -> Result<Encoded, Refused> {
    let status = head.status;
    let body = match body_length {
        Some(0) => Body::Empty,
        Some(length) => Body::Known(length),
        None => Body::Streamed,
    };
    let request_10 = answering.version == Version::HTTP_10;
    // An HTTP/1.0 client is answered in 1.0 whatever the response says;
    // a response that says 1.0 gets 1.0's framing too.
    let version_10 = request_10 || head.version == Version::HTTP_10;
    let tunnel = answering.connect && status.is_success();
    let upgrade = tunnel || status == StatusCode::SWITCHING_PROTOCOLS;
    // No body, and no Content-Length of the encoder's own (RFC 9110, 8.6).
    let no_length = tunnel
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let no_body = no_length || answering.head_request;
    let can_chunk = !version_10 && !no_body;
    // Only an HTTP/1.0 client is promised keep-alive, and not on a body
    // that the close must end.
    let until_close = request_10
        && body == Body::Streamed
        && !no_body
        && !head.headers.contains_key(header::CONTENT_LENGTH);
    let fix = ConnectionFix {
        add_close: !request_10 && !answering.keep_alive,
        add_keep_alive: request_10
            && answering.keep_alive
            && head.version == Version::HTTP_11
            && !until_close,
    };

    let reason = head.extensions.get::<hyper::ext::ReasonPhrase>();
    // An estimate: measuring the headers first would cost a third of the
    // encoding, and a buffer reused from response to response rarely
    // needs to grow.
    out.reserve(
        HEAD_OVERHEAD
            + reason.map_or(32, |reason| reason.as_bytes().len())
            + head.headers.len() * AVERAGE_LINE,
    );

    if !version_10 && status == StatusCode::OK && reason.is_none() {
        out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    } else {
        out.extend_from_slice(if version_10 {
            b"HTTP/1.0 "
        } else {
            b"HTTP/1.1 "
        });
        out.extend_from_slice(status.as_str().as_bytes());
        out.push(b' ');
        match reason {
            Some(reason) => out.extend_from_slice(reason.as_bytes()),
            // Many parsers expect a reason, so there always is one.
            None => {
                let reason = status.canonical_reason().unwrap_or("<none>");
                out.extend_from_slice(reason.as_bytes());
            }
        }
        out.extend_from_slice(b"\r\n");
    }

    let mut framing = Framing::None;
    let mut wrote_length = false;
    let mut wrote_coding = false;
    let mut wrote_date = false;
    let mut streamed_length = None;
    let mut connection = ConnectionTokens::default();
    let mut saw_connection = false;
    let mut current: Option<&HeaderName> = None;
    let mut kind = Name::Other;
    // The joined line of `kind` that is still open.
    let mut open = false;
    // The open `Transfer-Encoding` line's last coding is not chunked.
    let mut add_chunked = false;

    for (name, value) in head.headers {
        if current != Some(name) {
            if open {
                finish_line(kind, add_chunked, &connection, fix, out);
                open = false;
            }
            current = Some(name);
            kind = Name::of(name);
        }
        match kind {
            Name::Other => line(out, name, value),
            Name::Date => {
                wrote_date = true;
                line(out, name, value);
            }
            Name::ContentLength => {
                // A tunnel has no framing (RFC 9110, 9.3.6).
                if tunnel {
                    continue;
                }
                if wrote_coding {
                    return Err(Refused::LengthAndTransferEncoding);
                }
                match body {
                    Body::Known(length) => {
                        if !wrote_length {
                            out.extend_from_slice(b"content-length: ");
                            // Where no body follows, the value says what a
                            // GET or a 200 would get; where one does, the
                            // body's length is what is sent.
                            if no_body || parse_length(value) == Some(length) {
                                out.extend_from_slice(value.as_bytes());
                            } else {
                                push_decimal(length, out);
                            }
                            out.extend_from_slice(b"\r\n");
                            framing = Framing::Length(length);
                            wrote_length = true;
                        }
                    }
                    Body::Streamed => {
                        let length = parse_length(value).ok_or(Refused::InvalidContentLength)?;
                        match streamed_length {
                            None => {
                                line(out, name, value);
                                framing = Framing::Length(length);
                                wrote_length = true;
                                streamed_length = Some(length);
                            }
                            Some(first) if first != length => {
                                return Err(Refused::ConflictingContentLength);
                            }
                            Some(_) => {}
                        }
                    }
                    // The length of the body a GET would get.
                    Body::Empty if answering.head_request => {
                        if !wrote_length {
                            line(out, name, value);
                            wrote_length = true;
                        }
                    }
                    // Nothing follows, whatever the header says: the
                    // `content-length: 0` written below says so.
                    Body::Empty => {}
                }
            }
            Name::TransferEncoding => {
                if tunnel {
                    continue;
                }
                if wrote_length {
                    return Err(Refused::LengthAndTransferEncoding);
                }
                // HTTP/1.0 has no chunked coding, and these have no body.
                if !can_chunk {
                    continue;
                }
                add_chunked = !is_chunked(value);
                if wrote_coding {
                    out.extend_from_slice(b", ");
                } else {
                    out.extend_from_slice(b"transfer-encoding: ");
                    framing = Framing::Chunked;
                    wrote_coding = true;
                    open = true;
                }
                out.extend_from_slice(value.as_bytes());
            }
            Name::Connection => {
                connection.see(value);
                if saw_connection {
                    out.extend_from_slice(b", ");
                } else {
                    out.extend_from_slice(b"connection: ");
                    saw_connection = true;
                    open = true;
                }
                out.extend_from_slice(value.as_bytes());
            }
            Name::Trailer => {
                // Trailers need the chunked coding.
                if !can_chunk {
                    continue;
                }
                if open {
                    out.extend_from_slice(b", ");
                } else {
                    out.extend_from_slice(b"trailer: ");
                    open = true;
                }
                out.extend_from_slice(value.as_bytes());
            }
        }
    }
    if open {
        finish_line(kind, add_chunked, &connection, fix, out);
    }
    if !saw_connection {
        if fix.add_close {
            out.extend_from_slice(b"connection: close\r\n");
        } else if fix.add_keep_alive {
            out.extend_from_slice(b"connection: keep-alive\r\n");
        }
    }

    if !wrote_length && !wrote_coding && !tunnel {
        match body {
            Body::Streamed if can_chunk => {
                out.extend_from_slice(b"transfer-encoding: chunked\r\n");
                framing = Framing::Chunked;
            }
            Body::Streamed => framing = Framing::UntilClose,
            Body::Empty => {
                if !no_length && !answering.head_request {
                    out.extend_from_slice(b"content-length: 0\r\n");
                }
            }
            Body::Known(length) => {
                if !no_length {
                    out.extend_from_slice(b"content-length: ");
                    push_decimal(length, out);
                    out.extend_from_slice(b"\r\n");
                    framing = Framing::Length(length);
                }
            }
        }
    }
    if no_body {
        framing = Framing::None;
    }

    if wrote_date {
        out.extend_from_slice(b"\r\n");
    } else {
        out.extend_from_slice(b"date: ");
        push_date(out);
        out.extend_from_slice(b"\r\n\r\n");
    }

    // An HTTP/1.0 response to an HTTP/1.0 request closes unless it says
    // keep-alive itself.
    let keep_alive = answering.keep_alive
        && !(request_10 && head.version == Version::HTTP_10 && !connection.keep_alive);
    let close = !upgrade && (!keep_alive || connection.close || framing == Framing::UntilClose);
    Ok(Encoded {
        framing,
        close,
        refused: None,
    })
}

/// The token the encoder adds to the `Connection` header, if any.
#[derive(Clone, Copy)]
struct ConnectionFix {
    /// The connection closes although the HTTP/1.1 client expects it to go
    /// on: say so, unless the response does.
    add_close: bool,
    /// The connection goes on although an HTTP/1.0 client expects it to
    /// close: say so, unless the response says something.
    add_keep_alive: bool,
}

/// The tokens seen in a response's `Connection` values.
#[derive(Default)]
struct ConnectionTokens {
    /// A `close`: the connection ends after this response.
    close: bool,
    /// A `keep-alive`: an HTTP/1.0 client is already told.
    keep_alive: bool,
}

impl ConnectionTokens {
    /// Notes the tokens of one `Connection` value.
    fn see(&mut self, value: &HeaderValue) {
        if let Ok(value) = value.to_str() {
            for token in value.split(',') {
                let token = token.trim();
                self.close |= token.eq_ignore_ascii_case("close");
                self.keep_alive |= token.eq_ignore_ascii_case("keep-alive");
            }
        }
    }
}

/// Ends the joined line of `kind`, with what the encoder adds to it.
fn finish_line(
    kind: Name,
    add_chunked: bool,
    connection: &ConnectionTokens,
    fix: ConnectionFix,
    out: &mut Vec<u8>,
) {
    match kind {
        // The chunked coding must come last (RFC 9112, 6.1).
        Name::TransferEncoding if add_chunked => out.extend_from_slice(b", chunked"),
        Name::Connection if fix.add_close && !connection.close => {
            out.extend_from_slice(b", close");
        }
        Name::Connection if fix.add_keep_alive && !connection.keep_alive && !connection.close => {
            out.extend_from_slice(b", keep-alive");
        }
        _ => {}
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends `name: value` and its line end.
fn line(out: &mut Vec<u8>, name: &HeaderName, value: &HeaderValue) {
    out.extend_from_slice(name.as_str().as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// A `Content-Length` value: digits only, no sign or spaces, no overflow.
fn parse_length(value: &HeaderValue) -> Option<u64> {
    let digits = value.as_bytes();
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |length, &digit| {
        if digit.is_ascii_digit() {
            length.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
        } else {
            None
        }
    })
}

/// The last coding of a `Transfer-Encoding` value is chunked.
fn is_chunked(value: &HeaderValue) -> bool {
    value.to_str().is_ok_and(|value| {
        value
            .rsplit(',')
            .next()
            .is_some_and(|coding| coding.trim().eq_ignore_ascii_case("chunked"))
    })
}

/// Appends `n` in decimal.
fn push_decimal(n: u64, out: &mut Vec<u8>) {
    let mut digits = [0; 20];
    let mut at = digits.len();
    let mut rest = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Appends the 500 that replaces a response the encoder refused, as hyper
/// writes it in place of a 1xx: HTTP/1.1 whatever the request, and nothing
/// but the framing and the date.
fn refuse(refused: Refused, answering: &Answering, out: &mut Vec<u8>) -> Encoded {
    out.reserve(80);
    out.extend_from_slice(b"HTTP/1.1 500 Internal Server Error\r\n");
    if !answering.head_request {
        out.extend_from_slice(b"content-length: 0\r\n");
    }
    out.extend_from_slice(b"date: ");
    push_date(out);
    out.extend_from_slice(b"\r\n\r\n");
    Encoded {
        framing: Framing::None,
        close: true,
        refused: Some(refused),
    }
}

/// The length of an IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`.
const DATE_LEN: usize = 29;

/// The last second an IMF-fixdate can say (9999-12-31 23:59:59).
const LAST_DATE_SECOND: u64 = 253_402_300_799;

/// A `Date` value and the second it says.
#[derive(Clone, Copy)]
pub(crate) struct CachedDate {
    /// Seconds since the Unix epoch; `u64::MAX` before the first date.
    second: u64,
    /// The IMF-fixdate of `second`.
    text: [u8; DATE_LEN],
}

thread_local! {
    /// The date of the last response written on this thread: formatting it
    /// costs more than the rest of a head, and it changes once a second.
    static DATE: Cell<CachedDate> = const {
        Cell::new(CachedDate { second: u64::MAX, text: [0; DATE_LEN] })
    };
}

/// Reads the clock for the `Date` of the responses encoded from now on on
/// this thread: once per poll of a connection rather than once per
/// response, which a batch of pipelined responses would repeat.
pub(crate) fn refresh_date() -> CachedDate {
    let second = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
        .min(LAST_DATE_SECOND);
    let mut date = DATE.get();
    if date.second != second {
        let text = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(second));
        // Every second up to LAST_DATE_SECOND formats to DATE_LEN bytes.
        if let Ok(text) = text.as_bytes().try_into() {
            date = CachedDate { second, text };
            DATE.set(date);
        }
    }
    date
}

/// Appends the date last read as a `Date` value (read now if never).
fn push_date(out: &mut Vec<u8>) {
    let mut date = DATE.get();
    if date.second == u64::MAX {
        date = refresh_date();
    }
    out.extend_from_slice(&date.text);
}

#[cfg(test)]
mod tests;
