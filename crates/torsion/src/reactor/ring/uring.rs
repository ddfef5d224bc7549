//! The ring itself, on Linux: the one module that submits io_uring
//! operations, and the only `unsafe` in it is that submission.
#![allow(unsafe_code)]

use std::cell::{Cell, RefCell};
use std::io;
use std::num::NonZeroU32;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use io_uring::{IoUring, opcode, squeue, types};
use mio::Token;
use slab::Slab;

use super::{Completion, SendDone, SendKey};

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

pub(crate) struct Ring {
    uring: RefCell<IoUring>,
    /// Operations the kernel holds, keyed by their `user_data`. An entry
    /// owns what its operation reads until the operation completes.
    sends: RefCell<Slab<Send>>,
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
        // completed by task work on this thread, which must interrupt a
        // wait in epoll_wait (as a signal does) rather than wait for the
        // thread's next system call.
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
        Ok(Ring {
            uring: RefCell::new(uring),
            sends: RefCell::new(Slab::new()),
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
        let mut sends = self.sends.borrow_mut();
        let entry = sends.vacant_entry();
        let key = entry.key();
        let Some(tag) = u32::try_from(key + 1).ok().and_then(NonZeroU32::new) else {
            return Err(io::Error::other("too many sends under way"));
        };
        let send = entry.insert(Send { token, data, start });
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
        drop(sends);
        if let Err(error) = self.push(&sqe.user_data(u64::from(tag.get()))) {
            self.sends.borrow_mut().remove(key);
            return Err(error);
        }
        Ok(SendKey(tag))
    }

    /// Readies the ring for a wait, the loop's or a host's: submits what
    /// was pushed since the last submission, then puts the ring's
    /// descriptor in epoll's set (under `token`) while the kernel holds
    /// sends, so that one completing during the wait ends it, and takes it
    /// out once none is left: most sends complete as they are submitted
    /// and are reaped before the wait, and a descriptor left in the set
    /// would wake the wait once more for each of them.
    pub(crate) fn submit_before_wait(
        &self,
        registry: &mio::Registry,
        token: Token,
    ) -> io::Result<()> {
        self.submit_pending()?;
        self.watch_while_busy(registry, token)
    }

    fn watch_while_busy(&self, registry: &mio::Registry, token: Token) -> io::Result<()> {
        let busy = !self.sends.borrow().is_empty();
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
        if let Err(error) = self.submit_pending() {
            tracing::warn!(%error, "could not submit to io_uring");
        }
        let sqe = opcode::AsyncCancel::new(u64::from(key.0.get()))
            .build()
            .user_data(CANCEL_DONE);
        if let Err(error) = self.push(&sqe) {
            tracing::warn!(%error, "could not cancel a send under way");
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
        let mut sends = self.sends.borrow_mut();
        for _ in 0..4 {
            drain(&mut uring, &mut sends, out);
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
            // (a cancel) or at bytes owned by `self.sends` under the
            // entry's `user_data`, which stay where they are (a `Vec`'s heap
            // buffer does not move with the `Vec`) until the operation's
            // completion is drained, or, if the ring is dropped first,
            // until `Drop` has seen every completion or given up and
            // leaked them.
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
                    drain(
                        &mut uring,
                        &mut self.sends.borrow_mut(),
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
}

/// Takes every completion in the queue; a send's goes to `out` with its
/// bytes, a cancel's is dropped.
fn drain(uring: &mut IoUring, sends: &mut Slab<Send>, out: &mut Vec<Completion>) {
    for cqe in uring.completion() {
        let tag = cqe.user_data();
        if tag == CANCEL_DONE {
            continue;
        }
        let Some((key, send)) = u32::try_from(tag)
            .ok()
            .and_then(NonZeroU32::new)
            .and_then(|key| Some((key, sends.try_remove(key.get() as usize - 1)?)))
        else {
            continue;
        };
        let result = match cqe.result() {
            n if n >= 0 => Ok(n as usize),
            errno => Err(io::Error::from_raw_os_error(-errno)),
        };
        out.push((
            send.token,
            SendDone {
                key: SendKey(key),
                result,
                data: send.data,
                start: send.start,
            },
        ));
    }
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
        if self.sends.get_mut().is_empty() {
            return;
        }
        let keys: Vec<usize> = self.sends.get_mut().iter().map(|(key, _)| key).collect();
        for key in keys {
            if let Some(tag) = u32::try_from(key + 1).ok().and_then(NonZeroU32::new) {
                self.cancel(SendKey(tag));
            }
        }
        let deadline = std::time::Instant::now() + DRAIN_ON_DROP;
        let mut done = Vec::new();
        while !self.sends.get_mut().is_empty() {
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
        let left = std::mem::take(self.sends.get_mut());
        if !left.is_empty() {
            // The kernel may still read these bytes: leak them rather than
            // free memory under it.
            tracing::warn!(sends = left.len(), "io_uring sends outlived the reactor");
            std::mem::forget(left);
        }
    }
}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring")
            .field("sends", &self.sends.borrow().len())
            .finish()
    }
}
