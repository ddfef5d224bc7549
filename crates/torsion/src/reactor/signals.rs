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
    let byte = signal as u8;
    // SAFETY: write(2) is async-signal-safe; `fd` is the pipe's write end,
    // never closed; the buffer is one valid byte. A full pipe (EAGAIN) only
    // loses a signal the reactor has not read yet, which it does not need.
    unsafe { libc::write(fd, std::ptr::from_ref(&byte).cast(), 1) };
    // SAFETY: as above.
    unsafe { *errno = saved };
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
