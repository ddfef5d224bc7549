//! hyper's own I/O traits on [`AsyncStream`], so hyper's HTTP/1 and HTTP/2
//! connections (server and client) run over torsion sockets with no tokio
//! runtime. Enabled by the `hyper` feature.

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::rt::{Read, ReadBufCursor, Write};

use crate::net::AsyncStream;

/// The most one read from the socket takes on hyper's behalf, as much as
/// the reactor's own reads take: hyper asks for 8 KiB at first and for
/// more as a large body streams in.
const SCRATCH_SIZE: usize = 64 * 1024;

thread_local! {
    /// The bytes of one read on its way into hyper's buffer: a read is done
    /// with it before the next one starts, and a buffer per connection
    /// would cost every idle connection its size.
    static SCRATCH: RefCell<Box<[u8]>> = RefCell::new(vec![0; SCRATCH_SIZE].into_boxed_slice());
}

impl Read for AsyncStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let max = buf.remaining();
        // hyper's buffer is not initialised, so a read from the socket goes
        // through this thread's scratch buffer (one copy, of bytes still in
        // cache) rather than through the stream's queue.
        let direct = SCRATCH.with_borrow_mut(|scratch| {
            let want = max.min(scratch.len());
            self.poll_direct(cx, &mut scratch[..want])
                .map(|polled| polled.map_ok(|n| buf.put_slice(&scratch[..n])))
        });
        if let Some(polled) = direct {
            return polled;
        }
        // Copies straight from the receive queue into hyper's buffer.
        self.poll_take(cx, max, |chunk| buf.put_slice(chunk))
            .map_ok(|_| ())
    }
}

impl Write for AsyncStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_from(cx, buf)
    }

    /// The transport sends what it buffered on its own.
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_shutdown_write()
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored_from(cx, bufs)
    }
}
