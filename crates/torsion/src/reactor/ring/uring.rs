//! The ring itself, on Linux: the one module that submits io_uring
//! operations, and the only `unsafe` in it is that submission and taking
//! ownership of the descriptors the kernel accepts.
#![allow(unsafe_code)]

use std::cell::{Cell, RefCell};
use std::io;
use std::num::NonZeroU32;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use io_uring::{IoUring, cqueue, opcode, squeue, types};
use mio::Token;
use slab::Slab;

use super::{AcceptDone, AcceptKey, Completion, OpDone, SendDone, SendKey};

/// Submission queue entries; completions get twice as many.
const ENTRIES: u32 = 1024;
/// The completion of a cancel request, which says nothing the loop needs.
const CANCEL_DONE: u64 = u64::MAX - 1;
/// How long dropping the ring waits for the kernel to give back the bytes
/// of operations still under way.
const DRAIN_ON_DROP: Duration = Duration::from_secs(1);

struct Send {
    token: Token,
    data: Vec<u8>,
    start: usize,
}

/// An operation the kernel holds.
enum Op {
    Send(Send),
    /// A multishot accept for the port under this token: it stays until
    /// the kernel's last completion for it, however many came before.
    Accept(Token),
}

pub(crate) struct Ring {
    uring: RefCell<IoUring>,
    /// Operations the kernel holds, keyed by their `user_data`. An entry
    /// owns what its operation reads until the operation completes.
    ops: RefCell<Slab<Op>>,
    /// The kernel knows accept operations (Linux 5.5); their multishot
    /// form (5.19) shares the opcode, so a kernel between the two refuses
    /// the first one, and the port then accepts by readiness.
    accepts: bool,
    /// Connections accepted by multishot accepts, for
    /// [`Reactor::stats`](crate::Reactor::stats).
    accepted: Cell<u64>,
    /// Entries pushed since the last submission.
    unsubmitted: Cell<bool>,
    /// The ring's descriptor is in the reactor's epoll set (see
    /// [`submit_before_wait`](Ring::submit_before_wait)).
    watched: Cell<bool>,
    /// Completions taken out early to make room (see `push`).
    stash: RefCell<Vec<Completion>>,
}

impl Ring {
    /// A ring, or the kernel's reason for refusing one (`ENOSYS` on an old
    /// kernel, `EPERM` where io_uring is disabled or filtered out), or
    /// `Unsupported` when an operation the loop needs is missing.
    pub(crate) fn new() -> io::Result<Ring> {
        // Not COOP_TASKRUN: a send that waited for room in its socket is
        // completed by task work on this thread, which then interrupts
        // the thread at once rather than waiting for its next system call
        // (a thread asleep in epoll_wait is woken either way). The flag
        // changed no benchmark (see docs/benchmarks.md), and sends rarely
        // wait.
        // SUBMIT_ALL (Linux 5.18): an entry the kernel rejects does not
        // hold back the ones after it, a send among them (see `cancel`).
        let uring = IoUring::builder()
            .setup_cqsize(ENTRIES * 2)
            .setup_submit_all()
            .build(ENTRIES)
            .or_else(|_| IoUring::builder().setup_cqsize(ENTRIES * 2).build(ENTRIES))?;
        let mut probe = io_uring::Probe::new();
        uring.submitter().register_probe(&mut probe)?;
        for code in [
            opcode::Send::CODE,
            opcode::Write::CODE,
            opcode::AsyncCancel::CODE,
        ] {
            if !probe.is_supported(code) {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!("io_uring without operation {code}"),
                ));
            }
        }
        // Not required: without it, ports accept by readiness as on epoll.
        let accepts = probe.is_supported(opcode::AcceptMulti::CODE);
        Ok(Ring {
            uring: RefCell::new(uring),
            ops: RefCell::new(Slab::new()),
            accepts,
            accepted: Cell::new(0),
            unsubmitted: Cell::new(false),
            watched: Cell::new(false),
            stash: RefCell::new(Vec::new()),
        })
    }

    /// Hands `data[start..]` to the kernel, to be written to `fd` (a socket
    /// with `send`, a pipe with `write`); its completion comes back from a
    /// later [`submit_and_reap`](Ring::submit_and_reap) for `token`.
    pub(crate) fn send(
        &self,
        fd: RawFd,
        socket: bool,
        token: Token,
        data: Vec<u8>,
        start: usize,
    ) -> io::Result<SendKey> {
        let mut ops = self.ops.borrow_mut();
        let entry = ops.vacant_entry();
        let key = entry.key();
        let Some(tag) = tag_of(key) else {
            return Err(io::Error::other("too many sends under way"));
        };
        let Op::Send(send) = entry.insert(Op::Send(Send { token, data, start })) else {
            unreachable!("just inserted a send");
        };
        let bytes = &send.data[send.start..];
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        let sqe = if socket {
            opcode::Send::new(types::Fd(fd), bytes.as_ptr(), len)
                .flags(libc::MSG_NOSIGNAL)
                .build()
        } else {
            opcode::Write::new(types::Fd(fd), bytes.as_ptr(), len)
                .offset(u64::MAX)
                .build()
        };
        drop(ops);
        if let Err(error) = self.push(&sqe.user_data(u64::from(tag.get()))) {
            self.ops.borrow_mut().remove(key);
            return Err(error);
        }
        Ok(SendKey(tag))
    }

    /// True if ports may try [`accept`](Ring::accept); see `accepts`.
    pub(crate) fn can_accept(&self) -> bool {
        self.accepts
    }

    /// Arms a multishot accept on the listening socket `fd`: each
    /// connection the kernel accepts comes back from a later
    /// [`submit_and_reap`](Ring::submit_and_reap) for `token`, until a
    /// completion says the kernel stopped. The sockets get the flags
    /// `accept4` gives them on the readiness path (mio's), so both paths
    /// hand the port the same kind of socket.
    pub(crate) fn accept(&self, fd: RawFd, token: Token) -> io::Result<AcceptKey> {
        let mut ops = self.ops.borrow_mut();
        let entry = ops.vacant_entry();
        let key = entry.key();
        let Some(tag) = tag_of(key) else {
            return Err(io::Error::other("too many operations under way"));
        };
        entry.insert(Op::Accept(token));
        drop(ops);
        let sqe = opcode::AcceptMulti::new(types::Fd(fd))
            .flags(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)
            .build()
            .user_data(u64::from(tag.get()));
        if let Err(error) = self.push(&sqe) {
            self.ops.borrow_mut().remove(key);
            return Err(error);
        }
        Ok(AcceptKey(tag))
    }

    /// Stops a multishot accept before its port closes the listening
    /// socket. The cancel goes in at once, not with the next wait: the
    /// armed accept holds the socket's file, which would go on accepting
    /// connections after the port's close (each to be closed unserved)
    /// where a closed port must refuse them. What the kernel accepted
    /// before the cancel still comes back, and is closed when its port is
    /// found gone.
    pub(crate) fn stop_accepting(&self, key: AcceptKey) {
        self.cancel_op(key.0, "an accept");
        if let Err(error) = self.submit_now() {
            tracing::warn!(%error, "could not submit the cancel of an accept to io_uring");
        }
    }

    /// Submits what is pending even if the kernel is short of room for
    /// completions: those are taken out (and handed back with the next
    /// reap) to make some, as `push` does for a full submission queue.
    fn submit_now(&self) -> io::Result<()> {
        for _ in 0..8 {
            self.submit_pending()?;
            if !self.unsubmitted.get() {
                return Ok(());
            }
            let mut uring = self.uring.borrow_mut();
            self.drain(
                &mut uring,
                &mut self.ops.borrow_mut(),
                &mut self.stash.borrow_mut(),
            );
        }
        Err(io::Error::other("io_uring kept refusing a submission"))
    }

    /// Connections accepted through the ring since it was made.
    pub(crate) fn accepted(&self) -> u64 {
        self.accepted.get()
    }

    /// Readies the ring for a wait, the loop's or a host's: submits what
    /// was pushed since the last submission, then puts the ring's
    /// descriptor in epoll's set (under `token`) while the kernel holds
    /// operations (a send waiting for room, a port's armed accept), so
    /// that one completing during the wait ends it, and takes it out once
    /// none is left: most sends complete as they are submitted and are
    /// reaped before the wait, and a descriptor left in the set would wake
    /// the wait once more for each of them.
    pub(crate) fn submit_before_wait(
        &self,
        registry: &mio::Registry,
        token: Token,
    ) -> io::Result<()> {
        self.submit_pending()?;
        self.watch_while_busy(registry, token)
    }

    fn watch_while_busy(&self, registry: &mio::Registry, token: Token) -> io::Result<()> {
        let busy = !self.ops.borrow().is_empty();
        if busy == self.watched.get() {
            return Ok(());
        }
        let fd = self.as_raw_fd();
        let mut source = mio::unix::SourceFd(&fd);
        if busy {
            // Edge-triggered, and already readable if a completion came
            // since the last reap: epoll reports that at once.
            registry.register(&mut source, token, mio::Interest::READABLE)?;
        } else {
            registry.deregister(&mut source)?;
        }
        self.watched.set(busy);
        Ok(())
    }

    /// Submits what was pushed since the last submission, without waiting.
    /// A kernel short of room now gets them again next turn.
    fn submit_pending(&self) -> io::Result<()> {
        if self.unsubmitted.get() {
            match self.uring.borrow().submit() {
                Ok(_) => self.unsubmitted.set(false),
                Err(error) if is_transient(&error) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    /// Asks the kernel to stop a send; its completion (cancelled, or done
    /// after all) still comes, and frees its bytes. The caller is about to
    /// close the send's descriptor, so a send not yet submitted goes in
    /// first: the kernel takes the descriptor's file when it issues the
    /// operation, and by the next wait the number may name a new socket.
    pub(crate) fn cancel(&self, key: SendKey) {
        self.cancel_op(key.0, "a send");
    }

    /// Asks for the cancel of the operation `tag` names, after submitting
    /// what is pending (see [`cancel`](Ring::cancel) for why), even if the
    /// kernel is short of room for completions: a submission put off to
    /// the next turn would come after the caller closes the descriptor.
    fn cancel_op(&self, tag: NonZeroU32, what: &str) {
        if let Err(error) = self.submit_now() {
            tracing::warn!(%error, "could not submit to io_uring");
        }
        let sqe = opcode::AsyncCancel::new(u64::from(tag.get()))
            .build()
            .user_data(CANCEL_DONE);
        if let Err(error) = self.push(&sqe) {
            tracing::warn!(%error, "could not cancel {what} under way");
        }
    }

    /// Submits what was pushed and appends what has completed to `out`.
    /// Most sends complete as they are submitted; the others complete
    /// later, and the ring's descriptor says so (see
    /// [`submit_before_wait`](Ring::submit_before_wait)).
    pub(crate) fn submit_and_reap(&self, out: &mut Vec<Completion>) -> io::Result<()> {
        self.submit_pending()?;
        self.reap(out);
        Ok(())
    }

    fn reap(&self, out: &mut Vec<Completion>) {
        out.append(&mut self.stash.borrow_mut());
        let mut uring = self.uring.borrow_mut();
        let mut ops = self.ops.borrow_mut();
        for _ in 0..4 {
            self.drain(&mut uring, &mut ops, out);
            if !uring.submission().cq_overflow() {
                break;
            }
            // More completions than the queue holds: the kernel keeps the
            // rest until an enter asks for them.
            if let Err(error) = uring.submit() {
                tracing::debug!(%error, "io_uring: completions left for the next turn");
                break;
            }
        }
    }

    fn push(&self, sqe: &squeue::Entry) -> io::Result<()> {
        let mut uring = self.uring.borrow_mut();
        let mut tries = 0;
        loop {
            // SAFETY: every entry pushed here either points at nothing
            // (a cancel; an accept, which asks for no peer address) or at
            // bytes owned by `self.ops` under the entry's `user_data`,
            // which stay where they are (a `Vec`'s heap buffer does not
            // move with the `Vec`) until the operation's completion is
            // drained, or, if the ring is dropped first, until `Drop` has
            // seen every completion or given up and leaked them.
            if unsafe { uring.submission().push(sqe) }.is_ok() {
                self.unsubmitted.set(true);
                return Ok(());
            }
            // Full: hand the queue to the kernel and try again. If its
            // completion queue is full too, take those completions out
            // (they are handed back with the next reap) to make room.
            match uring.submit() {
                Ok(_) => {}
                Err(error) if is_transient(&error) && tries < 8 => {
                    tries += 1;
                    self.drain(
                        &mut uring,
                        &mut self.ops.borrow_mut(),
                        &mut self.stash.borrow_mut(),
                    );
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// The ring's descriptor: readable when completions are waiting.
    fn as_raw_fd(&self) -> RawFd {
        self.uring.borrow().as_raw_fd()
    }

    /// Takes every completion in the queue: a send's goes to `out` with
    /// its bytes, an accept's with its socket, a cancel's is dropped.
    fn drain(&self, uring: &mut IoUring, ops: &mut Slab<Op>, out: &mut Vec<Completion>) {
        for cqe in uring.completion() {
            let tag = cqe.user_data();
            if tag == CANCEL_DONE {
                continue;
            }
            let Some(key) = u32::try_from(tag).ok().and_then(NonZeroU32::new) else {
                continue;
            };
            let index = key.get() as usize - 1;
            match ops.get(index) {
                Some(Op::Send(_)) => {
                    let Op::Send(send) = ops.remove(index) else {
                        unreachable!("a send was there");
                    };
                    let result = match cqe.result() {
                        n if n >= 0 => Ok(n as usize),
                        errno => Err(io::Error::from_raw_os_error(-errno)),
                    };
                    out.push((
                        send.token,
                        OpDone::Sent(SendDone {
                            key: SendKey(key),
                            result,
                            data: send.data,
                            start: send.start,
                        }),
                    ));
                }
                Some(&Op::Accept(token)) => {
                    let more = cqueue::more(cqe.flags());
                    if !more {
                        ops.remove(index);
                    }
                    let result = match cqe.result() {
                        fd if fd >= 0 => {
                            self.accepted.set(self.accepted.get() + 1);
                            // SAFETY: a non-negative result of an accept is
                            // a descriptor the kernel has just installed in
                            // this process's table for this completion, and
                            // a completion is taken off the queue once:
                            // nothing else owns or will close it.
                            Ok(unsafe { OwnedFd::from_raw_fd(fd) })
                        }
                        errno => Err(io::Error::from_raw_os_error(-errno)),
                    };
                    out.push((
                        token,
                        OpDone::Accepted(AcceptDone {
                            key: AcceptKey(key),
                            result,
                            more,
                        }),
                    ));
                }
                // Keys stay taken until their operation's last completion.
                None => {}
            }
        }
    }
}

/// The `user_data` of the operation at slab index `key`: never 0, so that
/// an `Option` of a key costs nothing.
fn tag_of(key: usize) -> Option<NonZeroU32> {
    u32::try_from(key + 1).ok().and_then(NonZeroU32::new)
}

/// The kernel is short of room or was interrupted: try again later.
fn is_transient(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EBUSY | libc::EAGAIN | libc::EINTR)
    )
}

impl Drop for Ring {
    fn drop(&mut self) {
        if self.ops.get_mut().is_empty() {
            return;
        }
        let keys: Vec<usize> = self.ops.get_mut().iter().map(|(key, _)| key).collect();
        for key in keys {
            if let Some(tag) = tag_of(key) {
                self.cancel_op(tag, "an operation");
            }
        }
        let deadline = std::time::Instant::now() + DRAIN_ON_DROP;
        // Dropped completions close the descriptors accepted meanwhile.
        let mut done = Vec::new();
        while !self.ops.get_mut().is_empty() {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            let uring = self.uring.get_mut();
            let timespec = types::Timespec::from(left);
            let args = types::SubmitArgs::new().timespec(&timespec);
            match uring.submitter().submit_with_args(1, &args) {
                Ok(_) => {}
                Err(error) if matches!(error.raw_os_error(), Some(libc::EINTR | libc::ETIME)) => {}
                Err(_) => break,
            }
            self.reap(&mut done);
            done.clear();
        }
        let left = std::mem::take(self.ops.get_mut());
        if !left.is_empty() {
            // The kernel may still read these bytes: leak them rather than
            // free memory under it.
            tracing::warn!(
                operations = left.len(),
                "io_uring operations outlived the reactor"
            );
            std::mem::forget(left);
        }
    }
}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring")
            .field("operations", &self.ops.borrow().len())
            .field("accepted", &self.accepted.get())
            .finish()
    }
}
