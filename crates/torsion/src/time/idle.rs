//! [`IdleTimeout`]: a connection's "nothing for this long" timer (Twisted's
//! `policies.TimeoutMixin`).
//!
//! Activity is frequent and timing out is rare, so
//! [`reset`](IdleTimeout::reset) only notes the time instead of moving a
//! timer on every line. When the timer fires it looks at the last activity
//! and either times out or sleeps for what is left: at most one timer per
//! period of quiet, however busy the connection.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use super::{DelayedCall, Scheduler};

/// Calls a function once a period passes with no
/// [`reset`](IdleTimeout::reset) (Twisted's `TimeoutMixin`, with
/// `setTimeout`, `resetTimeout` and `timeoutConnection`).
///
/// A protocol makes one when its connection is made, resets it on each
/// message, and closes the connection in the function. Once timed out it
/// stays quiet until [`set_timeout`](IdleTimeout::set_timeout) starts it
/// again. Dropping it cancels its timer. The function must not hold the
/// protocol's state strongly if that state holds the timeout (a cycle
/// would keep both alive): give it a [`Weak`].
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use std::time::Duration;
/// use torsion::testing::Clock;
/// use torsion::time::IdleTimeout;
///
/// let clock = Clock::new();
/// let timed_out = Rc::new(Cell::new(false));
/// let flag = timed_out.clone();
/// let idle = IdleTimeout::new(clock.clone(), move || flag.set(true));
/// idle.set_timeout(Some(Duration::from_secs(10)));
/// clock.advance(Duration::from_secs(6));
/// idle.reset(); // a message came: ten more seconds from here
/// clock.advance(Duration::from_secs(6));
/// assert!(!timed_out.get());
/// clock.advance(Duration::from_secs(4));
/// assert!(timed_out.get());
/// ```
pub struct IdleTimeout {
    inner: Rc<Inner>,
}

struct Inner {
    scheduler: Rc<dyn Scheduler>,
    period: Cell<Option<Duration>>,
    last_activity: Cell<Instant>,
    /// Pending while the timeout runs; `None` when stopped or timed out.
    call: RefCell<Option<DelayedCall>>,
    on_timeout: RefCell<Box<dyn FnMut()>>,
}

impl IdleTimeout {
    /// A stopped timeout on `scheduler`'s time that calls `on_timeout`;
    /// [`set_timeout`](IdleTimeout::set_timeout) starts it.
    pub fn new<S: Scheduler + 'static>(
        scheduler: S,
        on_timeout: impl FnMut() + 'static,
    ) -> IdleTimeout {
        let last_activity = scheduler.now();
        IdleTimeout {
            inner: Rc::new(Inner {
                scheduler: Rc::new(scheduler),
                period: Cell::new(None),
                last_activity: Cell::new(last_activity),
                call: RefCell::new(None),
                on_timeout: RefCell::new(Box::new(on_timeout)),
            }),
        }
    }

    /// Times out after `period` of quiet from now on, or never with `None`,
    /// returning the period set before (Twisted's `setTimeout`).
    pub fn set_timeout(&self, period: Option<Duration>) -> Option<Duration> {
        let inner = &self.inner;
        if let Some(call) = inner.call.borrow_mut().take() {
            let _ = call.cancel();
        }
        let before = inner.period.replace(period);
        if let Some(period) = period {
            inner.last_activity.set(inner.scheduler.now());
            inner.arm(period);
        }
        before
    }

    /// Something happened: the quiet counts from now (Twisted's
    /// `resetTimeout`). Does nothing while stopped or after timing out.
    pub fn reset(&self) {
        if self.is_running() {
            self.inner.last_activity.set(self.inner.scheduler.now());
        }
    }

    /// The period set last.
    pub fn period(&self) -> Option<Duration> {
        self.inner.period.get()
    }

    /// True while the timeout is counting: started, and neither stopped
    /// nor timed out since.
    pub fn is_running(&self) -> bool {
        self.inner.call.borrow().is_some()
    }
}

impl Inner {
    fn arm(self: &Rc<Self>, delay: Duration) {
        let weak: Weak<Inner> = Rc::downgrade(self);
        let call = self.scheduler.call_later_boxed(
            delay,
            Box::new(move || {
                if let Some(inner) = weak.upgrade() {
                    inner.check();
                }
            }),
        );
        *self.call.borrow_mut() = Some(call);
    }

    /// The timer fired: time out, or sleep until the quiet is long enough.
    fn check(self: &Rc<Self>) {
        self.call.borrow_mut().take();
        let Some(period) = self.period.get() else {
            return;
        };
        let quiet = self
            .scheduler
            .now()
            .saturating_duration_since(self.last_activity.get());
        if quiet < period {
            self.arm(period - quiet);
        } else {
            (self.on_timeout.borrow_mut())();
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(call) = self.call.get_mut().take() {
            let _ = call.cancel();
        }
    }
}

impl fmt::Debug for IdleTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdleTimeout")
            .field("period", &self.period())
            .field("running", &self.is_running())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Clock;

    fn counting(clock: &Clock) -> (IdleTimeout, Rc<Cell<u32>>) {
        let fired = Rc::new(Cell::new(0));
        let count = fired.clone();
        let idle = IdleTimeout::new(clock.clone(), move || count.set(count.get() + 1));
        (idle, fired)
    }

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn it_times_out_once_after_a_period_of_quiet_and_then_stays_quiet() {
        let clock = Clock::new();
        let (idle, fired) = counting(&clock);
        assert_eq!(idle.set_timeout(Some(SECOND * 10)), None);
        clock.advance(SECOND * 9);
        assert_eq!(fired.get(), 0);
        clock.advance(SECOND);
        assert_eq!(fired.get(), 1);
        assert!(!idle.is_running());
        // As Twisted's: timed out, a reset does not start it again.
        idle.reset();
        clock.advance(SECOND * 100);
        assert_eq!(fired.get(), 1);
        assert_eq!(idle.period(), Some(SECOND * 10));
    }

    #[test]
    fn each_reset_gives_a_whole_period_from_that_moment() {
        let clock = Clock::new();
        let (idle, fired) = counting(&clock);
        idle.set_timeout(Some(SECOND * 10));
        for _ in 0..5 {
            clock.advance(SECOND * 7);
            idle.reset();
        }
        assert_eq!(fired.get(), 0);
        clock.advance(SECOND * 9);
        assert_eq!(fired.get(), 0);
        clock.advance(SECOND);
        assert_eq!(fired.get(), 1);
        // One timer at a time, however many resets.
        assert_eq!(clock.pending_calls().len(), 0);
    }

    #[test]
    fn set_timeout_restarts_the_count_stops_it_and_returns_the_old_period() {
        let clock = Clock::new();
        let (idle, fired) = counting(&clock);
        idle.set_timeout(Some(SECOND * 10));
        clock.advance(SECOND * 8);
        // A shorter period counts from now, not from the start.
        assert_eq!(idle.set_timeout(Some(SECOND * 5)), Some(SECOND * 10));
        clock.advance(SECOND * 4);
        assert_eq!(fired.get(), 0);
        assert_eq!(idle.set_timeout(None), Some(SECOND * 5));
        assert!(!idle.is_running());
        clock.advance(SECOND * 100);
        assert_eq!(fired.get(), 0);
        // Started again after timing out.
        idle.set_timeout(Some(SECOND));
        clock.advance(SECOND);
        assert_eq!(fired.get(), 1);
        idle.set_timeout(Some(SECOND));
        clock.advance(SECOND);
        assert_eq!(fired.get(), 2);
    }

    #[test]
    fn dropping_it_cancels_its_timer() {
        let clock = Clock::new();
        let (idle, fired) = counting(&clock);
        idle.set_timeout(Some(SECOND));
        assert_eq!(clock.pending_calls().len(), 1);
        drop(idle);
        assert_eq!(clock.pending_calls().len(), 0);
        clock.advance(SECOND * 2);
        assert_eq!(fired.get(), 0);
    }

    #[test]
    fn the_function_may_start_it_again() {
        let clock = Clock::new();
        let fired = Rc::new(Cell::new(0));
        // As a protocol's state holds its timeout, and the function the
        // state weakly.
        let holder: Rc<RefCell<Option<IdleTimeout>>> = Rc::default();
        let (count, weak) = (fired.clone(), Rc::downgrade(&holder));
        let idle = IdleTimeout::new(clock.clone(), move || {
            count.set(count.get() + 1);
            if let Some(holder) = weak.upgrade() {
                holder.borrow().as_ref().unwrap().set_timeout(Some(SECOND));
            }
        });
        idle.set_timeout(Some(SECOND));
        *holder.borrow_mut() = Some(idle);
        for _ in 0..3 {
            clock.advance(SECOND);
        }
        assert_eq!(fired.get(), 3);
        assert!(holder.borrow().as_ref().unwrap().is_running());
        drop(holder);
        assert_eq!(clock.pending_calls().len(), 0);
    }
}
