//! The system calls std does not offer for child processes, in one place:
//! placing descriptors above 2 between fork and exec, pidfds, and sending
//! any signal. Everything else (spawning, waiting on one pid) goes through
//! `std::process`.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::OnceLock;

/// What happens to the child's descriptors above the standard three (and
/// to any descriptor it is to start without), between fork and exec.
#[derive(Debug, Default)]
pub(super) struct FdMap {
    /// Parent descriptors to place at child descriptors.
    moves: Vec<(OwnedFd, RawFd)>,
    /// Child descriptors that are the parent's own, kept across exec.
    keep: Vec<RawFd>,
    /// Child descriptors to close.
    close: Vec<RawFd>,
}

impl FdMap {
    pub(super) fn place(&mut self, fd: OwnedFd, at: RawFd) {
        self.moves.push((fd, at));
    }

    pub(super) fn keep(&mut self, fd: RawFd) {
        self.keep.push(fd);
    }

    pub(super) fn close(&mut self, fd: RawFd) {
        self.close.push(fd);
    }

    /// Adds the step to `command` if there is anything to do; a plain
    /// command keeps std's faster spawn path (posix_spawn).
    pub(super) fn install(self, command: &mut Command) {
        if self.moves.is_empty() && self.keep.is_empty() && self.close.is_empty() {
            return;
        }
        // Everything the child runs is allocated here, in the parent: after
        // fork only async-signal-safe calls are allowed, so the closure
        // only reads these and writes into `scratch`.
        let sources: Vec<RawFd> = self.moves.iter().map(|(fd, _)| fd.as_raw_fd()).collect();
        let targets: Vec<RawFd> = self.moves.iter().map(|(_, at)| *at).collect();
        let keep = self.keep;
        let close = self.close;
        // Above every target and source, so that placing one descriptor
        // never overwrites another that is still to be placed.
        let floor = targets
            .iter()
            .chain(&sources)
            .chain(&keep)
            .copied()
            .max()
            .unwrap_or(2)
            + 1;
        let mut scratch = vec![-1; sources.len()];
        // The parent's copies close when the command is dropped after
        // spawning.
        let owned: Vec<OwnedFd> = self.moves.into_iter().map(|(fd, _)| fd).collect();
        let step = move || -> io::Result<()> {
            let _ = &owned;
            for (slot, &source) in scratch.iter_mut().zip(&sources) {
                // SAFETY: fcntl is async-signal-safe; `source` is open in
                // the child (inherited from the parent, which owns it).
                *slot = check(unsafe { libc::fcntl(source, libc::F_DUPFD_CLOEXEC, floor) })?;
            }
            for (&moved, &target) in scratch.iter().zip(&targets) {
                // SAFETY: dup2 is async-signal-safe; the new descriptor
                // does not have close-on-exec, so the program gets it.
                check(unsafe { libc::dup2(moved, target) })?;
            }
            for &fd in &keep {
                // SAFETY: fcntl is async-signal-safe; clearing the flags of
                // a descriptor that is not open fails with EBADF, reported.
                check(unsafe { libc::fcntl(fd, libc::F_SETFD, 0) })?;
            }
            for &fd in &close {
                // SAFETY: close is async-signal-safe; closing a descriptor
                // that is not open is harmless here.
                unsafe { libc::close(fd) };
            }
            Ok(())
        };
        // SAFETY: the step makes only async-signal-safe calls (fcntl, dup2,
        // close), allocates nothing and takes no lock, as `pre_exec`
        // requires of code running between fork and exec.
        unsafe { command.pre_exec(step) };
    }
}

fn check(result: libc::c_int) -> io::Result<libc::c_int> {
    if result == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(result)
    }
}

/// Whether this kernel gives pidfds (Linux 5.3 and later, unless a sandbox
/// forbids them): asked once, of this process's own pid.
pub(super) fn pidfds_supported() -> bool {
    static SUPPORTED: OnceLock<bool> = OnceLock::new();
    *SUPPORTED.get_or_init(|| pidfd_open(std::process::id()).is_ok())
}

/// A pidfd for `pid`: readable once that process has exited, and a handle
/// that signals exactly that process even after its pid is reused.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(super) fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new
    // descriptor or -1; no memory is passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor, owned by nobody
    // else; it is close-on-exec by definition.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(super) fn pidfd_open(_pid: u32) -> io::Result<OwnedFd> {
    Err(io::ErrorKind::Unsupported.into())
}

/// Sends `signal` to the process `pidfd` refers to.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(super) fn pidfd_send_signal(pidfd: &OwnedFd, signal: i32) -> io::Result<()> {
    // SAFETY: pidfd_send_signal with a null siginfo and no flags reads no
    // memory; the descriptor is open for the length of the call.
    let result = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if result < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(super) fn pidfd_send_signal(_pidfd: &OwnedFd, _signal: i32) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

/// Sends `signal` to `pid`, or to the process group `-pid`. The caller
/// makes sure the pid is still its unreaped child's (or that group's).
pub(super) fn kill(pid: i32, signal: i32) -> io::Result<()> {
    // SAFETY: kill takes two integers and touches no memory.
    check(unsafe { libc::kill(pid, signal) }).map(drop)
}
