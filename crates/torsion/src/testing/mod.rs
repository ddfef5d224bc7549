//! Deterministic fakes for testing code built on torsion, shipped as part of
//! the library so users test their own protocols the way torsion tests its
//! own (Twisted's `internet.testing` and `task.Clock`).

mod clock;
mod memory_reactor;

pub use clock::Clock;
pub use memory_reactor::{ConnectCall, MemoryPort, MemoryReactor, TcpListenCall, UnixListenCall};

#[cfg(test)]
pub(crate) mod log_capture;
#[cfg(test)]
pub(crate) mod outcome;
