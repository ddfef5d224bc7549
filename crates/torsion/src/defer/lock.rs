//! [`DeferredSemaphore`] and [`DeferredLock`]: limiting how many operations
//! run at once, without blocking the reactor.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use super::waiters::{self, Waiters};
use super::{Deferred, IntoDeferred, maybe_deferred};

struct SemaphoreState {
    available: usize,
    limit: usize,
    waiters: Waiters<Permit>,
}

/// A counting semaphore whose `acquire` returns a Deferred (Twisted's
/// `DeferredSemaphore`). Waiters are served in FIFO order; cancelling a
/// waiting `acquire` removes it from the queue. Cheap to clone.
///
/// ```
/// use torsion::defer::{DeferredSemaphore, succeed};
///
/// let semaphore = DeferredSemaphore::new(2);
/// // At most two of these run at once; each releases its token when done.
/// let done = semaphore.run(|| succeed("fetched"));
/// # drop(done);
/// ```
#[derive(Clone)]
pub struct DeferredSemaphore {
    state: Rc<RefCell<SemaphoreState>>,
}

/// One token of a [`DeferredSemaphore`] (or the [`DeferredLock`]), given
/// back when dropped.
pub struct Permit {
    state: Rc<RefCell<SemaphoreState>>,
}

impl DeferredSemaphore {
    /// A semaphore with `tokens` tokens.
    ///
    /// # Panics
    ///
    /// If `tokens` is zero: such a semaphore could never be acquired.
    pub fn new(tokens: usize) -> DeferredSemaphore {
        assert!(tokens > 0, "a DeferredSemaphore needs at least one token");
        DeferredSemaphore {
            state: Rc::new(RefCell::new(SemaphoreState {
                available: tokens,
                limit: tokens,
                waiters: Waiters::new(),
            })),
        }
    }

    /// How many tokens the semaphore has in all.
    pub fn limit(&self) -> usize {
        self.state.borrow().limit
    }

    /// How many tokens are free now.
    pub fn available(&self) -> usize {
        self.state.borrow().available
    }

    /// A Deferred firing with a [`Permit`] once a token is free (at once if
    /// one is).
    pub fn acquire(&self) -> Deferred<Permit> {
        let mut state = self.state.borrow_mut();
        if state.available > 0 {
            state.available -= 1;
            return Deferred::succeed(Permit {
                state: self.state.clone(),
            });
        }
        drop(state);
        waiters::wait(&self.state, |state| &mut state.waiters)
    }

    /// Acquires a token, runs `f`, and releases the token when `f`'s outcome
    /// (a Result or a Deferred) is known, success or failure.
    pub fn run<R: IntoDeferred>(&self, f: impl FnOnce() -> R + 'static) -> Deferred<R::Output> {
        self.acquire().then(move |permit| {
            maybe_deferred(f).both(move |result| {
                drop(permit);
                result
            })
        })
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let next = {
            let mut state = self.state.borrow_mut();
            match state.waiters.pop() {
                Some(resolver) => Some(resolver),
                None => {
                    state.available += 1;
                    None
                }
            }
        };
        if let Some(resolver) = next {
            resolver.resolve(Permit {
                state: self.state.clone(),
            });
        }
    }
}

/// A lock whose `acquire` returns a Deferred (Twisted's `DeferredLock`): a
/// [`DeferredSemaphore`] with one token. Dropping the [`Permit`] releases it.
///
/// ```
/// use torsion::defer::{DeferredLock, succeed};
///
/// let lock = DeferredLock::new();
/// let first = lock.run(|| succeed(1));
/// # drop(first);
/// assert!(!lock.is_locked());
/// ```
#[derive(Clone)]
pub struct DeferredLock {
    semaphore: DeferredSemaphore,
}

impl DeferredLock {
    /// An unlocked lock.
    pub fn new() -> DeferredLock {
        DeferredLock {
            semaphore: DeferredSemaphore::new(1),
        }
    }

    /// True while someone holds the lock.
    pub fn is_locked(&self) -> bool {
        self.semaphore.available() == 0
    }

    /// A Deferred firing with the lock's [`Permit`] once it is free.
    pub fn acquire(&self) -> Deferred<Permit> {
        self.semaphore.acquire()
    }

    /// Takes the lock, runs `f`, and releases the lock when `f`'s outcome is
    /// known.
    pub fn run<R: IntoDeferred>(&self, f: impl FnOnce() -> R + 'static) -> Deferred<R::Output> {
        self.semaphore.run(f)
    }
}

impl Default for DeferredLock {
    fn default() -> DeferredLock {
        DeferredLock::new()
    }
}

impl fmt::Debug for DeferredSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.borrow();
        f.debug_struct("DeferredSemaphore")
            .field("available", &state.available)
            .field("limit", &state.limit)
            .field("waiting", &state.waiters.len())
            .finish()
    }
}

impl fmt::Debug for DeferredLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeferredLock")
            .field("locked", &self.is_locked())
            .finish()
    }
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Permit")
    }
}
