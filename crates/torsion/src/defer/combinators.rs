//! Combining Deferreds: [`gather`], [`DeferredList`], [`race`].
//!
//! Each takes its members by value (chaining in torsion consumes a
//! Deferred), so every member's outcome ends up in the combined result and
//! none is reported as unhandled; Twisted's `consumeErrors` is therefore
//! always in effect.

use std::cell::RefCell;
use std::rc::Rc;

use super::{CancelHandle, Deferred, Resolver};
use crate::Failure;
use crate::error::{FailureGroup, FirstError};

struct Gathering<T, R: 'static> {
    slots: Vec<Option<Result<T, Failure>>>,
    remaining: usize,
    resolver: Option<Resolver<R>>,
}

/// Follows every member and calls `on_member` with each outcome as it
/// arrives, until `on_member` gives the combined outcome; outcomes that
/// arrive after that (a race's losers, the members after a gather's first
/// failure) are consumed and dropped, as Twisted's `consumeErrors` does.
fn follow<T: 'static, R: 'static>(
    members: Vec<Deferred<T>>,
    on_member: impl Fn(&mut Gathering<T, R>, usize, Result<T, Failure>) -> Option<Result<R, Failure>>
    + 'static,
) -> Deferred<R> {
    let handles: Vec<CancelHandle> = members.iter().map(Deferred::cancel_handle).collect();
    let (combined, resolver) = Deferred::with_canceller(move || {
        for handle in &handles {
            handle.cancel();
        }
    });
    let state = Rc::new(RefCell::new(Gathering {
        slots: members.iter().map(|_| None).collect(),
        remaining: members.len(),
        resolver: Some(resolver),
    }));
    let on_member = Rc::new(on_member);
    for (index, member) in members.into_iter().enumerate() {
        let state = state.clone();
        let on_member = on_member.clone();
        drop(member.both(move |result| {
            let fire = {
                let mut gathering = state.borrow_mut();
                gathering.remaining -= 1;
                if gathering.resolver.is_some() {
                    on_member(&mut gathering, index, result)
                        .and_then(|outcome| Some((gathering.resolver.take()?, outcome)))
                } else {
                    None
                }
            };
            if let Some((resolver, outcome)) = fire {
                resolver.complete(outcome);
            }
            Ok::<(), Failure>(())
        }));
    }
    combined
}

/// The outcomes gathered, in input order; called once every member has
/// reported, so every slot is full.
fn take_all<T>(
    slots: &mut [Option<Result<T, Failure>>],
) -> impl Iterator<Item = Result<T, Failure>> {
    slots.iter_mut().filter_map(Option::take)
}

/// All the members' values in input order, or the first failure as a
/// [`FirstError`] naming the member, as soon as it happens (Twisted's
/// `gatherResults`). Cancelling the result cancels every member.
///
/// ```
/// use torsion::defer::{gather, succeed};
///
/// let all = gather(vec![succeed(1), succeed(2), succeed(3)]);
/// # drop(all);
/// ```
pub fn gather<T: 'static>(members: Vec<Deferred<T>>) -> Deferred<Vec<T>> {
    if members.is_empty() {
        return Deferred::succeed(Vec::new());
    }
    follow(members, |gathering, index, result| match result {
        Err(failure) => Some(Err(Failure::new(FirstError { failure, index }))),
        Ok(value) => {
            gathering.slots[index] = Some(Ok(value));
            (gathering.remaining == 0).then(|| {
                Ok(take_all(&mut gathering.slots)
                    .filter_map(Result::ok)
                    .collect())
            })
        }
    })
}

/// Twisted's `DeferredList`, one constructor per firing mode.
#[derive(Debug)]
pub struct DeferredList;

impl DeferredList {
    /// Waits for every member and fires with each one's result, in input
    /// order whatever the order of completion.
    pub fn all<T: 'static>(members: Vec<Deferred<T>>) -> Deferred<Vec<Result<T, Failure>>> {
        if members.is_empty() {
            return Deferred::succeed(Vec::new());
        }
        follow(members, |gathering, index, result| {
            gathering.slots[index] = Some(result);
            (gathering.remaining == 0).then(|| Ok(take_all(&mut gathering.slots).collect()))
        })
    }

    /// Fires with the first success and its index (`fireOnOneCallback`); if
    /// every member fails, fails with a [`FailureGroup`] in input order.
    pub fn fire_on_one_callback<T: 'static>(members: Vec<Deferred<T>>) -> Deferred<(T, usize)> {
        if members.is_empty() {
            return Deferred::fail(FailureGroup {
                failures: Vec::new(),
            });
        }
        follow(members, |gathering, index, result| match result {
            Ok(value) => Some(Ok((value, index))),
            Err(failure) => {
                gathering.slots[index] = Some(Err(failure));
                (gathering.remaining == 0).then(|| {
                    let failures = take_all(&mut gathering.slots)
                        .filter_map(Result::err)
                        .collect();
                    Err(Failure::new(FailureGroup { failures }))
                })
            }
        })
    }

    /// Fails with the first failure as a [`FirstError`] (`fireOnOneErrback`),
    /// otherwise fires with every value: the same as [`gather`].
    pub fn fire_on_one_errback<T: 'static>(members: Vec<Deferred<T>>) -> Deferred<Vec<T>> {
        gather(members)
    }
}

/// The first member to succeed, with its index; the others are cancelled.
/// If every member fails, fails with a [`FailureGroup`] in input order.
/// Cancelling the race cancels every member.
///
/// ```
/// use torsion::Deferred;
/// use torsion::defer::race;
///
/// let (slow, _slow_resolver) = Deferred::<&str>::new();
/// let (fast, fast_resolver) = Deferred::<&str>::new();
/// let winner = race(vec![slow, fast]);
/// fast_resolver.resolve("fast");
/// # drop(winner);
/// ```
pub fn race<T: 'static>(members: Vec<Deferred<T>>) -> Deferred<(usize, T)> {
    let handles: Vec<CancelHandle> = members.iter().map(Deferred::cancel_handle).collect();
    let won = DeferredList::fire_on_one_callback(members);
    won.map(move |(value, index)| {
        for (other, handle) in handles.iter().enumerate() {
            if other != index {
                handle.cancel();
            }
        }
        (index, value)
    })
}
