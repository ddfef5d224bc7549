//! `Deferred<T>` and its firing half, `Resolver<T>`.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll};

use crate::Failure;
use crate::error::{Cancelled, ReactorError, ResolverDropped};
use crate::failure::catch_panic;

use super::awaiting;
use super::cancel::{
    AwaitState, Cancel, CancelEntry, CancelHandle, CancelProgress, Canceller, EntryKey,
    cancel_chain,
};
use super::consumer::Consumer;
use super::flags::Flags;
use super::trampoline::dispatch;
use super::unfired;

pub(super) struct Inner<T> {
    result: Option<Result<T, Failure>>,
    consumer: Consumer<T>,
    canceller: Canceller,
    paused: u32,
    flags: Flags,
}

impl<T> Inner<T> {
    fn fired(&self) -> bool {
        self.flags.has(Flags::FIRED)
    }

    fn delivered(&self) -> bool {
        self.flags.has(Flags::DELIVERED)
    }
}

type Shared<T> = Rc<RefCell<Inner<T>>>;

/// A result that is not there yet, and what to do with it once it is
/// (Twisted's `Deferred`).
///
/// A `Deferred` is *eager*: the operation behind it is already running, and
/// callbacks added after it fired run at once. Chaining is by value: each of
/// [`map`](Deferred::map), [`then`](Deferred::then),
/// [`or_else`](Deferred::or_else) and [`both`](Deferred::both) consumes the
/// Deferred and returns the next link of the chain. Success skips error
/// handlers and failure skips success handlers, until an error handler
/// recovers. A callback that returns another Deferred pauses the chain until
/// that one fires. A panic in a callback becomes a [`Panicked`] failure.
///
/// `Deferred<T>` is also a [`Future`] with output `Result<T, Failure>`, so
/// async code awaits it directly.
///
/// ```
/// use torsion::Deferred;
///
/// let (deferred, resolver) = Deferred::<u32>::new();
/// let doubled = deferred.map(|n| n * 2).then(|n| {
///     if n > 10 { Ok(n) } else { Err(torsion::Failure::msg("too small")) }
/// });
/// resolver.resolve(21);
/// # let _ = doubled;
/// ```
///
/// [`Panicked`]: crate::error::Panicked
pub struct Deferred<T: 'static> {
    inner: Shared<T>,
}

/// The firing half of a [`Deferred`]: fire it once with a value or a failure.
///
/// Firing consumes the resolver, so a Deferred cannot be fired twice. If the
/// resolver is dropped unfired, the Deferred fails with
/// [`ResolverDropped`] instead of waiting forever. Firing a Deferred that
/// was cancelled meanwhile does nothing.
pub struct Resolver<T: 'static> {
    pub(super) inner: Option<Shared<T>>,
}

/// What a callback may return to continue a chain: a `Result`, or another
/// `Deferred` whose outcome the chain then waits for.
pub trait IntoDeferred {
    /// The success type of the chain after the callback.
    type Output: 'static;

    /// Converts into a Deferred.
    fn into_deferred(self) -> Deferred<Self::Output>;

    #[doc(hidden)]
    fn into_outcome(self) -> Outcome<Self::Output>;
}

/// How a callback continues the chain: at once, or after another Deferred.
#[doc(hidden)]
#[derive(Debug)]
pub enum Outcome<T: 'static> {
    Ready(Result<T, Failure>),
    Wait(Deferred<T>),
}

impl<T: 'static> IntoDeferred for Deferred<T> {
    type Output = T;

    fn into_deferred(self) -> Deferred<T> {
        self
    }

    fn into_outcome(self) -> Outcome<T> {
        Outcome::Wait(self)
    }
}

impl<T: 'static, E: Into<Failure>> IntoDeferred for Result<T, E> {
    type Output = T;

    fn into_deferred(self) -> Deferred<T> {
        Deferred::fired(self.map_err(Into::into))
    }

    fn into_outcome(self) -> Outcome<T> {
        Outcome::Ready(self.map_err(Into::into))
    }
}

#[inline]
fn shared<T>(canceller: Canceller, fired: bool) -> Shared<T> {
    if !fired {
        unfired::made();
    }
    Rc::new(RefCell::new(Inner {
        result: None,
        consumer: Consumer::None,
        canceller,
        paused: 0,
        flags: Flags::new(fired),
    }))
}

/// Sets the result, unless one already arrived (a producer firing after a
/// cancellation is swallowed), then delivers it.
pub(super) fn fire<T: 'static>(inner: &Shared<T>, result: Result<T, Failure>) {
    let canceller = {
        let mut state = inner.borrow_mut();
        if state.fired() {
            return;
        }
        state.flags.insert(Flags::FIRED);
        unfired::gone();
        state.result = Some(result);
        std::mem::replace(&mut state.canceller, Canceller::None)
    };
    drop(canceller);
    deliver(inner);
}

/// Hands a present result to the continuation or the waiting task, unless the
/// Deferred is paused.
fn deliver<T: 'static>(inner: &Shared<T>) {
    let mut state = inner.borrow_mut();
    if state.paused > 0 || state.result.is_none() {
        return;
    }
    match std::mem::replace(&mut state.consumer, Consumer::None) {
        Consumer::Continuation(continuation) => {
            let result = state.result.take().expect("checked above");
            state.flags.insert(Flags::DELIVERED);
            drop(state);
            dispatch(move || continuation(result));
        }
        Consumer::Waker(waker) => {
            drop(state);
            waker.wake();
        }
        Consumer::None => {}
    }
}

impl<T: 'static> Cancel for RefCell<Inner<T>> {
    fn cancel_step(&self) -> Option<Canceller> {
        let mut state = self.borrow_mut();
        if state.fired() {
            return None;
        }
        state.flags.insert(Flags::CANCEL_REQUESTED);
        Some(match &state.canceller {
            Canceller::Upstream(upstream) => Canceller::Upstream(upstream.clone()),
            Canceller::Reusable(cancel) => Canceller::Reusable(cancel.clone()),
            _ => std::mem::replace(&mut state.canceller, Canceller::None),
        })
    }

    fn fail_cancelled(self: Rc<Self>) {
        let still_unfired = !self.borrow().fired();
        if still_unfired {
            self.borrow_mut().flags.insert(Flags::CANCELLED);
            fire(&self, Err(Failure::new(Cancelled)));
        }
    }

    fn await_state(&self) -> AwaitState {
        let Ok(state) = self.try_borrow() else {
            return AwaitState::Done;
        };
        if state.delivered() || state.consumer.is_continuation() {
            AwaitState::Done
        } else if state.result.is_some() {
            AwaitState::ReadyUnpolled
        } else if !state.fired() && state.consumer.is_waker() {
            AwaitState::Pending
        } else {
            AwaitState::Done
        }
    }
}

impl<T> Drop for Inner<T> {
    fn drop(&mut self) {
        if !self.fired() {
            unfired::gone();
        }
        if let Some(Err(failure)) = self.result.take() {
            report_unobserved(failure, self.flags.has(Flags::CANCEL_REQUESTED));
        }
    }
}

/// Logs a failure that nobody took from a Deferred being dropped. Kept out
/// of line: every Deferred's drop passes by, few ever come in.
#[cold]
#[inline(never)]
fn report_unobserved(failure: Failure, cancel_requested: bool) {
    // A consumer that cancelled and then let go does not want the outcome;
    // its `Cancelled` (however wrapped) is no error.
    if cancel_requested && failure.find::<Cancelled>().is_some() {
        return;
    }
    if failure.find::<ReactorError>() == Some(&ReactorError::Stopped) {
        // The reactor's shutdown ended this work (a task, a wait for a
        // thread): nothing went wrong, as in Twisted, where such Deferreds
        // simply never fire.
        tracing::debug!(%failure, "a Deferred ended by the reactor's shutdown was never observed");
    } else {
        tracing::error!(%failure, "Unhandled error in Deferred: {failure}");
    }
}

impl<T: 'static> Deferred<T> {
    /// A Deferred waiting for its result, and the [`Resolver`] that fires it.
    pub fn new() -> (Deferred<T>, Resolver<T>) {
        Deferred::pair(Canceller::None)
    }

    /// Like [`new`](Deferred::new), with a function that [`cancel`](Deferred::cancel)
    /// runs while the Deferred has not fired, to stop the operation behind
    /// it. If the canceller does not fire the Deferred itself (through a
    /// resolver it shares), the Deferred then fails with [`Cancelled`].
    pub fn with_canceller(canceller: impl FnOnce() + 'static) -> (Deferred<T>, Resolver<T>) {
        Deferred::pair(Canceller::Func(Box::new(canceller)))
    }

    /// Like [`with_canceller`](Deferred::with_canceller), where cancelling
    /// calls `table.cancel_entry(key)`.
    pub(crate) fn with_entry_canceller(
        table: Weak<dyn CancelEntry>,
        key: EntryKey,
    ) -> (Deferred<T>, Resolver<T>) {
        Deferred::pair(Canceller::Entry(table, key))
    }

    /// Like [`with_canceller`](Deferred::with_canceller), with a canceller
    /// that may leave the Deferred pending and is then kept for the next
    /// cancel (a task's: see [`CancelProgress`]).
    pub(crate) fn with_reusable_canceller(
        canceller: Rc<dyn Fn() -> CancelProgress>,
    ) -> (Deferred<T>, Resolver<T>) {
        Deferred::pair(Canceller::Reusable(canceller))
    }

    fn pair(canceller: Canceller) -> (Deferred<T>, Resolver<T>) {
        let inner = shared(canceller, false);
        let resolver = Resolver {
            inner: Some(inner.clone()),
        };
        (Deferred { inner }, resolver)
    }

    fn fired(result: Result<T, Failure>) -> Deferred<T> {
        let inner = shared(Canceller::None, true);
        inner.borrow_mut().result = Some(result);
        Deferred { inner }
    }

    /// A Deferred that has already succeeded with `value`.
    pub fn succeed(value: T) -> Deferred<T> {
        Deferred::fired(Ok(value))
    }

    /// A Deferred that has already failed.
    pub fn fail(failure: impl Into<Failure>) -> Deferred<T> {
        Deferred::fired(Err(failure.into()))
    }

    /// On success, replaces the value with `f(value)`.
    pub fn map<U: 'static>(self, f: impl FnOnce(T) -> U + 'static) -> Deferred<U> {
        self.attach(move |result| Outcome::Ready(result.map(f)))
    }

    /// On success, continues with what `f` returns: a `Result` (an `Err`
    /// switches to the failure path) or a `Deferred` (the chain waits for it).
    pub fn then<R: IntoDeferred>(self, f: impl FnOnce(T) -> R + 'static) -> Deferred<R::Output> {
        self.attach(move |result| match result {
            Ok(value) => f(value).into_outcome(),
            Err(failure) => Outcome::Ready(Err(failure)),
        })
    }

    /// On failure, continues with what `f` returns: `Ok` recovers, `Err`
    /// stays on the failure path (see [`Failure::trap`]), a Deferred is
    /// waited for. Success passes through untouched.
    pub fn or_else<R: IntoDeferred<Output = T>>(
        self,
        f: impl FnOnce(Failure) -> R + 'static,
    ) -> Deferred<T> {
        self.attach(move |result| match result {
            Ok(value) => Outcome::Ready(Ok(value)),
            Err(failure) => f(failure).into_outcome(),
        })
    }

    /// Runs `f` on success and failure alike (Twisted's `addBoth`).
    pub fn both<R: IntoDeferred>(
        self,
        f: impl FnOnce(Result<T, Failure>) -> R + 'static,
    ) -> Deferred<R::Output> {
        self.attach(move |result| f(result).into_outcome())
    }

    /// Lets `f` look at a failure, which then goes on down the chain
    /// unchanged: "log the error and pass it on". Success passes through.
    pub fn inspect_err(self, f: impl FnOnce(&Failure) + 'static) -> Deferred<T> {
        self.attach(move |result| {
            if let Err(failure) = &result {
                f(failure);
            }
            Outcome::Ready(result)
        })
    }

    /// Fires `resolver` with this Deferred's result (Twisted's
    /// `chainDeferred`).
    pub fn chain_to(self, resolver: Resolver<T>) {
        self.set_continuation(move |result| resolver.complete(result));
    }

    /// Cancels the operation. On a Deferred that has not fired: runs the
    /// canceller (or cancels the Deferred this one waits on), then, if that
    /// did not fire it, fails it with [`Cancelled`]. On a fired Deferred:
    /// does nothing.
    pub fn cancel(&self) {
        cancel_chain(self.inner.clone());
    }

    /// Holds back callbacks until the matching [`unpause`](Deferred::unpause),
    /// even if the result arrives. Pauses nest.
    pub fn pause(&self) {
        self.inner.borrow_mut().paused += 1;
    }

    /// Undoes one [`pause`](Deferred::pause); the last one delivers a result
    /// that arrived meanwhile.
    pub fn unpause(&self) {
        {
            let mut state = self.inner.borrow_mut();
            state.paused = state.paused.saturating_sub(1);
        }
        deliver(&self.inner);
    }

    /// True once the result has arrived (it may have been passed on since).
    pub fn is_fired(&self) -> bool {
        self.inner.borrow().fired()
    }

    /// A handle that cancels this Deferred later without owning it, while
    /// the Deferred itself goes on to be chained or awaited (Twisted code
    /// keeps `self._d` for this).
    pub fn cancel_handle(&self) -> CancelHandle {
        let weak: Weak<RefCell<Inner<T>>> = Rc::downgrade(&self.inner);
        CancelHandle(weak)
    }

    fn set_continuation(self, continuation: impl FnOnce(Result<T, Failure>) + 'static) {
        {
            let mut state = self.inner.borrow_mut();
            // Chained, it is no longer a future anyone awaits: the
            // continuation takes the waker's place.
            state.consumer = Consumer::Continuation(Box::new(continuation));
        }
        deliver(&self.inner);
    }

    /// Adds the next link: `step` turns this Deferred's result into the next
    /// one's, at once or after another Deferred.
    fn attach<U: 'static>(
        self,
        step: impl FnOnce(Result<T, Failure>) -> Outcome<U> + 'static,
    ) -> Deferred<U> {
        let upstream: Weak<dyn Cancel> = {
            let weak: Weak<RefCell<Inner<T>>> = Rc::downgrade(&self.inner);
            weak
        };
        let next = shared::<U>(Canceller::Upstream(upstream), false);
        let target = next.clone();
        self.set_continuation(move |result| match catch_panic(move || step(result)) {
            Err(failure) => fire(&target, Err(failure)),
            Ok(Outcome::Ready(result)) => fire(&target, result),
            Ok(Outcome::Wait(inner)) => wait_on(&target, inner),
        });
        Deferred { inner: next }
    }
}

/// Makes `target` wait for `inner`: take its result now if it has one,
/// otherwise fire `target` when it arrives; cancelling `target` meanwhile
/// cancels `inner`.
fn wait_on<U: 'static>(target: &Shared<U>, inner: Deferred<U>) {
    let ready = {
        let mut state = inner.inner.borrow_mut();
        if state.paused == 0 && state.result.is_some() {
            state.flags.insert(Flags::DELIVERED);
            state.result.take()
        } else {
            None
        }
    };
    if let Some(result) = ready {
        fire(target, result);
        return;
    }
    let weak: Weak<RefCell<Inner<U>>> = Rc::downgrade(&inner.inner);
    target.borrow_mut().canceller = Canceller::Upstream(weak);
    let target = target.clone();
    inner.set_continuation(move |result| fire(&target, result));
}

impl<T: 'static> Drop for Deferred<T> {
    /// A Deferred dropped while a future awaits it, before its result came,
    /// cancels its operation: the awaiting code was itself cancelled (a
    /// `select!` that another branch won, a timeout, a task the reactor
    /// dropped) and nobody else can see the result. A Deferred that nobody
    /// awaited is left to run, as in Twisted, which never cancels on
    /// garbage collection.
    fn drop(&mut self) {
        let awaited_unfired = {
            let Ok(mut state) = self.inner.try_borrow_mut() else {
                return;
            };
            let awaited = match state.consumer {
                Consumer::Continuation(_) => return,
                Consumer::Waker(_) => {
                    state.consumer = Consumer::None;
                    true
                }
                Consumer::None => false,
            };
            if !awaited {
                state.flags.remove(Flags::OBSERVED);
            }
            awaited && !state.fired()
        };
        if awaited_unfired {
            cancel_chain(self.inner.clone());
        }
    }
}

impl<T: 'static> Future for Deferred<T> {
    type Output = Result<T, Failure>;

    /// Returns the result once it is there (and the Deferred is not paused).
    ///
    /// # Panics
    ///
    /// Polling again after the result was returned panics, as polling a
    /// completed future may.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.inner.borrow_mut();
        if state.paused == 0
            && let Some(result) = state.result.take()
        {
            state.flags.insert(Flags::DELIVERED);
            return Poll::Ready(result);
        }
        assert!(
            !state.delivered(),
            "Deferred polled after it returned its result"
        );
        match &state.consumer {
            Consumer::Waker(waker) if waker.will_wake(cx.waker()) => {}
            _ => state.consumer = Consumer::Waker(cx.waker().clone()),
        }
        drop(state);
        let weak: Weak<RefCell<Inner<T>>> = Rc::downgrade(&self.inner);
        awaiting::note(weak);
        Poll::Pending
    }
}

impl<T: 'static> Resolver<T> {
    /// Fires the Deferred with a value.
    pub fn resolve(self, value: T) {
        self.complete(Ok(value));
    }

    /// Fires the Deferred with a failure.
    pub fn reject(self, failure: impl Into<Failure>) {
        self.complete(Err(failure.into()));
    }

    /// Fires the Deferred with a result.
    pub fn complete(mut self, result: Result<T, Failure>) {
        if let Some(inner) = self.inner.take() {
            fire(&inner, result);
        }
    }

    /// Gives up the right to fire without failing the Deferred (used when the
    /// Deferred is about to be failed another way, such as by cancellation).
    pub(crate) fn disarm(mut self) {
        self.inner = None;
    }

    /// True if the Deferred was cancelled; firing it now would be ignored.
    pub fn is_cancelled(&self) -> bool {
        self.inner
            .as_ref()
            .is_some_and(|inner| inner.borrow().flags.has(Flags::CANCELLED))
    }
}

impl<T: 'static> Drop for Resolver<T> {
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        // Without a continuation, and once every Deferred handle is gone
        // (a future awaiting it was dropped, say), nobody could ever see
        // the failure.
        let handles_gone = Rc::strong_count(&inner) == 1;
        let nobody_waits = {
            let state = inner.borrow();
            state.fired()
                || (!state.consumer.is_continuation()
                    && (handles_gone
                        || (!state.flags.has(Flags::OBSERVED) && !state.consumer.is_waker())))
        };
        if !nobody_waits {
            fire(&inner, Err(Failure::new(ResolverDropped)));
        }
    }
}

impl<T: 'static> fmt::Debug for Deferred<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.inner.try_borrow() {
            Ok(state) => f
                .debug_struct("Deferred")
                .field("fired", &state.fired())
                .field("paused", &state.paused)
                .field("cancelled", &state.flags.has(Flags::CANCELLED))
                .finish(),
            Err(_) => f.write_str("Deferred { <busy> }"),
        }
    }
}

impl<T: 'static> fmt::Debug for Resolver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolver")
            .field("fired", &self.inner.is_none())
            .finish()
    }
}
