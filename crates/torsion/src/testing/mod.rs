//! Deterministic fakes for testing code built on torsion, shipped as part of
//! the library so users test their own protocols the way torsion tests its
//! own (Twisted's `internet.testing`, `test.iosim` and `task.Clock`):
//! [`Clock`] for time, [`StringTransport`] to drive one protocol by hand and
//! [`Loopback`] to connect two protocols in memory, and [`MemoryReactor`]
//! to record what code listens on and connects to; [`stream_pair`] gives
//! two connected in-memory [`AsyncStream`](crate::net::AsyncStream)s, so
//! async code (an HTTP server and client on hyper) runs without sockets;
//! [`replay_protocol`] and [`replay_decoder`] replay a protocol's input at
//! every chunk size, and [`replay_corpus`] a fuzz target's committed
//! inputs. For tests against real things: [`run_test`] runs an
//! async test on a reactor of its own with a time limit, [`echo_server`]
//! gives a peer on 127.0.0.1, [`WatchedChild`] runs a whole program and
//! waits, bounded, for its lines and its exit, [`install_python_packages`]
//! and [`python_command`] run a Python peer with pinned packages, and
//! [`cpu_wait`] tells a timing test how long the system kept its thread
//! from a CPU.

mod chunks;
mod clock;
mod corpus;
mod cpu_wait;
mod echo_server;
mod loopback;
mod memory_reactor;
mod python;
mod run_test;
mod stream_pair;
mod string_transport;
mod watched_child;

pub use chunks::{
    CHUNK_SIZES, Decoded, decode_in_chunks, feed_in_chunks, replay_decoder, replay_protocol,
};
pub use clock::Clock;
pub use corpus::replay_corpus;
pub use cpu_wait::cpu_wait;
pub use echo_server::echo_server;
pub use loopback::Loopback;
pub use memory_reactor::{ConnectCall, MemoryPort, MemoryReactor, TcpListenCall, UnixListenCall};
pub use python::{install_python_packages, python_command};
pub use run_test::run_test;
pub use stream_pair::stream_pair;
pub use string_transport::StringTransport;
pub use watched_child::{Exited, WatchedChild, stop_signals_at_default};

#[cfg(test)]
pub(crate) mod log_capture;
#[cfg(test)]
pub(crate) mod net_support;
#[cfg(test)]
pub(crate) mod outcome;
