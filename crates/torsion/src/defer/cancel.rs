//! How cancelling a Deferred reaches the operation behind it.
//!
//! A Deferred that has not fired holds a [`Canceller`]: nothing, a function
//! its producer gave, an entry of a table of pending operations, a reusable
//! canceller that may leave the Deferred pending (a task, which goes on to
//! its own result), or a link to the Deferred it waits on. [`cancel_chain`]
//! walks those links upstream to the operation, runs its canceller, and then
//! fails every link it passed with `Cancelled`, unless something fired them
//! meanwhile or the operation said it is still running.
//!
//! ```text
//!   d3.cancel() --> d2 (Upstream) --> d1 (Upstream) --> op canceller runs
//!   then, far end first: d1, d2, d3 fail with Cancelled if still unfired
//! ```

use std::rc::{Rc, Weak};

use crate::failure::catch_panic;

/// What `cancel()` does while the Deferred has not fired.
pub(crate) enum Canceller {
    None,
    /// A function given by the producer.
    Func(Box<dyn FnOnce()>),
    /// Entry `key` of a table that knows how to cancel its entries: for
    /// producers that make many Deferreds and keep their own record of
    /// each, so that a Deferred costs no boxed closure.
    Entry(Weak<dyn CancelEntry>, EntryKey),
    /// A canceller that may be called more than once and may leave the
    /// Deferred pending: a task's, which delivers the cancellation at its
    /// await point and then goes on to a result of its own.
    Reusable(Rc<dyn Fn() -> CancelProgress>),
    /// Cancel the Deferred this one waits on (the one it was chained from,
    /// or the one its callback returned). Weak, so waiting never makes a
    /// reference cycle.
    Upstream(Weak<dyn Cancel>),
}

/// What a [`Canceller::Reusable`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CancelProgress {
    /// The operation stopped: the Deferred fails with `Cancelled` unless
    /// the canceller fired it.
    Stopped,
    /// The operation took the cancellation and goes on to a result of its
    /// own (a task that catches `Cancelled` at its await point): the
    /// Deferred stays pending, its canceller still armed.
    StillRunning,
}

/// Identifies an entry of a [`CancelEntry`] table.
pub(crate) type EntryKey = (usize, u64);

/// A table of pending operations, each with a Deferred made by
/// [`Deferred::with_entry_canceller`](super::Deferred::with_entry_canceller):
/// cancelling one of those Deferreds calls
/// [`cancel_entry`](CancelEntry::cancel_entry) with its key.
pub(crate) trait CancelEntry {
    /// Stops the operation behind `key`, if it is still pending.
    fn cancel_entry(&self, key: EntryKey);
}

/// Where a Deferred polled as a future stands, for the task awaiting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AwaitState {
    /// No result yet: cancelling it reaches the operation.
    Pending,
    /// The result is there and the awaiting task has been woken for it.
    ReadyUnpolled,
    /// The result was taken (or the Deferred moved on): nothing to do.
    Done,
}

/// Cancelling a Deferred without knowing its value type.
pub(crate) trait Cancel {
    /// The next step of the walk upstream from this Deferred, or `None` if
    /// it has fired. An `Upstream` link or a `Reusable` canceller is left
    /// in place (the walk may end with the Deferred still pending); any
    /// other canceller is taken, as it runs once.
    fn cancel_step(&self) -> Option<Canceller>;
    /// Fails the Deferred with `Cancelled` if nothing fired it meanwhile.
    fn fail_cancelled(self: Rc<Self>);
    /// Where the Deferred stands as the awaited future of a task.
    fn await_state(&self) -> AwaitState;
}

/// Cancels `start` and, through `Upstream` links, what it waits on.
///
/// The walk is a loop, not a recursion, so cancelling the end of a chain of
/// any length cannot exhaust the stack. The operation at the far end is
/// cancelled first; its failure then flows down the chain, and any link that
/// is still unfired afterwards fails with `Cancelled` itself.
pub(crate) fn cancel_chain(start: Rc<dyn Cancel>) {
    let mut visited: Vec<Rc<dyn Cancel>> = Vec::new();
    let mut current = start;
    let progress = loop {
        let Some(canceller) = current.cancel_step() else {
            break CancelProgress::Stopped;
        };
        visited.push(current.clone());
        match canceller {
            Canceller::None => break CancelProgress::Stopped,
            Canceller::Func(func) => {
                run_canceller(func);
                break CancelProgress::Stopped;
            }
            Canceller::Entry(table, key) => {
                if let Some(table) = table.upgrade() {
                    run_canceller(|| table.cancel_entry(key));
                }
                break CancelProgress::Stopped;
            }
            Canceller::Reusable(cancel) => match catch_panic(|| cancel()) {
                Ok(progress) => break progress,
                Err(failure) => {
                    tracing::error!(%failure, "a Deferred's canceller panicked");
                    break CancelProgress::Stopped;
                }
            },
            Canceller::Upstream(upstream) => match upstream.upgrade() {
                Some(next) => current = next,
                None => break CancelProgress::Stopped,
            },
        }
    };
    if progress == CancelProgress::Stopped {
        for link in visited.into_iter().rev() {
            link.fail_cancelled();
        }
    }
}

fn run_canceller(func: impl FnOnce()) {
    if let Err(failure) = catch_panic(func) {
        tracing::error!(%failure, "a Deferred's canceller panicked");
    }
}

/// Cancels a Deferred without owning it: for a protocol that keeps the
/// Deferred of an operation it started so that it can cancel it later (in
/// `connection_lost`, say) while its caller chains on that Deferred, and
/// for combinators that consume their members but must cancel them.
///
/// The handle holds the Deferred weakly: once the chain is gone, cancelling
/// does nothing. Cancelling a Deferred that has fired does nothing either.
///
/// ```
/// use torsion::Deferred;
///
/// let (request, _resolver) = Deferred::<String>::with_canceller(|| println!("aborted"));
/// let cancel = request.cancel_handle();
/// let answer = request.map(|text| text.len()); // the caller chains on
/// cancel.cancel(); // later, when the connection is lost
/// assert!(answer.is_fired());
/// ```
#[derive(Clone)]
pub struct CancelHandle(pub(crate) Weak<dyn Cancel>);

impl CancelHandle {
    /// Cancels the Deferred, as [`Deferred::cancel`](super::Deferred::cancel)
    /// would, if it still exists.
    pub fn cancel(&self) {
        if let Some(target) = self.0.upgrade() {
            cancel_chain(target);
        }
    }
}

impl std::fmt::Debug for CancelHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelHandle")
            .field("alive", &(self.0.strong_count() > 0))
            .finish()
    }
}
