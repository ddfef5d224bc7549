//! How a reactor's connections write: a system call each (epoll, the
//! default) or through an io_uring ring, chosen when the reactor is built.

use std::fmt;
use std::str::FromStr;

use super::Reactor;

/// The environment variable [`Reactor::new`] reads for its backend:
/// `epoll` or `io_uring`.
pub const BACKEND_ENV: &str = "TORSION_BACKEND";

/// How a reactor does its I/O.
///
/// - **Epoll** (the default): the loop waits in `epoll_wait` and each
///   write is a `write` system call made at once, as tokio's loop does.
/// - **IoUring**: a connection's writes go to the kernel as send
///   operations, all of a turn's submitted with one `io_uring_enter` before
///   the loop waits, so a turn that answers many connections makes one
///   system call for all their writes; and a listening port's connections
///   are accepted by the kernel (one multishot accept a port), without an
///   `accept` system call each. The loop still waits in epoll, and
///   readiness (reading, UDP, watches) comes from it. A kernel
///   that refuses io_uring (too old, or disabled by
///   `kernel.io_uring_disabled` or a seccomp filter) gets epoll instead,
///   with a warning in the log.
///
/// io_uring pays only when the loop is saturated: each answer then waits
/// for the end of its turn, which a busy server does not notice and a
/// lightly loaded one does (its latency and CPU per request go up). The
/// project's `docs/benchmarks.md` has the figures.
///
/// ```
/// use torsion::Reactor;
/// use torsion::reactor::Backend;
///
/// let reactor = Reactor::with_backend(Backend::IoUring)?;
/// // io_uring where the kernel allows it, else epoll.
/// println!("writing with {}", reactor.backend());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Backend {
    /// A system call per write.
    #[default]
    Epoll,
    /// Writes submitted as ring operations, a turn's at once.
    IoUring,
}

impl Backend {
    /// The backend [`TORSION_BACKEND`](BACKEND_ENV) names, or epoll when
    /// it is unset; a value that names none is logged and ignored.
    pub fn from_env() -> Backend {
        match std::env::var(BACKEND_ENV) {
            Ok(value) => value.parse().unwrap_or_else(|error| {
                tracing::warn!(%error, "ignoring {BACKEND_ENV}");
                Backend::Epoll
            }),
            Err(_) => Backend::Epoll,
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Epoll => "epoll",
            Backend::IoUring => "io_uring",
        })
    }
}

/// A backend name that is neither `epoll` nor `io_uring`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown reactor backend {0:?}: expected \"epoll\" or \"io_uring\"")]
pub struct UnknownBackend(pub String);

impl FromStr for Backend {
    type Err = UnknownBackend;

    fn from_str(name: &str) -> Result<Backend, UnknownBackend> {
        match name {
            "epoll" => Ok(Backend::Epoll),
            "io_uring" | "io-uring" | "uring" => Ok(Backend::IoUring),
            other => Err(UnknownBackend(other.to_owned())),
        }
    }
}

impl Reactor {
    /// A new reactor on `backend`, or on epoll alone if the kernel
    /// refuses io_uring (see [`Backend`]; [`backend`](Reactor::backend)
    /// says which it got).
    pub fn with_backend(backend: Backend) -> std::io::Result<Reactor> {
        Reactor::build(super::EVENTS_CAPACITY, backend)
    }

    /// The backend this reactor got.
    pub fn backend(&self) -> Backend {
        if self.ring().is_some() {
            Backend::IoUring
        } else {
            Backend::Epoll
        }
    }
}

#[cfg(target_os = "linux")]
pub(super) fn open_ring(backend: Backend) -> Option<super::ring::Ring> {
    if backend != Backend::IoUring {
        return None;
    }
    match super::ring::Ring::new() {
        Ok(ring) => {
            tracing::info!("reactor writes through io_uring");
            Some(ring)
        }
        Err(error) => {
            tracing::warn!(%error, "io_uring refused; the reactor uses epoll");
            None
        }
    }
}

#[cfg(not(target_os = "linux"))]
pub(super) fn open_ring(backend: Backend) -> Option<super::ring::Ring> {
    if backend == Backend::IoUring {
        tracing::warn!("io_uring is Linux's; the reactor uses the system's poller");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_names_parse_and_print_back() {
        for backend in [Backend::Epoll, Backend::IoUring] {
            assert_eq!(backend.to_string().parse::<Backend>(), Ok(backend));
        }
        assert_eq!(
            "kqueue".parse::<Backend>(),
            Err(UnknownBackend("kqueue".into()))
        );
    }
}
