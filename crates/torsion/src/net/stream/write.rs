//! The write side of a [`StreamConn`]: direct writes with only the
//! remainder buffered, flushing when the socket is writable again, and the
//! flow-control calls to the producer at the high and low water marks.

use std::io::{self, IoSlice};
use std::os::fd::AsRawFd;

use super::{Reason, StreamConn, flag};
use crate::Reactor;
use crate::net::protocol::Producer;
use crate::net::transport::TransportBackend;
use crate::net::write_buffer::{
    HIGH_WATER_MARK, LOW_WATER_MARK, WriteBuffer, buffer_rest, write_direct, write_vectored_direct,
};
use crate::reactor::SendDone;

impl StreamConn {
    /// Writes what is buffered; a socket error closes the connection.
    pub(super) fn flush_buffer(&self) {
        if self.has(flag::RING) {
            self.start_send();
            return;
        }
        let mut slot = self.write.borrow_mut();
        let Some(buffer) = slot.as_mut() else { return };
        let result = match &*self.socket.borrow() {
            Some(socket) => buffer.flush_to(socket),
            None => return,
        };
        match result {
            Ok(true) => *slot = None,
            Ok(false) => {}
            Err(error) => {
                drop(slot);
                self.fail(Reason::lost(error));
            }
        }
    }

    pub(super) fn writable(&self) {
        if self.has(flag::RING) {
            // Sends complete on their own; this only restarts one the
            // kernel gave back unsent.
            self.start_send();
            return;
        }
        if self.write.borrow().is_none() {
            return;
        }
        self.flush_buffer();
        self.after_drain();
    }

    /// Resumes producers once the buffer has drained far enough.
    pub(super) fn after_drain(&self) {
        let buffered = self.buffered();
        match self.producer() {
            Some(Producer::Push(producer))
                if self.has(flag::PRODUCER_PAUSED) && buffered <= LOW_WATER_MARK =>
            {
                self.clear(flag::PRODUCER_PAUSED);
                producer.resume_producing();
            }
            Some(Producer::Pull(_)) if buffered == 0 => self.want_pull(),
            _ => {}
        }
        if buffered == 0 {
            self.request_settle();
        }
    }

    /// Pauses a push producer once the buffer passes the high-water mark;
    /// asks a pull producer for more once it is empty.
    pub(super) fn after_write(&self) {
        let buffered = self.buffered();
        if buffered == 0 {
            if let Some(Producer::Pull(_)) = self.producer() {
                self.want_pull();
            }
            return;
        }
        if self.has(flag::PRODUCER_PAUSED) || buffered <= HIGH_WATER_MARK {
            return;
        }
        if let Some(Producer::Push(producer)) = self.producer() {
            self.set(flag::PRODUCER_PAUSED);
            producer.pause_producing();
        }
    }

    pub(super) fn want_pull(&self) {
        if !self.has(flag::CLOSED) {
            self.set(flag::PULL_WANTED);
            self.request_settle();
        }
    }

    pub(super) fn accepts_writes(&self) -> bool {
        !self.has(flag::CLOSED | flag::DISCONNECTING | flag::WRITE_SHUT_WANTED)
    }

    /// Writes plaintext: through TLS when it is on, else straight to the
    /// socket while nothing is buffered.
    pub(super) fn write_slices(&self, data: &[IoSlice<'_>]) {
        if !self.accepts_writes() || data.iter().all(|slice| slice.is_empty()) {
            return;
        }
        if self.has(flag::TLS) {
            {
                let mut extras = self.extras();
                let Some(session) = extras.tls.as_mut() else {
                    return;
                };
                for slice in data {
                    session.send(slice);
                }
                self.queue_tls_output(session);
            }
            self.flush_buffer();
        } else if self.has(flag::RING) && !self.writes_directly_on_the_ring(data) {
            buffer_rest(
                self.write.borrow_mut().get_or_insert_with(Box::default),
                data,
                0,
            );
            self.start_send();
        } else if self.write.borrow().is_none() {
            let written = match &*self.socket.borrow() {
                Some(socket) if data.len() == 1 => write_direct(socket, &data[0]),
                Some(socket) => write_vectored_direct(socket, data),
                None => return,
            };
            match written {
                Ok(written) => {
                    let total: usize = data.iter().map(|slice| slice.len()).sum();
                    if written < total {
                        let mut buffer = Box::<WriteBuffer>::default();
                        buffer_rest(&mut buffer, data, written);
                        *self.write.borrow_mut() = Some(buffer);
                    }
                }
                Err(error) => {
                    self.fail(Reason::lost(error));
                    return;
                }
            }
        } else if let Some(buffer) = self.write.borrow_mut().as_mut() {
            buffer_rest(buffer, data, 0);
        }
        self.after_write();
    }
}

/// Writes at least this large, with nothing queued, skip the ring's copy.
const RING_COPY_LIMIT: usize = 4096;

/// The io_uring backend's write side: what is buffered goes to the ring as
/// one send, the next starts when it completes, and a send cut short puts
/// its rest back ahead of what was written since.
impl StreamConn {
    /// A send owns its bytes, so a write through the ring is a copy; a
    /// large one with nothing queued ahead of it is cheaper written at
    /// once, as the epoll backend does (what the socket does not take goes
    /// to the ring).
    fn writes_directly_on_the_ring(&self, data: &[IoSlice<'_>]) -> bool {
        self.write.borrow().is_none()
            && data.iter().map(|slice| slice.len()).sum::<usize>() >= RING_COPY_LIMIT
    }

    fn start_send(&self) {
        if self.sending.get().is_some() {
            return;
        }
        let mut slot = self.write.borrow_mut();
        let Some(buffer) = slot.as_mut().filter(|buffer| !buffer.is_empty()) else {
            return;
        };
        let Some(reactor) = self.reactor.upgrade() else {
            return;
        };
        let target = self
            .socket
            .borrow()
            .as_ref()
            .map(|socket| (socket.as_raw_fd(), !socket.is_pipe()));
        let (Some(ring), Some((fd, socket))) = (reactor.ring(), target) else {
            return;
        };
        // The buffer stays, counting the bytes as lent until the send
        // completes.
        let (data, start) = buffer.take_unsent();
        drop(slot);
        match ring.send(fd, socket, self.token, data, start) {
            Ok(key) => self.sending.set(Some(key)),
            Err(error) => self.fail(Reason::lost(error)),
        }
    }

    pub(super) fn send_completed(&self, reactor: &Reactor, done: SendDone) {
        // A closed connection took its send's key when it cancelled it.
        if self.sending.get() != Some(done.key) {
            return;
        }
        self.sending.set(None);
        if let Some(buffer) = self.write.borrow_mut().as_mut() {
            buffer.returned();
        }
        let SendDone {
            result,
            data,
            start,
            ..
        } = done;
        self.dispatch(reactor, || {
            match result {
                Ok(0) => self.fail(Reason::lost(io::ErrorKind::WriteZero.into())),
                Ok(sent) => {
                    if start + sent < data.len() {
                        self.put_back(data, start + sent);
                    }
                    self.start_send();
                }
                // Not sent; the socket's next writable edge restarts it.
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.put_back(data, start);
                }
                Err(error) => self.fail(Reason::lost(error)),
            }
            let mut slot = self.write.borrow_mut();
            if slot
                .as_ref()
                .is_some_and(|buffer| buffer.outstanding() == 0)
            {
                // An idle connection holds no buffer.
                *slot = None;
            }
            drop(slot);
            self.after_drain();
        });
    }

    fn put_back(&self, data: Vec<u8>, start: usize) {
        self.write
            .borrow_mut()
            .get_or_insert_with(Box::default)
            .put_back(data, start);
    }
}
