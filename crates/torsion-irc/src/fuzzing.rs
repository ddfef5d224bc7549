//! The line parser's properties as functions of raw bytes, for the fuzz
//! target under `fuzz/` and the property tests beside the codec. Built
//! for tests and with the `fuzzing` feature only; not part of the API.

use bytes::BytesMut;
use torsion::protocols::Decoder;

use crate::{IrcCodec, Message};

/// What decoding a stream gave, going on after each error as a
/// connection does: messages, and errors by kind (where an over-long
/// line is noticed, and so how much of it was seen, depends on the
/// chunking; which part was too long does not).
#[derive(Debug, PartialEq)]
pub struct Outcome {
    /// Each message, or the kind of each error, in order.
    pub items: Vec<Result<Message, String>>,
    /// What was left undecoded.
    pub rest: Vec<u8>,
}

/// Decodes `data` cut into chunks of `sizes` (cycled), calling `decode`
/// until it has nothing more after each chunk, and going on after errors.
pub fn decode_all(mut codec: IrcCodec, data: &[u8], sizes: &[usize]) -> Outcome {
    let mut buffer = BytesMut::new();
    let mut items = Vec::new();
    let mut sizes = sizes.iter().copied().cycle();
    let mut remaining = data;
    while !remaining.is_empty() {
        let size = sizes.next().unwrap_or(usize::MAX).clamp(1, remaining.len());
        let (chunk, rest) = remaining.split_at(size);
        remaining = rest;
        buffer.extend_from_slice(chunk);
        loop {
            match codec.decode(&mut buffer) {
                Ok(Some(message)) => items.push(Ok(message)),
                Ok(None) => break,
                Err(crate::IrcError::LineTooLong { part, .. }) => {
                    items.push(Err(format!("too long: {part}")))
                }
                Err(error) => items.push(Err(format!("{error}"))),
            }
        }
    }
    Outcome {
        items,
        rest: buffer.to_vec(),
    }
}

/// Any bytes, under limits and chunk sizes that the first bytes choose
/// (small limits, so that short inputs pass them): the decoder never
/// panics; it decodes the same messages and errors in chunks as whole;
/// it never holds more than a line's worth of bytes; and every message it
/// decodes is valid and reads back as itself once written.
pub fn lines(data: &[u8]) {
    let byte = |index: usize| usize::from(data.get(index).copied().unwrap_or(0));
    let max_line = 3 + byte(0) % 64;
    let max_tags = 1 + byte(1) % 64;
    let count = byte(2) % 8 + 1;
    let sizes: Vec<usize> = (0..count).map(|index| byte(3 + index) % 32 + 1).collect();
    let stream = data.get(3 + count..).unwrap_or_default();
    let codec = || IrcCodec::with_limits(max_line, max_tags);
    let whole = decode_all(codec(), stream, &[usize::MAX]);
    let chunked = decode_all(codec(), stream, &sizes);
    assert_eq!(chunked, whole, "decoded in chunks of {sizes:?}");
    assert!(
        whole.rest.len() <= max_line + max_tags,
        "{} bytes held",
        whole.rest.len()
    );
    for message in whole.items.iter().flatten() {
        message.validate().expect("a decoded message is valid");
        let written = message.to_string();
        let again = Message::parse(written.as_bytes()).expect("a written message parses");
        assert_eq!(&again, message, "written as {written:?}");
    }
}

#[cfg(test)]
mod tests {
    /// Runs [`lines`](super::lines) on every input committed under
    /// `fuzz/corpus/irc_line`: the seeds, and each crash a fuzzer found, kept
    /// there once fixed.
    #[test]
    fn every_committed_corpus_input_holds_its_property() {
        let replayed = torsion::testing::replay_corpus(
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/irc_line"),
            super::lines,
        );
        assert!(replayed >= 5, "the seeds of irc_line");
    }
}
