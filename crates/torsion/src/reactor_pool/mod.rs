//! One reactor per core: a [`ReactorPool`] runs N reactors, each on a
//! thread of its own, and listens on one port with one SO_REUSEPORT
//! socket per reactor, so the kernel spreads new connections among them.
//!
//! A [`Reactor`] is single-threaded (`!Send`); a pool does not share one
//! between threads but runs N independent ones, each with its own timers,
//! connections and default thread pool. Code reaches them the way blocking
//! code reaches the bridge's reactor: each is a [`Bridge`], and
//! [`run_on_each`](ReactorPool::run_on_each) runs a function on every one,
//! which is how a server is built N times, once per reactor. A connection
//! lives and dies on the reactor that accepted it.
//!
//! ```
//! use std::io::{Read, Write};
//! use std::time::Duration;
//! use torsion::net::{Protocol, Transport, factory_fn};
//! use torsion::reactor_pool::ReactorPool;
//!
//! /// Tells the client which reactor accepted it.
//! struct Which(usize);
//! impl Protocol for Which {
//!     fn connection_made(&mut self, transport: &Transport) {
//!         transport.write(format!("reactor {}", self.0).as_bytes());
//!         transport.lose_connection();
//!     }
//!     fn data_received(&mut self, _: &[u8]) {}
//! }
//!
//! let pool = ReactorPool::new(2)?;
//! let port = pool.listen("tcp:0:interface=127.0.0.1:reusePort=true", |index, _reactor| {
//!     factory_fn(move |_| Some(Which(index)))
//! })?;
//! let mut answer = String::new();
//! std::net::TcpStream::connect(port.address())?.read_to_string(&mut answer)?;
//! assert!(answer.starts_with("reactor "));
//! pool.stop(Duration::from_secs(5))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A program that serves until Ctrl-C calls [`run`](ReactorPool::run)
//! after setting its servers up: it blocks, takes SIGINT and SIGTERM, and
//! stops every reactor gracefully (their shutdown triggers run, services
//! stop) before returning.
//!
//! The kernel picks a socket for each new connection by hashing its
//! addresses and ports, which splits connections unevenly: the sockets of
//! one pool port form an [`AcceptGroup`](crate::net::AcceptGroup), and a
//! reactor that has served more than another hands what it accepts to the
//! one behind, so each serves an equal share of the connections.

mod listen;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::blocking::{Bridge, BridgeError, EventualResult, IntoEventual};
use crate::reactor::{Phase, SystemEvent};
use crate::{Failure, Reactor};

pub use listen::PoolPort;

/// N reactors, each running on a thread of its own (named
/// `torsion-reactor-0`, `torsion-reactor-1`, ...), until
/// [`stop`](ReactorPool::stop). Cheap to clone, `Send` and `Sync`.
#[derive(Clone)]
pub struct ReactorPool {
    bridges: Arc<[Bridge]>,
}

impl ReactorPool {
    /// Starts `reactors` reactors, each on a new thread; they run until
    /// [`stop`](ReactorPool::stop). They leave the process's signals alone
    /// ([`run`](ReactorPool::run) takes them for the whole pool). A
    /// reactor that cannot start stops those already started.
    ///
    /// # Panics
    ///
    /// If `reactors` is 0.
    pub fn new(reactors: usize) -> Result<ReactorPool, BridgeError> {
        assert!(reactors > 0, "a reactor pool needs at least one reactor");
        let mut bridges = Vec::with_capacity(reactors);
        for index in 0..reactors {
            match Bridge::start_named(format!("torsion-reactor-{index}")) {
                Ok(bridge) => bridges.push(bridge),
                Err(error) => {
                    stop_all(&bridges, Duration::from_secs(5));
                    return Err(error);
                }
            }
        }
        Ok(ReactorPool {
            bridges: bridges.into(),
        })
    }

    /// How many reactors the pool runs.
    pub fn len(&self) -> usize {
        self.bridges.len()
    }

    /// Always false: a pool has at least one reactor.
    pub fn is_empty(&self) -> bool {
        self.bridges.is_empty()
    }

    /// The bridge to each reactor, in order: its
    /// [`handle`](Bridge::handle) for `call_from_thread`, its
    /// [`run_in_reactor`](Bridge::run_in_reactor) for work with a result.
    pub fn bridges(&self) -> &[Bridge] {
        &self.bridges
    }

    /// Runs `f` on every reactor's thread, with the reactor's index in the
    /// pool and the reactor, and returns each one's eventual result in
    /// order. This is how per-reactor state (a server, a cache, a
    /// connection pool) is built: each reactor gets its own.
    ///
    /// ```
    /// use std::time::Duration;
    /// use torsion::Failure;
    /// use torsion::reactor_pool::ReactorPool;
    ///
    /// let pool = ReactorPool::new(2)?;
    /// let names: Vec<String> = pool
    ///     .run_on_each(|_index, _reactor| {
    ///         Ok::<_, Failure>(std::thread::current().name().unwrap().to_owned())
    ///     })
    ///     .into_iter()
    ///     .map(|name| name.wait(Duration::from_secs(5)))
    ///     .collect::<Result<_, _>>()?;
    /// assert_eq!(names, ["torsion-reactor-0", "torsion-reactor-1"]);
    /// pool.stop(Duration::from_secs(5))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn run_on_each<F, R, M>(&self, f: F) -> Vec<EventualResult<R::Output>>
    where
        F: Fn(usize, Reactor) -> R + Send + Sync + 'static,
        R: IntoEventual<M>,
    {
        let f = Arc::new(f);
        self.bridges
            .iter()
            .enumerate()
            .map(|(index, bridge)| {
                let f = f.clone();
                bridge.run_in_reactor(move |reactor| f(index, reactor))
            })
            .collect()
    }

    /// Stops every reactor (all are asked at once, so their graceful
    /// stops overlap), waits for their shutdown triggers and joins their
    /// threads, at most `timeout` in all. Their sockets are closed by
    /// then. Calling it again is harmless.
    pub fn stop(&self, timeout: Duration) -> Result<(), BridgeError> {
        if stop_all(&self.bridges, timeout) {
            Ok(())
        } else {
            Err(BridgeError::TimedOut(timeout))
        }
    }

    /// True once every reactor has finished.
    pub fn is_stopped(&self) -> bool {
        self.bridges.iter().all(Bridge::is_stopped)
    }

    /// Blocks this thread until the pool stops: on SIGINT or SIGTERM, or
    /// once any of its reactors has stopped (a failed service, a `stop`
    /// called on one). Then stops every reactor as [`stop`](Self::stop)
    /// does, waiting at most `stop_timeout`. A second signal while they
    /// stop returns at once, leaving them to the process's exit.
    ///
    /// The signals are taken by a reactor of its own on this thread,
    /// which does nothing else.
    pub fn run(&self, stop_timeout: Duration) -> std::io::Result<()> {
        let supervisor = Reactor::new()?;
        supervisor.set_shutdown_timeout(stop_timeout + Duration::from_secs(1));
        // A reactor of the pool that stops stops the supervisor, and so
        // the others.
        let handle = supervisor.handle();
        let watched = self.run_on_each(move |_, reactor| {
            let handle = handle.clone();
            reactor.add_system_event_trigger(Phase::After, SystemEvent::Shutdown, move || {
                let _ = handle.stop();
            });
            Ok::<_, Failure>(())
        });
        for watch in watched {
            if watch.wait(Duration::from_secs(5)).is_err() {
                // That reactor has already stopped.
                let _ = supervisor.handle().stop();
            }
        }
        let pool = self.clone();
        let s = supervisor.clone();
        supervisor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, move || {
            s.defer_to_thread(move || pool.stop(stop_timeout))
        });
        supervisor.run().map_err(std::io::Error::other)
    }
}

/// Stops every reactor of `bridges` at once, then waits for each; false
/// if `timeout` passed first.
fn stop_all(bridges: &[Bridge], timeout: Duration) -> bool {
    for bridge in bridges {
        let _ = bridge.handle().stop();
    }
    let deadline = Instant::now() + timeout;
    let mut all = true;
    for bridge in bridges {
        let left = deadline.saturating_duration_since(Instant::now());
        all &= bridge.shutdown(left).is_ok();
    }
    all
}

impl fmt::Debug for ReactorPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReactorPool")
            .field("reactors", &self.len())
            .field("stopped", &self.is_stopped())
            .finish()
    }
}
