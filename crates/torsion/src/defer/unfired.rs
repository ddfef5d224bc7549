//! The count of Deferreds that have not fired, per thread.
//!
//! A Deferred is `!Send`, so it is made, fired and dropped on one thread,
//! and a thread-local counter sees all of its life without a lock or an
//! atomic: one add when an unfired Deferred is made, one subtract when it
//! fires or is dropped unfired. A reactor is one per thread, so this is the
//! reactor's count too (see [`Reactor::snapshot`](crate::Reactor::snapshot)).

use std::cell::Cell;

thread_local! {
    // `const` and without a destructor: each access is a plain load and
    // store at a fixed offset, no lazy initialisation check.
    static UNFIRED: Cell<usize> = const { Cell::new(0) };
}

#[inline(always)]
pub(super) fn made() {
    UNFIRED.with(|count| count.set(count.get().wrapping_add(1)));
}

#[inline(always)]
pub(super) fn gone() {
    UNFIRED.with(|count| count.set(count.get().wrapping_sub(1)));
}

/// How many Deferreds made on this thread have not fired yet.
///
/// It counts every Deferred from [`Deferred::new`](crate::Deferred::new) and
/// its siblings (a thread pool's result, a task's, a link in a chain such as
/// [`map`](crate::Deferred::map) or [`then`](crate::Deferred::then), each
/// of which is a Deferred of its own) from when it is made until it fires,
/// is cancelled, or is dropped unfired. A Deferred made already fired
/// ([`Deferred::succeed`](crate::Deferred::succeed),
/// [`Deferred::fail`](crate::Deferred::fail)) never counts. A fired
/// Deferred whose result nobody has taken yet does not count either.
///
/// ```
/// use torsion::Deferred;
/// use torsion::defer::pending_deferreds;
///
/// let before = pending_deferreds();
/// let (deferred, resolver) = Deferred::<u32>::new();
/// assert_eq!(pending_deferreds(), before + 1);
/// resolver.resolve(7);
/// assert_eq!(pending_deferreds(), before);
/// # drop(deferred);
/// ```
pub fn pending_deferreds() -> usize {
    UNFIRED.with(Cell::get)
}
