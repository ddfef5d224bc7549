//! The chunked body (RFC 9112, section 7.1): chunk sizes, extensions,
//! data, and the trailer section. Only the data is content; the rest is
//! read to know where the data and the next request start, and is never
//! kept: extensions and trailers are checked and dropped.

use http::StatusCode;

use super::classes::TCHAR;
use super::{Http1Check, Refused, State};

/// The most bytes of one chunk extension: no extension is understood, so a
/// longer one would only keep the server reading framing without content,
/// and one line's worth is plenty for any real client.
const MAX_CHUNK_EXTENSION: usize = 4096;

impl Http1Check {
    /// The state after `byte` in a chunked body.
    pub(super) fn next_in_chunks(&mut self, byte: u8) -> Result<State, Refused> {
        const BAD: StatusCode = StatusCode::BAD_REQUEST;
        Ok(match self.state {
            State::ChunkSize { digits, size } => match byte {
                b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                    let digit = (byte as char).to_digit(16).unwrap_or(0);
                    let size = size
                        .checked_mul(16)
                        .map(|size| size + u64::from(digit))
                        .ok_or((BAD, "chunk size too large"))?;
                    State::ChunkSize {
                        digits: digits.saturating_add(1),
                        size,
                    }
                }
                b';' if digits > 0 => State::ChunkExtension { size, len: 1 },
                b' ' | b'\t' if digits > 0 => State::ChunkSizeSpace(size),
                b'\r' if digits > 0 => State::ChunkSizeLf(size),
                _ => return Err((BAD, "malformed chunk size")),
            },
            // Whitespace may come before an extension's `;` (the BWS of
            // RFC 9112, section 7.1.1) and, leniently, before the line's
            // end; nothing else may.
            State::ChunkSizeSpace(size) => match byte {
                b' ' | b'\t' => State::ChunkSizeSpace(size),
                b';' => State::ChunkExtension { size, len: 1 },
                b'\r' => State::ChunkSizeLf(size),
                _ => return Err((BAD, "malformed chunk size")),
            },
            State::ChunkExtension { size, len } => match byte {
                b'\r' => State::ChunkSizeLf(size),
                _ if len >= MAX_CHUNK_EXTENSION => {
                    return Err((BAD, "chunk extension too long"));
                }
                b'\t' | b' '..=b'~' | 0x80..=0xff => State::ChunkExtension { size, len: len + 1 },
                _ => return Err((BAD, "control character in a chunk extension")),
            },
            State::ChunkSizeLf(size) => match byte {
                b'\n' if size == 0 => State::TrailerStart,
                b'\n' => State::ChunkData(size),
                _ => return Err((BAD, "bare CR in a chunk size line")),
            },
            State::ChunkDataCr => match byte {
                b'\r' => State::ChunkDataLf,
                _ => return Err((BAD, "chunk data longer than its size")),
            },
            State::ChunkDataLf => match byte {
                b'\n' => State::ChunkSize { digits: 0, size: 0 },
                _ => return Err((BAD, "bare CR after chunk data")),
            },
            State::TrailerStart => match byte {
                b'\r' => State::TrailersEndLf,
                _ if TCHAR.contains(byte) => State::Trailer,
                _ => return Err((BAD, "malformed trailer field")),
            },
            State::Trailer => match byte {
                b'\r' => State::TrailerLf,
                b'\t' | b' '..=b'~' | 0x80..=0xff => State::Trailer,
                _ => return Err((BAD, "control character in a trailer field")),
            },
            State::TrailerLf => match byte {
                b'\n' => State::TrailerStart,
                _ => return Err((BAD, "bare CR in a trailer field")),
            },
            State::TrailersEndLf => match byte {
                b'\n' => {
                    self.request_done();
                    self.state
                }
                _ => return Err((BAD, "bare CR after the trailers")),
            },
            _ => self.state,
        })
    }
}
