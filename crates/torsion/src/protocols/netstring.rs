//! [`NetstringReceiver`]: netstrings, `<length>:<payload>,` (Twisted's
//! `basic.NetstringReceiver`).

use std::fmt;
use std::io::IoSlice;

use crate::Failure;
use crate::net::{HalfClose, Protocol, Transport};

/// The default longest netstring payload, in bytes (Twisted's
/// `MAX_LENGTH`).
pub const NETSTRING_MAX_LENGTH: usize = 99999;

/// Why the bytes received are not a netstring (Twisted's
/// `NetstringParseError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NetstringParseError {
    /// The length announced is over the maximum; detected as soon as
    /// enough digits have arrived.
    #[error("the netstring's length is over the maximum of {max} bytes")]
    TooLong {
        /// The maximum length in force.
        max: usize,
    },
    /// The length does not start with a digit, or has a leading zero.
    #[error("the netstring does not start with a decimal length")]
    InvalidLength,
    /// The length's digits are followed by something other than `:`.
    #[error("the netstring's length is not followed by ':'")]
    MissingColon,
    /// The payload is followed by something other than `,`.
    #[error("the netstring's payload is not followed by ','")]
    MissingComma,
}

/// What a netstring protocol does with its strings: the callbacks of a
/// [`NetstringReceiver`]. Only `string_received` is required.
pub trait NetstringHandler: 'static {
    /// The connection is up.
    fn connection_made(&mut self, ctx: &mut NetstringContext<'_>) {
        let _ = ctx;
    }

    /// A netstring's payload arrived.
    fn string_received(&mut self, ctx: &mut NetstringContext<'_>, data: &[u8]);

    /// The peer sent something that is not a netstring. Nothing more is
    /// parsed on this connection afterwards; by default it is closed.
    fn netstring_parse_error(
        &mut self,
        ctx: &mut NetstringContext<'_>,
        error: NetstringParseError,
    ) {
        let _ = error;
        ctx.lose_connection();
    }

    /// The connection is closed; see [`Protocol::connection_lost`].
    fn connection_lost(&mut self, ctx: &mut NetstringContext<'_>, reason: Failure) {
        let _ = (ctx, reason);
    }

    /// The peer shut down its write side; see
    /// [`Protocol::read_connection_lost`].
    fn read_connection_lost(&mut self, ctx: &mut NetstringContext<'_>) -> HalfClose {
        let _ = ctx;
        HalfClose::Close
    }
}

/// A [`Protocol`] that reads netstrings and hands their payloads to a
/// [`NetstringHandler`] (Twisted's `NetstringReceiver`).
///
/// A netstring is its payload's length in decimal (no leading zeros), `:`,
/// the payload, and `,`: `b"5:hello,"`. A length over the maximum
/// ([`NETSTRING_MAX_LENGTH`] unless set with
/// [`with_max_length`](NetstringReceiver::with_max_length)), a length that
/// is not a number, a missing `:` or a missing `,` is a
/// [`NetstringParseError`]: the handler's `netstring_parse_error` runs
/// (closing the connection by default) and nothing more is parsed. No
/// strings are delivered once the transport is closing.
///
/// ```
/// use torsion::net::Protocol;
/// use torsion::protocols::{NetstringContext, NetstringHandler, NetstringReceiver};
/// use torsion::testing::StringTransport;
///
/// /// Echoes each string back.
/// struct Echo;
///
/// impl NetstringHandler for Echo {
///     fn string_received(&mut self, ctx: &mut NetstringContext<'_>, data: &[u8]) {
///         ctx.send_string(data);
///     }
/// }
///
/// let fake = StringTransport::new();
/// let mut protocol = NetstringReceiver::new(Echo);
/// fake.make_connection(&mut protocol);
/// protocol.data_received(b"5:hel");
/// protocol.data_received(b"lo,0:,");
/// assert_eq!(fake.take(), b"5:hello,0:,");
/// protocol.data_received(b"3:abc;");
/// assert!(fake.is_disconnecting());
/// ```
pub struct NetstringReceiver<H> {
    handler: H,
    state: NetstringState,
}

struct NetstringState {
    transport: Option<Transport>,
    max_length: usize,
    parse: Parse,
    payload: Vec<u8>,
    error: Option<NetstringParseError>,
}

#[derive(Debug, Clone, Copy)]
enum Parse {
    Length { value: usize, digits: usize },
    Payload { remaining: usize },
    Comma,
}

const START: Parse = Parse::Length {
    value: 0,
    digits: 0,
};

/// What a [`NetstringHandler`] callback can do: send strings, close, reach
/// the transport.
pub struct NetstringContext<'a> {
    state: &'a mut NetstringState,
}

impl<H: NetstringHandler> NetstringReceiver<H> {
    /// A netstring receiver with the default maximum length.
    pub fn new(handler: H) -> NetstringReceiver<H> {
        NetstringReceiver {
            handler,
            state: NetstringState {
                transport: None,
                max_length: NETSTRING_MAX_LENGTH,
                parse: START,
                payload: Vec::new(),
                error: None,
            },
        }
    }

    /// Sets the longest payload accepted, in bytes.
    pub fn with_max_length(mut self, max_length: usize) -> NetstringReceiver<H> {
        self.state.max_length = max_length;
        self
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// The handler, mutably.
    pub fn handler_mut(&mut self) -> &mut H {
        &mut self.handler
    }

    /// The transport, once connected.
    pub fn transport(&self) -> Option<&Transport> {
        self.state.transport.as_ref()
    }

    /// Writes `data` as a netstring (Twisted's `sendString`).
    pub fn send_string(&self, data: &[u8]) {
        self.state.send_string(data)
    }

    /// The parse error that stopped parsing, if one did (Twisted's
    /// `brokenPeer`).
    pub fn parse_error(&self) -> Option<NetstringParseError> {
        self.state.error
    }

    fn context(&mut self) -> (&mut H, NetstringContext<'_>) {
        (
            &mut self.handler,
            NetstringContext {
                state: &mut self.state,
            },
        )
    }

    fn fail(&mut self, error: NetstringParseError) {
        self.state.error = Some(error);
        self.state.payload = Vec::new();
        let (handler, mut ctx) = self.context();
        handler.netstring_parse_error(&mut ctx, error);
    }
}

impl NetstringState {
    fn open(&self) -> bool {
        self.transport.as_ref().is_none_or(Transport::is_open)
    }

    fn send_string(&self, data: &[u8]) {
        if let Some(transport) = &self.transport {
            let length = format!("{}:", data.len());
            transport.write_vectored(&[
                IoSlice::new(length.as_bytes()),
                IoSlice::new(data),
                IoSlice::new(b","),
            ]);
        }
    }
}

impl<H: NetstringHandler> Protocol for NetstringReceiver<H> {
    fn connection_made(&mut self, transport: &Transport) {
        self.state.transport = Some(transport.clone());
        let (handler, mut ctx) = self.context();
        handler.connection_made(&mut ctx);
    }

    fn data_received(&mut self, mut data: &[u8]) {
        while !data.is_empty() && self.state.error.is_none() && self.state.open() {
            match self.state.parse {
                Parse::Length { value, digits } => {
                    let byte = data[0];
                    data = &data[1..];
                    match byte {
                        b'0'..=b'9' => {
                            if digits == 1 && value == 0 {
                                return self.fail(NetstringParseError::InvalidLength);
                            }
                            let value = value
                                .checked_mul(10)
                                .and_then(|v| v.checked_add(usize::from(byte - b'0')))
                                .filter(|&v| v <= self.state.max_length);
                            let Some(value) = value else {
                                let max = self.state.max_length;
                                return self.fail(NetstringParseError::TooLong { max });
                            };
                            self.state.parse = Parse::Length {
                                value,
                                digits: digits + 1,
                            };
                        }
                        b':' if digits > 0 => {
                            self.state.payload.reserve(value);
                            self.state.parse = if value == 0 {
                                Parse::Comma
                            } else {
                                Parse::Payload { remaining: value }
                            };
                        }
                        _ if digits == 0 => {
                            return self.fail(NetstringParseError::InvalidLength);
                        }
                        _ => return self.fail(NetstringParseError::MissingColon),
                    }
                }
                Parse::Payload { remaining } => {
                    let n = remaining.min(data.len());
                    self.state.payload.extend_from_slice(&data[..n]);
                    data = &data[n..];
                    self.state.parse = if n == remaining {
                        Parse::Comma
                    } else {
                        Parse::Payload {
                            remaining: remaining - n,
                        }
                    };
                }
                Parse::Comma => {
                    if data[0] != b',' {
                        return self.fail(NetstringParseError::MissingComma);
                    }
                    data = &data[1..];
                    self.state.parse = START;
                    let mut payload = std::mem::take(&mut self.state.payload);
                    let (handler, mut ctx) = self.context();
                    handler.string_received(&mut ctx, &payload);
                    payload.clear();
                    if self.state.payload.capacity() == 0 {
                        self.state.payload = payload;
                    }
                }
            }
        }
    }

    fn connection_lost(&mut self, reason: Failure) {
        let (handler, mut ctx) = self.context();
        handler.connection_lost(&mut ctx, reason);
    }

    fn read_connection_lost(&mut self) -> HalfClose {
        let (handler, mut ctx) = self.context();
        handler.read_connection_lost(&mut ctx)
    }
}

impl NetstringContext<'_> {
    /// The transport, once connected.
    pub fn transport(&self) -> Option<&Transport> {
        self.state.transport.as_ref()
    }

    /// Writes `data` as a netstring.
    pub fn send_string(&self, data: &[u8]) {
        self.state.send_string(data)
    }

    /// Closes the connection once what is written has been sent; no more
    /// strings are delivered.
    pub fn lose_connection(&self) {
        if let Some(transport) = &self.state.transport {
            transport.lose_connection();
        }
    }

    /// The longest payload accepted.
    pub fn max_length(&self) -> usize {
        self.state.max_length
    }
}

impl<H: fmt::Debug> fmt::Debug for NetstringReceiver<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetstringReceiver")
            .field("handler", &self.handler)
            .field("parse", &self.state.parse)
            .field("error", &self.state.error)
            .finish()
    }
}

impl fmt::Debug for NetstringContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetstringContext")
            .field("max_length", &self.state.max_length)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::{CHUNK_SIZES, feed_in_chunks};
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
        let input = b"5:hello,0:,12:hello, world,1::,";
        for size in CHUNK_SIZES {
            let (fake, mut protocol) = connected(NETSTRING_MAX_LENGTH);
            feed_in_chunks(&mut protocol, input, size);
            assert_eq!(
                protocol.handler().strings,
                strings(&[b"hello", b"", b"hello, world", b":"]),
                "size {size}"
            );
            assert!(!fake.is_disconnecting());
        }
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
            fn netstring_parse_error(
                &mut self,
                _: &mut NetstringContext<'_>,
                _: NetstringParseError,
            ) {
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
}
