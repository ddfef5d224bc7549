//! The ring itself, on Linux: the one module that submits io_uring
//! operations, and the only `unsafe` in it is that submission.
#![allow(unsafe_code)]

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::Duration;

use io_uring::{IoUring, cqueue, opcode, squeue, types};
use mio::Token;
use slab::Slab;

use super::{Completion, SendDone, SendKey};

/// Submission queue entries; completions get twice as many.
const ENTRIES: u32 = 1024;
/// The completion of the multishot poll on the epoll descriptor.
const EPOLL_READY: u64 = u64::MAX;
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
    /// The reactor's epoll descriptor, which the ring watches.
    epoll: RawFd,
    /// The multishot poll on the epoll descriptor is in place.
    epoll_armed: Cell<bool>,
    /// Entries pushed since the last submission.
    unsubmitted: Cell<bool>,
}

impl Ring {
    /// A ring, or the kernel's reason for refusing one (`ENOSYS` on an old
    /// kernel, `EPERM` where io_uring is disabled or filtered out), or
    /// `Unsupported` when an operation the loop needs is missing.
    /// The ring starts watching `epoll` at once, so that a host loop
    /// sleeping on the ring's descriptor hears of readiness before the
    /// first turn.
    pub(crate) fn new(epoll: RawFd) -> io::Result<Ring> {
        // Not COOP_TASKRUN: a host loop sleeping on the ring's descriptor
        // must be woken when a completion is ready, not at its next
        // system call.
        // SUBMIT_ALL (Linux 5.18): an entry the kernel rejects does not
        // hold back the ones after it, a send among them (see `cancel`).
        let uring = IoUring::builder()
            .setup_cqsize(ENTRIES * 2)
            .setup_submit_all()
            .build(ENTRIES)
            .or_else(|_| IoUring::builder().setup_cqsize(ENTRIES * 2).build(ENTRIES))?;
        if !uring.params().is_feature_ext_arg() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "io_uring without timed waits (IORING_FEAT_EXT_ARG, Linux 5.11)",
            ));
        }
        let mut probe = io_uring::Probe::new();
        uring.submitter().register_probe(&mut probe)?;
        for code in [
            opcode::PollAdd::CODE,
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
        let ring = Ring {
            uring: RefCell::new(uring),
            sends: RefCell::new(Slab::new()),
            epoll,
            epoll_armed: Cell::new(false),
            unsubmitted: Cell::new(false),
        };
        ring.arm_epoll()?;
        ring.uring.borrow().submit()?;
        ring.unsubmitted.set(false);
        Ok(ring)
    }

    fn arm_epoll(&self) -> io::Result<()> {
        if !self.epoll_armed.get() {
            let sqe = opcode::PollAdd::new(types::Fd(self.epoll), libc::POLLIN as u32)
                .multi(true)
                .build()
                .user_data(EPOLL_READY);
            self.push(&sqe)?;
            self.epoll_armed.set(true);
        }
        Ok(())
    }

    /// Hands `data[start..]` to the kernel, to be written to `fd` (a socket
    /// with `send`, a pipe with `write`); its completion comes back from a
    /// later [`wait`](Ring::wait) as [`Completion::Sent`] for `token`.
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
        let Ok(tag) = u32::try_from(key) else {
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
        if let Err(error) = self.push(&sqe.user_data(u64::from(tag))) {
            self.sends.borrow_mut().remove(key);
            return Err(error);
        }
        Ok(SendKey(tag))
    }

    /// Submits what was pushed since the last submission, without waiting.
    pub(crate) fn submit_pending(&self) -> io::Result<()> {
        if self.unsubmitted.get() {
            self.uring.borrow().submit()?;
            self.unsubmitted.set(false);
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
        let sqe = opcode::AsyncCancel::new(u64::from(key.0))
            .build()
            .user_data(CANCEL_DONE);
        if let Err(error) = self.push(&sqe) {
            tracing::warn!(%error, "could not cancel a send under way");
        }
    }

    /// Submits what was pushed, waits up to `timeout` (`None`: until
    /// something completes) and appends what completed to `out`.
    pub(crate) fn wait(
        &self,
        timeout: Option<Duration>,
        out: &mut Vec<Completion>,
    ) -> io::Result<()> {
        self.arm_epoll()?;
        let submitted = {
            let uring = self.uring.borrow();
            let submitter = uring.submitter();
            match timeout {
                Some(Duration::ZERO) if !self.unsubmitted.get() => Ok(0),
                Some(Duration::ZERO) => submitter.submit(),
                Some(timeout) => {
                    let timespec = types::Timespec::from(timeout);
                    let args = types::SubmitArgs::new().timespec(&timespec);
                    submitter.submit_with_args(1, &args)
                }
                None => submitter.submit_and_wait(1),
            }
        };
        match submitted {
            Ok(_) => self.unsubmitted.set(false),
            // A signal, the timeout, or a full completion queue to drain:
            // what was pushed went in all the same.
            Err(error)
                if matches!(
                    error.raw_os_error(),
                    Some(libc::EINTR | libc::ETIME | libc::EBUSY)
                ) =>
            {
                self.unsubmitted.set(false);
            }
            Err(error) => return Err(error),
        }
        self.reap(out);
        Ok(())
    }

    fn reap(&self, out: &mut Vec<Completion>) {
        let mut uring = self.uring.borrow_mut();
        let mut sends = self.sends.borrow_mut();
        let mut epoll_ready = false;
        for cqe in uring.completion() {
            match cqe.user_data() {
                EPOLL_READY => {
                    if !cqueue::more(cqe.flags()) {
                        // Ended (the completion queue overflowed, say):
                        // the next wait puts it back.
                        self.epoll_armed.set(false);
                    }
                    epoll_ready = true;
                }
                CANCEL_DONE => {}
                tag => {
                    let Some(send) = usize::try_from(tag)
                        .ok()
                        .and_then(|key| sends.try_remove(key))
                    else {
                        continue;
                    };
                    let result = match cqe.result() {
                        n if n >= 0 => Ok(n as usize),
                        errno => Err(io::Error::from_raw_os_error(-errno)),
                    };
                    out.push(Completion::Sent(
                        send.token,
                        SendDone {
                            key: SendKey(tag as u32),
                            result,
                            data: send.data,
                            start: send.start,
                        },
                    ));
                }
            }
        }
        if epoll_ready {
            out.push(Completion::EpollReady);
        }
    }

    fn push(&self, sqe: &squeue::Entry) -> io::Result<()> {
        let mut uring = self.uring.borrow_mut();
        loop {
            // SAFETY: every entry pushed here either points at nothing
            // (poll, cancel) or at bytes owned by `self.sends` under the
            // entry's `user_data`, which stay where they are (a `Vec`'s heap
            // buffer does not move with the `Vec`) until `reap` takes the
            // operation's completion, or, if the ring is dropped first,
            // until `Drop` has seen every completion or given up and
            // leaked them.
            if unsafe { uring.submission().push(sqe) }.is_ok() {
                self.unsubmitted.set(true);
                return Ok(());
            }
            // Full: hand the queue to the kernel and try again.
            uring.submit()?;
        }
    }

    /// The ring's descriptor: readable when completions are waiting.
    pub(crate) fn as_raw_fd(&self) -> RawFd {
        self.uring.borrow().as_raw_fd()
    }

    pub(crate) fn clone_fd(&self) -> io::Result<std::os::fd::OwnedFd> {
        self.uring.borrow().as_fd().try_clone_to_owned()
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        if self.sends.get_mut().is_empty() {
            return;
        }
        let keys: Vec<usize> = self.sends.get_mut().iter().map(|(key, _)| key).collect();
        for key in keys {
            self.cancel(SendKey(key as u32));
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
