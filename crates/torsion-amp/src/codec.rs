//! [`BoxCodec`]: AMP's boxes on torsion's framing layer, a
//! `tokio_util` [`Decoder`] and [`Encoder`] that a
//! [`FramedProtocol`](torsion::protocols::FramedProtocol) drives.
//!
//! The decoder is Twisted's `BinaryBoxProtocol` state machine: a key (at
//! most 255 bytes; an empty one ends the box), then its value (at most
//! 65535, all a 16-bit length can say), again and again. Each complete
//! key or value is split off the buffer as it arrives, so a box of many
//! pairs is never rescanned, and nothing is reserved for a length the
//! peer announces.

use bytes::{Buf, Bytes, BytesMut};
use torsion::protocols::{Decoder, Encoder};

use crate::{AmpBox, AmpError, MAX_KEY_LENGTH};

/// Cuts a byte stream into [`AmpBox`]es and writes boxes to one.
///
/// A key over 255 bytes is an [`AmpError::KeyTooLong`], after which the
/// decoder gives only that error (Twisted drops the connection there:
/// nothing after it can be trusted). A box left unfinished when the
/// stream ends is dropped.
///
/// ```
/// use torsion_amp::BoxCodec;
/// use torsion::testing::replay_decoder;
///
/// let decoded = replay_decoder(b"\x00\x01a\x00\x011\x00\x00\x00\x01b", BoxCodec::new);
/// assert_eq!(decoded.frames.len(), 1);
/// assert_eq!(decoded.frames[0].get("a").unwrap(), "1");
/// ```
#[derive(Debug, Default)]
pub struct BoxCodec {
    /// The box being read.
    current: AmpBox,
    /// A key whose value has not arrived yet.
    key: Option<Bytes>,
    /// The key length that broke the stream.
    broken: Option<usize>,
}

impl BoxCodec {
    /// A codec at the start of a stream.
    pub fn new() -> BoxCodec {
        BoxCodec::default()
    }

    /// True when no box is half read.
    fn is_between_boxes(&self) -> bool {
        self.key.is_none() && self.current.is_empty()
    }
}

impl Decoder for BoxCodec {
    type Item = AmpBox;
    type Error = AmpError;

    fn decode(&mut self, buffer: &mut BytesMut) -> Result<Option<AmpBox>, AmpError> {
        if let Some(length) = self.broken {
            return Err(AmpError::KeyTooLong { length });
        }
        loop {
            let Some(header) = buffer.get(..2) else {
                return Ok(None);
            };
            let length = usize::from(u16::from_be_bytes([header[0], header[1]]));
            if self.key.is_none() {
                if length == 0 {
                    buffer.advance(2);
                    return Ok(Some(std::mem::take(&mut self.current)));
                }
                if length > MAX_KEY_LENGTH {
                    self.broken = Some(length);
                    return Err(AmpError::KeyTooLong { length });
                }
            }
            if buffer.len() < 2 + length {
                return Ok(None);
            }
            buffer.advance(2);
            let string = buffer.split_to(length).freeze();
            match self.key.take() {
                None => self.key = Some(string),
                Some(key) => {
                    self.current.insert(key, string);
                }
            }
        }
    }

    fn decode_eof(&mut self, buffer: &mut BytesMut) -> Result<Option<AmpBox>, AmpError> {
        if let Some(amp_box) = self.decode(buffer)? {
            return Ok(Some(amp_box));
        }
        // An unfinished box at the end of the stream is dropped, as
        // Twisted drops it.
        buffer.clear();
        self.current = AmpBox::new();
        self.key = None;
        Ok(None)
    }
}

impl Encoder<&AmpBox> for BoxCodec {
    type Error = AmpError;

    fn encode(&mut self, item: &AmpBox, dst: &mut BytesMut) -> Result<(), AmpError> {
        item.encode_into(dst)
    }
}

impl Encoder<AmpBox> for BoxCodec {
    type Error = AmpError;

    fn encode(&mut self, item: AmpBox, dst: &mut BytesMut) -> Result<(), AmpError> {
        item.encode_into(dst)
    }
}

/// The boxes one after another in `data`, as an `AmpList` value holds
/// them (Twisted's `amp.parseString`), which must end at a box's end.
pub fn parse_boxes(data: &[u8]) -> Result<Vec<AmpBox>, AmpError> {
    let mut codec = BoxCodec::new();
    let mut buffer = BytesMut::from(data);
    let mut boxes = Vec::new();
    while let Some(amp_box) = codec.decode(&mut buffer)? {
        boxes.push(amp_box);
    }
    if buffer.is_empty() && codec.is_between_boxes() {
        Ok(boxes)
    } else {
        Err(AmpError::Truncated)
    }
}

#[cfg(test)]
mod tests;
