//! [`LoopingCall`]: call a function every interval, and [`defer_later`].

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::defer::{IntoDeferred, Resolver};
use crate::error::LoopingCallError;
use crate::failure::catch_panic;
use crate::time::{DelayedCall, Scheduler};
use crate::{Deferred, Failure};

/// What a looping function may return: nothing, a `Result` (an `Err` stops
/// the loop), or a Deferred (the next call waits until it fires; a failure
/// stops the loop).
pub trait LoopOutput {
    /// The Deferred to wait for before the next call, or the failure that
    /// stops the loop.
    fn into_wait(self) -> Result<Option<Deferred<()>>, Failure>;
}

impl LoopOutput for () {
    fn into_wait(self) -> Result<Option<Deferred<()>>, Failure> {
        Ok(None)
    }
}

impl<E: Into<Failure>> LoopOutput for Result<(), E> {
    fn into_wait(self) -> Result<Option<Deferred<()>>, Failure> {
        self.map(|()| None).map_err(Into::into)
    }
}

impl<T: 'static> LoopOutput for Deferred<T> {
    fn into_wait(self) -> Result<Option<Deferred<()>>, Failure> {
        Ok(Some(self.map(|_| ())))
    }
}

type LoopFn = Box<dyn FnMut(u64) -> Result<Option<Deferred<()>>, Failure>>;

struct LoopState {
    scheduler: Rc<dyn Scheduler>,
    func: Option<LoopFn>,
    running: bool,
    interval: Duration,
    start: Instant,
    /// The slot (intervals since `start`) of the last call.
    last_slot: u64,
    call: Option<DelayedCall>,
    /// The function's Deferred has not fired yet.
    waiting: bool,
    done: Option<Resolver<()>>,
}

/// Calls a function every interval until stopped (Twisted's `LoopingCall`).
///
/// Calls are aligned to the start time: the n-th call is due at
/// `start + n × interval`. If the scheduler was busy past one or more slots,
/// the missed ones are skipped and the next call lands on the next future
/// slot; [`with_count`](LoopingCall::with_count) tells the function how many
/// intervals passed. If the function returns a Deferred, the next call
/// waits until it fires. A failure (an `Err`, a failed Deferred or a panic)
/// stops the loop and fails the Deferred returned by `start`.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use std::time::Duration;
/// use torsion::testing::Clock;
/// use torsion::time::LoopingCall;
///
/// let clock = Clock::new();
/// let ticks = Rc::new(Cell::new(0));
/// let counter = ticks.clone();
/// let looping = LoopingCall::new(clock.clone(), move || counter.set(counter.get() + 1));
/// let done = looping.start(Duration::from_secs(1), true).unwrap();
/// let second = Duration::from_secs(1);
/// clock.pump(&[second, second, second]);
/// assert_eq!(ticks.get(), 4); // t = 0, 1, 2, 3
/// looping.stop();
/// assert!(done.is_fired());
/// ```
#[derive(Clone)]
pub struct LoopingCall {
    state: Rc<RefCell<LoopState>>,
}

impl LoopingCall {
    /// A loop calling `func` on `scheduler`'s time.
    pub fn new<S, R>(scheduler: S, mut func: impl FnMut() -> R + 'static) -> LoopingCall
    where
        S: Scheduler + 'static,
        R: LoopOutput,
    {
        LoopingCall::build(Rc::new(scheduler), Box::new(move |_| func().into_wait()))
    }

    /// A loop whose function is told how many intervals passed since its
    /// last call: 1 normally, more when slots were skipped.
    pub fn with_count<S, R>(scheduler: S, mut func: impl FnMut(u64) -> R + 'static) -> LoopingCall
    where
        S: Scheduler + 'static,
        R: LoopOutput,
    {
        LoopingCall::build(
            Rc::new(scheduler),
            Box::new(move |count| func(count).into_wait()),
        )
    }

    fn build(scheduler: Rc<dyn Scheduler>, func: LoopFn) -> LoopingCall {
        let start = scheduler.now();
        LoopingCall {
            state: Rc::new(RefCell::new(LoopState {
                scheduler,
                func: Some(func),
                running: false,
                interval: Duration::ZERO,
                start,
                last_slot: 0,
                call: None,
                waiting: false,
                done: None,
            })),
        }
    }

    /// Starts calling every `interval` (at once too if `now`), returning a
    /// Deferred that fires when the loop stops: with `()` after
    /// [`stop`](LoopingCall::stop), with the failure that stopped it
    /// otherwise. An interval of zero calls once per scheduler turn.
    pub fn start(&self, interval: Duration, now: bool) -> Result<Deferred<()>, LoopingCallError> {
        let (done, resolver) = Deferred::new();
        {
            let mut state = self.state.borrow_mut();
            if state.running || state.waiting {
                return Err(LoopingCallError::AlreadyRunning);
            }
            state.running = true;
            state.interval = interval;
            state.start = state.scheduler.now();
            state.last_slot = 0;
            state.done = Some(resolver);
        }
        if now {
            self.call();
        } else {
            self.schedule_next();
        }
        Ok(done)
    }

    /// Stops the loop: cancels the next call and fires `start`'s Deferred
    /// (once a pending Deferred of the function has fired). Stopping a loop
    /// that is not running does nothing.
    pub fn stop(&self) {
        let (call, done) = {
            let mut state = self.state.borrow_mut();
            if !state.running {
                return;
            }
            state.running = false;
            let done = if state.waiting {
                None
            } else {
                state.done.take()
            };
            (state.call.take(), done)
        };
        if let Some(call) = call {
            let _ = call.cancel();
        }
        if let Some(done) = done {
            done.resolve(());
        }
    }

    /// Skips the pending call and counts intervals from now again.
    pub fn reset(&self) {
        let call = {
            let mut state = self.state.borrow_mut();
            if !state.running {
                return;
            }
            state.start = state.scheduler.now();
            state.last_slot = 0;
            state.call.take()
        };
        if let Some(call) = call {
            let _ = call.cancel();
            self.schedule_next();
        }
    }

    /// True between `start` and the loop stopping.
    pub fn running(&self) -> bool {
        self.state.borrow().running
    }

    fn call(&self) {
        let (mut func, count) = {
            let mut state = self.state.borrow_mut();
            state.call = None;
            let slot = state.slot_at(state.scheduler.now());
            let count = if state.interval.is_zero() {
                1
            } else {
                slot.saturating_sub(state.last_slot).max(1)
            };
            state.last_slot = slot;
            (
                state.func.take().expect("the loop function is not running"),
                count,
            )
        };
        let outcome = catch_panic(|| func(count)).and_then(|result| result);
        self.state.borrow_mut().func = Some(func);
        match outcome {
            Err(failure) => self.fail(failure),
            Ok(None) => self.schedule_next(),
            Ok(Some(wait)) => {
                self.state.borrow_mut().waiting = true;
                let looping = self.clone();
                drop(wait.both(move |result| {
                    looping.state.borrow_mut().waiting = false;
                    match result {
                        Err(failure) => looping.fail(failure),
                        Ok(()) => looping.after_wait(),
                    }
                    Ok::<(), Failure>(())
                }));
            }
        }
    }

    fn after_wait(&self) {
        let done = {
            let mut state = self.state.borrow_mut();
            if state.running {
                None
            } else {
                state.done.take()
            }
        };
        match done {
            Some(done) => done.resolve(()),
            None => self.schedule_next(),
        }
    }

    fn fail(&self, failure: Failure) {
        let (call, done) = {
            let mut state = self.state.borrow_mut();
            state.running = false;
            (state.call.take(), state.done.take())
        };
        if let Some(call) = call {
            let _ = call.cancel();
        }
        if let Some(done) = done {
            done.reject(failure);
        }
    }

    fn schedule_next(&self) {
        let scheduler = {
            let state = self.state.borrow();
            if !state.running || state.call.is_some() {
                return;
            }
            state.scheduler.clone()
        };
        let delay = {
            let state = self.state.borrow();
            if state.interval.is_zero() {
                Duration::ZERO
            } else {
                let now = scheduler.now();
                let next_slot = state.slot_at(now) + 1;
                state.slot_time(next_slot).saturating_duration_since(now)
            }
        };
        let looping = self.clone();
        let call = scheduler.call_later_boxed(delay, Box::new(move || looping.call()));
        self.state.borrow_mut().call = Some(call);
    }
}

impl LoopState {
    /// Whole intervals from `start` to `time`.
    fn slot_at(&self, time: Instant) -> u64 {
        if self.interval.is_zero() {
            return 0;
        }
        let elapsed = time.saturating_duration_since(self.start).as_nanos();
        u64::try_from(elapsed / self.interval.as_nanos()).unwrap_or(u64::MAX)
    }

    fn slot_time(&self, slot: u64) -> Instant {
        let nanos = self.interval.as_nanos().saturating_mul(u128::from(slot));
        self.start + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

impl fmt::Debug for LoopingCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.borrow();
        f.debug_struct("LoopingCall")
            .field("running", &state.running)
            .field("interval", &state.interval)
            .finish()
    }
}

/// Calls `func` after `delay` and fires with its outcome (Twisted's
/// `deferLater`). Cancelling the Deferred first cancels the timer: `func`
/// never runs and the result is [`Cancelled`](crate::error::Cancelled).
///
/// ```
/// use std::time::Duration;
/// use torsion::testing::Clock;
/// use torsion::time::defer_later;
///
/// let clock = Clock::new();
/// let later = defer_later(&clock, Duration::from_secs(2), || Ok::<_, torsion::Failure>(7));
/// clock.advance(Duration::from_secs(2));
/// assert!(later.is_fired());
/// ```
pub fn defer_later<S, R>(
    scheduler: &S,
    delay: Duration,
    func: impl FnOnce() -> R + 'static,
) -> Deferred<R::Output>
where
    S: Scheduler + ?Sized,
    R: IntoDeferred,
{
    let resolver: Rc<RefCell<Option<Resolver<()>>>> = Rc::new(RefCell::new(None));
    let call: Rc<RefCell<Option<DelayedCall>>> = Rc::new(RefCell::new(None));
    let (for_canceller, call_for_canceller) = (resolver.clone(), call.clone());
    let (gate, gate_resolver) = Deferred::<()>::with_canceller(move || {
        if let Some(call) = call_for_canceller.borrow_mut().take() {
            let _ = call.cancel();
        }
        // The Deferred fails with `Cancelled`; the resolver must not fail it
        // first as dropped.
        if let Some(resolver) = for_canceller.borrow_mut().take() {
            resolver.disarm();
        }
    });
    *resolver.borrow_mut() = Some(gate_resolver);
    let fire = resolver.clone();
    *call.borrow_mut() = Some(scheduler.call_later_boxed(
        delay,
        Box::new(move || {
            if let Some(resolver) = fire.borrow_mut().take() {
                resolver.resolve(());
            }
        }),
    ));
    gate.then(move |()| crate::defer::maybe_deferred(func))
}

#[cfg(test)]
mod tests;
