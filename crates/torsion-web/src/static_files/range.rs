//! Byte ranges (RFC 9110 §14): parsing a `Range: bytes=...` header against
//! a file's length, and laying out a `multipart/byteranges` body.

use bytes::Bytes;

/// More ranges than this in one request are ignored (the whole file is
/// sent): many tiny or overlapping ranges cost more than the file.
const MAX_RANGES: usize = 32;

/// An inclusive span of bytes, `first..=last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ByteRange {
    pub(crate) first: u64,
    pub(crate) last: u64,
}

impl ByteRange {
    pub(crate) fn len(&self) -> u64 {
        self.last - self.first + 1
    }

    /// The Content-Range value of this range of a `total`-byte file.
    pub(crate) fn content_range(&self, total: u64) -> String {
        format!("bytes {}-{}/{}", self.first, self.last, total)
    }
}

/// What a Range header asks of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RangeRequest {
    /// Malformed, another unit, or too greedy: send the whole file (200).
    Ignore,
    /// No range overlaps the file: 416.
    Unsatisfiable,
    /// These ranges, in the order asked, none overlapping another.
    Ranges(Vec<ByteRange>),
}

/// Reads a Range header's value against a file of `len` bytes.
pub(crate) fn parse(header: &str, len: u64) -> RangeRequest {
    let Some((unit, specs)) = header.split_once('=') else {
        return RangeRequest::Ignore;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return RangeRequest::Ignore;
    }
    let mut ranges = Vec::new();
    let mut asked = 0;
    for spec in specs
        .split(',')
        .map(str::trim)
        .filter(|spec| !spec.is_empty())
    {
        asked += 1;
        if asked > MAX_RANGES {
            return RangeRequest::Ignore;
        }
        match parse_spec(spec, len) {
            Spec::Invalid => return RangeRequest::Ignore,
            Spec::Outside => {}
            Spec::Within(range) => ranges.push(range),
        }
    }
    if asked == 0 {
        return RangeRequest::Ignore;
    }
    if ranges.is_empty() {
        return RangeRequest::Unsatisfiable;
    }
    let mut sorted = ranges.clone();
    sorted.sort_by_key(|range| range.first);
    if sorted.windows(2).any(|pair| pair[1].first <= pair[0].last) {
        return RangeRequest::Ignore;
    }
    RangeRequest::Ranges(ranges)
}

enum Spec {
    Invalid,
    Outside,
    Within(ByteRange),
}

fn parse_spec(spec: &str, len: u64) -> Spec {
    let Some((first, last)) = spec.split_once('-') else {
        return Spec::Invalid;
    };
    let number = |text: &str| -> Option<u64> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // More digits than u64 holds still mean "past the end".
        Some(text.parse().unwrap_or(u64::MAX))
    };
    match (first.trim(), last.trim()) {
        ("", suffix) => match number(suffix) {
            None => Spec::Invalid,
            Some(0) => Spec::Outside,
            Some(_) if len == 0 => Spec::Outside,
            Some(suffix) => Spec::Within(ByteRange {
                first: len.saturating_sub(suffix),
                last: len - 1,
            }),
        },
        (first, "") => match number(first) {
            None => Spec::Invalid,
            Some(first) if first >= len => Spec::Outside,
            Some(first) => Spec::Within(ByteRange {
                first,
                last: len - 1,
            }),
        },
        (first, last) => match (number(first), number(last)) {
            (Some(first), Some(last)) if last >= first => {
                if first >= len {
                    Spec::Outside
                } else {
                    Spec::Within(ByteRange {
                        first,
                        last: last.min(len - 1),
                    })
                }
            }
            _ => Spec::Invalid,
        },
    }
}

/// One piece of a response body: bytes in hand, or a span of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Bytes(Bytes),
    File(ByteRange),
}

/// The body of a `multipart/byteranges` response: each range behind its
/// own headers, then the closing boundary. Returns the pieces and their
/// total length (for Content-Length).
pub(crate) fn multipart(
    ranges: &[ByteRange],
    total: u64,
    content_type: &str,
    boundary: &str,
) -> (Vec<Piece>, u64) {
    let mut pieces = Vec::with_capacity(ranges.len() * 2 + 1);
    let mut length = 0;
    for range in ranges {
        let head = format!(
            "\r\n--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: {}\r\n\r\n",
            range.content_range(total)
        );
        length += head.len() as u64 + range.len();
        pieces.push(Piece::Bytes(Bytes::from(head)));
        pieces.push(Piece::File(*range));
    }
    let tail = format!("\r\n--{boundary}--\r\n");
    length += tail.len() as u64;
    pieces.push(Piece::Bytes(Bytes::from(tail)));
    (pieces, length)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(pairs: &[(u64, u64)]) -> RangeRequest {
        RangeRequest::Ranges(
            pairs
                .iter()
                .map(|&(first, last)| ByteRange { first, last })
                .collect(),
        )
    }

    #[test]
    fn the_three_forms_of_a_range() {
        assert_eq!(parse("bytes=0-9", 100), ranges(&[(0, 9)]));
        assert_eq!(parse("bytes=90-", 100), ranges(&[(90, 99)]));
        assert_eq!(parse("bytes=-10", 100), ranges(&[(90, 99)]));
        assert_eq!(parse("bytes=-500", 100), ranges(&[(0, 99)]));
        assert_eq!(parse("bytes=95-200", 100), ranges(&[(95, 99)]));
        assert_eq!(parse("Bytes = 0-1, 5-6", 100), ranges(&[(0, 1), (5, 6)]));
    }

    #[test]
    fn ranges_past_the_end_are_unsatisfiable_unless_another_fits() {
        assert_eq!(parse("bytes=100-", 100), RangeRequest::Unsatisfiable);
        assert_eq!(parse("bytes=-0", 100), RangeRequest::Unsatisfiable);
        assert_eq!(parse("bytes=0-0", 0), RangeRequest::Unsatisfiable);
        assert_eq!(parse("bytes=200-300, 0-0", 100), ranges(&[(0, 0)]));
        assert_eq!(
            parse("bytes=99999999999999999999999-", 100),
            RangeRequest::Unsatisfiable
        );
    }

    #[test]
    fn malformed_greedy_or_overlapping_ranges_are_ignored() {
        for header in [
            "bytes=9-0",
            "bytes=a-b",
            "bytes=--1",
            "bytes=+1-2",
            "bytes=",
            "items=0-1",
            "0-1",
            "bytes=0-5,3-8",
        ] {
            assert_eq!(parse(header, 100), RangeRequest::Ignore, "{header}");
        }
        let many = format!("bytes={}", vec!["0-0"; 33].join(","));
        assert_eq!(parse(&many, 100), RangeRequest::Ignore);
    }

    #[test]
    fn a_multipart_body_declares_its_exact_length() {
        let asked = [
            ByteRange { first: 0, last: 1 },
            ByteRange { first: 5, last: 6 },
        ];
        let (pieces, length) = multipart(&asked, 10, "text/plain", "XYZ");
        let mut written = 0;
        for piece in &pieces {
            written += match piece {
                Piece::Bytes(bytes) => bytes.len() as u64,
                Piece::File(range) => range.len(),
            };
        }
        assert_eq!(written, length);
        assert_eq!(pieces.len(), 5);
        let Piece::Bytes(first) = &pieces[0] else {
            panic!("a part starts with its headers");
        };
        assert_eq!(
            first,
            "\r\n--XYZ\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/10\r\n\r\n"
        );
    }
}
