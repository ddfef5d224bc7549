//! [`Deferred::add_timeout`]: giving a Deferred a deadline on a
//! [`Scheduler`].
//!
//! It lives with time rather than with Deferreds so that the Deferred layer
//! needs no clock: a timeout is a timer that cancels the Deferred through a
//! [`CancelHandle`](crate::defer::CancelHandle), and a step after it that
//! names the outcome.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use super::Scheduler;
use crate::error::TimedOut;
use crate::{Deferred, Failure};

impl<T: 'static> Deferred<T> {
    /// Cancels the Deferred if it has not fired after `timeout`, turning the
    /// resulting [`Cancelled`](crate::error::Cancelled) into [`TimedOut`].
    /// If the Deferred fires first, the timer is cancelled. A cancellation
    /// from elsewhere stays `Cancelled`; a canceller that turns the
    /// cancellation into a value passes that value on. A task's Deferred
    /// times out at its await point: the task sees `Cancelled` there and
    /// the timeout applies to whatever it then returns.
    pub fn add_timeout<S: Scheduler + ?Sized>(
        self,
        timeout: Duration,
        scheduler: &S,
    ) -> Deferred<T> {
        let timed_out = Rc::new(Cell::new(false));
        let target = self.cancel_handle();
        let flag = timed_out.clone();
        let timer = scheduler.call_later_boxed(
            timeout,
            Box::new(move || {
                flag.set(true);
                target.cancel();
            }),
        );
        self.both(move |result| {
            let _ = timer.cancel();
            match result {
                Err(failure) if timed_out.get() && failure.is_cancelled() => {
                    Err(Failure::new(TimedOut(timeout)))
                }
                other => other,
            }
        })
    }
}
