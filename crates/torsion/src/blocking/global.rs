//! The process-wide bridge behind [`setup`], [`use_reactor`],
//! [`run_in_reactor`], [`wait_for`] and [`shutdown`], the literal
//! counterparts of crochet's functions.
//!
//! crochet stops its reactor when the main thread ends, from a watchdog
//! thread. Rust gives no such moment while other threads run: returning
//! from `main` calls `exit` at once. The bridge therefore registers an
//! `atexit` hook when [`setup`] starts the reactor; `exit` runs it while
//! the reactor thread is still alive, so the shutdown triggers run and the
//! thread is joined, exactly as [`shutdown`] does.

use std::sync::OnceLock;
use std::time::Duration;

use super::bridge::Bridge;
use super::operation::IntoEventual;
use super::result::EventualResult;
use super::{BridgeError, registry};
use crate::Reactor;
use crate::reactor::DEFAULT_SHUTDOWN_TIMEOUT;
use crate::reactor::Signals;

/// How long the process waits at exit for the reactor [`setup`] started:
/// the reactor's own bound on shutdown triggers, and a little more.
pub const EXIT_SHUTDOWN_TIMEOUT: Duration =
    Duration::from_secs(DEFAULT_SHUTDOWN_TIMEOUT.as_secs() + 5);

/// The process-wide bridge.
static GLOBAL: OnceLock<Global> = OnceLock::new();

/// Serialises [`setup`] and [`use_reactor`] (a plain std lock: this is not
/// part of the model-checked core).
static SETTING_UP: std::sync::Mutex<()> = std::sync::Mutex::new(());

struct Global {
    bridge: Bridge,
    /// The reactor was started by [`setup`] (not handed over by
    /// [`use_reactor`]), so the process stops it at exit.
    owned: bool,
}

fn set_global(global: Global) {
    if GLOBAL.set(global).is_err() {
        unreachable!("the global bridge is only set while SETTING_UP is held");
    }
}

/// Starts the process-wide reactor on a background thread named
/// `torsion-reactor`, or does nothing if it is already set up (crochet's
/// `setup`); thread-safe. Call it at the top of `main`: the reactor then
/// runs until the process exits or [`shutdown`] is called, and at exit it
/// stops, its shutdown triggers run and its thread is joined (waiting at
/// most [`EXIT_SHUTDOWN_TIMEOUT`]).
///
/// Like crochet's reactor, it handles Ctrl-C (SIGINT) and SIGTERM: the
/// reactor stops cleanly and every waiting [`EventualResult`] gets
/// [`BridgeError::ReactorStopped`], so a `main` blocked in `wait` returns
/// an error value instead of being killed mid-operation.
///
/// After [`use_reactor`] it starts nothing. Once the reactor has stopped it
/// is not started again: [`BridgeError::ReactorStopped`].
///
/// ```
/// use std::time::Duration;
/// use torsion::blocking;
/// use torsion::Failure;
///
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     blocking::setup()?;
///     let n = blocking::wait_for(Duration::from_secs(5), |_| Ok::<_, Failure>(7))?;
///     assert_eq!(n, 7);
///     Ok(())
///     // At exit the reactor stops and its shutdown triggers run.
/// }
/// ```
pub fn setup() -> Result<(), BridgeError> {
    let _setting_up = SETTING_UP
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(global) = GLOBAL.get() {
        if global.bridge.is_stopped() {
            return Err(BridgeError::ReactorStopped);
        }
        return Ok(());
    }
    let bridge = Bridge::start_with(Signals::StopGracefully)?;
    set_global(Global {
        bridge,
        owned: true,
    });
    at_exit::register();
    Ok(())
}

/// Makes `reactor`, run by the caller on this thread, the process-wide
/// bridge's reactor (crochet's `no_setup`): later [`setup`] calls start
/// nothing. Fails with [`BridgeError::AlreadySetUp`] if the bridge is
/// already set up.
///
/// ```
/// use std::time::Duration;
/// use torsion::{Failure, Reactor};
/// use torsion::blocking;
///
/// let reactor = Reactor::new()?;
/// blocking::use_reactor(&reactor)?;
/// let worker = std::thread::spawn(|| {
///     let n = blocking::wait_for(Duration::from_secs(5), |_| Ok::<_, Failure>(5));
///     blocking::shutdown(Duration::ZERO).ok();
///     n
/// });
/// reactor.run()?;
/// assert_eq!(worker.join().unwrap()?, 5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn use_reactor(reactor: &Reactor) -> Result<Bridge, BridgeError> {
    let _setting_up = SETTING_UP
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if GLOBAL.get().is_some() {
        return Err(BridgeError::AlreadySetUp);
    }
    let bridge = Bridge::for_reactor(reactor);
    set_global(Global {
        bridge: bridge.clone(),
        owned: false,
    });
    at_exit::register();
    Ok(bridge)
}

/// The process-wide bridge, or [`BridgeError::NotSetUp`].
pub fn global() -> Result<Bridge, BridgeError> {
    GLOBAL
        .get()
        .map(|global| global.bridge.clone())
        .ok_or(BridgeError::NotSetUp)
}

/// [`Bridge::run_in_reactor`] on the process-wide bridge; before [`setup`]
/// the result is [`BridgeError::NotSetUp`] (and `f` never runs).
pub fn run_in_reactor<F, R, M>(f: F) -> EventualResult<R::Output>
where
    F: FnOnce(Reactor) -> R + Send + 'static,
    R: IntoEventual<M>,
{
    match GLOBAL.get() {
        Some(global) => global.bridge.run_in_reactor(f),
        None => EventualResult::failed(BridgeError::NotSetUp, None),
    }
}

/// [`Bridge::wait_for`] on the process-wide bridge; before [`setup`] it
/// returns [`BridgeError::NotSetUp`].
pub fn wait_for<F, R, M>(timeout: Duration, f: F) -> Result<R::Output, BridgeError>
where
    F: FnOnce(Reactor) -> R + Send + 'static,
    R: IntoEventual<M>,
{
    global()?.wait_for(timeout, f)
}

/// [`Bridge::shutdown`] on the process-wide bridge: stops the reactor,
/// runs its shutdown triggers and joins its thread, waiting at most
/// `timeout`. The bridge is not set up again afterwards: later calls fail
/// with [`BridgeError::ReactorStopped`].
pub fn shutdown(timeout: Duration) -> Result<(), BridgeError> {
    global()?.shutdown(timeout)
}

/// What the process does with the global bridge as it exits.
fn stop_at_exit() {
    let Some(global) = GLOBAL.get() else {
        return;
    };
    if global.owned {
        if let Err(error) = global.bridge.shutdown(EXIT_SHUTDOWN_TIMEOUT) {
            tracing::error!(%error, "the background reactor did not shut down at exit");
        }
    } else {
        // The program runs that reactor itself; by now it has stopped or
        // never will. Stashed failures are still worth a word.
        registry::report(global.bridge.id());
    }
}

/// The `atexit` hook: the one place the bridge needs `unsafe`.
#[allow(unsafe_code)]
mod at_exit {
    extern "C" fn run() {
        // Unwinding out of an `extern "C"` function aborts the process.
        let _ = std::panic::catch_unwind(super::stop_at_exit);
    }

    pub(super) fn register() {
        // SAFETY: `atexit` only stores the address of `run`, a function
        // with the C ABI and no arguments that lives as long as the
        // program; it is registered once (the callers hold SETTING_UP and
        // set the global bridge just before).
        if unsafe { libc::atexit(run) } != 0 {
            tracing::warn!("cannot stop the background reactor at exit");
        }
    }
}
