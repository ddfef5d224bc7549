//! `Range` headers: whatever the header, the ranges served lie within the
//! file, do not overlap, are few, and the multipart body's announced
//! length is what its pieces add up to.

use super::Input;
use crate::static_files::range::{Piece, RangeRequest, multipart, parse};

/// Reads a file length and a `Range` header from the input and checks
/// what the header asks of the file. Lengths go up to the largest a file
/// can have (`i64::MAX`).
pub fn range_header(data: &[u8]) {
    let mut input = Input::new(data);
    let len = match input.byte() % 6 {
        0 => 0,
        1 => 1,
        2 => 10,
        3 => 1000,
        4 => i64::MAX as u64,
        _ => u64::from_le_bytes(std::array::from_fn(|_| input.byte())) % (i64::MAX as u64 + 1),
    };
    let header = String::from_utf8_lossy(input.rest());
    let RangeRequest::Ranges(ranges) = parse(&header, len) else {
        return;
    };
    assert!(
        !ranges.is_empty() && ranges.len() <= 32,
        "{header:?}: {ranges:?}"
    );
    for range in &ranges {
        assert!(
            range.first <= range.last && range.last < len,
            "{header:?} on {len} bytes: {range:?}"
        );
    }
    let mut sorted = ranges.clone();
    sorted.sort_by_key(|range| range.first);
    for pair in sorted.windows(2) {
        assert!(pair[0].last < pair[1].first, "{header:?}: overlap {pair:?}");
    }
    let (pieces, length) = multipart(&ranges, len, "text/plain", "boundary");
    let added: u64 = pieces
        .iter()
        .map(|piece| match piece {
            Piece::Bytes(bytes) => bytes.len() as u64,
            Piece::File(range) => range.len(),
        })
        .sum();
    assert_eq!(added, length, "{header:?} on {len} bytes");
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::fuzzing::property_config;

    /// A length choice, then `bytes=` specs made of numbers, dashes and
    /// commas.
    fn headers() -> impl Strategy<Value = Vec<u8>> {
        let spec = prop_oneof![
            (0u64..2000, 0u64..2000).prop_map(|(first, last)| format!("{first}-{last}")),
            (0u64..2000).prop_map(|first| format!("{first}-")),
            (0u64..2000).prop_map(|suffix| format!("-{suffix}")),
            "[0-9 ,-]{0,8}",
            Just("99999999999999999999999-".to_owned()),
        ];
        (any::<u8>(), "bytes|BYTES|items| bytes ", vec(spec, 0..40)).prop_map(
            |(len, unit, specs)| {
                let mut data = vec![len];
                data.extend_from_slice(format!("{unit}={}", specs.join(",")).as_bytes());
                data
            },
        )
    }

    proptest! {
        #![proptest_config(property_config(2048))]

        #[test]
        fn ranges_served_lie_within_the_file_and_add_up(data in headers()) {
            range_header(&data);
        }
    }
}
