//! [`NetstringCodec`]: netstrings, `<length>:<payload>,`.

use std::io;

use bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

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

/// Why a [`NetstringCodec`] stopped.
#[derive(Debug, thiserror::Error)]
pub enum NetstringError {
    /// The peer sent something that is not a netstring.
    #[error(transparent)]
    Parse(#[from] NetstringParseError),
    /// Reading failed; only a codec stack over an I/O source reports this,
    /// never the codec itself.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// A codec for netstrings, for
/// [`FramedProtocol`](crate::protocols::FramedProtocol) (as
/// [`NetstringReceiver`](crate::protocols::NetstringReceiver) uses it) or
/// any `tokio_util` framing.
///
/// The length is parsed as its digits arrive and checked against the
/// maximum digit by digit, so an absurd length is refused before its last
/// digit, and nothing is reserved for the payload it announces: the buffer
/// grows only with the bytes that actually arrive. Each payload is split
/// from the buffer without a copy. After a [`NetstringParseError`] the
/// codec is broken (Twisted's `brokenPeer`): it decodes nothing more and
/// drops what it is given.
///
/// ```
/// use bytes::BytesMut;
/// use tokio_util::codec::Decoder;
/// use torsion::protocols::NetstringCodec;
///
/// let mut codec = NetstringCodec::new();
/// let mut buffer = BytesMut::from(&b"5:hello,3:ab"[..]);
/// assert_eq!(codec.decode(&mut buffer).unwrap().as_deref(), Some(&b"hello"[..]));
/// assert_eq!(codec.decode(&mut buffer).unwrap(), None);
/// ```
#[derive(Debug, Clone)]
pub struct NetstringCodec {
    max_length: usize,
    state: Parse,
    broken: Option<NetstringParseError>,
}

#[derive(Debug, Clone, Copy)]
enum Parse {
    /// Reading the length; `digits` read so far make `value`.
    Length { value: usize, digits: usize },
    /// Waiting for `length` payload bytes and the comma.
    Payload { length: usize },
}

const START: Parse = Parse::Length {
    value: 0,
    digits: 0,
};

impl Default for NetstringCodec {
    fn default() -> NetstringCodec {
        NetstringCodec::new()
    }
}

impl NetstringCodec {
    /// A codec accepting payloads of up to [`NETSTRING_MAX_LENGTH`] bytes.
    pub fn new() -> NetstringCodec {
        NetstringCodec {
            max_length: NETSTRING_MAX_LENGTH,
            state: START,
            broken: None,
        }
    }

    /// Sets the longest payload accepted, in bytes; any value works,
    /// `usize::MAX` included.
    pub fn with_max_length(mut self, max_length: usize) -> NetstringCodec {
        self.max_length = max_length;
        self
    }

    /// The longest payload accepted.
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// The parse error that broke the codec, if one did (Twisted's
    /// `brokenPeer`).
    pub fn parse_error(&self) -> Option<NetstringParseError> {
        self.broken
    }

    /// Appends `payload` as a netstring.
    pub fn encode_netstring(payload: &[u8], buffer: &mut BytesMut) {
        let length = payload.len().to_string();
        buffer.reserve(length.len() + 1 + payload.len() + 1);
        buffer.extend_from_slice(length.as_bytes());
        buffer.extend_from_slice(b":");
        buffer.extend_from_slice(payload);
        buffer.extend_from_slice(b",");
    }

    fn fail(&mut self, error: NetstringParseError) -> NetstringError {
        self.broken = Some(error);
        error.into()
    }

    /// Reads length digits up to the colon; returns the length once the
    /// colon is read.
    fn parse_length(
        &mut self,
        buffer: &mut BytesMut,
        mut value: usize,
        mut digits: usize,
    ) -> Result<Option<usize>, NetstringError> {
        let mut read = 0;
        let outcome = loop {
            let Some(&byte) = buffer.get(read) else {
                self.state = Parse::Length { value, digits };
                break Ok(None);
            };
            read += 1;
            match byte {
                b'0'..=b'9' if digits == 1 && value == 0 => {
                    break Err(self.fail(NetstringParseError::InvalidLength));
                }
                b'0'..=b'9' => {
                    let next = value
                        .checked_mul(10)
                        .and_then(|v| v.checked_add(usize::from(byte - b'0')))
                        .filter(|&v| v <= self.max_length);
                    let Some(next) = next else {
                        let max = self.max_length;
                        break Err(self.fail(NetstringParseError::TooLong { max }));
                    };
                    value = next;
                    digits += 1;
                }
                b':' if digits > 0 => break Ok(Some(value)),
                _ if digits == 0 => break Err(self.fail(NetstringParseError::InvalidLength)),
                _ => break Err(self.fail(NetstringParseError::MissingColon)),
            }
        };
        buffer.advance(read);
        outcome
    }
}

impl Decoder for NetstringCodec {
    type Item = BytesMut;
    type Error = NetstringError;

    fn decode(&mut self, buffer: &mut BytesMut) -> Result<Option<BytesMut>, NetstringError> {
        if self.broken.is_some() {
            buffer.clear();
            return Ok(None);
        }
        let length = match self.state {
            Parse::Length { value, digits } => match self.parse_length(buffer, value, digits)? {
                Some(length) => length,
                None => return Ok(None),
            },
            Parse::Payload { length } => length,
        };
        // The payload and its comma; `<=` rather than `length + 1` keeps a
        // length near usize::MAX from overflowing.
        if buffer.len() <= length {
            self.state = Parse::Payload { length };
            return Ok(None);
        }
        if buffer[length] != b',' {
            return Err(self.fail(NetstringParseError::MissingComma));
        }
        let payload = buffer.split_to(length);
        buffer.advance(1);
        self.state = START;
        Ok(Some(payload))
    }

    /// As `decode`: an unfinished netstring at the end is dropped.
    fn decode_eof(&mut self, buffer: &mut BytesMut) -> Result<Option<BytesMut>, NetstringError> {
        self.decode(buffer)
    }
}

impl Encoder<&[u8]> for NetstringCodec {
    type Error = NetstringError;

    /// Appends `payload` as a netstring.
    fn encode(&mut self, payload: &[u8], buffer: &mut BytesMut) -> Result<(), NetstringError> {
        NetstringCodec::encode_netstring(payload, buffer);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 10^17, the length announced by the tests below.
    const HUGE: &[u8] = b"100000000000000000:";

    /// Decodes `HUGE` and then 1000 payload bytes under `max_length`.
    fn announce_huge(max_length: usize) -> (Result<Option<BytesMut>, NetstringError>, BytesMut) {
        let mut codec = NetstringCodec::new().with_max_length(max_length);
        let mut buffer = BytesMut::from(HUGE);
        let first = codec.decode(&mut buffer);
        if !matches!(first, Ok(None)) {
            return (first, buffer);
        }
        buffer.extend_from_slice(&[b'x'; 1000]);
        (codec.decode(&mut buffer), buffer)
    }

    #[test]
    fn a_huge_announced_length_under_a_raised_maximum_reserves_nothing() {
        let (outcome, buffer) = announce_huge(10usize.pow(18));
        assert!(matches!(outcome, Ok(None)));
        assert_eq!(buffer.len(), 1000);
        assert!(buffer.capacity() < 4096, "{} held", buffer.capacity());
    }

    #[test]
    fn a_huge_announced_length_under_the_largest_maximum_reserves_nothing() {
        let (outcome, buffer) = announce_huge(usize::MAX);
        assert!(matches!(outcome, Ok(None)));
        assert!(buffer.capacity() < 4096, "{} held", buffer.capacity());
    }

    #[test]
    fn a_huge_announced_length_over_a_raised_maximum_is_too_long() {
        let max = 10usize.pow(17) - 1;
        let (outcome, _) = announce_huge(max);
        assert!(matches!(
            outcome,
            Err(NetstringError::Parse(NetstringParseError::TooLong { max: m })) if m == max
        ));
    }

    #[test]
    fn digits_past_usize_are_too_long_under_the_largest_maximum() {
        let mut codec = NetstringCodec::new().with_max_length(usize::MAX);
        let mut buffer = BytesMut::from(&b"99999999999999999999999:"[..]);
        assert!(matches!(
            codec.decode(&mut buffer),
            Err(NetstringError::Parse(NetstringParseError::TooLong {
                max: usize::MAX
            }))
        ));
    }

    #[test]
    fn a_payload_of_the_largest_length_waits_without_overflow() {
        let mut codec = NetstringCodec::new().with_max_length(usize::MAX);
        let mut buffer = BytesMut::from(format!("{}:abc", usize::MAX).as_bytes());
        assert!(matches!(codec.decode(&mut buffer), Ok(None)));
        assert_eq!(&buffer[..], b"abc");
    }
}
