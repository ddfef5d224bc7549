//! torsion: an event-driven networking engine in Twisted's model.
//!
//! A [`Reactor`] is one thread's event loop: it waits for timers,
//! descriptors, calls from other threads and woken futures, and runs the code
//! interested in them. A [`Deferred`] is the outcome of an operation that has
//! already started; chain callbacks onto it or `.await` it. Both styles mix on
//! one reactor.
//!
//! ```
//! use std::time::Duration;
//! use torsion::time::Scheduler;
//! use torsion::{Deferred, Failure, Reactor};
//!
//! let reactor = Reactor::new()?;
//! let (tick, resolver) = Deferred::<&str>::new();
//! reactor.call_later(Duration::from_millis(5), move || resolver.resolve("tick"));
//! let r = reactor.clone();
//! drop(reactor.spawn(async move {
//!     let what = tick.await?;
//!     println!("{what}");
//!     r.stop().unwrap();
//!     Ok::<(), Failure>(())
//! }));
//! reactor.run()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The modules, one concept each: [`reactor`] (the loop, shutdown, signals,
//! other threads, embedding), [`time`] (`call_later`, [`time::LoopingCall`],
//! [`time::defer_later`]), [`defer`] (Deferreds, combinators, locks and
//! queues), [`task`] (cooperative CPU work), [`net`] (protocols, factories
//! and transports over TCP, UNIX sockets, TLS and datagram sockets),
//! [`endpoints`] (listening and connecting from a string such as
//! `tcp:8080`), [`protocols`] (framing: lines, netstrings, length-prefixed
//! strings), [`threads`] (blocking work on a [`threads::ThreadPool`] with
//! its result as a Deferred, and blocking calls into the reactor from other
//! threads), [`dbpool`] (blocking database connections used from a
//! thread pool, SQLite built in), [`process`] (child processes: a
//! protocol on their pipes, signals, their output as a Deferred),
//! [`service`] (services started and stopped
//! with the program: listening, reconnecting clients, timers, in an
//! [`service::Application`] that SIGINT and SIGTERM stop in order),
//! [`error`] (the well-known errors) and [`testing`] (a
//! deterministic [`testing::Clock`], [`testing::StringTransport`] and
//! [`testing::Loopback`] to drive protocols without sockets, and a recording
//! [`testing::MemoryReactor`]). [`blocking`] runs a reactor behind blocking
//! code: [`blocking::setup`] starts it on a background thread,
//! [`blocking::run_in_reactor`] hands it work and returns a
//! [`blocking::EventualResult`] to wait on (crochet's model).
//! [`reactor_pool`] runs one reactor per core, each on its own thread,
//! sharing a listening port through SO_REUSEPORT.
#![deny(missing_docs, missing_debug_implementations, unsafe_code)]

pub mod blocking;
pub mod chat;
pub mod dbpool;
pub mod defer;
pub mod endpoints;
pub mod error;
mod failure;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod net;
pub mod process;
pub mod protocols;
pub mod reactor;
pub mod reactor_pool;
pub mod service;
mod sync;
pub mod task;
pub mod testing;
pub mod threads;
pub mod time;

pub use defer::Deferred;
pub use failure::Failure;
pub use reactor::{Reactor, ReactorHandle};

/// The README's examples, compiled and run as doctests so they stay true.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

// The pages of the book under docs/ whose examples use torsion alone, compiled
// and run the same way (torsion-web's lib.rs takes the pages about the web).

/// docs/architecture.md, compiled as doctests.
#[doc = include_str!("../../../docs/architecture.md")]
#[cfg(doctest)]
pub struct ArchitectureDoctests;

/// docs/reactor.md, compiled as doctests.
#[doc = include_str!("../../../docs/reactor.md")]
#[cfg(doctest)]
pub struct ReactorDoctests;

/// docs/cooperation.md, compiled as doctests.
#[doc = include_str!("../../../docs/cooperation.md")]
#[cfg(doctest)]
pub struct CooperationDoctests;

/// docs/transports.md, compiled as doctests.
#[doc = include_str!("../../../docs/transports.md")]
#[cfg(doctest)]
pub struct TransportsDoctests;

/// docs/benchmarks.md, compiled as doctests.
#[doc = include_str!("../../../docs/benchmarks.md")]
#[cfg(doctest)]
pub struct BenchmarksDoctests;

/// docs/from-twisted.md, compiled as doctests.
#[doc = include_str!("../../../docs/from-twisted.md")]
#[cfg(doctest)]
pub struct FromTwistedDoctests;

/// docs/not-yet.md, compiled as doctests.
#[doc = include_str!("../../../docs/not-yet.md")]
#[cfg(doctest)]
pub struct NotYetDoctests;

/// docs/blocking.md, compiled as doctests.
#[doc = include_str!("../../../docs/blocking.md")]
#[cfg(doctest)]
pub struct BlockingDoctests;

/// docs/deferreds.md, compiled as doctests.
#[doc = include_str!("../../../docs/deferreds.md")]
#[cfg(doctest)]
pub struct DeferredsDoctests;

/// docs/services.md, compiled as doctests.
#[doc = include_str!("../../../docs/services.md")]
#[cfg(doctest)]
pub struct ServicesDoctests;

/// docs/processes.md, compiled as doctests.
#[doc = include_str!("../../../docs/processes.md")]
#[cfg(doctest)]
pub struct ProcessesDoctests;

/// docs/threads.md, compiled as doctests.
#[doc = include_str!("../../../docs/threads.md")]
#[cfg(doctest)]
pub struct ThreadsDoctests;
