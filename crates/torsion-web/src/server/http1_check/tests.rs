use http::StatusCode;

use super::{Checked, Http1Check, Verdict};

fn checker() -> Http1Check {
    Http1Check::new(1024, 10)
}

/// Checks `bytes` whole and in pieces of every size from 1 to 7: framing
/// bugs live at the boundaries. Gives what passed and the verdict, which
/// must be the same for every split.
fn check_split(input: &[u8]) -> (Vec<u8>, Verdict) {
    let whole = check_in_pieces(input, input.len().max(1));
    for size in 1..=7 {
        let split = check_in_pieces(input, size);
        assert_eq!(split.1, whole.1, "verdict differs at pieces of {size}");
        if whole.1 == Verdict::Fine {
            assert_eq!(split.0, whole.0, "bytes passed differ at pieces of {size}");
        }
    }
    whole
}

fn check_in_pieces(input: &[u8], size: usize) -> (Vec<u8>, Verdict) {
    let mut check = checker();
    let mut passed = Vec::new();
    for piece in input.chunks(size) {
        let mut piece = piece.to_vec();
        let Checked { pass, verdict } = check.check(&mut piece);
        passed.extend_from_slice(&piece[..pass]);
        if verdict != Verdict::Fine {
            return (passed, verdict);
        }
    }
    (passed, Verdict::Fine)
}

fn refused_status(input: &[u8]) -> Option<StatusCode> {
    match check_split(input).1 {
        Verdict::Fine => None,
        Verdict::Refuse(refusal) | Verdict::Broken(refusal) => Some(refusal.status),
    }
}

#[test]
fn a_plain_pipeline_passes_whole_and_counts_its_heads() {
    let input = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n\
                  POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc\
                  POST /y HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\
                  3;n=v\r\nabc\r\n0\r\nT: 1\r\n\r\n";
    let (passed, verdict) = check_split(input);
    assert_eq!(verdict, Verdict::Fine);
    assert_eq!(passed, input);
    let mut check = checker();
    check.check(&mut input.to_vec());
    assert_eq!(check.heads(), 3);
}

#[test]
fn a_higher_http_1_minor_version_is_rewritten_to_1_1() {
    let (passed, verdict) = check_split(b"GET / HTTP/1.2\r\nHost: a\r\n\r\n");
    assert_eq!(verdict, Verdict::Fine);
    assert_eq!(passed, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
}

#[test]
fn body_bytes_that_look_like_a_request_line_are_left_alone() {
    let input = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 14\r\n\r\nX / HTTP/1.2\r\n";
    let (passed, verdict) = check_split(input);
    assert_eq!(verdict, Verdict::Fine);
    assert_eq!(passed, input);
}

#[test]
fn a_bad_request_after_good_ones_passes_only_the_good_ones() {
    let good = b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\n";
    let mut input = good.to_vec();
    input.extend_from_slice(b"GET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\n\r\n");
    let mut check = checker();
    let Checked { pass, verdict } = check.check(&mut input);
    assert_eq!(pass, good.len());
    let Verdict::Refuse(refusal) = verdict else {
        panic!("refused: {verdict:?}");
    };
    assert_eq!(refusal.status, StatusCode::BAD_REQUEST);
    assert_eq!(refusal.reason, "no Host in an HTTP/1.1 request");
    assert_eq!(refusal.request_line.as_deref(), Some("GET /2 HTTP/1.1"));
    assert_eq!(check.heads(), 1);
}

#[test]
fn a_request_refused_in_its_body_is_not_counted_as_handed_on() {
    let mut input =
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec();
    let mut check = checker();
    let Checked { pass, verdict } = check.check(&mut input);
    assert_eq!(pass, 0);
    assert!(matches!(verdict, Verdict::Refuse(_)), "{verdict:?}");
    assert_eq!(check.heads(), 0);
}

#[test]
fn a_malformed_body_after_its_head_went_on_breaks_the_connection() {
    let mut check = checker();
    let mut head = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    assert_eq!(check.check(&mut head).verdict, Verdict::Fine);
    let Checked { pass, verdict } = check.check(&mut b"5\0\r\n".to_vec());
    assert_eq!(pass, 0);
    assert!(matches!(verdict, Verdict::Broken(_)), "{verdict:?}");
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
    assert_eq!(check_in_pieces(&input, 4096).1, Verdict::Fine);
}

#[test]
fn a_request_that_may_switch_protocols_waits_for_its_answer_once_whole() {
    let mut check = checker();
    let mut head = b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n".to_vec();
    check.check(&mut head);
    assert!(!check.awaits_switch(), "not before the head is whole");
    check.check(&mut b"\r\n".to_vec());
    assert!(check.awaits_switch());
    check.resume();
    assert!(!check.awaits_switch());
    let mut next = b"GET / HTTP/1.1\r\n\r\n".to_vec();
    assert!(matches!(check.check(&mut next).verdict, Verdict::Refuse(_)));
}

#[test]
fn a_connect_with_a_body_waits_only_once_the_body_is_in() {
    let mut check = checker();
    let mut head = b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nContent-Length: 2\r\n\r\nx".to_vec();
    check.check(&mut head);
    assert!(!check.awaits_switch());
    check.check(&mut b"y".to_vec());
    assert!(check.awaits_switch());
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

proptest::proptest! {
    #![proptest_config(crate::fuzzing::property_config(3000))]

    /// A head that arrives whole is read by `whole_head`; the state
    /// machine alone must come to the same: what passes, the verdict, the
    /// heads counted, the line logged, for the same pieces.
    #[test]
    fn whole_heads_are_read_as_the_state_machine_reads_them(
        input in request_like(),
        piece in 1usize..64,
        max_head in 16usize..200,
    ) {
        let read = |piece: usize, state_machine_only: bool| {
            let mut check = Http1Check::new(max_head, 4);
            check.state_machine_only = state_machine_only;
            let mut passed = Vec::new();
            let mut verdict = Verdict::Fine;
            for piece in input.chunks(piece) {
                let mut piece = piece.to_vec();
                let checked = check.check(&mut piece);
                passed.extend_from_slice(&piece[..checked.pass]);
                if checked.verdict != Verdict::Fine {
                    verdict = checked.verdict;
                    break;
                }
                if check.awaits_switch() {
                    check.resume();
                }
            }
            (passed, verdict, check.heads(), check.request_line(), check.mid_head())
        };
        for piece in [input.len(), piece] {
            proptest::prop_assert_eq!(read(piece, false), read(piece, true));
        }
    }
}
