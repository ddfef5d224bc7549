use std::io::{BufRead, BufReader, Write};
use std::time::Duration;

use super::*;
use crate::error::ConnectionDone;
use crate::net::Protocol;
use crate::testing::{CHUNK_SIZES, feed_in_chunks, replay_protocol};
use crate::testing::{Loopback, StringTransport};

/// Records what it is given and reacts to a few command lines, after
/// Twisted's `LineTester`:
///
/// - `len N`: the next raw-mode stretch is N bytes long;
/// - an empty line: switch to raw mode; after N raw bytes, back to line
///   mode with the rest;
/// - `pause`: pause; `quit`: close; `clear`: clear the buffer (kept in
///   `cleared`).
///
/// A line over the maximum is recorded, and line mode restarts after its
/// first `max_length + 1` bytes.
#[derive(Default)]
struct Tester {
    received: Vec<Vec<u8>>,
    raw_chunks: Vec<Vec<u8>>,
    exceeded: Vec<Vec<u8>>,
    cleared: Vec<u8>,
    lost: Vec<Failure>,
    length: usize,
    /// Close on a long line as the default hook does.
    close_on_long_line: bool,
    /// Send raw data to `raw_chunks` and never switch back.
    plain_raw: bool,
}

impl LineHandler for Tester {
    fn line_received(&mut self, ctx: &mut LineContext<'_>, line: &[u8]) {
        self.received.push(line.to_vec());
        if line.is_empty() || line == b"raw" {
            ctx.set_raw_mode();
        } else if line == b"pause" {
            ctx.pause_producing();
        } else if line == b"quit" {
            ctx.lose_connection();
        } else if line == b"clear" {
            self.cleared = ctx.clear_line_buffer();
        } else if let Some(n) = line.strip_prefix(b"len ") {
            self.length = std::str::from_utf8(n).unwrap().parse().unwrap();
        }
    }

    fn raw_data_received(&mut self, ctx: &mut LineContext<'_>, data: &[u8]) {
        if self.plain_raw {
            self.raw_chunks.push(data.to_vec());
            return;
        }
        let n = self.length.min(data.len());
        let (data, rest) = data.split_at(n);
        self.length -= n;
        self.received.last_mut().unwrap().extend_from_slice(data);
        if self.length == 0 {
            ctx.set_line_mode(rest);
        }
    }

    fn line_length_exceeded(&mut self, ctx: &mut LineContext<'_>, buffer: &[u8]) {
        self.exceeded.push(buffer.to_vec());
        if self.close_on_long_line {
            ctx.lose_connection();
        } else if buffer.len() > ctx.max_length() + 1 {
            ctx.set_line_mode(&buffer[ctx.max_length() + 1..]);
        }
    }

    fn connection_lost(&mut self, _: &mut LineContext<'_>, reason: Failure) {
        self.lost.push(reason);
    }
}

fn tester() -> Tester {
    Tester {
        close_on_long_line: true,
        ..Tester::default()
    }
}

fn connected(handler: Tester) -> (StringTransport, LineReceiver<Tester>) {
    let fake = StringTransport::new();
    let mut protocol = LineReceiver::new(handler);
    fake.make_connection(&mut protocol);
    (fake, protocol)
}

fn lines(list: &[&[u8]]) -> Vec<Vec<u8>> {
    list.iter().map(|line| line.to_vec()).collect()
}

#[test]
fn lines_are_split_on_the_delimiter_at_every_chunk_size() {
    let (received, rest) = replay_protocol(
        b"a\r\nb\r\nc",
        || LineReceiver::new(tester()),
        |protocol, _| {
            (
                protocol.handler().received.clone(),
                protocol.framed.buffered(),
            )
        },
    );
    assert_eq!(received, lines(&[b"a", b"b"]));
    assert_eq!(rest, 1);
}

#[test]
fn lf_and_crlf_both_end_lines_with_the_crlf_or_lf_delimiter() {
    let received = replay_protocol(
        b"typed with nc\ntyped with telnet\r\n\nlast\r",
        || LineReceiver::new(tester()).with_delimiter(Delimiter::CrLfOrLf),
        |protocol, _| protocol.handler().received.clone(),
    );
    assert_eq!(
        received,
        lines(&[b"typed with nc", b"typed with telnet", b""])
    );
}

#[test]
fn lines_are_sent_with_crlf_under_the_crlf_or_lf_delimiter() {
    let fake = StringTransport::new();
    let mut protocol = LineReceiver::new(tester()).with_delimiter(Delimiter::CrLfOrLf);
    fake.make_connection(&mut protocol);
    protocol.send_line(b"hello");
    assert_eq!(fake.value(), b"hello\r\n");
}

#[test]
fn the_largest_maximum_line_length_does_not_overflow() {
    let (fake, mut protocol) = {
        let fake = StringTransport::new();
        let mut protocol = LineReceiver::new(tester()).with_max_length(usize::MAX);
        fake.make_connection(&mut protocol);
        (fake, protocol)
    };
    let long = vec![b'x'; 100_000];
    protocol.data_received(&long);
    assert!(protocol.handler().exceeded.is_empty());
    protocol.data_received(b"\r\n");
    assert_eq!(protocol.handler().received, vec![long]);
    assert!(!fake.is_disconnecting());
}

#[test]
fn empty_lines_are_delivered() {
    let fake = StringTransport::new();
    let mut protocol = LineReceiver::new(Tester {
        plain_raw: true,
        ..tester()
    });
    fake.make_connection(&mut protocol);
    protocol.data_received(b"x\r\n\r\n");
    assert_eq!(protocol.handler().received, lines(&[b"x", b""]));
}

#[test]
fn a_lone_delimiter_byte_does_not_end_a_line() {
    for size in CHUNK_SIZES {
        let (_, mut protocol) = connected(tester());
        feed_in_chunks(&mut protocol, b"a\rb\nc\r\n", size);
        assert_eq!(
            protocol.handler().received,
            lines(&[b"a\rb\nc"]),
            "size {size}"
        );
    }
}

#[test]
fn a_custom_delimiter_splits_lines() {
    for size in CHUNK_SIZES {
        let mut protocol = LineReceiver::new(tester()).with_delimiter(b"||");
        StringTransport::new().make_connection(&mut protocol);
        feed_in_chunks(&mut protocol, b"one||two|three||", size);
        assert_eq!(
            protocol.handler().received,
            lines(&[b"one", b"two|three"]),
            "size {size}"
        );
    }
}

#[test]
fn send_line_appends_the_delimiter() {
    let fake = StringTransport::new();
    let mut protocol = LineReceiver::new(tester()).with_delimiter(b"\n");
    fake.make_connection(&mut protocol);
    protocol.send_line(b"hello");
    assert_eq!(fake.value(), b"hello\n");
}

/// Twisted's `LineReceiverTests.test_buffer`: raw stretches of announced
/// length in between lines, mode switches both ways inside callbacks, and a
/// long line recovered from, replayed at every chunk size.
#[test]
fn raw_and_line_mode_switch_inside_callbacks_at_every_chunk_size() {
    let input: &[u8] = b"len 10\n\n0123456789len 5\n\n1234\nlen 20\nfoo 123\n\n\
        0123456789\n012345678len 0\nfoo 5\n\n\
        1234567890123456789012345678901234567890123456789012345678901234567890\n\
        len 1\n\na";
    let expected = lines(&[
        b"len 10",
        b"0123456789",
        b"len 5",
        b"1234\n",
        b"len 20",
        b"foo 123",
        b"0123456789\n012345678",
        b"len 0",
        b"foo 5",
        b"",
        b"67890",
        b"len 1",
        b"a",
    ]);
    for size in CHUNK_SIZES {
        let mut protocol = LineReceiver::new(Tester::default())
            .with_delimiter(b"\n")
            .with_max_length(64);
        StringTransport::new().make_connection(&mut protocol);
        feed_in_chunks(&mut protocol, input, size);
        assert_eq!(protocol.handler().received, expected, "size {size}");
        assert_eq!(protocol.handler().exceeded.len(), 1, "size {size}");
    }
}

#[test]
fn set_raw_mode_inside_line_received_routes_the_rest_of_the_chunk_to_raw() {
    let (_, mut protocol) = connected(Tester {
        plain_raw: true,
        ..tester()
    });
    protocol.data_received(b"first\r\nraw\r\nnot a line\r\nstill raw");
    assert_eq!(protocol.handler().received, lines(&[b"first", b"raw"]));
    assert_eq!(
        protocol.handler().raw_chunks.concat(),
        b"not a line\r\nstill raw"
    );
    assert!(protocol.is_raw_mode());
}

#[test]
fn set_line_mode_inside_raw_data_received_parses_the_extra_bytes_as_lines() {
    for size in CHUNK_SIZES {
        let (_, mut protocol) = connected(tester());
        feed_in_chunks(&mut protocol, b"len 3\r\n\r\nabcnext\r\nlast\r\n", size);
        assert_eq!(
            protocol.handler().received,
            lines(&[b"len 3", b"abc", b"next", b"last"]),
            "size {size}"
        );
        assert!(!protocol.is_raw_mode());
    }
}

#[test]
fn mode_switches_from_outside_take_effect_for_the_next_bytes() {
    let (_, mut protocol) = connected(Tester {
        plain_raw: true,
        ..tester()
    });
    protocol.data_received(b"a\r\npart");
    protocol.set_raw_mode();
    protocol.data_received(b"ial\r\n");
    assert_eq!(protocol.handler().raw_chunks.concat(), b"partial\r\n");
    protocol.set_line_mode(b"b\r\nc");
    protocol.data_received(b"\r\n");
    assert_eq!(protocol.handler().received, lines(&[b"a", b"b", b"c"]));
}

#[test]
fn a_line_longer_than_max_length_is_exceeded_and_closes_the_connection() {
    let mut input = vec![b'x'; 20_000];
    input.extend_from_slice(b"\r\nafter\r\n");
    for size in [1, 7, usize::MAX] {
        let (fake, mut protocol) = connected(tester());
        feed_in_chunks(&mut protocol, &input, size);
        assert!(fake.is_disconnecting(), "size {size}");
        assert_eq!(protocol.handler().exceeded.len(), 1, "size {size}");
        assert!(protocol.handler().received.is_empty(), "size {size}");
    }
}

#[test]
fn the_default_hook_closes_on_a_long_line() {
    struct Quiet;
    impl LineHandler for Quiet {
        fn line_received(&mut self, _: &mut LineContext<'_>, _: &[u8]) {}
    }
    let fake = StringTransport::new();
    let mut protocol = LineReceiver::new(Quiet).with_max_length(3);
    fake.make_connection(&mut protocol);
    protocol.data_received(b"abcd\r\n");
    assert!(fake.is_disconnecting());
}

#[test]
fn a_line_of_exactly_max_length_is_accepted() {
    let mut protocol = LineReceiver::new(tester()).with_max_length(5);
    StringTransport::new().make_connection(&mut protocol);
    protocol.data_received(b"12345\r\n123456\r\n");
    assert_eq!(protocol.handler().received, lines(&[b"12345"]));
    assert_eq!(protocol.handler().exceeded, lines(&[b"123456\r\n"]));
}

#[test]
fn a_buffer_without_delimiter_is_exceeded_at_max_length_plus_delimiter() {
    let (fake, mut protocol) = {
        let fake = StringTransport::new();
        let mut protocol = LineReceiver::new(tester()).with_max_length(5);
        fake.make_connection(&mut protocol);
        (fake, protocol)
    };
    protocol.data_received(b"123456");
    assert!(protocol.handler().exceeded.is_empty());
    assert!(!fake.is_disconnecting());
    protocol.data_received(b"7");
    assert_eq!(protocol.handler().exceeded, lines(&[b"1234567"]));
    assert!(fake.is_disconnecting());
}

#[test]
fn the_buffer_is_cleared_after_line_length_exceeded() {
    struct Forgiving {
        lines: Vec<Vec<u8>>,
    }
    impl LineHandler for Forgiving {
        fn line_received(&mut self, _: &mut LineContext<'_>, line: &[u8]) {
            self.lines.push(line.to_vec());
        }
        fn line_length_exceeded(&mut self, _: &mut LineContext<'_>, _: &[u8]) {}
    }
    let fake = StringTransport::new();
    let mut protocol = LineReceiver::new(Forgiving { lines: Vec::new() }).with_max_length(3);
    fake.make_connection(&mut protocol);
    protocol.data_received(b"toolong");
    assert!(protocol.clear_line_buffer().is_empty());
    protocol.data_received(b"ok\r\n");
    assert_eq!(protocol.handler().lines, lines(&[b"ok"]));
    assert!(!fake.is_disconnecting());
}

#[test]
fn no_lines_are_delivered_after_lose_connection() {
    for size in CHUNK_SIZES {
        let (fake, mut protocol) = connected(tester());
        feed_in_chunks(&mut protocol, b"one\r\nquit\r\ntwo\r\nthree\r\n", size);
        assert_eq!(
            protocol.handler().received,
            lines(&[b"one", b"quit"]),
            "size {size}"
        );
        assert!(fake.is_disconnecting());
    }
}

#[test]
fn clear_line_buffer_inside_a_callback_drops_the_unparsed_rest() {
    let (_, mut protocol) = connected(tester());
    protocol.data_received(b"clear\r\nnext\r\npart");
    assert_eq!(protocol.handler().cleared, b"next\r\npart");
    assert_eq!(protocol.handler().received, lines(&[b"clear"]));
    protocol.data_received(b"fresh\r\n");
    assert_eq!(protocol.handler().received, lines(&[b"clear", b"fresh"]));
}

#[test]
fn pausing_inside_line_received_buffers_until_resumed() {
    for size in CHUNK_SIZES {
        let (fake, mut protocol) = connected(tester());
        feed_in_chunks(&mut protocol, b"pause\r\nheld\r\nalso\r\n", size);
        assert_eq!(
            protocol.handler().received,
            lines(&[b"pause"]),
            "size {size}"
        );
        assert!(protocol.is_paused());
        assert!(fake.is_reading_paused());
        protocol.resume_producing();
        assert!(!fake.is_reading_paused());
        assert_eq!(
            protocol.handler().received,
            lines(&[b"pause", b"held", b"also"]),
            "size {size}"
        );
    }
}

#[test]
fn data_arriving_while_paused_is_delivered_on_resume() {
    let (_, mut protocol) = connected(tester());
    protocol.pause_producing();
    protocol.data_received(b"a\r\nb\r\n");
    assert!(protocol.handler().received.is_empty());
    protocol.resume_producing();
    assert_eq!(protocol.handler().received, lines(&[b"a", b"b"]));
}

#[test]
fn stop_producing_pauses_and_closes() {
    let (fake, mut protocol) = connected(tester());
    protocol.stop_producing();
    protocol.data_received(b"a\r\n");
    assert!(protocol.handler().received.is_empty());
    assert!(fake.is_disconnecting());
}

#[test]
fn connection_lost_reaches_the_handler() {
    let (fake, mut protocol) = connected(tester());
    fake.transport().lose_connection();
    fake.finish_close(&mut protocol);
    assert!(protocol.handler().lost[0].is::<ConnectionDone>());
}

/// Answers each line with the line upper-cased; closes on `bye`.
#[derive(Default)]
struct Shout {
    lines: Vec<Vec<u8>>,
    lost: usize,
}

impl LineHandler for Shout {
    fn line_received(&mut self, ctx: &mut LineContext<'_>, line: &[u8]) {
        self.lines.push(line.to_vec());
        ctx.send_line(&line.to_ascii_uppercase());
        if line == b"bye" {
            ctx.lose_connection();
        }
    }
    fn connection_lost(&mut self, _: &mut LineContext<'_>, _: Failure) {
        self.lost += 1;
    }
}

/// Sends a few lines on connect and keeps the answers.
#[derive(Default)]
struct Ask {
    answers: Vec<Vec<u8>>,
    lost: usize,
}

impl LineHandler for Ask {
    fn connection_made(&mut self, ctx: &mut LineContext<'_>) {
        for line in [&b"hello"[..], b"line two", b"", b"bye", b"unanswered"] {
            ctx.send_line(line);
        }
    }
    fn line_received(&mut self, _: &mut LineContext<'_>, line: &[u8]) {
        self.answers.push(line.to_vec());
    }
    fn connection_lost(&mut self, _: &mut LineContext<'_>, _: Failure) {
        self.lost += 1;
    }
}

#[test]
fn line_receivers_talk_over_a_loopback_at_every_chunk_size() {
    for size in CHUNK_SIZES {
        let mut pipe = Loopback::new(
            LineReceiver::new(Shout::default()),
            LineReceiver::new(Ask::default()),
        );
        pipe.set_chunk_size(size);
        pipe.pump();
        assert!(pipe.is_closed(), "size {size}");
        let server = pipe.server().borrow();
        let client = pipe.client().borrow();
        assert_eq!(
            server.handler().lines,
            lines(&[b"hello", b"line two", b"", b"bye"]),
            "size {size}"
        );
        assert_eq!(
            client.handler().answers,
            lines(&[b"HELLO", b"LINE TWO", b"", b"BYE"]),
            "size {size}"
        );
        assert_eq!((server.handler().lost, client.handler().lost), (1, 1));
    }
}

#[test]
fn line_receiver_serves_a_real_tcp_client() {
    let reactor = crate::Reactor::new().unwrap();
    let port = reactor
        .listen_tcp(
            "127.0.0.1:0".parse().unwrap(),
            crate::net::factory_fn(|_| Some(LineReceiver::new(Shout::default()))),
        )
        .unwrap();
    let address = port.tcp_address().unwrap();
    let handle = reactor.handle();
    let client = std::thread::spawn(move || {
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(b"hel").unwrap();
        stream.flush().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        stream
            .write_all(b"lo\r\nworld\r\nbye\r\nignored\r\n")
            .unwrap();
        let mut reader = BufReader::new(stream);
        let mut answers = Vec::new();
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap() > 0 {
            answers.push(std::mem::take(&mut line));
        }
        let _ = handle.stop();
        answers
    });
    let stopper = reactor.clone();
    reactor.call_later(Duration::from_secs(10), move || {
        let _ = stopper.stop();
    });
    reactor.run().unwrap();
    assert_eq!(
        client.join().unwrap(),
        vec!["HELLO\r\n", "WORLD\r\n", "BYE\r\n"]
    );
}
