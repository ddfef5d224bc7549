//! The bare server on io_uring: a loopback TCP server that makes no system
//! call per message. The loop waits in the ring (`SINGLE_ISSUER |
//! DEFER_TASKRUN`, so the kernel's completion work runs when the loop asks
//! for it rather than interrupting it); accepts and receives are multishot,
//! receives land in a provided buffer ring, and answers go out as ring
//! sends, one in flight per connection.
//!
//! The one module of torsion-bench with `unsafe`: lending memory to the
//! kernel (the buffer ring, and what each send reads) and adopting an
//! accepted descriptor. The memory lent is leaked, never freed: a send or
//! receive still in the kernel when a ring is torn down could otherwise
//! touch memory reused for something else, and a bare server lives as long
//! as its process.
#![allow(unsafe_code)]

use std::collections::VecDeque;
use std::io;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd};
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::{IoUring, cqueue, opcode, squeue, types};
use slab::Slab;

use super::{HeadEnds, Reply, hello_response};

/// Buffers in the provided ring (a power of two).
const BUFFERS: u16 = 256;
/// Bytes in each provided buffer.
const BUFFER_SIZE: usize = 16 * 1024;
/// The provided ring's group id.
const GROUP: u16 = 0;
/// Hello-world answers laid end to end, which a send reads from.
const ANSWERS_LAID_OUT: usize = 64;

/// Whether this kernel gives the server the ring it needs (`DEFER_TASKRUN`
/// is 6.1's; the buffer ring and multishot receive are older).
pub fn available() -> io::Result<()> {
    builder().build(8).map(drop)
}

fn builder() -> io_uring::Builder {
    let mut builder = IoUring::builder();
    builder
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_cqsize(8 * 1024);
    builder
}

/// What a completion is for, kept in its `user_data`: the kind in the top
/// two bits, the connection's key in the low 32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Accept,
    Receive(u32),
    Send(u32),
}

impl Operation {
    fn encode(self) -> u64 {
        match self {
            Operation::Accept => 0,
            Operation::Receive(connection) => 1 << 62 | u64::from(connection),
            Operation::Send(connection) => 2 << 62 | u64::from(connection),
        }
    }

    fn decode(data: u64) -> Operation {
        let connection = data as u32;
        match data >> 62 {
            0 => Operation::Accept,
            1 => Operation::Receive(connection),
            _ => Operation::Send(connection),
        }
    }
}

/// Bytes waiting to be sent on a connection.
#[derive(Debug)]
enum Out {
    /// A provided buffer's first `end` bytes, from `start` (an echo).
    Buffer { id: u16, start: usize, end: usize },
    /// `left` bytes of hello-world answers, which start at an answer's
    /// first byte.
    Answers { sent: usize, left: usize },
}

struct Connection {
    stream: TcpStream,
    heads: HeadEnds,
    queue: VecDeque<Out>,
    sending: bool,
    receiving: bool,
}

/// Memory the kernel may read or write at any time until the process ends.
struct Lent {
    /// The provided ring's entries, page-aligned as the kernel requires.
    entries: *mut types::BufRingEntry,
    buffers: &'static mut [u8],
    answers: &'static [u8],
    answer_length: usize,
    /// Buffers handed to the ring so far, modulo 2^16 (the ring's tail).
    tail: u16,
}

/// One page, so that a `Vec` of them is page-aligned.
#[derive(Clone, Copy)]
#[repr(C, align(4096))]
struct Page([u8; 4096]);

impl Lent {
    fn new() -> Lent {
        let entry_bytes = usize::from(BUFFERS) * size_of::<types::BufRingEntry>();
        let pages = vec![Page([0; 4096]); entry_bytes.div_ceil(4096)].leak();
        let answer = hello_response();
        Lent {
            entries: pages.as_mut_ptr().cast(),
            buffers: vec![0u8; usize::from(BUFFERS) * BUFFER_SIZE].leak(),
            answers: answer.repeat(ANSWERS_LAID_OUT).leak(),
            answer_length: answer.len(),
            tail: 0,
        }
    }

    /// Hands buffer `id` (back) to the kernel.
    fn give(&mut self, id: u16) {
        let slot = usize::from(self.tail & (BUFFERS - 1));
        let address = self.buffers[usize::from(id) * BUFFER_SIZE..].as_ptr() as u64;
        // SAFETY: `entries` points at `BUFFERS` zeroed entries in leaked
        // memory, and `slot` is below `BUFFERS`. The kernel reads an entry
        // only once the tail below has passed it, so writing it now races
        // with nothing.
        let entry = unsafe { &mut *self.entries.add(slot) };
        entry.set_addr(address);
        entry.set_len(BUFFER_SIZE as u32);
        entry.set_bid(id);
        self.tail = self.tail.wrapping_add(1);
        // SAFETY: the tail is the first entry's last two bytes (the ring's
        // layout), aligned for a u16 and shared with the kernel, which reads
        // it; the release store publishes the entry written above.
        unsafe {
            AtomicU16::from_ptr(types::BufRingEntry::tail(self.entries).cast_mut())
                .store(self.tail, Ordering::Release);
        }
    }

    fn buffer(&self, id: u16) -> &[u8] {
        &self.buffers[usize::from(id) * BUFFER_SIZE..][..BUFFER_SIZE]
    }
}

struct RingServer {
    ring: IoUring,
    lent: Lent,
    connections: Slab<Connection>,
    reply: Reply,
}

/// Runs the bare io_uring server on `listener`, on this thread, forever.
pub fn serve(listener: TcpListener, reply: Reply) -> io::Result<()> {
    let ring = builder().build(1024)?;
    let mut server = RingServer {
        ring,
        lent: Lent::new(),
        connections: Slab::new(),
        reply,
    };
    // SAFETY: the entries are page-aligned, `BUFFERS` long, and leaked, so
    // they outlive the ring's registration.
    unsafe {
        server.ring.submitter().register_buf_ring_with_flags(
            server.lent.entries as u64,
            BUFFERS,
            GROUP,
            0,
        )?;
    }
    for id in 0..BUFFERS {
        server.lent.give(id);
    }
    server.accept(&listener)?;
    let mut done = Vec::new();
    loop {
        server.ring.submit_and_wait(1)?;
        done.clear();
        let completed = server.ring.completion();
        done.extend(completed.map(|entry| (entry.user_data(), entry.result(), entry.flags())));
        for &(data, result, flags) in &done {
            match Operation::decode(data) {
                Operation::Accept => {
                    if result >= 0 {
                        // SAFETY: a successful accept's result is a new
                        // descriptor that nothing else owns.
                        let stream = unsafe { TcpStream::from_raw_fd(result) };
                        server.adopt(stream)?;
                    }
                    if !cqueue::more(flags) {
                        server.accept(&listener)?;
                    }
                }
                Operation::Receive(id) => server.received(id, result, flags)?,
                Operation::Send(id) => server.sent(id, result)?,
            }
        }
    }
}

impl RingServer {
    /// Queues `entry`, submitting what is queued first if the queue is
    /// full.
    fn push(&mut self, entry: squeue::Entry) -> io::Result<()> {
        loop {
            // SAFETY: every entry this module builds either lends no memory
            // (accept, receive into the provided ring) or lends leaked
            // memory (a send from `Lent`), which outlives the operation.
            if unsafe { self.ring.submission().push(&entry) }.is_ok() {
                return Ok(());
            }
            self.ring.submit()?;
        }
    }

    /// Arms a multishot accept on `listener`.
    fn accept(&mut self, listener: &TcpListener) -> io::Result<()> {
        let accept = opcode::AcceptMulti::new(types::Fd(listener.as_raw_fd())).build();
        self.push(accept.user_data(Operation::Accept.encode()))
    }

    fn adopt(&mut self, stream: TcpStream) -> io::Result<()> {
        stream.set_nodelay(true)?;
        let connection = Connection {
            stream,
            heads: HeadEnds::default(),
            queue: VecDeque::new(),
            sending: false,
            receiving: true,
        };
        let id = self.connections.insert(connection) as u32;
        self.receive(id)
    }

    fn connection(&mut self, id: u32) -> &mut Connection {
        &mut self.connections[id as usize]
    }

    fn receive(&mut self, id: u32) -> io::Result<()> {
        let fd = self.connection(id).stream.as_raw_fd();
        let receive = opcode::RecvMulti::new(types::Fd(fd), GROUP).build();
        self.push(receive.user_data(Operation::Receive(id).encode()))
    }

    fn received(&mut self, id: u32, result: i32, flags: u32) -> io::Result<()> {
        const NO_BUFFERS: i32 = -105; // ENOBUFS: re-armed once sends give some back
        if result > 0 {
            let buffer = cqueue::buffer_select(flags).expect("a receive names its buffer");
            let length = result as usize;
            let out = match self.reply {
                Reply::Echo => Some(Out::Buffer {
                    id: buffer,
                    start: 0,
                    end: length,
                }),
                Reply::Hello => {
                    let connection = &mut self.connections[id as usize];
                    let heads = connection.heads.count(&self.lent.buffer(buffer)[..length]);
                    self.lent.give(buffer);
                    (heads > 0).then(|| Out::Answers {
                        sent: 0,
                        left: heads * self.lent.answer_length,
                    })
                }
            };
            if let Some(out) = out {
                self.connection(id).queue.push_back(out);
                self.send_next(id)?;
            }
            if !cqueue::more(flags) {
                self.receive(id)?;
            }
        } else if result == NO_BUFFERS {
            self.receive(id)?;
        } else {
            // The peer closed its side, or the connection failed.
            self.connection(id).receiving = false;
            self.close_if_done(id);
        }
        Ok(())
    }

    fn send_next(&mut self, id: u32) -> io::Result<()> {
        let lent = &self.lent;
        let connection = &mut self.connections[id as usize];
        if connection.sending {
            return Ok(());
        }
        let bytes = match connection.queue.front() {
            None => return Ok(()),
            Some(&Out::Buffer { id, start, end }) => &lent.buffer(id)[start..end],
            Some(&Out::Answers { sent, left }) => {
                let from = sent % lent.answers.len();
                let bytes = &lent.answers[from..];
                &bytes[..left.min(bytes.len())]
            }
        };
        connection.sending = true;
        let fd = connection.stream.as_raw_fd();
        let send = opcode::Send::new(types::Fd(fd), bytes.as_ptr(), bytes.len() as u32).build();
        self.push(send.user_data(Operation::Send(id).encode()))
    }

    fn sent(&mut self, id: u32, result: i32) -> io::Result<()> {
        let connection = self.connection(id);
        connection.sending = false;
        if result < 0 {
            // The peer is gone: what is queued will never be read. Shutting
            // the socket down ends the receive, which closes it.
            let _ = connection.stream.shutdown(Shutdown::Both);
            let given: Vec<u16> = connection
                .queue
                .drain(..)
                .filter_map(|out| match out {
                    Out::Buffer { id, .. } => Some(id),
                    Out::Answers { .. } => None,
                })
                .collect();
            for buffer in given {
                self.lent.give(buffer);
            }
            self.close_if_done(id);
            return Ok(());
        }
        let written = result as usize;
        let finished = match connection.queue.front_mut().expect("a send's bytes") {
            Out::Buffer { id, start, end } => {
                *start += written;
                (*start == *end).then_some(Some(*id))
            }
            Out::Answers { sent, left } => {
                *sent += written;
                *left -= written;
                (*left == 0).then_some(None)
            }
        };
        if let Some(buffer) = finished {
            connection.queue.pop_front();
            if let Some(buffer) = buffer {
                self.lent.give(buffer);
            }
        }
        self.send_next(id)?;
        self.close_if_done(id);
        Ok(())
    }

    /// Closes a connection whose receive has ended once nothing is in
    /// flight on it.
    fn close_if_done(&mut self, id: u32) {
        let connection = self.connection(id);
        if !connection.receiving && !connection.sending {
            self.connections.remove(id as usize);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{answers_each_head, connect, echoes_whole};
    use super::*;

    /// Whether this kernel refuses the ring, said on the test's output.
    fn refused() -> bool {
        let refusal = available().err();
        if let Some(error) = &refusal {
            eprintln!("skipped: this kernel refuses the ring: {error}");
        }
        refusal.is_some()
    }

    #[test]
    fn the_bare_ring_server_echoes_every_size_whole() {
        if !refused() {
            echoes_whole(connect(serve, Reply::Echo));
        }
    }

    #[test]
    fn the_bare_ring_server_answers_each_request_head() {
        if !refused() {
            answers_each_head(connect(serve, Reply::Hello));
        }
    }
}
