//! [`Clock`]: a deterministic [`Scheduler`] for tests.

use std::cell::Cell;
use std::time::{Duration, Instant};

use crate::time::queue::{TimeSource, TimerQueue};
use crate::time::{DelayedCall, Scheduler};

/// A fake clock that only moves when told to (Twisted's `task.Clock`).
///
/// Time starts at the moment the clock is made and moves only through
/// [`advance`](Clock::advance) and [`pump`](Clock::pump), which run every
/// call that has come due, in time order, including calls scheduled by those
/// calls if they are due too. A panic in a call propagates out of `advance`,
/// so a test sees it. Clones share the same time and calls.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use std::time::Duration;
/// use torsion::testing::Clock;
/// use torsion::time::Scheduler;
///
/// let clock = Clock::new();
/// let fired = Rc::new(Cell::new(false));
/// let flag = fired.clone();
/// clock.call_later(Duration::from_secs(2), move || flag.set(true));
/// clock.advance(Duration::from_secs(1));
/// assert!(!fired.get());
/// clock.advance(Duration::from_secs(1));
/// assert!(fired.get());
/// ```
#[derive(Clone, Debug)]
pub struct Clock {
    queue: TimerQueue,
    start: Instant,
}

impl Clock {
    /// A clock at time zero with no pending calls.
    pub fn new() -> Clock {
        let start = Instant::now();
        Clock {
            queue: TimerQueue::new(TimeSource::Manual(Cell::new(start))),
            start,
        }
    }

    /// How far the clock has been advanced since it was made (Twisted's
    /// `seconds()`).
    pub fn elapsed(&self) -> Duration {
        self.queue.now() - self.start
    }

    /// Moves time forward by `amount` and runs every call that is now due.
    pub fn advance(&self, amount: Duration) {
        let now = self.queue.now() + amount;
        self.queue.set_now(now);
        while let Some(call) = self.queue.pop_due(now, u64::MAX) {
            call.run();
        }
    }

    /// Advances by each amount in turn, running due calls after each step.
    pub fn pump(&self, amounts: &[Duration]) {
        for amount in amounts {
            self.advance(*amount);
        }
    }

    /// The calls still pending, earliest first.
    pub fn pending_calls(&self) -> Vec<DelayedCall> {
        self.queue.pending()
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::new()
    }
}

impl Scheduler for Clock {
    fn now(&self) -> Instant {
        self.queue.now()
    }

    fn call_later_boxed(&self, delay: Duration, func: Box<dyn FnOnce()>) -> DelayedCall {
        self.queue.call_later(delay, func)
    }

    fn call_later<F>(&self, delay: Duration, func: F) -> DelayedCall
    where
        F: FnOnce() + 'static,
    {
        self.queue.call_later(delay, func)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DelayedCallError;
    use std::cell::RefCell;
    use std::rc::Rc;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    type Log = Rc<RefCell<Vec<&'static str>>>;

    fn recorder() -> (Log, impl Fn(&'static str) -> Box<dyn FnOnce()>) {
        let log = Rc::new(RefCell::new(Vec::new()));
        let for_calls = log.clone();
        let make = move |name: &'static str| -> Box<dyn FnOnce()> {
            let log = for_calls.clone();
            Box::new(move || log.borrow_mut().push(name))
        };
        (log, make)
    }

    #[test]
    fn calls_run_in_deadline_order() {
        let clock = Clock::new();
        let (log, call) = recorder();
        clock.call_later_boxed(secs(3), call("c"));
        clock.call_later_boxed(secs(1), call("a"));
        clock.call_later_boxed(secs(2), call("b"));
        clock.advance(secs(10));
        assert_eq!(*log.borrow(), ["a", "b", "c"]);
    }

    #[test]
    fn calls_with_the_same_deadline_run_in_scheduling_order() {
        let clock = Clock::new();
        let (log, call) = recorder();
        for name in ["1", "2", "3", "4", "5"] {
            clock.call_later_boxed(secs(1), call(name));
        }
        clock.advance(secs(1));
        assert_eq!(*log.borrow(), ["1", "2", "3", "4", "5"]);
    }

    #[test]
    fn cancel_twice_is_already_cancelled() {
        let clock = Clock::new();
        let call = clock.call_later(secs(1), || panic!("cancelled call ran"));
        assert_eq!(call.cancel(), Ok(()));
        assert_eq!(call.cancel(), Err(DelayedCallError::AlreadyCancelled));
        assert!(!call.active());
        clock.advance(secs(2));
        assert!(clock.pending_calls().is_empty());
    }

    #[test]
    fn cancel_after_run_is_already_called() {
        let clock = Clock::new();
        let call = clock.call_later(secs(1), || {});
        clock.advance(secs(1));
        assert_eq!(call.cancel(), Err(DelayedCallError::AlreadyCalled));
        assert_eq!(call.reset(secs(1)), Err(DelayedCallError::AlreadyCalled));
        assert_eq!(call.delay(secs(1)), Err(DelayedCallError::AlreadyCalled));
    }

    #[test]
    fn reset_after_cancel_is_already_cancelled() {
        let clock = Clock::new();
        let call = clock.call_later(secs(1), || {});
        call.cancel().unwrap();
        assert_eq!(call.reset(secs(1)), Err(DelayedCallError::AlreadyCancelled));
    }

    #[test]
    fn a_call_cannot_cancel_itself() {
        let clock = Clock::new();
        let slot: Rc<RefCell<Option<DelayedCall>>> = Rc::new(RefCell::new(None));
        let result = Rc::new(RefCell::new(None));
        let (slot2, result2) = (slot.clone(), result.clone());
        let call = clock.call_later(secs(1), move || {
            *result2.borrow_mut() = Some(slot2.borrow().as_ref().unwrap().cancel());
        });
        *slot.borrow_mut() = Some(call);
        clock.advance(secs(1));
        assert_eq!(*result.borrow(), Some(Err(DelayedCallError::AlreadyCalled)));
    }

    #[test]
    fn reset_moves_the_call_relative_to_now() {
        let clock = Clock::new();
        let fired = Rc::new(Cell::new(false));
        let flag = fired.clone();
        let call = clock.call_later(secs(5), move || flag.set(true));
        clock.advance(secs(2));
        call.reset(secs(10)).unwrap();
        assert_eq!(call.time(), clock.now() + secs(10));
        clock.advance(secs(9));
        assert!(!fired.get());
        clock.advance(secs(1));
        assert!(fired.get());
    }

    #[test]
    fn reset_earlier_runs_sooner() {
        let clock = Clock::new();
        let fired = Rc::new(Cell::new(false));
        let flag = fired.clone();
        let call = clock.call_later(secs(10), move || flag.set(true));
        call.reset(secs(1)).unwrap();
        clock.advance(secs(1));
        assert!(fired.get());
    }

    #[test]
    fn delay_and_hasten_move_relative_to_the_scheduled_time() {
        let clock = Clock::new();
        let call = clock.call_later(secs(5), || {});
        let scheduled = call.time();
        call.delay(secs(2)).unwrap();
        assert_eq!(call.time(), scheduled + secs(2));
        call.hasten(secs(3)).unwrap();
        assert_eq!(call.time(), scheduled - secs(1));
        clock.advance(secs(4));
        assert!(!call.active());
    }

    #[test]
    fn calls_scheduled_by_due_calls_run_in_the_same_advance_if_due() {
        let clock = Clock::new();
        let (log, call) = recorder();
        let inner = clock.clone();
        let second = call("second");
        clock.call_later(secs(1), move || {
            inner.call_later_boxed(Duration::ZERO, second);
        });
        clock.advance(secs(1));
        assert_eq!(*log.borrow(), ["second"]);
    }

    #[test]
    fn pending_calls_lists_only_live_calls_in_order() {
        let clock = Clock::new();
        let late = clock.call_later(secs(3), || {});
        let cancelled = clock.call_later(secs(1), || {});
        let early = clock.call_later(secs(2), || {});
        cancelled.cancel().unwrap();
        let pending = clock.pending_calls();
        assert_eq!(pending.len(), 2);
        assert_eq!(pending[0].time(), early.time());
        assert_eq!(pending[1].time(), late.time());
    }

    #[test]
    fn mass_cancellation_does_not_keep_stale_entries() {
        let clock = Clock::new();
        let calls: Vec<_> = (0..10_000)
            .map(|i| clock.call_later(Duration::from_millis(i), || {}))
            .collect();
        for call in &calls[..9_000] {
            call.cancel().unwrap();
        }
        assert_eq!(clock.pending_calls().len(), 1_000);
        assert!(
            clock.queue.heap_len() < 2_100,
            "stale entries were compacted"
        );
    }

    #[test]
    fn cancel_releases_what_the_call_captured() {
        let clock = Clock::new();
        let captured = Rc::new(());
        let held = captured.clone();
        let call = clock.call_later(secs(1), move || drop(held));
        assert_eq!(Rc::strong_count(&captured), 2);
        call.cancel().unwrap();
        assert_eq!(Rc::strong_count(&captured), 1);
    }

    #[test]
    fn panics_in_calls_propagate_out_of_advance() {
        let clock = Clock::new();
        clock.call_later(secs(1), || panic!("in a call"));
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| clock.advance(secs(1))));
        assert!(outcome.is_err());
    }

    #[test]
    fn pump_advances_step_by_step() {
        let clock = Clock::new();
        clock.pump(&[secs(1), secs(2), secs(3)]);
        assert_eq!(clock.elapsed(), secs(6));
    }
}
