//! A pool of worker processes speaking AMP (what Twisted's ampoule does):
//! CPU-heavy or blocking work runs in other processes, local or on other
//! machines, while the reactor keeps serving. The book's chapter is
//! `docs/process-pool.md`.
//!
//! ```text
//!  do_work::<C>(args) ──► queue ──► idle worker? ──► call_remote::<C> ──► worker (stdin/stdout,
//!        │ Deferred                   │ no: start one                     or tcp:/tls: connection)
//!        ▼                            │ below max, else wait                     │
//!  response, C::Error, PoolError ◄────┴──────── answer, error, or the worker's end
//! ```
//!
//! A worker is any program serving AMP on its stdin and stdout: a Rust
//! program calling [`run_worker`], or a Python program running Twisted's
//! `StandardIO` with an `AMP` protocol. A remote worker is an AMP server
//! reached through a client endpoint string; one pool may mix them.

mod core;
mod ending;
mod error;
mod link;
mod options;
mod worker;

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use torsion::defer::Resolver;
use torsion::service::{Service, ServiceCore};
use torsion::{Deferred, Failure, Reactor};

pub use self::core::PoolStats;
pub use error::PoolError;
pub use options::{PoolOptions, ProcessStarter, Starter, WorkOptions};
pub use worker::{run_worker, serve_stdio};

pub(crate) use self::core::Shared;
use self::core::{Fail, Job, Send};
use crate::{AmpError, Command};

/// A pool of AMP workers (ampoule's `ProcessPool`): between a minimum and
/// a maximum of them, each replaced after a number of calls, idle ones
/// above the minimum stopped, a call that runs too long stopping its
/// worker. A cheap clonable handle, used on the reactor's thread.
///
/// [`do_work`](ProcessPool::do_work) calls a command on a worker: an idle
/// one if there is one, else a new one while the pool is under its
/// maximum, else the call waits its turn. The Deferred fires with the
/// response, or fails with
///
/// - the command's declared error (`failure.downcast_ref::<C::Error>()`)
///   or another [`AmpError`] the worker answered, as from
///   [`Amp::call_remote`](crate::Amp::call_remote);
/// - [`PoolError::TimedOut`]: the call ran past its timeout, and its
///   worker was killed and is replaced;
/// - [`PoolError::WorkerDied`]: the worker died during the call; only the
///   calls it was running fail;
/// - [`PoolError::StartFailed`], [`PoolError::Stopped`];
/// - [`Cancelled`](torsion::error::Cancelled) when cancelled. A queued
///   call is taken out of the queue and never runs. A running call is
///   let finish on its worker (as in ampoule and Twisted, AMP cannot
///   recall a command): its answer is dropped, and the worker takes the
///   next call once it has answered.
///
/// The pool is also a [`Service`]: started and stopped with its
/// application.
///
/// Here the workers are remote ones, an AMP server in the same process,
/// so that the example runs anywhere; a worker program is started with
/// [`ProcessStarter`] instead (see [`run_worker`]).
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use torsion::endpoints::server_from_string;
/// use torsion::net::Address;
/// use torsion::{Failure, Reactor};
/// use torsion_amp::pool::{PoolOptions, ProcessPool, Starter};
/// use torsion_amp::{Amp, NoError, Responders};
///
/// #[derive(Serialize, Deserialize)]
/// pub struct Number { n: u64 }
///
/// torsion_amp::command! {
///     /// Squares a number.
///     pub struct Square = "Square" { arguments: Number, response: Number, errors: NoError }
/// }
///
/// let reactor = Reactor::new()?;
/// let r = reactor.clone();
/// let done = reactor.spawn(async move {
///     let responders = Responders::new().respond::<Square>(|_, x| Ok(Number { n: x.n * x.n }));
///     let port = server_from_string(&r, "tcp:0:interface=127.0.0.1")?
///         .listen(Amp::factory(responders))
///         .await?;
///     let Address::Tcp(address) = port.address() else { unreachable!() };
///     let starter = Starter::remote(format!("tcp:host=127.0.0.1:port={}", address.port()));
///
///     let pool = ProcessPool::new(&r, PoolOptions::new(starter).min(1).max(3));
///     pool.start();
///     let squares: Vec<_> = (1..=5).map(|n| pool.do_work::<Square>(Number { n })).collect();
///     let mut total = 0;
///     for square in squares {
///         total += square.await?.n;
///     }
///     assert_eq!(total, 1 + 4 + 9 + 16 + 25);
///     pool.stop().await?;
///     r.stop()?;
///     Ok::<(), Failure>(())
/// });
/// reactor.run()?;
/// # assert!(done.is_fired());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ProcessPool {
    shared: Rc<Shared>,
}

impl ProcessPool {
    /// A pool on `reactor`; no worker runs until [`start`](ProcessPool::start)
    /// or the first call.
    pub fn new(reactor: &Reactor, options: PoolOptions) -> ProcessPool {
        ProcessPool {
            shared: Shared::new(reactor, options),
        }
    }

    /// Starts the minimum of workers and the reaper of idle ones. A call
    /// made before `start` starts the workers it needs.
    pub fn start(&self) {
        self.shared.start();
    }

    /// Stops the pool: queued calls fail with [`PoolError::Stopped`], and
    /// every worker's stdin (or connection) is closed, so that it exits
    /// once it has answered the call it is running; a worker still there
    /// after the [grace](PoolOptions::stop_grace) is killed. The Deferred
    /// fires once every worker process has ended and been reaped.
    pub fn stop(&self) -> Deferred<()> {
        self.shared.stop()
    }

    /// Calls `C` on a worker, with the pool's timeout (ampoule's
    /// `doWork`).
    pub fn do_work<C: Command>(&self, arguments: C::Arguments) -> Deferred<C::Response> {
        self.do_work_with::<C>(arguments, WorkOptions::new())
    }

    /// Calls `C` on a worker, with this call's own timeout or deadline.
    pub fn do_work_with<C: Command>(
        &self,
        arguments: C::Arguments,
        options: WorkOptions,
    ) -> Deferred<C::Response> {
        let id = self.shared.next_id();
        let pool = Rc::downgrade(&self.shared);
        let (deferred, resolver) = Deferred::with_canceller(move || {
            if let Some(pool) = pool.upgrade() {
                pool.cancel(id);
            }
        });
        let slot: Rc<RefCell<Option<Resolver<C::Response>>>> =
            Rc::new(RefCell::new(Some(resolver)));
        let failing = slot.clone();
        let fail: Fail = Rc::new(move |failure| {
            let resolver = failing.borrow_mut().take();
            if let Some(resolver) = resolver {
                resolver.reject(failure);
            }
        });
        let send: Send = Box::new(move |amp, pid| {
            amp.call_remote::<C>(arguments).both(move |result| {
                let resolver = slot.borrow_mut().take();
                if let Some(resolver) = resolver {
                    resolver.complete(result.map_err(|failure| for_caller(failure, pid)));
                }
                Ok::<(), Failure>(())
            })
        });
        self.shared.submit(Job {
            id,
            timeout: options.timeout,
            deadline: options.deadline,
            send,
            fail,
        });
        deferred
    }

    /// What the workers are doing and how many calls wait.
    pub fn stats(&self) -> PoolStats {
        self.shared.stats()
    }

    /// The process ids of the local workers that are not being stopped.
    pub fn pids(&self) -> Vec<u32> {
        self.shared.pids()
    }

    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.shared.options.name
    }
}

/// A lost connection, as the caller of the pool sees it: the worker died.
fn for_caller(failure: Failure, pid: Option<u32>) -> Failure {
    match failure.downcast_ref::<AmpError>() {
        Some(AmpError::ConnectionLost(reason)) => {
            Failure::new(PoolError::died(pid, reason.clone()))
        }
        _ => failure,
    }
}

impl Service for ProcessPool {
    fn core(&self) -> &ServiceCore {
        &self.shared.core
    }

    fn start_service(&self) -> Result<(), Failure> {
        self.start();
        Ok(())
    }

    fn stop_service(&self) -> Deferred<()> {
        self.stop()
    }
}

impl fmt::Debug for ProcessPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessPool")
            .field("name", &self.shared.options.name)
            .field("stats", &self.shared.stats())
            .finish()
    }
}
