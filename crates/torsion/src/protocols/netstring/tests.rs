use super::*;
use crate::net::Protocol;
use crate::testing::{CHUNK_SIZES, feed_in_chunks, replay_protocol};
use crate::testing::{Loopback, StringTransport};

#[derive(Default, Debug)]
struct Collect {
    strings: Vec<Vec<u8>>,
    errors: Vec<NetstringParseError>,
    /// Close after this string.
    quit_on: Option<Vec<u8>>,
}

impl NetstringHandler for Collect {
    fn string_received(&mut self, ctx: &mut NetstringContext<'_>, data: &[u8]) {
        self.strings.push(data.to_vec());
        if self.quit_on.as_deref() == Some(data) {
            ctx.lose_connection();
        }
    }
    fn netstring_parse_error(
        &mut self,
        ctx: &mut NetstringContext<'_>,
        error: NetstringParseError,
    ) {
        self.errors.push(error);
        ctx.lose_connection();
    }
}

fn connected(max_length: usize) -> (StringTransport, NetstringReceiver<Collect>) {
    let fake = StringTransport::new();
    let mut protocol = NetstringReceiver::new(Collect::default()).with_max_length(max_length);
    fake.make_connection(&mut protocol);
    (fake, protocol)
}

fn strings(list: &[&[u8]]) -> Vec<Vec<u8>> {
    list.iter().map(|s| s.to_vec()).collect()
}

#[test]
fn netstrings_are_reassembled_at_every_chunk_size() {
    let (received, closing) = replay_protocol(
        b"5:hello,0:,12:hello, world,1::,",
        || NetstringReceiver::new(Collect::default()),
        |protocol, fake| (protocol.handler().strings.clone(), fake.is_disconnecting()),
    );
    assert_eq!(received, strings(&[b"hello", b"", b"hello, world", b":"]));
    assert!(!closing);
}

#[test]
fn send_string_frames_the_payload() {
    let (fake, protocol) = connected(NETSTRING_MAX_LENGTH);
    protocol.send_string(b"abc");
    protocol.send_string(b"");
    assert_eq!(fake.value(), b"3:abc,0:,");
}

fn assert_rejected(input: &[u8], max_length: usize, expected: NetstringParseError) {
    for size in CHUNK_SIZES {
        let (fake, mut protocol) = connected(max_length);
        feed_in_chunks(&mut protocol, input, size);
        assert_eq!(protocol.handler().errors, vec![expected], "size {size}");
        assert_eq!(protocol.parse_error(), Some(expected));
        assert!(fake.is_disconnecting(), "size {size}");
    }
}

#[test]
fn a_missing_comma_is_a_parse_error() {
    assert_rejected(b"3:abc;", 50, NetstringParseError::MissingComma);
    assert_rejected(b"4:abcde", 50, NetstringParseError::MissingComma);
}

#[test]
fn a_non_digit_length_is_a_parse_error() {
    assert_rejected(b"abc", 50, NetstringParseError::InvalidLength);
    assert_rejected(b":aaa,", 50, NetstringParseError::InvalidLength);
    assert_rejected(b"-1:a,", 50, NetstringParseError::InvalidLength);
}

#[test]
fn a_leading_zero_is_a_parse_error() {
    assert_rejected(b"01:a,", 50, NetstringParseError::InvalidLength);
}

#[test]
fn a_missing_colon_is_a_parse_error() {
    assert_rejected(b"3abc,", 50, NetstringParseError::MissingColon);
    assert_rejected(b"3;abc,", 50, NetstringParseError::MissingColon);
}

#[test]
fn a_length_over_the_maximum_is_a_parse_error() {
    let too_long = NetstringParseError::TooLong { max: 50 };
    assert_rejected(
        b"51:abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzab,",
        50,
        too_long,
    );
    assert_rejected(b"9999999999999999999999", 50, too_long);
}

#[test]
fn a_too_long_length_is_rejected_as_soon_as_its_digits_arrive() {
    let (fake, mut protocol) = connected(10);
    protocol.data_received(b"1");
    assert!(protocol.handler().errors.is_empty());
    protocol.data_received(b"1");
    assert_eq!(
        protocol.handler().errors,
        vec![NetstringParseError::TooLong { max: 10 }]
    );
    assert!(fake.is_disconnecting());
}

#[test]
fn the_default_maximum_is_99999_bytes() {
    let (_, mut protocol) = connected(NETSTRING_MAX_LENGTH);
    protocol.data_received(b"99999:");
    assert!(protocol.handler().errors.is_empty());
    let (_, mut protocol) = connected(NETSTRING_MAX_LENGTH);
    protocol.data_received(b"100000");
    assert_eq!(
        protocol.handler().errors,
        vec![NetstringParseError::TooLong { max: 99999 }]
    );
}

#[test]
fn the_default_error_hook_closes_the_connection() {
    struct Quiet;
    impl NetstringHandler for Quiet {
        fn string_received(&mut self, _: &mut NetstringContext<'_>, _: &[u8]) {}
    }
    let fake = StringTransport::new();
    let mut protocol = NetstringReceiver::new(Quiet);
    fake.make_connection(&mut protocol);
    protocol.data_received(b"x");
    assert!(fake.is_disconnecting());
    assert_eq!(
        protocol.parse_error(),
        Some(NetstringParseError::InvalidLength)
    );
}

#[test]
fn nothing_is_parsed_after_a_parse_error() {
    let fake = StringTransport::new();
    /// Records errors but keeps the connection open.
    #[derive(Default)]
    struct Lenient(Vec<Vec<u8>>, usize);
    impl NetstringHandler for Lenient {
        fn string_received(&mut self, _: &mut NetstringContext<'_>, data: &[u8]) {
            self.0.push(data.to_vec());
        }
        fn netstring_parse_error(&mut self, _: &mut NetstringContext<'_>, _: NetstringParseError) {
            self.1 += 1;
        }
    }
    let mut protocol = NetstringReceiver::new(Lenient::default());
    fake.make_connection(&mut protocol);
    protocol.data_received(b"1:a,x1:b,");
    protocol.data_received(b"1:c,");
    assert_eq!(protocol.handler().0, strings(&[b"a"]));
    assert_eq!(protocol.handler().1, 1);
}

#[test]
fn no_strings_are_delivered_after_lose_connection() {
    for size in CHUNK_SIZES {
        let fake = StringTransport::new();
        let mut protocol = NetstringReceiver::new(Collect {
            quit_on: Some(b"quit".to_vec()),
            ..Collect::default()
        });
        fake.make_connection(&mut protocol);
        feed_in_chunks(&mut protocol, b"1:a,4:quit,1:b,", size);
        assert_eq!(protocol.handler().strings, strings(&[b"a", b"quit"]));
    }
}

/// Sends its strings on connect.
struct Send(Vec<Vec<u8>>);

impl NetstringHandler for Send {
    fn connection_made(&mut self, ctx: &mut NetstringContext<'_>) {
        for s in &self.0 {
            ctx.send_string(s);
        }
    }
    fn string_received(&mut self, _: &mut NetstringContext<'_>, _: &[u8]) {}
}

#[test]
fn netstrings_cross_a_loopback_at_every_chunk_size() {
    let sent = strings(&[b"one", b"", b"three,:3", &[0u8; 300]]);
    for size in CHUNK_SIZES {
        let mut pipe = Loopback::new(
            NetstringReceiver::new(Collect::default()),
            NetstringReceiver::new(Send(sent.clone())),
        );
        pipe.set_chunk_size(size);
        pipe.pump();
        assert_eq!(
            pipe.server().borrow().handler().strings,
            sent,
            "size {size}"
        );
    }
}

#[test]
fn an_announced_length_is_not_reserved_up_front() {
    let (fake, mut protocol) = connected(usize::MAX);
    protocol.data_received(b"100000000000000000:");
    protocol.data_received(&[b'x'; 1000]);
    assert!(protocol.handler().strings.is_empty());
    assert!(protocol.handler().errors.is_empty());
    assert_eq!(protocol.buffered(), 1000);
    assert!(
        protocol.buffer_capacity() < 4096,
        "{} bytes held for 1000 received",
        protocol.buffer_capacity()
    );
    assert!(!fake.is_disconnecting());
}

#[test]
fn a_length_over_a_raised_maximum_is_a_clean_error() {
    assert_rejected(
        b"100000000000000000:",
        10_000_000_000_000_000,
        NetstringParseError::TooLong {
            max: 10_000_000_000_000_000,
        },
    );
}

#[test]
fn a_length_beyond_usize_is_a_clean_error_under_the_largest_maximum() {
    assert_rejected(
        b"123456789012345678901234567890:",
        usize::MAX,
        NetstringParseError::TooLong { max: usize::MAX },
    );
}
