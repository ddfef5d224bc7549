use http::StatusCode;
use proptest::prelude::any;

use super::fields::Field;
use super::spans::FieldSpan;
use super::{BodyFraming, HeadSpans, Http1Check, Refusal, Step};

fn checker() -> Http1Check {
    Http1Check::new(1024, 10)
}

/// A request as a connection gets it from [`Http1Check::read`].
#[derive(Debug, PartialEq, Eq)]
struct Request {
    /// The head's bytes, as the buffer holds them once read.
    head: Vec<u8>,
    framing: BodyFraming,
    may_switch: bool,
    spans: HeadSpans,
    /// The body's content, without its framing.
    body: Vec<u8>,
    /// The body was read to its end.
    ended: bool,
}

/// How reading a connection's bytes ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// Every byte was read; `head_so_far` of them begin a head not whole
    /// yet.
    Fine { head_so_far: usize },
    /// A request was refused while its head was read.
    Refuse(Refusal),
    /// A body was malformed.
    Broken(Refusal),
}

/// All that came of reading some bytes.
#[derive(Debug, PartialEq, Eq)]
struct Read {
    requests: Vec<Request>,
    end: End,
    /// The request line the parser holds for the log at the end.
    request_line: Option<String>,
}

impl Read {
    fn is_fine(&self) -> bool {
        matches!(self.end, End::Fine { .. })
    }

    /// The bodies' content, in order.
    fn bodies(&self) -> Vec<&[u8]> {
        self.requests.iter().map(|r| &r.body[..]).collect()
    }
}

/// Reads `input` whole and in pieces of every size from 1 to 7: framing
/// bugs live at the boundaries. Gives what came of it, which must be the
/// same for every split.
fn read_split(input: &[u8]) -> Read {
    let whole = read_in_pieces(checker(), input, input.len().max(1));
    for size in 1..=7 {
        let split = read_in_pieces(checker(), input, size);
        assert_eq!(split, whole, "read differently in pieces of {size}");
    }
    whole
}

/// Reads `input` arriving in pieces of `size` with `check`, as a
/// connection does: the bytes a step leaves unread stay in the buffer, to
/// be read on with the next piece.
fn read_in_pieces(mut check: Http1Check, input: &[u8], size: usize) -> Read {
    let mut requests: Vec<Request> = Vec::new();
    let mut buffer = Vec::new();
    // How many bytes at the buffer's start belong to a head cut short, and
    // were read already.
    let mut checked = 0;
    let mut in_body = false;
    let end = 'read: {
        for piece in input.chunks(size) {
            buffer.extend_from_slice(piece);
            loop {
                if in_body {
                    if buffer.is_empty() {
                        break;
                    }
                    match check.read(&mut buffer) {
                        Step::Body { used, data, end } => {
                            assert!(used > 0 && used <= buffer.len(), "used {used}");
                            assert!(data.end == used, "content {data:?} not at {used}");
                            assert!(
                                used == buffer.len() || end || !data.is_empty(),
                                "stopped short of a run's end"
                            );
                            let request = requests.last_mut().expect("a head first");
                            request.body.extend_from_slice(&buffer[data]);
                            buffer.drain(..used);
                            if end {
                                request.ended = true;
                                in_body = false;
                            }
                        }
                        Step::Broken(refusal) => break 'read End::Broken(refusal),
                        other => panic!("{other:?} in a body"),
                    }
                } else {
                    if checked == buffer.len() {
                        break;
                    }
                    match check.read(&mut buffer[checked..]) {
                        Step::MoreHead => {
                            checked = buffer.len();
                            break;
                        }
                        Step::Head {
                            used,
                            body,
                            may_switch,
                        } => {
                            assert!(used > 0 && checked + used <= buffer.len());
                            let head = buffer.drain(..checked + used).collect();
                            checked = 0;
                            in_body = body != BodyFraming::Empty;
                            requests.push(Request {
                                head,
                                framing: body,
                                may_switch,
                                spans: check.spans().clone(),
                                body: Vec::new(),
                                ended: !in_body,
                            });
                        }
                        Step::Refuse(refusal) => break 'read End::Refuse(refusal),
                        other => panic!("{other:?} outside a body"),
                    }
                }
            }
        }
        End::Fine {
            head_so_far: checked,
        }
    };
    for request in &requests {
        if let (BodyFraming::Length(length), true) = (request.framing, request.ended) {
            assert_eq!(request.body.len() as u64, length);
        }
    }
    Read {
        requests,
        end,
        request_line: check.request_line(),
    }
}

/// The status of the refusal of a request in `input` while its head was
/// read, read in every split; `None` when all was read fine.
fn refused_status(input: &[u8]) -> Option<StatusCode> {
    match read_split(input).end {
        End::Fine { .. } => None,
        End::Refuse(refusal) => Some(refusal.status),
        End::Broken(refusal) => panic!("a head refusal, not a broken body: {refusal:?}"),
    }
}

#[test]
fn a_plain_pipeline_is_read_whole_head_by_head() {
    let input = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n\
                  POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc\
                  POST /y HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\
                  3;n=v\r\nabc\r\n0\r\nT: 1\r\n\r\n";
    let read = read_split(input);
    assert_eq!(read.end, End::Fine { head_so_far: 0 });
    let heads: Vec<&[u8]> = read.requests.iter().map(|r| &r.head[..]).collect();
    assert_eq!(
        heads,
        [
            &b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"[..],
            b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n",
            b"POST /y HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
        ]
    );
    let framings: Vec<BodyFraming> = read.requests.iter().map(|r| r.framing).collect();
    assert_eq!(
        framings,
        [
            BodyFraming::Empty,
            BodyFraming::Length(3),
            BodyFraming::Chunked
        ]
    );
    assert_eq!(read.bodies(), [&b""[..], b"abc", b"abc"]);
    assert!(read.requests.iter().all(|r| r.ended && !r.may_switch));
    assert_eq!(read.request_line, None);
}

#[test]
fn a_higher_http_1_minor_version_is_rewritten_to_1_1_in_the_buffer() {
    let read = read_split(b"GET / HTTP/1.2\r\nHost: a\r\n\r\n");
    assert!(read.is_fine(), "{read:?}");
    assert_eq!(read.requests.len(), 1);
    assert_eq!(read.requests[0].head, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert!(!read.requests[0].spans.http10);
}

#[test]
fn body_bytes_that_look_like_a_request_line_are_left_alone() {
    let input = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 14\r\n\r\nX / HTTP/1.2\r\n";
    let read = read_split(input);
    assert_eq!(read.end, End::Fine { head_so_far: 0 });
    assert_eq!(read.requests.len(), 1);
    assert_eq!(read.bodies(), [b"X / HTTP/1.2\r\n"]);
}

#[test]
fn a_bad_request_after_good_ones_is_refused_after_their_heads_are_read() {
    let good = b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\n";
    let mut input = good.to_vec();
    input.extend_from_slice(b"GET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\n\r\n");
    let read = read_split(&input);
    let heads: Vec<&[u8]> = read.requests.iter().map(|r| &r.head[..]).collect();
    assert_eq!(heads, [good]);
    let End::Refuse(refusal) = read.end else {
        panic!("refused: {:?}", read.end);
    };
    assert_eq!(refusal.status, StatusCode::BAD_REQUEST);
    assert_eq!(refusal.reason, "no Host in an HTTP/1.1 request");
    assert_eq!(refusal.request_line.as_deref(), Some("GET /2 HTTP/1.1"));
}

/// The parser reads the head and stops there, so a malformed chunk that
/// arrived with it breaks the body after the head was given whole; the
/// connection, which knows the two arrived together, refuses the request.
#[test]
fn a_malformed_chunk_arriving_with_its_head_breaks_the_body_after_the_head() {
    let head = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    let mut input = head.to_vec();
    input.extend_from_slice(b"zz\r\n");
    let mut check = checker();
    assert_eq!(
        check.read(&mut input),
        Step::Head {
            used: head.len(),
            body: BodyFraming::Chunked,
            may_switch: false,
        }
    );
    let Step::Broken(refusal) = check.read(&mut input[head.len()..]) else {
        panic!("the chunk size is malformed");
    };
    assert_eq!(refusal.status, StatusCode::BAD_REQUEST);
    assert_eq!(refusal.reason, "malformed chunk size");
    assert_eq!(refusal.request_line.as_deref(), Some("POST / HTTP/1.1"));
    let read = read_split(&input);
    assert_eq!(read.requests.len(), 1);
    assert!(!read.requests[0].ended);
    assert_eq!(read.end, End::Broken(refusal));
}

#[test]
fn a_malformed_body_arriving_after_its_head_breaks_the_connection() {
    let mut check = checker();
    let mut head = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    assert!(matches!(check.read(&mut head), Step::Head { .. }));
    let step = check.read(&mut b"5\0\r\n".to_vec());
    assert!(matches!(step, Step::Broken(_)), "{step:?}");
    assert_eq!(check.read(&mut b"5\r\nabcde\r\n".to_vec()), Step::MoreHead);
}

#[test]
fn host_is_required_once_and_valid_on_http_1_1_only() {
    assert_eq!(refused_status(b"GET / HTTP/1.0\r\n\r\n"), None);
    assert_eq!(
        refused_status(b"GET / HTTP/1.1\r\n\r\n"),
        Some(StatusCode::BAD_REQUEST)
    );
    assert_eq!(
        refused_status(b"GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n"),
        Some(StatusCode::BAD_REQUEST)
    );
    for valid in ["", "a.example", "a.example:80", "[::1]:8080", "127.0.0.1"] {
        let request = format!("GET / HTTP/1.1\r\nHost: {valid}\r\n\r\n");
        assert_eq!(refused_status(request.as_bytes()), None, "{valid}");
    }
    for invalid in ["a b", "a:b", "a/b", "[::1", "a@b", "a:80:80"] {
        let request = format!("GET / HTTP/1.1\r\nHost: {invalid}\r\n\r\n");
        assert_eq!(
            refused_status(request.as_bytes()),
            Some(StatusCode::BAD_REQUEST),
            "{invalid}"
        );
    }
}

#[test]
fn transfer_codings_other_than_one_final_chunked_are_refused() {
    let with = |te: &str| {
        let request =
            format!("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: {te}\r\n\r\n0\r\n\r\n");
        refused_status(request.as_bytes())
    };
    assert_eq!(with("chunked"), None);
    assert_eq!(with("Chunked "), None);
    assert_eq!(with("chunked, chunked"), Some(StatusCode::BAD_REQUEST));
    assert_eq!(with("chunked, gzip"), Some(StatusCode::BAD_REQUEST));
    assert_eq!(with("identity"), Some(StatusCode::BAD_REQUEST));
    assert_eq!(with("xchunked"), Some(StatusCode::BAD_REQUEST));
    assert_eq!(with("chunkedx"), Some(StatusCode::BAD_REQUEST));
    assert_eq!(with("gzip, chunked"), Some(StatusCode::NOT_IMPLEMENTED));
}

#[test]
fn content_length_must_be_one_plain_number() {
    let with = |cl: &str| {
        let request = format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {cl}\r\n\r\n");
        refused_status(request.as_bytes())
    };
    assert_eq!(with("0"), None);
    for invalid in [
        "+5",
        "0x5",
        "5,5",
        "5, 5",
        "",
        "99999999999999999999999",
        "5 5",
    ] {
        assert_eq!(with(invalid), Some(StatusCode::BAD_REQUEST), "{invalid:?}");
    }
}

#[test]
fn target_forms_must_suit_the_method() {
    let line = |line: &str| refused_status(format!("{line}\r\nHost: a\r\n\r\n").as_bytes());
    assert_eq!(line("GET http://a/ HTTP/1.1"), None);
    assert_eq!(line("OPTIONS * HTTP/1.1"), None);
    assert_eq!(line("CONNECT a:443 HTTP/1.1"), None);
    assert_eq!(line("GET a:80 HTTP/1.1"), Some(StatusCode::BAD_REQUEST));
    assert_eq!(line("GET * HTTP/1.1"), Some(StatusCode::BAD_REQUEST));
    assert_eq!(line("CONNECT / HTTP/1.1"), Some(StatusCode::BAD_REQUEST));
}

#[test]
fn versions_other_than_1_x_get_505_and_malformed_ones_400() {
    let line = |line: &str| refused_status(format!("{line}\r\nHost: a\r\n\r\n").as_bytes());
    assert_eq!(
        line("GET / HTTP/2.0"),
        Some(StatusCode::HTTP_VERSION_NOT_SUPPORTED)
    );
    assert_eq!(line("GET / HTTP/1"), Some(StatusCode::BAD_REQUEST));
    assert_eq!(line("GET / http/1.1"), Some(StatusCode::BAD_REQUEST));
    assert_eq!(line("GET / HTTP/1.10"), Some(StatusCode::BAD_REQUEST));
}

#[test]
fn an_oversized_request_line_is_414_and_an_oversized_head_431() {
    let long_target = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(2000));
    assert_eq!(
        refused_status(long_target.as_bytes()),
        Some(StatusCode::URI_TOO_LONG)
    );
    let long_head = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
        "a".repeat(2000)
    );
    assert_eq!(
        refused_status(long_head.as_bytes()),
        Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
    );
    let many: String = (0..11).map(|n| format!("X-{n}: a\r\n")).collect();
    let many = format!("GET / HTTP/1.1\r\nHost: a\r\n{many}\r\n");
    assert_eq!(
        refused_status(many.as_bytes()),
        Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
    );
}

#[test]
fn long_chunked_bodies_are_not_held_to_the_head_limit() {
    let mut input = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..1000 {
        input.extend_from_slice(b"1\r\nx\r\n");
    }
    input.extend_from_slice(b"0\r\n\r\n");
    let read = read_in_pieces(checker(), &input, 4096);
    assert!(read.is_fine(), "{read:?}");
    assert_eq!(read.bodies(), [&b"x".repeat(1000)[..]]);
    assert!(read.requests[0].ended);
}

#[test]
fn a_request_that_may_switch_protocols_says_so_once_its_head_is_whole() {
    let mut check = checker();
    let mut head = b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n".to_vec();
    assert_eq!(check.read(&mut head), Step::MoreHead);
    assert_eq!(
        check.read(&mut b"\r\n".to_vec()),
        Step::Head {
            used: 2,
            body: BodyFraming::Empty,
            may_switch: true,
        }
    );
    // Answered without a switch, the connection reads on.
    let mut next = b"GET / HTTP/1.1\r\n\r\n".to_vec();
    assert!(matches!(check.read(&mut next), Step::Refuse(_)));
}

#[test]
fn a_connect_with_a_body_may_switch_once_its_body_is_read() {
    let mut check = checker();
    let head = b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nContent-Length: 2\r\n\r\n";
    let mut input = head.to_vec();
    input.push(b'x');
    assert_eq!(
        check.read(&mut input),
        Step::Head {
            used: head.len(),
            body: BodyFraming::Length(2),
            may_switch: true,
        }
    );
    let body = check.read(&mut input[head.len()..]);
    assert_eq!(
        body,
        Step::Body {
            used: 1,
            data: 0..1,
            end: false,
        }
    );
    let body = check.read(&mut b"y".to_vec());
    assert_eq!(
        body,
        Step::Body {
            used: 1,
            data: 0..1,
            end: true,
        }
    );
}

#[test]
fn a_body_is_read_a_run_of_content_at_a_time() {
    let head = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    let body = b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: v\r\n\r\n";
    let mut check = checker();
    let mut input = head.to_vec();
    input.extend_from_slice(body);
    input.extend_from_slice(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let Step::Head { used, .. } = check.read(&mut input) else {
        panic!("the head is whole");
    };
    let mut at = used;
    let mut steps = Vec::new();
    while let Step::Body { used, data, end } = check.read(&mut input[at..]) {
        steps.push((used, data, end));
        at += used;
        if end {
            break;
        }
    }
    assert_eq!(
        steps,
        [(6, 3..6, false), (11, 9..11, false), (13, 13..13, true)]
    );
    assert_eq!(at, head.len() + body.len());
    assert!(matches!(check.read(&mut input[at..]), Step::Head { .. }));
}

#[test]
fn nothing_is_read_after_a_refusal() {
    let mut check = checker();
    assert!(matches!(
        check.read(&mut b"GET / HTTP/1.1\r\n\r\n".to_vec()),
        Step::Refuse(_)
    ));
    let mut next = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec();
    assert_eq!(check.read(&mut next), Step::MoreHead);
}

/// The line of `field` that starts at `name` in a head, with its colon at
/// `colon` and its end at `end`.
fn field(field: Field, name: u32, colon: u32, end: u32) -> FieldSpan {
    FieldSpan {
        field,
        name,
        colon,
        end,
    }
}

#[test]
fn the_spans_are_the_same_however_the_head_is_read() {
    let head = b"POST /a?b HTTP/1.0\nHost: a\r\nX-Empty:\nX-Long:  some value \r\n\r\n";
    let spans = HeadSpans {
        method: (0, 4),
        target: (5, 9),
        http10: true,
        fields: vec![
            field(Field::Host, 19, 23, 26),
            field(Field::Other, 28, 35, 36),
            field(Field::Other, 37, 43, 57),
        ],
    };
    // Whole, the fast path reads it.
    let mut check = checker();
    assert_eq!(check.whole_head(head), Some(head.len()));
    assert_eq!(check.spans(), &spans);
    let mut check = checker();
    check.state_machine_only = true;
    let read = read_in_pieces(check, head, head.len());
    assert_eq!(read.requests[0].spans, spans);
    assert_eq!(read_split(head).requests[0].spans, spans);
    // Empty lines before the request are part of its head, and only the
    // state machine reads them.
    let mut late = b"\r\n\n".to_vec();
    late.extend_from_slice(head);
    assert_eq!(checker().whole_head(&late), None);
    let shift = |(start, end): (u32, u32)| (start + 3, end + 3);
    let late_spans = HeadSpans {
        method: shift(spans.method),
        target: shift(spans.target),
        http10: true,
        fields: spans
            .fields
            .iter()
            .map(|f| field(f.field, f.name + 3, f.colon + 3, f.end + 3))
            .collect(),
    };
    let read = read_split(&late);
    assert_eq!(read.requests[0].head, late);
    assert_eq!(read.requests[0].spans, late_spans);
}

#[test]
fn the_spans_are_of_the_last_head_read() {
    let input = b"GET /one HTTP/1.1\r\nHost: a\r\nA: 1\r\n\r\nPUT /2 HTTP/1.1\r\nHost: b\r\n\r\n";
    let read = read_split(input);
    let second = &read.requests[1];
    assert_eq!(second.head, b"PUT /2 HTTP/1.1\r\nHost: b\r\n\r\n");
    assert_eq!(
        second.spans,
        HeadSpans {
            method: (0, 3),
            target: (4, 6),
            http10: false,
            fields: vec![field(Field::Host, 17, 21, 24)],
        }
    );
}

/// Request-like bytes: mostly well-formed heads, bodies and pipelines,
/// with the pieces a malformed one is made of mixed in.
fn request_like() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    const PIECES: &[&[u8]] = &[
        b"GET / HTTP/1.1\r\n",
        b"POST /a?b=c HTTP/1.1\r\n",
        b"OPTIONS * HTTP/1.1\r\n",
        b"CONNECT a:443 HTTP/1.1\r\n",
        b"GET http://a/b HTTP/1.0\n",
        b"GET / HTTP/1.2\r\n",
        b"GET / HTTP/2.0\r\n",
        b"G(T / HTTP/1.1\r\n",
        b"GET  / HTTP/1.1\r\n",
        b"\r\n",
        b"\n",
        b"\r",
        b"Host: a\r\n",
        b"host: 127.0.0.1:8080 \r\n",
        b"Host: [::1]:80\n",
        b"Host: a b\r\n",
        b"Content-Length: 3\r\n",
        b"Content-Length: 3, 3\r\n",
        b"Transfer-Encoding: chunked\r\n",
        b"Transfer-Encoding:  \r\n",
        b"Transfer-Encoding: gzip\r\n",
        b"Upgrade: websocket\r\n",
        b"X-Other: some value\twith a tab\r\n",
        b"X-Bytes: \x80\xff\r\n",
        b"X-Control: a\x01b\r\n",
        b"X-Folded: a\r\n b\r\n",
        b"Name : v\r\n",
        b"abc",
        b"3;e=v\r\nabc\r\n0\r\nT: v\r\n\r\n",
        b"0\r\n\r\n",
    ];
    proptest::collection::vec(proptest::sample::select(PIECES), 1..24)
        .prop_map(|pieces| pieces.concat())
}

/// A well-formed request: its head, its body as sent, and the body's
/// content.
#[derive(Clone, Debug)]
struct Sent {
    head: Vec<u8>,
    body: Vec<u8>,
    content: Vec<u8>,
}

/// Well-formed pipelines: heads with CRLF or bare LF line ends and empty
/// lines before them, no body, a body of a Content-Length, or chunks with
/// extensions and trailers, the content any bytes.
fn pipeline() -> impl proptest::strategy::Strategy<Value = Vec<Sent>> {
    use proptest::prelude::*;
    const LINES: &[&str] = &[
        "GET / HTTP/1.1",
        "POST /a?b=c HTTP/1.1",
        "PUT http://a/b HTTP/1.1",
        "OPTIONS * HTTP/1.1",
    ];
    const FIELDS: &[&str] = &[
        "Accept: */*",
        "X-Empty:",
        "User-Agent:  a b\tc ",
        "X-Long: 0123456789abcdefghijklmnopqrstuvwxyz0123456789",
    ];
    let content = || proptest::collection::vec(any::<u8>(), 1..40);
    let body = prop_oneof![
        Just(None),
        content().prop_map(|content| Some((content, None))),
        (
            proptest::collection::vec(content(), 0..4),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(chunks, extension, trailers)| {
                Some((chunks.concat(), Some((chunks, extension, trailers))))
            }),
    ];
    let request = (
        proptest::sample::select(LINES),
        any::<bool>(),
        0usize..3,
        proptest::collection::vec(proptest::sample::select(FIELDS), 0..4),
        body,
    )
        .prop_map(|(line, crlf, empty_lines, fields, body)| {
            let eol = if crlf { "\r\n" } else { "\n" };
            let mut head = eol.repeat(empty_lines);
            head += &format!("{line}{eol}Host: a{eol}");
            for field in fields {
                head += &format!("{field}{eol}");
            }
            let (body, content) = match body {
                None => (Vec::new(), Vec::new()),
                Some((content, None)) => {
                    head += &format!("Content-Length: {}{eol}", content.len());
                    (content.clone(), content)
                }
                Some((content, Some((chunks, extension, trailers)))) => {
                    head += &format!("Transfer-Encoding: chunked{eol}");
                    let mut body = Vec::new();
                    for chunk in chunks {
                        let extension = if extension { ";e=\"v\"" } else { "" };
                        body.extend(format!("{:x}{extension}\r\n", chunk.len()).bytes());
                        body.extend(chunk);
                        body.extend(b"\r\n");
                    }
                    body.extend(b"0\r\n");
                    if trailers {
                        body.extend(b"T: v\r\nU:\r\n");
                    }
                    body.extend(b"\r\n");
                    (body, content)
                }
            };
            head += eol;
            Sent {
                head: head.into_bytes(),
                body,
                content,
            }
        });
    proptest::collection::vec(request, 1..5)
}

/// The bytes a pipeline sends.
fn sent(requests: &[Sent]) -> Vec<u8> {
    requests
        .iter()
        .flat_map(|sent| [&sent.head[..], &sent.body[..]])
        .flatten()
        .copied()
        .collect()
}

proptest::proptest! {
    #![proptest_config(crate::fuzzing::property_config(3000))]

    /// Each request of a pipeline is read as sent, its head whole and its
    /// body's content without the framing, in whatever pieces it arrives.
    #[test]
    fn pipelines_are_read_as_sent_however_they_arrive(
        requests in pipeline(),
        piece in 1usize..64,
    ) {
        let input = sent(&requests);
        let read = read_in_pieces(checker(), &input, piece);
        proptest::prop_assert_eq!(&read.end, &End::Fine { head_so_far: 0 });
        proptest::prop_assert_eq!(read.requests.len(), requests.len());
        for (read, sent) in read.requests.iter().zip(&requests) {
            proptest::prop_assert_eq!(&read.head, &sent.head);
            proptest::prop_assert_eq!(&read.body, &sent.content);
            proptest::prop_assert!(read.ended);
        }
        proptest::prop_assert_eq!(read, read_in_pieces(checker(), &input, input.len()));
    }

    /// A pipeline with one byte changed, or cut short, is read to the same
    /// end in whatever pieces it arrives: the same heads, content and
    /// refusal.
    #[test]
    fn a_pipeline_gone_wrong_is_read_the_same_however_it_arrives(
        requests in pipeline(),
        at in any::<proptest::sample::Index>(),
        byte in any::<u8>(),
        cut in any::<bool>(),
        piece in 1usize..64,
    ) {
        let mut input = sent(&requests);
        let at = at.index(input.len());
        if cut {
            input.truncate(at);
        } else {
            input[at] = byte;
        }
        let whole = read_in_pieces(checker(), &input, input.len().max(1));
        proptest::prop_assert_eq!(&read_in_pieces(checker(), &input, piece), &whole);
        let mut check = checker();
        check.state_machine_only = true;
        proptest::prop_assert_eq!(&read_in_pieces(check, &input, piece), &whole);
    }

    /// A head that arrives whole is read by `whole_head`; the state
    /// machine alone, and both in pieces, must come to the same: the heads
    /// with their spans, the bodies, how reading ended, the line logged.
    #[test]
    fn whole_heads_are_read_as_the_state_machine_reads_them(
        input in request_like(),
        piece in 1usize..64,
        max_head in 16usize..200,
    ) {
        let read = |piece: usize, state_machine_only: bool| {
            let mut check = Http1Check::new(max_head, 4);
            check.state_machine_only = state_machine_only;
            read_in_pieces(check, &input, piece)
        };
        let whole = read(input.len(), false);
        proptest::prop_assert_eq!(&read(input.len(), true), &whole);
        proptest::prop_assert_eq!(&read(piece, true), &whole);
        proptest::prop_assert_eq!(&read(piece, false), &whole);
    }
}
