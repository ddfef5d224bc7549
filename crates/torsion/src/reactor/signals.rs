//! SIGINT and SIGTERM as a graceful stop (Twisted's `installSignalHandlers`).
//!
//! Signal handlers belong to the process, not to a reactor, so one reactor
//! at a time holds them, and only for a signal nobody else handles yet: the
//! disposition must be the default one when the reactor takes it. A signal
//! that something already handles (a debugger, the program itself, a
//! reactor started earlier) is left to it. When the reactor finishes it
//! puts the default disposition back, so Ctrl-C after `run()` returned
//! ends the process as usual.
//!
//! ```text
//!   signal --handler--> write(signal number) --pipe--> reactor's poll
//!                                                      (SIGNAL_TOKEN)
//! ```
//!
//! The handler does the one async-signal-safe thing it needs: it writes the
//! signal's number into a pipe that lives as long as the process. This is
//! the one module of the reactor that calls `libc` directly, since no safe
//! API reads a signal's disposition.
//!
//! The same machinery carries SIGCHLD to the layers that reap child
//! processes without a pidfd ([`ChildSignals`]): every reactor that asks
//! gets a pipe of its own and a byte in it for each SIGCHLD.
#![allow(unsafe_code)]

use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use mio::{Interest, Registry};

use super::io::SIGNAL_TOKEN;
use crate::error::SignalError;

/// What [`Reactor::run_with`](crate::Reactor::run_with) does about SIGINT
/// and SIGTERM.
///
/// ```no_run
/// use torsion::Reactor;
/// use torsion::reactor::Signals;
///
/// let reactor = Reactor::new()?;
/// // A program with its own signal handling keeps it:
/// reactor.run_with(Signals::LeaveAlone)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Signals {
    /// Take SIGINT and SIGTERM (each one that nothing handles yet) and
    /// stop gracefully when one arrives; a second one while the reactor is
    /// stopping ends the wait for shutdown triggers at once and gives the
    /// signals back to their default, so a third ends the process should
    /// shutdown hang. What [`Reactor::run`](crate::Reactor::run) does.
    #[default]
    StopGracefully,
    /// Leave the process's signal handling alone: for a reactor on a
    /// background thread, embedded in another program, or in a program
    /// that handles signals itself.
    LeaveAlone,
}

/// The signals that stop a reactor.
const STOP_SIGNALS: [libc::c_int; 2] = [libc::SIGINT, libc::SIGTERM];

/// The write end of the signal pipe, for the handler; -1 before the pipe
/// exists. The pipe is never closed, so the handler cannot write into a
/// descriptor that was closed and reused under it.
static PIPE_WRITER: AtomicI32 = AtomicI32::new(-1);

/// The process's signal pipe: its read end (each claim reads through a
/// clone of it) and its write end (kept open here for the handler).
static PIPE: OnceLock<(UnixStream, UnixStream)> = OnceLock::new();

/// Whether a reactor of this process holds the stop signals now. The lock
/// also serialises claims, so the pipe is made once.
static CLAIMED: Mutex<bool> = Mutex::new(false);

/// A reactor's hold on the stop signals; dropping it gives them back.
pub(crate) struct SignalClaim {
    reader: mio::net::UnixStream,
    /// Each signal taken and the disposition it had before.
    taken: Vec<(libc::c_int, libc::sigaction)>,
}

impl SignalClaim {
    /// Takes every stop signal still at its default disposition and
    /// registers the pipe's read end under [`SIGNAL_TOKEN`].
    pub(crate) fn install(registry: &Registry) -> Result<SignalClaim, SignalError> {
        let mut claimed = CLAIMED.lock().unwrap_or_else(PoisonError::into_inner);
        if *claimed {
            return Err(SignalError::AlreadyHandled);
        }
        let reader = signal_pipe()?.try_clone().map_err(SignalError::Io)?;
        let mut reader = mio::net::UnixStream::from_std(reader);
        // Bytes from signals that arrived while nobody held them are stale.
        drain(&mut reader);
        let mut taken = Vec::new();
        for signal in STOP_SIGNALS {
            match take_if_default(signal) {
                Ok(Some(previous)) => taken.push((signal, previous)),
                Ok(None) => {}
                Err(error) => {
                    restore(&taken);
                    return Err(SignalError::Io(error));
                }
            }
        }
        if taken.is_empty() {
            return Err(SignalError::AlreadyHandled);
        }
        if let Err(error) = registry.register(&mut reader, SIGNAL_TOKEN, Interest::READABLE) {
            restore(&taken);
            return Err(SignalError::Io(error));
        }
        *claimed = true;
        Ok(SignalClaim { reader, taken })
    }

    /// The signals that arrived since the last call, oldest first.
    pub(crate) fn received(&mut self) -> Vec<StopSignal> {
        let mut buffer = [0u8; 16];
        let mut received = Vec::new();
        loop {
            match self.reader.read(&mut buffer) {
                Ok(0) => return received,
                Ok(n) => received.extend(buffer[..n].iter().map(|&b| StopSignal(b.into()))),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return received,
            }
        }
    }
}

impl Drop for SignalClaim {
    fn drop(&mut self) {
        restore(&self.taken);
        *CLAIMED.lock().unwrap_or_else(PoisonError::into_inner) = false;
    }
}

/// A stop signal that arrived, named for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StopSignal(libc::c_int);

impl std::fmt::Display for StopSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            libc::SIGINT => f.write_str("SIGINT"),
            libc::SIGTERM => f.write_str("SIGTERM"),
            other => write!(f, "signal {other}"),
        }
    }
}

/// The read end of the process's signal pipe, made on first use.
fn signal_pipe() -> Result<&'static UnixStream, SignalError> {
    if let Some((reader, _)) = PIPE.get() {
        return Ok(reader);
    }
    let (reader, writer) = UnixStream::pair().map_err(SignalError::Io)?;
    reader.set_nonblocking(true).map_err(SignalError::Io)?;
    writer.set_nonblocking(true).map_err(SignalError::Io)?;
    PIPE_WRITER.store(writer.as_raw_fd(), Ordering::Release);
    // Callers hold CLAIMED, so nobody else set the pipe meanwhile.
    let (reader, _) = PIPE.get_or_init(|| (reader, writer));
    Ok(reader)
}

fn drain(reader: &mut mio::net::UnixStream) {
    let mut buffer = [0u8; 64];
    while matches!(reader.read(&mut buffer), Ok(n) if n > 0) {}
}

/// Installs [`on_signal`] for `signal` if its disposition is the default,
/// returning the disposition it replaced; `None` leaves the signal alone.
fn take_if_default(signal: libc::c_int) -> io::Result<Option<libc::sigaction>> {
    let mut current = empty_action();
    // SAFETY: a null new action only reads the disposition into `current`,
    // a valid sigaction owned by this frame.
    check(unsafe { libc::sigaction(signal, std::ptr::null(), &mut current) })?;
    if current.sa_sigaction != libc::SIG_DFL {
        return Ok(None);
    }
    let mut action = empty_action();
    action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    action.sa_flags = libc::SA_RESTART;
    let mut previous = empty_action();
    // SAFETY: `action` is a fully initialised sigaction whose handler only
    // makes async-signal-safe calls; `previous` is a valid out-pointer.
    check(unsafe { libc::sigaction(signal, &action, &mut previous) })?;
    if previous.sa_sigaction != libc::SIG_DFL {
        // Someone installed a handler between the look and the take: theirs
        // wins.
        restore(&[(signal, previous)]);
        return Ok(None);
    }
    Ok(Some(previous))
}

/// Puts back the dispositions `taken` replaced.
fn restore(taken: &[(libc::c_int, libc::sigaction)]) {
    for (signal, previous) in taken {
        // SAFETY: `previous` is the disposition sigaction itself reported
        // for this signal; the old-action pointer may be null.
        let restored = unsafe { libc::sigaction(*signal, previous, std::ptr::null_mut()) };
        if restored != 0 {
            tracing::warn!(signal, error = %io::Error::last_os_error(), "could not restore a signal's disposition");
        }
    }
}

/// A sigaction with no handler, no flags and an empty mask.
fn empty_action() -> libc::sigaction {
    // SAFETY: sigaction is a plain C struct for which all-zero bytes are a
    // valid value (SIG_DFL, no flags); the mask is then emptied properly.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: `sa_mask` is a valid sigset_t owned by `action`.
    unsafe { libc::sigemptyset(&mut action.sa_mask) };
    action
}

fn check(result: libc::c_int) -> io::Result<()> {
    if result == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The handler: writes the signal's number into the pipe, keeping `errno`
/// as it found it for the code it interrupted.
extern "C" fn on_signal(signal: libc::c_int) {
    let fd = PIPE_WRITER.load(Ordering::Acquire);
    if fd < 0 {
        return;
    }
    let errno = errno_location();
    // SAFETY: errno_location points at this thread's errno, valid for the
    // thread's life.
    let saved = unsafe { *errno };
    poke(fd, signal as u8);
    // SAFETY: as above.
    unsafe { *errno = saved };
}

/// Writes one byte into a pipe that is never closed; async-signal-safe.
fn poke(fd: libc::c_int, byte: u8) {
    // SAFETY: write(2) is async-signal-safe; `fd` is the write end of a
    // pipe this module never closes; the buffer is one valid byte. A full
    // pipe (EAGAIN) only loses a byte its reader has not read yet, and one
    // unread byte is all a reader needs to look.
    unsafe { libc::write(fd, std::ptr::from_ref(&byte).cast(), 1) };
}

// SIGCHLD, for the layers that reap child processes without a pidfd (old
// kernels, sandboxes that forbid pidfd_open). Any number of reactors may
// have children, so each one subscribes with a pipe of its own, and the
// handler writes one byte into every subscriber's pipe; what a subscriber
// does then (look at its own children, never at anybody else's) is its
// business. The handler stays installed once installed: pipes are never
// closed (the handler could be writing into one), a slot is reused instead.

/// How many reactors may watch SIGCHLD at once.
const CHILD_SLOTS: usize = 64;

/// The write ends of the subscribers' pipes, -1 for a slot never used.
static CHILD_WRITERS: [AtomicI32; CHILD_SLOTS] = [const { AtomicI32::new(-1) }; CHILD_SLOTS];

/// The disposition SIGCHLD had before ours: the handler passes the signal
/// on to it, so a program's own SIGCHLD handler keeps working.
static PREVIOUS_CHILD_ACTION: OnceLock<libc::sigaction> = OnceLock::new();

/// The slots' pipes, and which are taken; the lock also serialises
/// installing the handler.
static CHILD_PIPES: Mutex<Vec<ChildPipe>> = Mutex::new(Vec::new());

struct ChildPipe {
    reader: UnixStream,
    /// Kept open for the handler, forever.
    _writer: UnixStream,
    taken: bool,
}

/// A reactor's subscription to SIGCHLD: its descriptor is readable once a
/// child of this process (anybody's child) has changed state since the last
/// [`drain`](ChildSignals::drain). Watch it with
/// [`Reactor::add_reader`](crate::Reactor::add_reader); dropping it gives
/// the slot back.
pub(crate) struct ChildSignals {
    reader: UnixStream,
    slot: usize,
}

impl ChildSignals {
    /// Subscribes, installing the SIGCHLD handler on first use (passing
    /// the signal on to a handler installed before). A signal that arrives
    /// between this call returning and the descriptor being watched is not
    /// lost: its byte waits in the pipe.
    pub(crate) fn subscribe() -> io::Result<ChildSignals> {
        let mut pipes = CHILD_PIPES.lock().unwrap_or_else(PoisonError::into_inner);
        install_child_handler()?;
        let slot = match pipes.iter().position(|pipe| !pipe.taken) {
            Some(slot) => slot,
            None if pipes.len() < CHILD_SLOTS => {
                let (reader, writer) = UnixStream::pair()?;
                reader.set_nonblocking(true)?;
                writer.set_nonblocking(true)?;
                CHILD_WRITERS[pipes.len()].store(writer.as_raw_fd(), Ordering::Release);
                pipes.push(ChildPipe {
                    reader,
                    _writer: writer,
                    taken: false,
                });
                pipes.len() - 1
            }
            None => {
                return Err(io::Error::other(format!(
                    "more than {CHILD_SLOTS} reactors watch SIGCHLD at once"
                )));
            }
        };
        let reader = pipes[slot].reader.try_clone()?;
        pipes[slot].taken = true;
        drop(pipes);
        let signals = ChildSignals { reader, slot };
        // Bytes from before this subscription were for somebody else.
        signals.drain();
        Ok(signals)
    }

    /// Reads away what has arrived, so that the next SIGCHLD brings a new
    /// readiness edge.
    pub(crate) fn drain(&self) {
        let mut buffer = [0u8; 64];
        while matches!((&self.reader).read(&mut buffer), Ok(n) if n > 0) {}
    }
}

impl std::os::fd::AsFd for ChildSignals {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.reader.as_fd()
    }
}

impl Drop for ChildSignals {
    fn drop(&mut self) {
        let mut pipes = CHILD_PIPES.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(pipe) = pipes.get_mut(self.slot) {
            pipe.taken = false;
        }
    }
}

impl std::fmt::Debug for ChildSignals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildSignals")
            .field("slot", &self.slot)
            .finish()
    }
}

/// Installs [`on_child_signal`] once per process; callers hold
/// `CHILD_PIPES`.
fn install_child_handler() -> io::Result<()> {
    if PREVIOUS_CHILD_ACTION.get().is_some() {
        return Ok(());
    }
    let mut action = empty_action();
    action.sa_sigaction = on_child_signal
        as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void)
        as libc::sighandler_t;
    // SA_NOCLDSTOP: a stopped child is no news to a reaper.
    action.sa_flags = libc::SA_RESTART | libc::SA_SIGINFO | libc::SA_NOCLDSTOP;
    let mut previous = empty_action();
    // The previous action must be readable by the handler before it can
    // run: set it first from a look, then swap the handler in.
    // SAFETY: a null new action only reads the disposition into `previous`.
    check(unsafe { libc::sigaction(libc::SIGCHLD, std::ptr::null(), &mut previous) })?;
    let _ = PREVIOUS_CHILD_ACTION.set(previous);
    // SAFETY: `action` is a fully initialised sigaction whose handler only
    // makes async-signal-safe calls (and those of the handler it chains
    // to); the old-action pointer may be null. Nobody else changes SIGCHLD
    // between the look and this call in a program that leaves it to us.
    check(unsafe { libc::sigaction(libc::SIGCHLD, &action, std::ptr::null_mut()) })
}

/// The SIGCHLD handler: a byte into every subscriber's pipe, then the
/// handler that was there before, if any.
extern "C" fn on_child_signal(
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    let errno = errno_location();
    // SAFETY: this thread's errno, valid for the thread's life.
    let saved = unsafe { *errno };
    for writer in &CHILD_WRITERS {
        let fd = writer.load(Ordering::Acquire);
        if fd >= 0 {
            poke(fd, signal as u8);
        }
    }
    // SAFETY: as above.
    unsafe { *errno = saved };
    let Some(previous) = PREVIOUS_CHILD_ACTION.get() else {
        return;
    };
    let handler = previous.sa_sigaction;
    if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
        return;
    }
    if previous.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: the previous disposition said this address is a
        // three-argument handler; it gets the arguments the kernel gave.
        let chained: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { std::mem::transmute(handler) };
        chained(signal, info, context);
    } else {
        // SAFETY: the previous disposition said this address is a
        // one-argument handler.
        let chained: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(handler) };
        chained(signal);
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn errno_location() -> *mut libc::c_int {
    // SAFETY: always safe to call; returns this thread's errno.
    unsafe { libc::__errno_location() }
}

#[cfg(any(target_vendor = "apple", target_os = "freebsd"))]
fn errno_location() -> *mut libc::c_int {
    // SAFETY: always safe to call; returns this thread's errno.
    unsafe { libc::__error() }
}
