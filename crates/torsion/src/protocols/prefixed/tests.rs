use std::io::{Read, Write};
use std::time::Duration;

use super::*;
use crate::net::Protocol;
use crate::testing::{CHUNK_SIZES, feed_in_chunks, replay_protocol};
use crate::testing::{Loopback, StringTransport};

const PREFIXES: [PrefixLength; 3] = [PrefixLength::Int8, PrefixLength::Int16, PrefixLength::Int32];

/// Records strings; `pause` pauses, `quit` closes.
#[derive(Default)]
struct Collect {
    strings: Vec<Vec<u8>>,
    exceeded: Vec<usize>,
    /// Keep the connection open when a prefix is over the limit.
    lenient: bool,
}

impl StringHandler for Collect {
    fn string_received(&mut self, ctx: &mut StringContext<'_>, data: &[u8]) {
        self.strings.push(data.to_vec());
        if data == b"pause" {
            ctx.pause_producing();
        } else if data == b"quit" {
            ctx.lose_connection();
        }
    }
    fn length_limit_exceeded(&mut self, ctx: &mut StringContext<'_>, length: usize) {
        self.exceeded.push(length);
        if !self.lenient {
            ctx.lose_connection();
        }
    }
}

fn connected(prefix: PrefixLength) -> (StringTransport, IntNStringReceiver<Collect>) {
    let fake = StringTransport::new();
    let mut protocol = IntNStringReceiver::new(prefix, Collect::default());
    fake.make_connection(&mut protocol);
    (fake, protocol)
}

/// `strings` framed with `prefix`.
fn frame(prefix: PrefixLength, strings: &[&[u8]]) -> Vec<u8> {
    let fake = StringTransport::new();
    let mut sender = IntNStringReceiver::new(prefix, Collect::default());
    fake.make_connection(&mut sender);
    for s in strings {
        sender.send_string(s).unwrap();
    }
    fake.value()
}

fn strings(list: &[&[u8]]) -> Vec<Vec<u8>> {
    list.iter().map(|s| s.to_vec()).collect()
}

#[test]
fn prefixes_are_big_endian() {
    let long = vec![b'x'; 258];
    assert_eq!(frame(PrefixLength::Int8, &[b"ab"]), b"\x02ab");
    assert_eq!(frame(PrefixLength::Int16, &[&long])[..2], [1, 2]);
    assert_eq!(frame(PrefixLength::Int32, &[&long])[..4], [0, 0, 1, 2]);
}

#[test]
fn strings_are_reassembled_at_every_chunk_size() {
    let sent: [&[u8]; 4] = [b"hello", b"", b"\x00\x01\x02", &[7u8; 200]];
    for prefix in PREFIXES {
        let (received, closing) = replay_protocol(
            &frame(prefix, &sent),
            || IntNStringReceiver::new(prefix, Collect::default()),
            |protocol, fake| (protocol.handler().strings.clone(), fake.is_disconnecting()),
        );
        assert_eq!(received, strings(&sent), "{prefix:?}");
        assert!(!closing, "{prefix:?}");
    }
}

#[test]
fn a_prefix_over_the_maximum_calls_length_limit_exceeded_and_closes() {
    for size in CHUNK_SIZES {
        let (fake, mut protocol) = connected(PrefixLength::Int32);
        feed_in_chunks(&mut protocol, b"\x00\x01\x86\xa0rest", size);
        assert_eq!(protocol.handler().exceeded, vec![100_000], "size {size}");
        assert!(fake.is_disconnecting());
        assert!(protocol.handler().strings.is_empty());
    }
}

#[test]
fn a_prefix_at_the_maximum_is_accepted() {
    let (fake, mut protocol) = connected(PrefixLength::Int32);
    protocol.data_received(b"\x00\x01\x86\x9f");
    protocol.data_received(&vec![b'x'; 99_999]);
    assert_eq!(protocol.handler().strings.len(), 1);
    assert_eq!(protocol.handler().strings[0].len(), 99_999);
    assert!(protocol.handler().exceeded.is_empty());
    assert!(!fake.is_disconnecting());
}

#[test]
fn int8_and_int16_prefixes_respect_a_lower_maximum() {
    for (prefix, input) in [
        (PrefixLength::Int8, &b"\x0babcdefghijk"[..]),
        (PrefixLength::Int16, &b"\x00\x0babcdefghijk"[..]),
    ] {
        let fake = StringTransport::new();
        let mut protocol = IntNStringReceiver::new(prefix, Collect::default()).with_max_length(10);
        fake.make_connection(&mut protocol);
        protocol.data_received(input);
        assert_eq!(protocol.handler().exceeded, vec![11], "{prefix:?}");
        assert!(fake.is_disconnecting(), "{prefix:?}");
    }
}

#[test]
fn the_default_hook_closes_on_an_over_long_prefix() {
    struct Quiet;
    impl StringHandler for Quiet {
        fn string_received(&mut self, _: &mut StringContext<'_>, _: &[u8]) {}
    }
    let fake = StringTransport::new();
    let mut protocol = IntNStringReceiver::int16(Quiet).with_max_length(3);
    fake.make_connection(&mut protocol);
    protocol.data_received(b"\x00\x04");
    assert!(fake.is_disconnecting());
}

#[test]
fn an_ignored_limit_stops_parsing_but_keeps_the_bytes() {
    let fake = StringTransport::new();
    let mut protocol = IntNStringReceiver::int8(Collect {
        lenient: true,
        ..Collect::default()
    })
    .with_max_length(2);
    fake.make_connection(&mut protocol);
    protocol.data_received(b"\x01a\x03abc\x01b");
    assert_eq!(protocol.handler().strings, strings(&[b"a"]));
    assert_eq!(protocol.handler().exceeded, vec![3]);
    protocol.data_received(b"x");
    assert_eq!(protocol.handler().exceeded, vec![3, 3]);
}

#[test]
fn send_string_refuses_strings_the_prefix_cannot_announce() {
    for (prefix, limit) in [
        (PrefixLength::Int8, 255usize),
        (PrefixLength::Int16, 65_535),
    ] {
        let (fake, protocol) = connected(prefix);
        assert!(protocol.send_string(&vec![0; limit]).is_ok(), "{prefix:?}");
        fake.clear();
        assert_eq!(
            protocol.send_string(&vec![0; limit + 1]),
            Err(StringTooLong {
                length: limit + 1,
                prefix
            })
        );
        assert!(fake.value().is_empty(), "{prefix:?}: nothing is written");
    }
    assert_eq!(PrefixLength::Int32.max_encodable(), u64::from(u32::MAX));
}

#[test]
fn send_string_too_long_is_also_refused_inside_callbacks() {
    struct Reply(Option<Result<(), StringTooLong>>);
    impl StringHandler for Reply {
        fn string_received(&mut self, ctx: &mut StringContext<'_>, _: &[u8]) {
            self.0 = Some(ctx.send_string(&[0; 256]));
        }
    }
    let fake = StringTransport::new();
    let mut protocol = IntNStringReceiver::int8(Reply(None));
    fake.make_connection(&mut protocol);
    protocol.data_received(b"\x00");
    assert!(matches!(
        protocol.handler().0,
        Some(Err(StringTooLong { length: 256, .. }))
    ));
}

#[test]
fn pausing_inside_string_received_buffers_until_resumed() {
    for size in CHUNK_SIZES {
        let (fake, mut protocol) = connected(PrefixLength::Int16);
        let input = frame(PrefixLength::Int16, &[b"pause", b"held", b"also"]);
        feed_in_chunks(&mut protocol, &input, size);
        assert_eq!(
            protocol.handler().strings,
            strings(&[b"pause"]),
            "size {size}"
        );
        assert!(protocol.is_paused());
        assert!(fake.is_reading_paused());
        protocol.resume_producing();
        assert!(!fake.is_reading_paused());
        assert_eq!(
            protocol.handler().strings,
            strings(&[b"pause", b"held", b"also"]),
            "size {size}"
        );
    }
}

#[test]
fn stop_producing_pauses_and_closes() {
    let (fake, mut protocol) = connected(PrefixLength::Int8);
    protocol.stop_producing();
    protocol.data_received(b"\x01a");
    assert!(protocol.handler().strings.is_empty());
    assert!(fake.is_disconnecting());
}

#[test]
fn no_strings_are_delivered_after_lose_connection() {
    for size in CHUNK_SIZES {
        let (_, mut protocol) = connected(PrefixLength::Int32);
        let input = frame(PrefixLength::Int32, &[b"a", b"quit", b"b"]);
        feed_in_chunks(&mut protocol, &input, size);
        assert_eq!(
            protocol.handler().strings,
            strings(&[b"a", b"quit"]),
            "size {size}"
        );
    }
}

/// Sends its strings on connect.
struct Send(Vec<Vec<u8>>);

impl StringHandler for Send {
    fn connection_made(&mut self, ctx: &mut StringContext<'_>) {
        for s in &self.0 {
            ctx.send_string(s).unwrap();
        }
    }
    fn string_received(&mut self, _: &mut StringContext<'_>, _: &[u8]) {}
}

#[test]
fn strings_cross_a_loopback_at_every_chunk_size() {
    let sent = strings(&[b"one", b"", &[1u8; 255], b"four"]);
    for prefix in PREFIXES {
        for size in CHUNK_SIZES {
            let mut pipe = Loopback::new(
                IntNStringReceiver::new(prefix, Collect::default()),
                IntNStringReceiver::new(prefix, Send(sent.clone())),
            );
            pipe.set_chunk_size(size);
            pipe.pump();
            assert_eq!(
                pipe.server().borrow().handler().strings,
                sent,
                "{prefix:?} size {size}"
            );
        }
    }
}

/// Answers each string with its length as a decimal string.
struct Measure;

impl StringHandler for Measure {
    fn string_received(&mut self, ctx: &mut StringContext<'_>, data: &[u8]) {
        ctx.send_string(data.len().to_string().as_bytes()).unwrap();
    }
}

#[test]
fn int32_strings_over_a_real_tcp_connection() {
    let reactor = crate::Reactor::new().unwrap();
    let port = reactor
        .listen_tcp(
            "127.0.0.1:0".parse().unwrap(),
            crate::net::factory_fn(|_| Some(IntNStringReceiver::int32(Measure))),
        )
        .unwrap();
    let address = port.tcp_address().unwrap();
    let handle = reactor.handle();
    let client = std::thread::spawn(move || {
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut request = frame(PrefixLength::Int32, &[b"abc", &[0u8; 70_000]]);
        let tail = request.split_off(5);
        stream.write_all(&request).unwrap();
        stream.flush().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        stream.write_all(&tail).unwrap();
        let mut reply = vec![0u8; 4 + 1 + 4 + 5];
        stream.read_exact(&mut reply).unwrap();
        let _ = handle.stop();
        reply
    });
    let stopper = reactor.clone();
    reactor.call_later(Duration::from_secs(10), move || {
        let _ = stopper.stop();
    });
    reactor.run().unwrap();
    assert_eq!(
        client.join().unwrap(),
        b"\x00\x00\x00\x013\x00\x00\x00\x0570000"
    );
}

#[test]
fn an_announced_length_is_not_reserved_up_front() {
    let fake = StringTransport::new();
    let mut protocol = IntNStringReceiver::int32(Collect::default()).with_max_length(usize::MAX);
    fake.make_connection(&mut protocol);
    protocol.data_received(b"\xff\xff\xff\xff");
    protocol.data_received(&[b'x'; 1000]);
    assert!(protocol.handler().strings.is_empty());
    assert!(protocol.handler().exceeded.is_empty());
    assert_eq!(protocol.buffered(), 1004);
    assert!(
        protocol.buffer_capacity() < 4096,
        "{} bytes held for 1004 received",
        protocol.buffer_capacity()
    );
}

#[test]
fn the_largest_maximum_does_not_overflow() {
    for prefix in PREFIXES {
        let received = replay_protocol(
            &frame(prefix, &[b"abc", b""]),
            || IntNStringReceiver::new(prefix, Collect::default()).with_max_length(usize::MAX),
            |protocol, _| protocol.handler().strings.clone(),
        );
        assert_eq!(received, strings(&[b"abc", b""]), "{prefix:?}");
    }
}
