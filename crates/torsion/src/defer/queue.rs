//! [`DeferredQueue`]: a queue whose `get` returns a Deferred.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;

use super::Deferred;
use super::waiters::{self, Waiters};
use crate::error::{QueueOverflow, QueueUnderflow};

struct QueueState<T: 'static> {
    items: VecDeque<T>,
    getters: Waiters<T>,
    size: Option<usize>,
    backlog: Option<usize>,
}

/// A queue for handing values from producers to consumers on the reactor
/// (Twisted's `DeferredQueue`). `put` gives a value to the oldest waiting
/// `get`, or buffers it; `get` returns a fired Deferred when a value is
/// buffered, or one that fires on the next `put`. Cheap to clone.
///
/// ```
/// use torsion::defer::DeferredQueue;
///
/// let queue = DeferredQueue::new(None, None);
/// let next = queue.get().unwrap();
/// queue.put("job").unwrap();
/// assert!(next.is_fired());
/// ```
pub struct DeferredQueue<T: 'static> {
    state: Rc<RefCell<QueueState<T>>>,
}

impl<T: 'static> Clone for DeferredQueue<T> {
    fn clone(&self) -> Self {
        DeferredQueue {
            state: self.state.clone(),
        }
    }
}

impl<T: 'static> DeferredQueue<T> {
    /// A queue buffering at most `size` values and holding at most
    /// `backlog` waiting gets (`None`: unbounded).
    pub fn new(size: Option<usize>, backlog: Option<usize>) -> DeferredQueue<T> {
        DeferredQueue {
            state: Rc::new(RefCell::new(QueueState {
                items: VecDeque::new(),
                getters: Waiters::new(),
                size,
                backlog,
            })),
        }
    }

    /// Hands `value` to the oldest waiting get, or buffers it; fails with
    /// [`QueueOverflow`] if the buffer is full (the value is then dropped).
    pub fn put(&self, value: T) -> Result<(), QueueOverflow> {
        let getter = {
            let mut state = self.state.borrow_mut();
            match state.getters.pop() {
                Some(resolver) => resolver,
                None => {
                    if state.size.is_some_and(|size| state.items.len() >= size) {
                        return Err(QueueOverflow);
                    }
                    state.items.push_back(value);
                    return Ok(());
                }
            }
        };
        getter.resolve(value);
        Ok(())
    }

    /// The next value: a fired Deferred if one is buffered, otherwise one
    /// that fires on a later `put`. Fails with [`QueueUnderflow`] if the
    /// backlog of waiting gets is full. Cancelling a waiting get removes it.
    pub fn get(&self) -> Result<Deferred<T>, QueueUnderflow> {
        let mut state = self.state.borrow_mut();
        if let Some(value) = state.items.pop_front() {
            return Ok(Deferred::succeed(value));
        }
        if state
            .backlog
            .is_some_and(|backlog| state.getters.len() >= backlog)
        {
            return Err(QueueUnderflow);
        }
        drop(state);
        Ok(waiters::wait(&self.state, |state| &mut state.getters))
    }

    /// How many values are buffered.
    pub fn len(&self) -> usize {
        self.state.borrow().items.len()
    }

    /// True if no value is buffered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many gets are waiting for a value.
    pub fn pending_gets(&self) -> usize {
        self.state.borrow().getters.len()
    }
}

impl<T: 'static> fmt::Debug for DeferredQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeferredQueue")
            .field("len", &self.len())
            .field("pending_gets", &self.pending_gets())
            .finish()
    }
}
