//! The box parser's properties as functions of raw bytes, for the fuzz
//! target under `fuzz/` and the property tests beside the codec. Built
//! for tests and with the `fuzzing` feature only; not part of the API.

use bytes::BytesMut;
use torsion::protocols::Encoder;
use torsion::testing::decode_in_chunks;

use crate::BoxCodec;

/// Any bytes, cut into chunks whose sizes the first bytes choose: the
/// decoder never panics; it decodes the same boxes and error as with the
/// whole input at once; and the boxes it decodes encode and decode again
/// to themselves.
pub fn boxes(data: &[u8]) {
    let count = usize::from(data.first().copied().unwrap_or(0) % 8) + 1;
    let sizes: Vec<usize> = data
        .iter()
        .skip(1)
        .take(count)
        .map(|&size| usize::from(size % 32) + 1)
        .collect();
    let stream = data.get(1 + count..).unwrap_or_default();
    let whole = decode_in_chunks(BoxCodec::new(), stream, [usize::MAX]);
    let chunked = decode_in_chunks(BoxCodec::new(), stream, sizes);
    assert_eq!(chunked.frames, whole.frames, "boxes in chunks");
    assert_eq!(chunked.error, whole.error, "error in chunks");
    if whole.error.is_none() {
        assert_eq!(chunked.rest, whole.rest, "rest in chunks");
    }
    let mut encoded = BytesMut::new();
    for amp_box in &whole.frames {
        BoxCodec::new()
            .encode(amp_box, &mut encoded)
            .expect("a decoded box encodes");
    }
    let again = decode_in_chunks(BoxCodec::new(), &encoded, [usize::MAX]);
    assert_eq!(again.frames, whole.frames, "boxes encoded again");
    assert_eq!(again.error, None);
}

#[cfg(test)]
mod tests {
    /// Runs [`boxes`](super::boxes) on every input committed under
    /// `fuzz/corpus/amp_box`: the seeds, and each crash a fuzzer found, kept
    /// there once fixed.
    #[test]
    fn every_committed_corpus_input_holds_its_property() {
        let replayed = torsion::testing::replay_corpus(
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/amp_box"),
            super::boxes,
        );
        assert!(replayed >= 6, "the seeds of amp_box");
    }
}
