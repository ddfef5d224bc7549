//! Stopping: the shutdown event, the stop signals, and what the reactor
//! lets go of when it finishes.
//!
//! ```text
//!   stop() or SIGINT/SIGTERM
//!     -> before-shutdown triggers; the loop keeps serving until their
//!        Deferreds fire, the shutdown timeout passes, or a second signal
//!     -> disconnect every connection and port (connection_lost runs)
//!     -> during-shutdown triggers (the thread pool is joined here)
//!     -> after-shutdown triggers
//!     -> finish: extension hooks, timers and tasks dropped, signals given
//!        back, cross-thread calls refused
//! ```
//!
//! Disconnecting first in the during phase is Twisted's order: its reactor
//! registers `disconnectAll` as a during-shutdown trigger when it is made,
//! so it runs before any trigger user code adds.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::io::Watch;
use super::signals::SignalClaim;
use super::triggers::{Phase, SystemEvent};
use super::{Reactor, RunState};
use crate::error::{ReactorError, SignalError};

/// How long shutdown waits, by default, for the Deferreds of before-shutdown
/// triggers.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// Shutdown waiting for before-trigger Deferreds.
pub(super) struct ShutdownWait {
    pub(super) outstanding: Rc<Cell<usize>>,
    pub(super) deadline: Instant,
}

impl Reactor {
    /// Asks the reactor to stop: at the end of the current turn the shutdown
    /// event starts. Fails with [`ReactorError::NotRunning`] if the reactor
    /// is not running or already stopping.
    ///
    /// Shutdown runs in Twisted's order:
    ///
    /// ```text
    ///   before triggers   their Deferreds are waited for, the loop still
    ///                     serving, at most the shutdown timeout (a second
    ///                     stop signal ends the wait)
    ///   disconnect all    every connection and port closes; connection_lost
    ///   during triggers   the default thread pool is joined here
    ///   after triggers
    ///   finish            extension hooks; run() returns
    /// ```
    pub fn stop(&self) -> Result<(), ReactorError> {
        if self.inner.state.get() != RunState::Running || self.inner.stop_requested.get() {
            return Err(ReactorError::NotRunning);
        }
        self.inner.stop_requested.set(true);
        self.inner.shared.wake_outside_turn();
        Ok(())
    }

    /// True once the reactor has started ([`run`](Reactor::run) or
    /// [`start`](Reactor::start)), while it stops and after it finished:
    /// whether running it again would be refused.
    pub fn has_started(&self) -> bool {
        self.inner.state.get() != RunState::NotStarted
    }

    /// True between startup and the start of shutdown.
    pub fn is_running(&self) -> bool {
        self.inner.state.get() == RunState::Running && !self.inner.stop_requested.get()
    }

    /// True once shutdown has completed; the reactor does nothing more.
    pub fn is_finished(&self) -> bool {
        self.inner.state.get() == RunState::Finished
    }

    /// Bounds how long shutdown waits for before-shutdown Deferreds
    /// (default [`DEFAULT_SHUTDOWN_TIMEOUT`]).
    pub fn set_shutdown_timeout(&self, timeout: Duration) {
        self.inner.shutdown_timeout.set(timeout);
    }

    /// Makes SIGINT and SIGTERM stop this reactor gracefully, as
    /// [`run`](Reactor::run) does by itself; for a host loop that drives
    /// the reactor with [`run_once`](Reactor::run_once) and wants that too.
    ///
    /// Handlers belong to the process: the reactor takes each signal only
    /// if nothing handles it yet, and gives it back (to the default) when
    /// it finishes. Fails with [`SignalError::AlreadyHandled`] when it could
    /// take neither signal, which includes another reactor holding them.
    /// Calling it again on the reactor that holds them does nothing.
    pub fn install_signal_handlers(&self) -> Result<(), SignalError> {
        if self.inner.signals.borrow().is_some() {
            return Ok(());
        }
        if self.is_finished() {
            return Err(SignalError::Finished);
        }
        let claim = SignalClaim::install(self.inner.poll.borrow().registry())?;
        *self.inner.signals.borrow_mut() = Some(claim);
        Ok(())
    }

    /// True while this reactor holds SIGINT or SIGTERM.
    pub fn handles_signals(&self) -> bool {
        self.inner.signals.borrow().is_some()
    }

    /// A stop signal arrived: the first stops gracefully, another one while
    /// stopping gives up waiting for the before-shutdown triggers and hands
    /// the signals back to their default, so that one more ends the process
    /// even if a shutdown step hangs.
    pub(super) fn handle_signals(&self) {
        let received = match self.inner.signals.borrow_mut().as_mut() {
            Some(claim) => claim.received(),
            None => return,
        };
        for signal in received {
            if self.is_running() {
                tracing::info!(
                    "received {signal}; shutting down (send it again to stop without waiting)"
                );
                let _ = self.stop();
            } else if !self.inner.hurry.replace(true) {
                tracing::warn!("received {signal} again; stopping now without waiting");
                let claim = self.inner.signals.borrow_mut().take();
                drop(claim);
            }
        }
    }

    /// Starts shutdown if it was asked for, and finishes it once the
    /// before-shutdown Deferreds have fired, the timeout has passed or a
    /// second signal said not to wait.
    pub(super) fn advance_shutdown(&self) {
        let inner = &*self.inner;
        if inner.stop_requested.get() && inner.state.get() == RunState::Running {
            inner.state.set(RunState::Stopping);
            let waits = self.run_phase(SystemEvent::Shutdown, Phase::Before);
            let outstanding = Rc::new(Cell::new(waits.len()));
            for wait in waits {
                let counter = outstanding.clone();
                drop(wait.map(move |()| counter.set(counter.get() - 1)));
            }
            *inner.shutdown.borrow_mut() = Some(ShutdownWait {
                outstanding,
                deadline: Instant::now() + inner.shutdown_timeout.get(),
            });
        }
        let ready = match &*inner.shutdown.borrow() {
            None => return,
            Some(wait) if wait.outstanding.get() == 0 => true,
            Some(_) if inner.hurry.get() => true,
            Some(wait) if Instant::now() >= wait.deadline => {
                tracing::warn!(
                    outstanding = wait.outstanding.get(),
                    "shutdown timed out waiting for before-shutdown triggers"
                );
                true
            }
            Some(_) => false,
        };
        if ready {
            *inner.shutdown.borrow_mut() = None;
            self.disconnect_all();
            self.run_phase(SystemEvent::Shutdown, Phase::During);
            self.run_phase(SystemEvent::Shutdown, Phase::After);
            self.finish();
        }
    }

    /// Closes every connection and port (each tells its protocol as a lost
    /// connection would) and forgets every watched descriptor.
    fn disconnect_all(&self) {
        let inner = &*self.inner;
        let watches = {
            let poll = inner.poll.borrow();
            inner.watches.borrow_mut().clear(poll.registry())
        };
        for watch in &watches {
            if let Watch::Source(source) = watch {
                source.shutdown(self);
            }
        }
        drop(watches);
    }

    /// The reactor is done: refuse further cross-thread calls and drop what
    /// can never run now (which also breaks reference cycles through it).
    fn finish(&self) {
        let inner = &*self.inner;
        inner.state.set(RunState::Finished);
        inner.shared.close();
        inner.timers.clear();
        inner.executor.clear();
        inner.extensions.reactor_finished(self);
        // The hooks have stopped the pools: no result can arrive any more.
        inner.thread_results.stop_all();
        // Triggers of the after phase may have opened connections.
        self.disconnect_all();
        // The ports' accepts were cancelled as they closed; what the kernel
        // accepted for them just before is closed now, not when the
        // reactor is dropped, which may be much later.
        if let Err(error) = self.flush_ring() {
            tracing::debug!(%error, "io_uring: completions left at shutdown");
        }
        // Closing connections may have scheduled work; none will run.
        inner.timers.clear();
        inner.settles.borrow_mut().clear();
        drop(inner.signals.borrow_mut().take());
    }
}
