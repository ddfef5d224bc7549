//! Pipelined HTTP/1 responses leave together: while requests a client
//! pipelined (sent before reading the answers) are waiting whole behind
//! the one being answered, its response is held back, and the response to
//! the last of them takes the held ones along in the same write. A batch of
//! sixteen pipelined requests is then answered in one write, not sixteen.
//!
//! hyper's own `pipeline_flush` does this by holding responses while its
//! read buffer holds any unparsed byte, a request body as much as a next
//! request: a redirect sent before its request's body was read would wait
//! for that body, and a streamed response would pile up unwritten. Here
//! only whole request heads the checker has handed on count, and what is
//! held is bounded; whatever is held when the connection's task is about to
//! wait is written then, so a slow handler behind a fast one never keeps
//! the fast one's answer back.

use std::cell::RefCell;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::rt::Write;
use torsion::net::{AsyncStream, Transport};

/// The most response bytes held back at once: past this they go out as
/// they come, paced by the peer like any other write.
const MOST_HELD: usize = 16 * 1024;

/// Room made when a batch starts: sixteen small responses.
const FIRST_HOLD: usize = 4 * 1024;

/// Responses held back on one HTTP/1 connection. Empty (and unallocated)
/// whenever the connection is not answering a pipelined batch.
#[derive(Default)]
pub(super) struct HeldResponses {
    bytes: RefCell<Vec<u8>>,
}

impl HeldResponses {
    /// Writes `slices` (a response's next bytes) to `stream`: held back if
    /// `more_waiting` (whole requests wait behind the one being answered)
    /// and there is room, otherwise written in one write with whatever was
    /// held before. `Pending` (nothing taken) when the stream has no room.
    pub(super) fn poll_write(
        &self,
        stream: &mut AsyncStream,
        cx: &mut Context<'_>,
        slices: &[IoSlice<'_>],
        more_waiting: bool,
    ) -> Poll<io::Result<usize>> {
        let len: usize = slices.iter().map(|slice| slice.len()).sum();
        let mut held = self.bytes.borrow_mut();
        if more_waiting && held.len() + len <= MOST_HELD {
            if held.capacity() == 0 {
                // Once per batch rather than a growth at every response.
                held.reserve(FIRST_HOLD);
            }
            for slice in slices {
                held.extend_from_slice(slice);
            }
            return Poll::Ready(Ok(len));
        }
        if held.is_empty() {
            return Pin::new(stream).poll_write_vectored(cx, slices);
        }
        let mut all = Vec::with_capacity(slices.len() + 1);
        all.push(IoSlice::new(&held));
        all.extend(slices.iter().map(|slice| IoSlice::new(slice)));
        let written = Pin::new(stream).poll_write_vectored(cx, &all);
        drop(all);
        match written {
            Poll::Ready(Ok(_)) => {
                *held = Vec::new();
                Poll::Ready(Ok(len))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Writes whatever is held: the connection's task is about to wait,
    /// or the connection is done with HTTP.
    pub(super) fn release(&self, transport: &Transport) {
        let mut held = self.bytes.borrow_mut();
        if !held.is_empty() {
            transport.write(&held);
            *held = Vec::new();
        }
    }
}
