//! Replaying input at every chunk size: a transport may cut a byte stream
//! anywhere, and framing bugs live at the cuts.
//!
//! [`replay_protocol`] feeds the same bytes to a fresh protocol once per
//! size in [`CHUNK_SIZES`] and checks that what comes out is the same each
//! time; [`replay_decoder`] does the same for a bare
//! `tokio_util::codec::Decoder`.

use std::fmt;

use bytes::BytesMut;
use tokio_util::codec::Decoder;

use crate::net::Protocol;
use crate::testing::StringTransport;

/// The chunk sizes input is replayed at: 1, 2, 3 and 7 bytes, and
/// `usize::MAX` for the whole input at once (Twisted's tests feed
/// byte-at-a-time and all-at-once; 2, 3 and 7 cut multi-byte delimiters
/// and prefixes at every offset).
pub const CHUNK_SIZES: [usize; 5] = [1, 2, 3, 7, usize::MAX];

/// Feeds `data` to `protocol` in chunks of at most `size` bytes
/// (`usize::MAX`: all at once).
pub fn feed_in_chunks(protocol: &mut dyn Protocol, data: &[u8], size: usize) {
    for chunk in data.chunks(size.clamp(1, data.len().max(1))) {
        protocol.data_received(chunk);
    }
}

/// Connects a protocol from `build` to a fresh [`StringTransport`] for
/// each of the [`CHUNK_SIZES`], feeds it `data` in chunks of that size,
/// and asks `outcome` what came of it (the frames its handler recorded,
/// what it wrote, whether it closed). Returns the outcome after checking
/// that every chunk size gave the same one.
///
/// # Panics
///
/// If two chunk sizes give different outcomes; the message names both.
///
/// ```
/// use torsion::protocols::{LineContext, LineHandler, LineReceiver};
/// use torsion::testing::replay_protocol;
///
/// #[derive(Default)]
/// struct Collect(Vec<Vec<u8>>);
///
/// impl LineHandler for Collect {
///     fn line_received(&mut self, _: &mut LineContext<'_>, line: &[u8]) {
///         self.0.push(line.to_vec());
///     }
/// }
///
/// let lines = replay_protocol(
///     b"one\r\ntwo\r\nthr",
///     || LineReceiver::new(Collect::default()),
///     |protocol, _transport| protocol.handler().0.clone(),
/// );
/// assert_eq!(lines, [b"one".to_vec(), b"two".to_vec()]);
/// ```
pub fn replay_protocol<P, T>(
    data: &[u8],
    mut build: impl FnMut() -> P,
    mut outcome: impl FnMut(&P, &StringTransport) -> T,
) -> T
where
    P: Protocol,
    T: PartialEq + fmt::Debug,
{
    replay(|size| {
        let transport = StringTransport::new();
        let mut protocol = build();
        transport.make_connection(&mut protocol);
        feed_in_chunks(&mut protocol, data, size);
        outcome(&protocol, &transport)
    })
}

/// What a decoder made of some input: see [`replay_decoder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded<T> {
    /// The frames decoded, in order.
    pub frames: Vec<T>,
    /// The first error, in its `Debug` form; decoding stops there, as a
    /// `tokio_util` `FramedRead` does.
    pub error: Option<String>,
    /// The bytes left in the buffer, not decoded.
    pub rest: Vec<u8>,
}

/// Decodes `data` with a decoder from `build` once for each of the
/// [`CHUNK_SIZES`]: after each chunk is appended to the buffer, `decode`
/// is called until it has nothing more. Returns what was decoded after
/// checking that every chunk size decoded the same.
///
/// # Panics
///
/// If two chunk sizes decode differently; the message names both.
///
/// ```
/// use torsion::protocols::{NetstringCodec};
/// use torsion::testing::replay_decoder;
///
/// let decoded = replay_decoder(b"5:hello,0:,3:ab", NetstringCodec::new);
/// assert_eq!(decoded.frames, [&b"hello"[..], b""]);
/// assert_eq!(decoded.rest, b"ab");
/// ```
pub fn replay_decoder<D>(data: &[u8], mut build: impl FnMut() -> D) -> Decoded<D::Item>
where
    D: Decoder,
    D::Item: PartialEq + fmt::Debug,
    D::Error: fmt::Debug,
{
    replay(|size| decode_in_chunks(build(), data, [size]))
}

/// Decodes `data` with `decoder`, cut into chunks whose sizes are taken
/// from `chunk_sizes` in turn (and again from the start once they run
/// out; a size of 0 counts as 1, `usize::MAX` takes the rest): after each
/// chunk is appended to the buffer, `decode` is called until it has
/// nothing more. Decoding stops at the first error, as a `tokio_util`
/// `FramedRead` does.
///
/// [`replay_decoder`] compares a few fixed chunkings; this takes any, so
/// that a property test or a fuzzer can compare a random one with the
/// whole input at once.
///
/// ```
/// use torsion::protocols::PrefixedCodec;
/// use torsion::protocols::PrefixLength::Int8;
/// use torsion::testing::decode_in_chunks;
///
/// let data = b"\x02hi\x03abc\x01";
/// let whole = decode_in_chunks(PrefixedCodec::new(Int8), data, [usize::MAX]);
/// let chunked = decode_in_chunks(PrefixedCodec::new(Int8), data, [1, 4, 2]);
/// assert_eq!(chunked, whole);
/// assert_eq!(whole.frames, [&b"hi"[..], b"abc"]);
/// ```
pub fn decode_in_chunks<D>(
    mut decoder: D,
    data: &[u8],
    chunk_sizes: impl IntoIterator<Item = usize, IntoIter: Clone>,
) -> Decoded<D::Item>
where
    D: Decoder,
    D::Error: fmt::Debug,
{
    let mut sizes = chunk_sizes.into_iter().cycle();
    let mut buffer = BytesMut::new();
    let mut decoded = Decoded {
        frames: Vec::new(),
        error: None,
        rest: Vec::new(),
    };
    let mut remaining = data;
    'chunks: while !remaining.is_empty() {
        let size = sizes.next().unwrap_or(usize::MAX).clamp(1, remaining.len());
        let (chunk, rest) = remaining.split_at(size);
        remaining = rest;
        buffer.extend_from_slice(chunk);
        loop {
            match decoder.decode(&mut buffer) {
                Ok(Some(frame)) => decoded.frames.push(frame),
                Ok(None) => break,
                Err(error) => {
                    decoded.error = Some(format!("{error:?}"));
                    break 'chunks;
                }
            }
        }
    }
    decoded.rest = buffer.to_vec();
    decoded
}

/// Runs `run` at every chunk size and checks the results agree.
fn replay<T: PartialEq + fmt::Debug>(mut run: impl FnMut(usize) -> T) -> T {
    let whole = run(usize::MAX);
    for size in CHUNK_SIZES.into_iter().filter(|&size| size != usize::MAX) {
        let chunked = run(size);
        assert!(
            chunked == whole,
            "fed in chunks of {size} bytes:\n{chunked:#?}\nfed whole:\n{whole:#?}"
        );
    }
    whole
}
