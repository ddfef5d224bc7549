//! A response body as the caller reads it: gzip and deflate decoded as the
//! bytes arrive (Twisted's `ContentDecoderAgent`), and a size limit on what
//! the reader gets, so a small compressed body cannot blow up in memory.
//! Also the charset a `Content-Type` names, for `text()`.

use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use encoding_rs::{Encoding, UTF_8};
use flate2::write::{DeflateDecoder, MultiGzDecoder, ZlibDecoder};
use http::HeaderMap;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;

use crate::BodyError;

/// Decoded bytes are handed out in pieces of this size or a little more
/// (up to twice the decoder's 32 KiB buffer more), whatever the size of the
/// compressed chunk they came from.
const PIECE: usize = 64 * 1024;

/// The content codings the client decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Coding {
    Gzip,
    Deflate,
}

impl Coding {
    /// The coding of a response, if it is one coding the client decodes.
    /// Several codings (`gzip, br`) or an unknown one are left as they are.
    pub(crate) fn of(headers: &HeaderMap) -> Option<Coding> {
        let mut values = headers.get_all(CONTENT_ENCODING).iter();
        let value = values.next()?.to_str().ok()?.trim();
        if values.next().is_some() {
            return None;
        }
        match value.to_ascii_lowercase().as_str() {
            "gzip" | "x-gzip" => Some(Coding::Gzip),
            "deflate" => Some(Coding::Deflate),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
        }
    }
}

enum State {
    /// "deflate" is zlib-wrapped by the standard, raw in some servers: the
    /// first two bytes tell which.
    Sniffing(Vec<u8>),
    Gzip(MultiGzDecoder<Vec<u8>>),
    Zlib(ZlibDecoder<Vec<u8>>),
    Raw(DeflateDecoder<Vec<u8>>),
}

/// Decodes one content coding, fed compressed chunks, giving decoded
/// pieces of bounded size.
pub(crate) struct Decoder {
    coding: Coding,
    state: State,
    /// Compressed bytes not yet decoded.
    pending: Bytes,
    /// Whether any compressed byte arrived (an empty body is no error).
    fed: bool,
}

impl Decoder {
    pub(crate) fn new(coding: Coding) -> Decoder {
        let state = match coding {
            Coding::Gzip => State::Gzip(MultiGzDecoder::new(Vec::new())),
            Coding::Deflate => State::Sniffing(Vec::new()),
        };
        Decoder {
            coding,
            state,
            pending: Bytes::new(),
            fed: false,
        }
    }

    /// Takes a compressed chunk; call [`output`](Self::output) until it
    /// gives `None` before pushing the next.
    pub(crate) fn push(&mut self, chunk: Bytes) {
        debug_assert!(self.pending.is_empty());
        self.fed |= !chunk.is_empty();
        if let State::Sniffing(start) = &mut self.state {
            start.extend_from_slice(&chunk);
            if start.len() < 2 {
                return;
            }
            let start = Bytes::from(std::mem::take(start));
            self.state = if is_zlib_header(start[0], start[1]) {
                State::Zlib(ZlibDecoder::new(Vec::new()))
            } else {
                State::Raw(DeflateDecoder::new(Vec::new()))
            };
            self.pending = start;
            return;
        }
        self.pending = chunk;
    }

    /// The next decoded piece of what was pushed, `None` once it is all
    /// decoded.
    pub(crate) fn output(&mut self) -> Result<Option<Bytes>, BodyError> {
        let coding = self.coding;
        let bad = |error: std::io::Error| decode_error(coding, &error);
        while !self.pending.is_empty() {
            let written = match &mut self.state {
                State::Sniffing(_) => unreachable!("pending bytes follow sniffing"),
                State::Gzip(decoder) => decoder.write(&self.pending),
                State::Zlib(decoder) => decoder.write(&self.pending),
                State::Raw(decoder) => decoder.write(&self.pending),
            }
            .map_err(bad)?;
            if written == 0 {
                // The stream ended before the body did: what follows is not
                // part of it.
                self.pending.clear();
            }
            self.pending.advance(written);
            if self.decoded_len() >= PIECE {
                break;
            }
        }
        self.flush().map_err(bad)?;
        Ok(self.take_decoded())
    }

    /// The body ended: checks that the compressed stream did too (a gzip
    /// trailer, the deflate end block) and gives the last piece.
    pub(crate) fn finish(&mut self) -> Result<Option<Bytes>, BodyError> {
        if !self.fed {
            return Ok(None);
        }
        let coding = self.coding;
        let finished = match &mut self.state {
            State::Sniffing(_) => Err(std::io::ErrorKind::UnexpectedEof.into()),
            State::Gzip(decoder) => decoder.try_finish(),
            State::Zlib(decoder) => decoder.try_finish(),
            State::Raw(decoder) => decoder.try_finish(),
        };
        finished.map_err(|error| decode_error(coding, &error))?;
        Ok(self.take_decoded())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.state {
            State::Sniffing(_) => Ok(()),
            State::Gzip(decoder) => decoder.flush(),
            State::Zlib(decoder) => decoder.flush(),
            State::Raw(decoder) => decoder.flush(),
        }
    }

    fn decoded(&mut self) -> Option<&mut Vec<u8>> {
        match &mut self.state {
            State::Sniffing(_) => None,
            State::Gzip(decoder) => Some(decoder.get_mut()),
            State::Zlib(decoder) => Some(decoder.get_mut()),
            State::Raw(decoder) => Some(decoder.get_mut()),
        }
    }

    fn decoded_len(&mut self) -> usize {
        self.decoded().map_or(0, |decoded| decoded.len())
    }

    fn take_decoded(&mut self) -> Option<Bytes> {
        let decoded = std::mem::take(self.decoded()?);
        (!decoded.is_empty()).then(|| Bytes::from(decoded))
    }
}

/// RFC 1950: compression method 8 and a header checksum that divides by 31.
fn is_zlib_header(cmf: u8, flg: u8) -> bool {
    cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(cmf) << 8 | u16::from(flg)) % 31 == 0
}

fn decode_error(coding: Coding, error: &std::io::Error) -> BodyError {
    let reason = match error.kind() {
        std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::WriteZero => {
            "the compressed stream is cut short".to_owned()
        }
        _ => error.to_string(),
    };
    BodyError::Decode {
        coding: coding.name(),
        reason,
    }
}

/// A response body: hyper's, decoded when it has a coding to decode, and
/// failing with [`BodyError::TooLarge`] once more than the limit has been
/// read (decoded bytes, when decoded).
pub(crate) struct ResponseBody {
    incoming: Incoming,
    decoder: Option<Decoder>,
    limit: Option<u64>,
    read: u64,
    ended: bool,
}

impl ResponseBody {
    pub(crate) fn new(incoming: Incoming, coding: Option<Coding>, limit: Option<u64>) -> Self {
        ResponseBody {
            incoming,
            decoder: coding.map(Decoder::new),
            limit,
            read: 0,
            ended: false,
        }
    }

    fn count(&mut self, data: Bytes) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        self.read += data.len() as u64;
        match self.limit {
            Some(limit) if self.read > limit => {
                // Nothing more is read after this.
                self.ended = true;
                self.decoder = None;
                Poll::Ready(Some(Err(BodyError::TooLarge { limit })))
            }
            _ => Poll::Ready(Some(Ok(Frame::data(data)))),
        }
    }
}

impl http_body::Body for ResponseBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        loop {
            if let Some(decoder) = &mut this.decoder {
                match decoder.output() {
                    Err(error) => {
                        this.ended = true;
                        this.decoder = None;
                        return Poll::Ready(Some(Err(error)));
                    }
                    Ok(Some(data)) => return this.count(data),
                    Ok(None) => {}
                }
            }
            if this.ended {
                return Poll::Ready(None);
            }
            match std::task::ready!(Pin::new(&mut this.incoming).poll_frame(cx)) {
                None => {
                    this.ended = true;
                    let last = this.decoder.take().map(|mut decoder| decoder.finish());
                    return match last {
                        Some(Err(error)) => Poll::Ready(Some(Err(error))),
                        Some(Ok(Some(data))) => this.count(data),
                        _ => Poll::Ready(None),
                    };
                }
                Some(Err(error)) => return Poll::Ready(Some(Err(error.into()))),
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    match &mut this.decoder {
                        Some(decoder) => decoder.push(data),
                        None => return this.count(data),
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended
    }

    fn size_hint(&self) -> SizeHint {
        if self.decoder.is_some() {
            SizeHint::default()
        } else {
            self.incoming.size_hint()
        }
    }
}

/// The body's text in the charset its `Content-Type` names, `default` when
/// it names none (or one unknown). Labels are the WHATWG Encoding
/// Standard's: `iso-8859-1` and `latin1` mean windows-1252, as in browsers.
/// A byte order mark wins over both; bytes invalid in the charset become
/// U+FFFD.
pub(crate) fn decode_text(headers: &HeaderMap, body: &[u8], default: &'static Encoding) -> String {
    let encoding = charset(headers).unwrap_or(default);
    let (text, _, _) = encoding.decode(body);
    text.into_owned()
}

/// The encoding the `charset` parameter of the Content-Type names.
pub(crate) fn charset(headers: &HeaderMap) -> Option<&'static Encoding> {
    let content_type = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    content_type.split(';').skip(1).find_map(|parameter| {
        let (name, value) = parameter.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        let value = value.trim().trim_matches('"');
        Encoding::for_label(value.as_bytes())
    })
}

/// UTF-8: what `text()` assumes when the Content-Type names no charset.
pub(crate) const DEFAULT_CHARSET: &Encoding = UTF_8;

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
    use http::HeaderValue;

    fn compress(coding: &str, data: &[u8]) -> Vec<u8> {
        match coding {
            "gzip" => {
                let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
                encoder.write_all(data).unwrap();
                encoder.finish().unwrap()
            }
            "zlib" => {
                let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
                encoder.write_all(data).unwrap();
                encoder.finish().unwrap()
            }
            _ => {
                let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
                encoder.write_all(data).unwrap();
                encoder.finish().unwrap()
            }
        }
    }

    /// Feeds `compressed` in chunks of `size`, collecting the pieces.
    fn decode(coding: Coding, compressed: &[u8], size: usize) -> Result<Vec<Bytes>, BodyError> {
        let mut decoder = Decoder::new(coding);
        let mut pieces = Vec::new();
        for chunk in compressed.chunks(size) {
            decoder.push(Bytes::copy_from_slice(chunk));
            while let Some(piece) = decoder.output()? {
                pieces.push(piece);
            }
        }
        pieces.extend(decoder.finish()?);
        Ok(pieces)
    }

    #[test]
    fn gzip_zlib_and_raw_deflate_decode_whatever_the_chunking() {
        let data: Vec<u8> = (0..200_000u32).flat_map(|n| n.to_le_bytes()).collect();
        for (coding, format) in [
            (Coding::Gzip, "gzip"),
            (Coding::Deflate, "zlib"),
            (Coding::Deflate, "raw"),
        ] {
            let compressed = compress(format, &data);
            for size in [1, 7, 4096, compressed.len()] {
                let pieces = decode(coding, &compressed, size).unwrap();
                assert_eq!(pieces.concat(), data, "{format} in chunks of {size}");
                assert!(pieces.iter().all(|piece| piece.len() <= 3 * PIECE));
            }
        }
    }

    #[test]
    fn a_small_chunk_of_zeros_comes_out_in_bounded_pieces() {
        let compressed = compress("gzip", &vec![0; 8 << 20]);
        assert!(compressed.len() < 64 * 1024, "{}", compressed.len());
        let pieces = decode(Coding::Gzip, &compressed, compressed.len()).unwrap();
        assert_eq!(pieces.iter().map(Bytes::len).sum::<usize>(), 8 << 20);
        assert!(pieces.len() > 8 << 20 >> 17, "{} pieces", pieces.len());
        let sizes: Vec<usize> = pieces.iter().map(Bytes::len).collect();
        assert!(sizes.iter().all(|size| *size <= 3 * PIECE), "{sizes:?}");
    }

    #[test]
    fn a_cut_or_corrupt_stream_is_an_error_and_an_empty_one_is_not() {
        let compressed = compress("gzip", b"hello, world");
        let error = decode(Coding::Gzip, &compressed[..compressed.len() - 4], 3).unwrap_err();
        assert!(error.to_string().contains("gzip"), "{error}");
        let error = decode(Coding::Gzip, b"not gzip at all", 100).unwrap_err();
        assert!(matches!(error, BodyError::Decode { coding: "gzip", .. }));
        let error = decode(Coding::Deflate, b"\x78\x9c\xff\xff\xff", 100).unwrap_err();
        assert!(matches!(error, BodyError::Decode { .. }), "{error}");
        assert!(decode(Coding::Gzip, b"", 1).unwrap().is_empty());
    }

    #[test]
    fn only_one_known_coding_is_decoded() {
        let with = |values: &[&str]| {
            let mut headers = HeaderMap::new();
            for value in values {
                headers.append(CONTENT_ENCODING, HeaderValue::from_str(value).unwrap());
            }
            Coding::of(&headers)
        };
        assert_eq!(with(&["gzip"]), Some(Coding::Gzip));
        assert_eq!(with(&[" X-GZIP "]), Some(Coding::Gzip));
        assert_eq!(with(&["deflate"]), Some(Coding::Deflate));
        assert_eq!(with(&["br"]), None);
        assert_eq!(with(&["gzip, br"]), None);
        assert_eq!(with(&["gzip", "gzip"]), None);
        assert_eq!(with(&[]), None);
    }

    #[test]
    fn the_charset_parameter_picks_the_encoding() {
        let typed = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
            headers
        };
        let latin1 = b"caf\xe9 \x80";
        assert_eq!(
            decode_text(
                &typed("text/plain; charset=ISO-8859-1"),
                latin1,
                DEFAULT_CHARSET
            ),
            "café €"
        );
        assert_eq!(
            decode_text(
                &typed("text/plain;charset=\"windows-1252\""),
                latin1,
                DEFAULT_CHARSET
            ),
            "café €"
        );
        assert_eq!(
            decode_text(&typed("text/plain"), latin1, DEFAULT_CHARSET),
            "caf\u{fffd} \u{fffd}"
        );
        assert_eq!(
            decode_text(&typed("text/plain; charset=utf-8"), "é".as_bytes(), UTF_8),
            "é"
        );
        assert_eq!(
            decode_text(&typed("text/plain; charset=nonsense"), b"caf\xe9", {
                encoding_rs::WINDOWS_1252
            }),
            "café"
        );
    }
}
