//! Time: scheduling calls for later, and the [`Scheduler`] contract every
//! timed API in torsion takes.
//!
//! The reactor and [`testing::Clock`](crate::testing::Clock) both implement
//! [`Scheduler`], so code written against it (timeouts, looping calls,
//! protocol idle timers) is tested by advancing a fake clock instead of
//! sleeping, as Twisted code is tested with `task.Clock`.
//!
//! ```
//! use std::time::Duration;
//! use torsion::testing::Clock;
//! use torsion::time::Scheduler;
//!
//! let clock = Clock::new();
//! let call = clock.call_later(Duration::from_secs(5), || println!("five seconds later"));
//! assert!(call.active());
//! clock.advance(Duration::from_secs(5));
//! assert!(!call.active());
//! ```

mod idle;
mod looping;
pub(crate) mod queue;
mod timeout;

pub use idle::IdleTimeout;
pub use looping::{LoopOutput, LoopingCall, defer_later};

use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::error::DelayedCallError;
use queue::{CallState, TimedCall, WeakQueue};

/// Something that can tell the time and run calls later: the reactor, or a
/// [`Clock`](crate::testing::Clock) in tests (Twisted's `IReactorTime`).
///
/// Implementations run calls on the thread that owns them, in deadline order;
/// calls with the same deadline run in the order they were scheduled.
pub trait Scheduler {
    /// The scheduler's current time.
    fn now(&self) -> Instant;

    /// Schedules a boxed call; the object-safe form of
    /// [`call_later`](Scheduler::call_later).
    fn call_later_boxed(&self, delay: Duration, func: Box<dyn FnOnce()>) -> DelayedCall;

    /// Runs `func` once, `delay` from now, unless the returned
    /// [`DelayedCall`] is cancelled first.
    fn call_later<F>(&self, delay: Duration, func: F) -> DelayedCall
    where
        F: FnOnce() + 'static,
        Self: Sized,
    {
        self.call_later_boxed(delay, Box::new(func))
    }
}

/// A call scheduled with [`Scheduler::call_later`]: ask whether it is still
/// pending, cancel it, or move it (Twisted's `DelayedCall`).
///
/// Dropping the handle does not cancel the call.
#[derive(Clone)]
pub struct DelayedCall {
    call: Rc<dyn TimedCall>,
    queue: WeakQueue,
}

impl DelayedCall {
    pub(crate) fn new(call: Rc<dyn TimedCall>, queue: WeakQueue) -> DelayedCall {
        DelayedCall { call, queue }
    }

    /// True until the call has run or been cancelled. A call is marked as run
    /// just before its function starts, so it cannot cancel itself.
    pub fn active(&self) -> bool {
        self.call.meta().state() == CallState::Pending
    }

    /// The time the call is (or was) scheduled for.
    pub fn time(&self) -> Instant {
        self.call.meta().time()
    }

    /// Cancels the call and drops its function. Fails, naming why, if the call
    /// already ran or was already cancelled.
    pub fn cancel(&self) -> Result<(), DelayedCallError> {
        queue::check_pending(&self.call)?;
        match self.queue.upgrade() {
            Some(queue) => queue.cancel(&self.call),
            None => Err(DelayedCallError::AlreadyCancelled),
        }
    }

    /// Reschedules the call to run `delay` from now.
    pub fn reset(&self, delay: Duration) -> Result<(), DelayedCallError> {
        self.move_with(|queue, _| queue.current_time() + delay)
    }

    /// Pushes the call back by `by`, relative to its current time.
    pub fn delay(&self, by: Duration) -> Result<(), DelayedCallError> {
        self.move_with(|_, time| time + by)
    }

    /// Brings the call forward by `by`, relative to its current time (Twisted's
    /// `delay` with a negative amount).
    pub fn hasten(&self, by: Duration) -> Result<(), DelayedCallError> {
        self.move_with(|_, time| time.checked_sub(by).unwrap_or(time))
    }

    fn move_with(
        &self,
        new_time: impl FnOnce(&queue::QueueInner, Instant) -> Instant,
    ) -> Result<(), DelayedCallError> {
        queue::check_pending(&self.call)?;
        let queue = self
            .queue
            .upgrade()
            .ok_or(DelayedCallError::AlreadyCancelled)?;
        let time = new_time(&queue, self.time());
        queue.move_to(&self.call, time)
    }
}

impl fmt::Debug for DelayedCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DelayedCall")
            .field("time", &self.time())
            .field("active", &self.active())
            .finish()
    }
}
