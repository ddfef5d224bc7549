//! The framing decoders: the same frames and the same error whatever the
//! chunking, and a buffer that grows only with the bytes that arrive.

use std::fmt;
use std::io;

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

use super::{Input, maximums};
use crate::protocols::{
    Delimiter, LineCodec, LineError, LineFrame, NetstringCodec, PrefixLength, PrefixedCodec,
};
use crate::testing::{Decoded, decode_in_chunks};

/// How much memory a buffer may hold beyond twice what arrived: what
/// `BytesMut` keeps when it reuses an allocation after frames were split
/// off. An announced length reserved up front is far beyond it.
const ALLOCATION_SLACK: usize = 128 * 1024;

/// Netstrings under any maximum, in any chunking: see [`check_decoder`];
/// the frames also survive an encode and decode round trip.
pub fn netstring(data: &[u8]) {
    let mut input = Input::new(data);
    let max = input.pick(&maximums());
    let sizes = input.chunk_sizes();
    let stream = input.rest();
    let build = || NetstringCodec::new().with_max_length(max);
    let decoded = check_decoder(stream, &sizes, build, |error| format!("{error:?}"));
    let mut encoded = BytesMut::new();
    for frame in &decoded.frames {
        assert!(frame.len() <= max, "a frame over the maximum of {max}");
        NetstringCodec::encode_netstring(frame, &mut encoded);
    }
    let again = decode_in_chunks(build(), &encoded, [usize::MAX]);
    assert_eq!(again.frames, decoded.frames, "re-encoded frames");
    assert_eq!(again.error, None, "re-encoded frames");
}

/// Length-prefixed strings, each prefix width under any maximum, in any
/// chunking: see [`check_decoder`]; the frames also survive an encode and
/// decode round trip.
pub fn prefixed(data: &[u8]) {
    let mut input = Input::new(data);
    let prefix = input.pick(&[PrefixLength::Int8, PrefixLength::Int16, PrefixLength::Int32]);
    let max = input.pick(&maximums());
    let sizes = input.chunk_sizes();
    let stream = input.rest();
    let build = || PrefixedCodec::new(prefix).with_max_length(max);
    let decoded = check_decoder(stream, &sizes, build, |error| format!("{error:?}"));
    let mut encoded = BytesMut::new();
    for frame in &decoded.frames {
        assert!(frame.len() <= max, "a frame over the maximum of {max}");
        build()
            .encode(&frame[..], &mut encoded)
            .expect("a decoded frame fits its prefix");
    }
    let again = decode_in_chunks(build(), &encoded, [usize::MAX]);
    assert_eq!(again.frames, decoded.frames, "re-encoded frames");
    assert_eq!(again.error, None, "re-encoded frames");
}

/// Lines under every delimiter and any maximum, in any chunking: see
/// [`check_decoder`] (a too-long line is the same error, though what was
/// buffered when it was noticed depends on the chunking); no line is over
/// the maximum or holds its delimiter. In raw mode, the frames put
/// together are the input.
pub fn line(data: &[u8]) {
    let mut input = Input::new(data);
    let delimiter = match input.byte() % 6 {
        0 => Delimiter::CrLf,
        1 => Delimiter::Lf,
        2 => Delimiter::CrLfOrLf,
        3 => Delimiter::from(b"||"),
        4 => Delimiter::from(b"\r\n\r\n"),
        // Overlaps itself, so a search must not skip a start inside a
        // partial match.
        _ => Delimiter::from(b"aba"),
    };
    let raw = input.byte().is_multiple_of(4);
    let max = input.pick(&maximums());
    let sizes = input.chunk_sizes();
    let stream = input.rest();
    let build = || {
        let mut codec = LineCodec::new()
            .with_delimiter(delimiter.clone())
            .with_max_length(max);
        if raw {
            codec.set_raw_mode();
        }
        codec
    };
    if raw {
        let chunked = decode_in_chunks(build(), stream, sizes.iter().copied());
        let received: Vec<u8> = chunked
            .frames
            .iter()
            .flat_map(|frame| match frame {
                LineFrame::Raw(bytes) => bytes.to_vec(),
                LineFrame::Line(line) => panic!("a line {line:?} in raw mode"),
            })
            .collect();
        assert_eq!(received, stream, "raw mode hands out the bytes as they are");
        assert_buffer_grows_with_arrivals(build(), stream, &sizes);
        return;
    }
    let decoded = check_decoder(stream, &sizes, build, |error| match error {
        LineError::TooLong { max, .. } => format!("TooLong {{ max: {max} }}"),
        LineError::Io(error) => format!("{error:?}"),
    });
    for frame in &decoded.frames {
        let LineFrame::Line(line) = frame else {
            panic!("raw bytes {frame:?} in line mode");
        };
        assert!(line.len() <= max, "a line over the maximum of {max}");
        let ends_line = match &delimiter {
            Delimiter::CrLf => &b"\r\n"[..],
            Delimiter::Lf | Delimiter::CrLfOrLf => b"\n",
            Delimiter::Bytes(bytes) => bytes,
        };
        assert!(
            !line.windows(ends_line.len()).any(|w| w == ends_line),
            "line {line:?} holds its delimiter {delimiter:?}"
        );
    }
}

/// A decoder whose errors are reduced to what must not depend on the
/// chunking.
struct Described<D: Decoder> {
    decoder: D,
    describe: fn(&D::Error) -> String,
}

/// An error as [`Described`] describes it.
#[derive(Debug)]
struct Description(#[allow(dead_code)] String);

impl From<io::Error> for Description {
    fn from(error: io::Error) -> Description {
        Description(format!("{error:?}"))
    }
}

impl<D: Decoder> Decoder for Described<D> {
    type Item = D::Item;
    type Error = Description;

    fn decode(&mut self, buffer: &mut BytesMut) -> Result<Option<D::Item>, Description> {
        self.decoder
            .decode(buffer)
            .map_err(|error| Description((self.describe)(&error)))
    }
}

/// Decodes `stream` whole and cut by `sizes`, and checks that both give
/// the same frames and the same error (as `describe` tells it), and the
/// same bytes left over when neither failed; then that the buffer grows
/// only with what arrives. Returns what decoding it whole gave.
fn check_decoder<D>(
    stream: &[u8],
    sizes: &[usize],
    build: impl Fn() -> D,
    describe: fn(&D::Error) -> String,
) -> Decoded<D::Item>
where
    D: Decoder,
    D::Item: PartialEq + fmt::Debug,
{
    let described = || Described {
        decoder: build(),
        describe,
    };
    let whole = decode_in_chunks(described(), stream, [usize::MAX]);
    let chunked = decode_in_chunks(described(), stream, sizes.iter().copied());
    assert_eq!(chunked.frames, whole.frames, "frames, chunks of {sizes:?}");
    assert_eq!(chunked.error, whole.error, "error, chunks of {sizes:?}");
    if whole.error.is_none() {
        assert_eq!(chunked.rest, whole.rest, "rest, chunks of {sizes:?}");
    }
    assert_buffer_grows_with_arrivals(build(), stream, sizes);
    whole
}

/// Feeds `stream` cut by `sizes` and checks after each chunk that the
/// buffer holds no more than about what arrived.
fn assert_buffer_grows_with_arrivals<D: Decoder>(mut decoder: D, stream: &[u8], sizes: &[usize]) {
    let mut buffer = BytesMut::new();
    let mut arrived = 0usize;
    let mut remaining = stream;
    let mut sizes = sizes.iter().copied().cycle();
    while !remaining.is_empty() {
        let size = sizes.next().unwrap_or(usize::MAX).clamp(1, remaining.len());
        let (chunk, rest) = remaining.split_at(size);
        remaining = rest;
        buffer.extend_from_slice(chunk);
        arrived += chunk.len();
        loop {
            match decoder.decode(&mut buffer) {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => return,
            }
        }
        let bound = arrived * 2 + ALLOCATION_SLACK;
        assert!(
            buffer.capacity() <= bound,
            "{} bytes held after {arrived} arrived",
            buffer.capacity()
        );
    }
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::fuzzing::property_config;

    /// Bytes that mean something to the decoders, more often than chance
    /// gives them.
    fn framing_bytes() -> impl Strategy<Value = Vec<u8>> {
        vec(
            prop_oneof![
                4 => any::<u8>(),
                3 => proptest::sample::select(&b"0123456789:,\r\n|ab"[..]),
            ],
            0..200,
        )
    }

    proptest! {
        #![proptest_config(property_config(512))]

        #[test]
        fn netstrings_decode_the_same_in_any_chunking(data in framing_bytes()) {
            netstring(&data);
        }

        #[test]
        fn prefixed_strings_decode_the_same_in_any_chunking(data in framing_bytes()) {
            prefixed(&data);
        }

        #[test]
        fn lines_decode_the_same_in_any_chunking(data in framing_bytes()) {
            line(&data);
        }
    }
}
