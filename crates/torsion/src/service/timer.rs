//! [`TimerService`]: a [`LoopingCall`] that runs while its service does
//! (Twisted's `TimerService`).

use std::cell::RefCell;
use std::fmt;
use std::time::Duration;

use super::contract::{Service, ServiceCore};
use crate::time::{LoopOutput, LoopingCall, Scheduler};
use crate::{Deferred, Failure};

/// Calls a function every interval from the service's start (at once,
/// then each interval) until its stop.
///
/// It is a [`LoopingCall`]: calls stay aligned to the start, a function
/// returning a Deferred delays the next call until it fires, and a failure
/// ends the loop (logged; the service stays nominally running until
/// stopped, as Twisted's does). The stop Deferred fires once a call in
/// progress has finished.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use std::time::Duration;
/// use torsion::service::{Service, TimerService};
/// use torsion::testing::Clock;
///
/// let clock = Clock::new();
/// let ticks = Rc::new(Cell::new(0));
/// let counter = ticks.clone();
/// let timer = TimerService::new(clock.clone(), Duration::from_secs(1), move || {
///     counter.set(counter.get() + 1)
/// });
/// timer.start_service().unwrap();
/// let second = Duration::from_secs(1);
/// clock.pump(&[second, second]);
/// assert_eq!(ticks.get(), 3); // t = 0, 1, 2
/// assert!(timer.stop_service().is_fired());
/// ```
pub struct TimerService {
    core: ServiceCore,
    interval: Duration,
    looping: LoopingCall,
    /// Fires when the loop has ended, from `start_service` to the stop.
    finished: RefCell<Option<Deferred<()>>>,
}

impl TimerService {
    /// A service calling `func` every `interval` on `scheduler`'s time (the
    /// reactor, or a [`Clock`](crate::testing::Clock) in tests). `func` may
    /// return nothing, a `Result` or a Deferred, as for [`LoopingCall`].
    pub fn new<S, R>(scheduler: S, interval: Duration, func: impl FnMut() -> R + 'static) -> Self
    where
        S: Scheduler + 'static,
        R: LoopOutput,
    {
        TimerService {
            core: ServiceCore::new(),
            interval,
            looping: LoopingCall::new(scheduler, func),
            finished: RefCell::new(None),
        }
    }

    /// This service, called `name`.
    pub fn named(self, name: &str) -> Self {
        TimerService {
            core: ServiceCore::named(name),
            ..self
        }
    }

    /// The interval between calls.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// True while the loop is calling (false after its function failed).
    pub fn is_looping(&self) -> bool {
        self.looping.running()
    }
}

impl Service for TimerService {
    fn core(&self) -> &ServiceCore {
        &self.core
    }

    fn start_service(&self) -> Result<(), Failure> {
        let name = self.core.display_name();
        let finished = self
            .looping
            .start(self.interval, true)
            .map_err(Failure::new)?
            .or_else(move |failure: Failure| {
                tracing::error!(service = %name, %failure, "the timer service's function failed; it is not called any more");
                Ok::<(), Failure>(())
            });
        *self.finished.borrow_mut() = Some(finished);
        Ok(())
    }

    fn stop_service(&self) -> Deferred<()> {
        self.looping.stop();
        self.finished
            .borrow_mut()
            .take()
            .unwrap_or_else(|| Deferred::succeed(()))
    }
}

impl fmt::Debug for TimerService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerService")
            .field("core", &self.core)
            .field("interval", &self.interval)
            .field("looping", &self.looping.running())
            .finish()
    }
}
