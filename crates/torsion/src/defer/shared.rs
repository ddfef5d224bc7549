//! [`SharedDeferred`]: one Deferred's outcome for several consumers.
//!
//! Chaining consumes a Deferred, so its result goes to exactly one
//! consumer. A `SharedDeferred` takes the Deferred over and hands each
//! consumer a Deferred of its own ([`get`](SharedDeferred::get)) that fires
//! with a clone of the outcome: a clone of the value (`T: Clone`) or of the
//! [`Failure`], which clones cheaply.
//!
//! ```text
//!   source --> SharedDeferred --get()--> Deferred<T>  (consumer 1)
//!                             --get()--> Deferred<T>  (consumer 2, later: fires at once)
//! ```
//!
//! Cancelling a consumer's Deferred (or dropping it while it is awaited)
//! only takes that consumer off the list; the operation goes on for the
//! others. [`cancel`](SharedDeferred::cancel) cancels the operation itself.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use super::Deferred;
use super::cancel::CancelHandle;
use super::deferred::IntoDeferred;
use super::waiters::{self, Waiters};
use crate::Failure;

enum Outcome<T: 'static> {
    Waiting(Waiters<Result<T, Failure>>),
    Done(Result<T, Failure>),
}

struct SharedState<T: 'static> {
    outcome: Outcome<T>,
    /// Some consumer has been given the outcome, or may yet be.
    handed_out: bool,
    cancel_requested: bool,
}

/// One Deferred's outcome for any number of consumers, each with a
/// Deferred of its own. Cheap to clone; clones share the outcome.
///
/// ```
/// use torsion::Deferred;
/// use torsion::defer::SharedDeferred;
///
/// let (lookup, resolver) = Deferred::<String>::new();
/// let shared = SharedDeferred::new(lookup);
/// let first = shared.get().map(|address| address.len());
/// let second = shared.get();
/// resolver.resolve("10.0.0.7".to_owned());
/// assert!(first.is_fired() && second.is_fired());
/// assert!(shared.get().is_fired()); // a late consumer gets it at once
/// ```
pub struct SharedDeferred<T: 'static> {
    state: Rc<RefCell<SharedState<T>>>,
    cancel: CancelHandle,
}

impl<T: 'static> Clone for SharedDeferred<T> {
    fn clone(&self) -> Self {
        SharedDeferred {
            state: self.state.clone(),
            cancel: self.cancel.clone(),
        }
    }
}

impl<T: Clone + 'static> SharedDeferred<T> {
    /// Takes `source` over; its outcome goes to every consumer.
    pub fn new(source: Deferred<T>) -> SharedDeferred<T> {
        let cancel = source.cancel_handle();
        let state = Rc::new(RefCell::new(SharedState {
            outcome: Outcome::Waiting(Waiters::new()),
            handed_out: false,
            cancel_requested: false,
        }));
        let arrived = state.clone();
        drop(source.both(move |result: Result<T, Failure>| {
            let mut waiting = {
                let mut state = arrived.borrow_mut();
                match std::mem::replace(&mut state.outcome, Outcome::Done(result.clone())) {
                    Outcome::Waiting(waiters) => waiters,
                    Outcome::Done(_) => Waiters::new(),
                }
            };
            while let Some(consumer) = waiting.pop() {
                consumer.resolve(result.clone());
            }
            Ok::<(), Failure>(())
        }));
        SharedDeferred { state, cancel }
    }

    /// A Deferred of this consumer's own, firing with a clone of the
    /// outcome: at once if it is there, otherwise when it arrives.
    /// Cancelling it takes only this consumer off the list.
    pub fn get(&self) -> Deferred<T> {
        let done = {
            let mut state = self.state.borrow_mut();
            state.handed_out = true;
            match &state.outcome {
                Outcome::Done(result) => Some(result.clone()),
                Outcome::Waiting(_) => None,
            }
        };
        match done {
            Some(result) => result.into_deferred(),
            None => waiters::wait(&self.state, waiting_consumers).then(|result| result),
        }
    }

    /// Cancels the operation itself (the source Deferred): every consumer
    /// then gets its outcome, [`Cancelled`](crate::error::Cancelled) unless the operation's canceller
    /// fired it.
    pub fn cancel(&self) {
        self.state.borrow_mut().cancel_requested = true;
        self.cancel.cancel();
    }

    /// A handle that cancels the operation, as [`cancel`](SharedDeferred::cancel).
    pub fn cancel_handle(&self) -> CancelHandle {
        self.cancel.clone()
    }

    /// True once the outcome has arrived.
    pub fn is_fired(&self) -> bool {
        matches!(self.state.borrow().outcome, Outcome::Done(_))
    }
}

fn waiting_consumers<T>(state: &mut SharedState<T>) -> &mut Waiters<Result<T, Failure>> {
    match &mut state.outcome {
        Outcome::Waiting(waiters) => waiters,
        // `get` adds a waiter only while the outcome is awaited, and holds
        // the borrow meanwhile.
        Outcome::Done(_) => unreachable!("a consumer waits only for an outcome not yet there"),
    }
}

impl<T: 'static> Drop for SharedState<T> {
    fn drop(&mut self) {
        if let Outcome::Done(Err(failure)) = &self.outcome
            && !self.handed_out
            && !(self.cancel_requested && failure.is_cancelled())
        {
            tracing::error!(%failure, "Unhandled error in Deferred: {failure}");
        }
    }
}

impl<T: 'static> fmt::Debug for SharedDeferred<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fired = matches!(self.state.borrow().outcome, Outcome::Done(_));
        f.debug_struct("SharedDeferred")
            .field("fired", &fired)
            .finish()
    }
}

impl<T: Clone + 'static> Deferred<T> {
    /// Makes this Deferred's outcome available to several consumers (see
    /// [`SharedDeferred`]).
    pub fn share(self) -> SharedDeferred<T> {
        SharedDeferred::new(self)
    }
}
