//! `Deferred<T>` and its firing half, `Resolver<T>`.

use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::Failure;
use crate::error::{Cancelled, ReactorError, ResolverDropped, TimedOut};
use crate::failure::catch_panic;
use crate::time::Scheduler;

use super::trampoline::dispatch;

type Continuation<T> = Box<dyn FnOnce(Result<T, Failure>)>;

/// What `cancel()` does while the Deferred has not fired.
enum Canceller {
    None,
    /// A function given by the producer.
    Func(Box<dyn FnOnce()>),
    /// Entry `key` of a table that knows how to cancel its entries: for
    /// producers that make many Deferreds and keep their own record of
    /// each, so that a Deferred costs no boxed closure.
    Entry(Weak<dyn CancelEntry>, EntryKey),
    /// Cancel the Deferred this one waits on (the one it was chained from,
    /// or the one its callback returned). Weak, so waiting never makes a
    /// reference cycle.
    Upstream(Weak<dyn Cancel>),
}

/// Identifies an entry of a [`CancelEntry`] table.
pub(crate) type EntryKey = (usize, u64);

/// A table of pending operations, each with a Deferred made by
/// [`Deferred::with_entry_canceller`]: cancelling one of those Deferreds
/// calls [`cancel_entry`](CancelEntry::cancel_entry) with its key.
pub(crate) trait CancelEntry {
    /// Stops the operation behind `key`, if it is still pending.
    fn cancel_entry(&self, key: EntryKey);
}

/// Cancelling without knowing the value type.
trait Cancel {
    /// Takes the canceller of a Deferred that has not fired (None once it
    /// has), so the walk upstream can go on.
    fn take_canceller(&self) -> Option<Canceller>;
    /// Fails the Deferred with `Cancelled` if nothing fired it meanwhile.
    fn fail_cancelled(self: Rc<Self>);
}

/// Cancels `start` and, through `Upstream` links, what it waits on.
///
/// The walk is a loop, not a recursion, so cancelling the end of a chain of
/// any length cannot exhaust the stack. The operation at the far end is
/// cancelled first; its failure then flows down the chain, and any link that
/// is still unfired afterwards fails with `Cancelled` itself.
fn cancel_chain(start: Rc<dyn Cancel>) {
    let mut visited: Vec<Rc<dyn Cancel>> = Vec::new();
    let mut current = start;
    loop {
        let Some(canceller) = current.take_canceller() else {
            break;
        };
        visited.push(current.clone());
        match canceller {
            Canceller::None => break,
            Canceller::Func(func) => {
                if let Err(failure) = catch_panic(func) {
                    tracing::error!(%failure, "a Deferred's canceller panicked");
                }
                break;
            }
            Canceller::Entry(table, key) => {
                if let Some(table) = table.upgrade()
                    && let Err(failure) = catch_panic(|| table.cancel_entry(key))
                {
                    tracing::error!(%failure, "a Deferred's canceller panicked");
                }
                break;
            }
            Canceller::Upstream(upstream) => match upstream.upgrade() {
                Some(next) => current = next,
                None => break,
            },
        }
    }
    for link in visited.into_iter().rev() {
        link.fail_cancelled();
    }
}

struct Inner<T> {
    result: Option<Result<T, Failure>>,
    continuation: Option<Continuation<T>>,
    waker: Option<Waker>,
    canceller: Canceller,
    paused: u32,
    /// A result arrived (from the producer or from cancellation).
    fired: bool,
    /// The result was handed to a continuation or a poll.
    delivered: bool,
    /// The consumer half (`Deferred`) still exists or has attached a
    /// continuation: someone may still look at the result.
    observed: bool,
    cancelled: bool,
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
    inner: Option<Shared<T>>,
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

fn shared<T>(canceller: Canceller) -> Shared<T> {
    Rc::new(RefCell::new(Inner {
        result: None,
        continuation: None,
        waker: None,
        canceller,
        paused: 0,
        fired: false,
        delivered: false,
        observed: true,
        cancelled: false,
    }))
}

/// Sets the result, unless one already arrived (a producer firing after a
/// cancellation is swallowed), then delivers it.
fn fire<T: 'static>(inner: &Shared<T>, result: Result<T, Failure>) {
    let canceller = {
        let mut state = inner.borrow_mut();
        if state.fired {
            return;
        }
        state.fired = true;
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
    if let Some(continuation) = state.continuation.take() {
        let result = state.result.take().expect("checked above");
        state.delivered = true;
        drop(state);
        dispatch(move || continuation(result));
    } else if let Some(waker) = state.waker.take() {
        drop(state);
        waker.wake();
    }
}

impl<T: 'static> Cancel for RefCell<Inner<T>> {
    fn take_canceller(&self) -> Option<Canceller> {
        let mut state = self.borrow_mut();
        if state.fired {
            return None;
        }
        Some(std::mem::replace(&mut state.canceller, Canceller::None))
    }

    fn fail_cancelled(self: Rc<Self>) {
        let still_unfired = !self.borrow().fired;
        if still_unfired {
            self.borrow_mut().cancelled = true;
            fire(&self, Err(Failure::new(Cancelled)));
        }
    }
}

impl<T> Drop for Inner<T> {
    fn drop(&mut self) {
        if let Some(Err(failure)) = self.result.take() {
            if failure.find::<ReactorError>() == Some(&ReactorError::Stopped) {
                // The reactor's shutdown ended this work (a task, a wait for
                // a thread): nothing went wrong, as in Twisted, where such
                // Deferreds simply never fire.
                tracing::debug!(%failure, "a Deferred ended by the reactor's shutdown was never observed");
            } else {
                tracing::error!(%failure, "Unhandled error in Deferred: {failure}");
            }
        }
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

    fn pair(canceller: Canceller) -> (Deferred<T>, Resolver<T>) {
        let inner = shared(canceller);
        let resolver = Resolver {
            inner: Some(inner.clone()),
        };
        (Deferred { inner }, resolver)
    }

    fn fired(result: Result<T, Failure>) -> Deferred<T> {
        let inner = shared(Canceller::None);
        {
            let mut state = inner.borrow_mut();
            state.fired = true;
            state.result = Some(result);
        }
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
        self.inner.borrow().fired
    }

    /// Cancels the Deferred if it has not fired after `timeout`, turning the
    /// resulting [`Cancelled`] into [`TimedOut`]. If the Deferred fires first,
    /// the timer is cancelled. A cancellation from elsewhere stays
    /// `Cancelled`; a canceller that turns the cancellation into a value
    /// passes that value on.
    pub fn add_timeout<S: Scheduler + ?Sized>(
        self,
        timeout: Duration,
        scheduler: &S,
    ) -> Deferred<T> {
        let timed_out = Rc::new(std::cell::Cell::new(false));
        let target: Weak<dyn Cancel> = {
            let weak: Weak<RefCell<Inner<T>>> = Rc::downgrade(&self.inner);
            weak
        };
        let flag = timed_out.clone();
        let timer = scheduler.call_later_boxed(
            timeout,
            Box::new(move || {
                flag.set(true);
                if let Some(target) = target.upgrade() {
                    cancel_chain(target);
                }
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

    /// A handle that cancels this Deferred later without owning it (for
    /// combinators that consume their members but must cancel them).
    pub(crate) fn cancel_handle(&self) -> CancelHandle {
        let weak: Weak<RefCell<Inner<T>>> = Rc::downgrade(&self.inner);
        CancelHandle(weak)
    }

    fn set_continuation(self, continuation: impl FnOnce(Result<T, Failure>) + 'static) {
        self.inner.borrow_mut().continuation = Some(Box::new(continuation));
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
        let next = shared::<U>(Canceller::Upstream(upstream));
        let target = next.clone();
        self.set_continuation(move |result| match catch_panic(move || step(result)) {
            Err(failure) => fire(&target, Err(failure)),
            Ok(Outcome::Ready(result)) => fire(&target, result),
            Ok(Outcome::Wait(inner)) => wait_on(&target, inner),
        });
        Deferred { inner: next }
    }
}

/// Cancels a Deferred without keeping it alive.
#[derive(Clone)]
pub(crate) struct CancelHandle(Weak<dyn Cancel>);

impl CancelHandle {
    pub(crate) fn cancel(&self) {
        if let Some(target) = self.0.upgrade() {
            cancel_chain(target);
        }
    }
}

/// Makes `target` wait for `inner`: take its result now if it has one,
/// otherwise fire `target` when it arrives; cancelling `target` meanwhile
/// cancels `inner`.
fn wait_on<U: 'static>(target: &Shared<U>, inner: Deferred<U>) {
    let ready = {
        let mut state = inner.inner.borrow_mut();
        if state.paused == 0 && state.result.is_some() {
            state.delivered = true;
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
    fn drop(&mut self) {
        if let Ok(mut state) = self.inner.try_borrow_mut()
            && state.continuation.is_none()
            && state.waker.is_none()
        {
            state.observed = false;
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
            state.delivered = true;
            return Poll::Ready(result);
        }
        assert!(
            !state.delivered,
            "Deferred polled after it returned its result"
        );
        match &state.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => state.waker = Some(cx.waker().clone()),
        }
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
            .is_some_and(|inner| inner.borrow().cancelled)
    }
}

/// A [`Resolver`] of a value type known only to whoever fires it, for a
/// table that keeps resolvers of many types together. It is the resolver's
/// own reference, without a box of its own; dropped unfired it behaves as
/// a dropped `Resolver`.
pub(crate) struct AnyResolver {
    inner: Option<Rc<dyn ErasedInner>>,
}

/// What an [`AnyResolver`] can do without knowing the value type.
trait ErasedInner {
    fn into_any(self: Rc<Self>) -> Rc<dyn Any>;
    fn reject(self: Rc<Self>, failure: Failure);
    /// Drops the reference as a `Resolver` would be dropped.
    fn drop_resolver(self: Rc<Self>);
}

impl<T: 'static> ErasedInner for RefCell<Inner<T>> {
    fn into_any(self: Rc<Self>) -> Rc<dyn Any> {
        self
    }

    fn reject(self: Rc<Self>, failure: Failure) {
        fire(&self, Err(failure));
    }

    fn drop_resolver(self: Rc<Self>) {
        drop(Resolver { inner: Some(self) });
    }
}

impl<T: 'static> From<Resolver<T>> for AnyResolver {
    fn from(mut resolver: Resolver<T>) -> AnyResolver {
        AnyResolver {
            inner: resolver
                .inner
                .take()
                .map(|inner| inner as Rc<dyn ErasedInner>),
        }
    }
}

impl AnyResolver {
    /// The typed resolver back, if `T` is its value type.
    pub(crate) fn downcast<T: 'static>(mut self) -> Option<Resolver<T>> {
        let inner = self.inner.take()?.into_any();
        inner
            .downcast::<RefCell<Inner<T>>>()
            .ok()
            .map(|inner| Resolver { inner: Some(inner) })
    }

    /// Fires the Deferred with a failure.
    pub(crate) fn reject(mut self, failure: impl Into<Failure>) {
        if let Some(inner) = self.inner.take() {
            inner.reject(failure.into());
        }
    }

    /// As [`Resolver::disarm`].
    pub(crate) fn disarm(mut self) {
        self.inner = None;
    }
}

impl Drop for AnyResolver {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            inner.drop_resolver();
        }
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
            state.fired
                || (state.continuation.is_none()
                    && (handles_gone || (!state.observed && state.waker.is_none())))
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
                .field("fired", &state.fired)
                .field("paused", &state.paused)
                .field("cancelled", &state.cancelled)
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

/// A Deferred that has already succeeded with `value`.
pub fn succeed<T: 'static>(value: T) -> Deferred<T> {
    Deferred::succeed(value)
}

/// A Deferred that has already failed.
pub fn fail<T: 'static>(failure: impl Into<Failure>) -> Deferred<T> {
    Deferred::fail(failure)
}

/// Calls `f` now and makes its outcome a Deferred: a returned Deferred as
/// is, a `Result` as an already-fired Deferred, and a panic as a failed one
/// (Twisted's `maybeDeferred`).
pub fn maybe_deferred<R: IntoDeferred>(f: impl FnOnce() -> R) -> Deferred<R::Output> {
    match catch_panic(f) {
        Ok(outcome) => outcome.into_deferred(),
        Err(failure) => Deferred::fail(failure),
    }
}
