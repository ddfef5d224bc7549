//! [`PrefixedCodec`]: strings prefixed with their length as a big-endian
//! integer.

use std::io;

use bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

/// The default longest string accepted, in bytes (Twisted's
/// `MAX_LENGTH`).
pub const PREFIXED_MAX_LENGTH: usize = 99999;

/// The size of the length prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrefixLength {
    /// One byte (Twisted's `Int8StringReceiver`, `"!B"`).
    Int8,
    /// Two bytes, big-endian (`Int16StringReceiver`, `"!H"`).
    Int16,
    /// Four bytes, big-endian (`Int32StringReceiver`, `"!I"`).
    Int32,
}

impl PrefixLength {
    /// How many bytes the prefix takes.
    pub fn bytes(self) -> usize {
        match self {
            PrefixLength::Int8 => 1,
            PrefixLength::Int16 => 2,
            PrefixLength::Int32 => 4,
        }
    }

    /// The length of the longest string the prefix can announce.
    pub fn max_encodable(self) -> u64 {
        (1u64 << (8 * self.bytes())) - 1
    }

    /// The prefix announcing `length`, in its first [`bytes`](Self::bytes)
    /// bytes; `length` must be at most [`max_encodable`](Self::max_encodable).
    pub(crate) fn encode(self, length: usize) -> [u8; 4] {
        let be = (length as u32).to_be_bytes();
        let mut out = [0; 4];
        out[..self.bytes()].copy_from_slice(&be[4 - self.bytes()..]);
        out
    }

    /// The length a prefix announces: a u64, so that no prefix size
    /// overflows on any target.
    fn decode(self, prefix: &[u8]) -> u64 {
        prefix[..self.bytes()]
            .iter()
            .fold(0u64, |value, &byte| (value << 8) | u64::from(byte))
    }

    /// Refuses a string the prefix cannot announce.
    pub(crate) fn check(self, length: usize) -> Result<(), StringTooLong> {
        if length as u64 > self.max_encodable() {
            return Err(StringTooLong {
                length,
                prefix: self,
            });
        }
        Ok(())
    }
}

/// A string too long for its length prefix was given to `send_string`
/// (Twisted's `StringTooLongError`). Nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a string of {length} bytes is too long for a {prefix:?} length prefix")]
pub struct StringTooLong {
    /// The string's length.
    pub length: usize,
    /// The prefix it did not fit.
    pub prefix: PrefixLength,
}

/// Why a [`PrefixedCodec`] stopped.
#[derive(Debug, thiserror::Error)]
pub enum PrefixedError {
    /// A prefix announced more than the maximum (Twisted's
    /// `lengthLimitExceeded`). The prefix stays buffered: decoding it
    /// again fails again.
    #[error("a length prefix announced {length} bytes, over the maximum of {max}")]
    LengthLimitExceeded {
        /// The length announced.
        length: u64,
        /// The maximum in force.
        max: usize,
    },
    /// A string given to the encoder does not fit the prefix.
    #[error(transparent)]
    StringTooLong(#[from] StringTooLong),
    /// Reading failed; only a codec stack over an I/O source reports this,
    /// never the codec itself.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// A codec for length-prefixed strings, for
/// [`FramedProtocol`](crate::protocols::FramedProtocol) (as
/// [`IntNStringReceiver`](crate::protocols::IntNStringReceiver) uses it)
/// or any `tokio_util` framing.
///
/// The prefix is checked against the maximum as soon as it is complete,
/// and nothing is reserved for the string it announces: the buffer grows
/// only with the bytes that actually arrive. Each string is split from the
/// buffer without a copy.
///
/// ```
/// use bytes::BytesMut;
/// use tokio_util::codec::Decoder;
/// use torsion::protocols::{PrefixLength, PrefixedCodec};
///
/// let mut codec = PrefixedCodec::new(PrefixLength::Int16);
/// let mut buffer = BytesMut::from(&b"\x00\x02hi\x00"[..]);
/// assert_eq!(codec.decode(&mut buffer).unwrap().as_deref(), Some(&b"hi"[..]));
/// assert_eq!(codec.decode(&mut buffer).unwrap(), None);
/// ```
#[derive(Debug, Clone)]
pub struct PrefixedCodec {
    prefix: PrefixLength,
    max_length: usize,
}

impl PrefixedCodec {
    /// A codec with a `prefix`-sized length prefix, accepting strings of
    /// up to [`PREFIXED_MAX_LENGTH`] bytes.
    pub fn new(prefix: PrefixLength) -> PrefixedCodec {
        PrefixedCodec {
            prefix,
            max_length: PREFIXED_MAX_LENGTH,
        }
    }

    /// Sets the longest string accepted, in bytes; any value works,
    /// `usize::MAX` included.
    pub fn with_max_length(mut self, max_length: usize) -> PrefixedCodec {
        self.max_length = max_length;
        self
    }

    /// The prefix size.
    pub fn prefix(&self) -> PrefixLength {
        self.prefix
    }

    /// The longest string accepted.
    pub fn max_length(&self) -> usize {
        self.max_length
    }
}

impl Decoder for PrefixedCodec {
    type Item = BytesMut;
    type Error = PrefixedError;

    fn decode(&mut self, buffer: &mut BytesMut) -> Result<Option<BytesMut>, PrefixedError> {
        let prefix = self.prefix.bytes();
        if buffer.len() < prefix {
            return Ok(None);
        }
        let announced = self.prefix.decode(buffer);
        let length = match usize::try_from(announced) {
            Ok(length) if length <= self.max_length => length,
            _ => {
                return Err(PrefixedError::LengthLimitExceeded {
                    length: announced,
                    max: self.max_length,
                });
            }
        };
        // Compared without adding, so that no maximum overflows.
        if buffer.len() - prefix < length {
            return Ok(None);
        }
        buffer.advance(prefix);
        Ok(Some(buffer.split_to(length)))
    }

    /// As `decode`: an unfinished string at the end is dropped.
    fn decode_eof(&mut self, buffer: &mut BytesMut) -> Result<Option<BytesMut>, PrefixedError> {
        self.decode(buffer)
    }
}

impl Encoder<&[u8]> for PrefixedCodec {
    type Error = PrefixedError;

    /// Appends the prefix and `data`, or refuses, appending nothing, a
    /// string the prefix cannot announce.
    fn encode(&mut self, data: &[u8], buffer: &mut BytesMut) -> Result<(), PrefixedError> {
        self.prefix.check(data.len())?;
        let prefix = self.prefix.encode(data.len());
        buffer.reserve(self.prefix.bytes() + data.len());
        buffer.extend_from_slice(&prefix[..self.prefix.bytes()]);
        buffer.extend_from_slice(data);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WIDTHS: [PrefixLength; 3] =
        [PrefixLength::Int8, PrefixLength::Int16, PrefixLength::Int32];

    /// The largest length `prefix` can announce, as the prefix's bytes.
    fn largest_prefix(prefix: PrefixLength) -> BytesMut {
        let encoded = prefix.encode(prefix.max_encodable() as usize);
        BytesMut::from(&encoded[..prefix.bytes()])
    }

    #[test]
    fn the_largest_announced_length_under_the_largest_maximum_reserves_nothing() {
        for prefix in WIDTHS {
            let mut codec = PrefixedCodec::new(prefix).with_max_length(usize::MAX);
            let mut buffer = largest_prefix(prefix);
            buffer.extend_from_slice(&[b'x'; 100]);
            assert!(matches!(codec.decode(&mut buffer), Ok(None)), "{prefix:?}");
            assert_eq!(buffer.len(), prefix.bytes() + 100, "{prefix:?}");
            assert!(
                buffer.capacity() < 4096,
                "{prefix:?}: {}",
                buffer.capacity()
            );
        }
    }

    #[test]
    fn an_announced_length_over_the_maximum_is_a_typed_error_for_every_width() {
        for prefix in WIDTHS {
            let mut codec = PrefixedCodec::new(prefix).with_max_length(1);
            let mut buffer = largest_prefix(prefix);
            match codec.decode(&mut buffer) {
                Err(PrefixedError::LengthLimitExceeded { length, max: 1 }) => {
                    assert_eq!(length, prefix.max_encodable(), "{prefix:?}");
                }
                other => panic!("{prefix:?}: {other:?}"),
            }
        }
    }
}
