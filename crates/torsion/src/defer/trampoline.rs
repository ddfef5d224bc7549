//! Runs Deferred continuations without growing the stack without bound.
//!
//! Firing a Deferred runs its continuation, which may fire the next Deferred,
//! and so on: a chain 100,000 links long would recurse 100,000 frames deep.
//! Continuations therefore go through [`dispatch`]: up to [`MAX_DEPTH`] nested
//! dispatches run inline (so in ordinary code a callback added to a fired
//! Deferred runs at once, as in Twisted); deeper ones are queued on this
//! thread and run by the outermost dispatch once the stack has unwound.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

/// How many continuations may run nested inside each other before further
/// ones are queued instead.
const MAX_DEPTH: usize = 64;

struct Trampoline {
    depth: Cell<usize>,
    queue: RefCell<VecDeque<Box<dyn FnOnce()>>>,
}

thread_local! {
    static TRAMPOLINE: Trampoline = const {
        Trampoline {
            depth: Cell::new(0),
            queue: RefCell::new(VecDeque::new()),
        }
    };
}

/// Restores the depth even if a job unwinds.
struct DepthGuard<'a> {
    depth: &'a Cell<usize>,
    previous: usize,
}

impl Drop for DepthGuard<'_> {
    fn drop(&mut self) {
        self.depth.set(self.previous);
    }
}

/// Runs `job` now if the stack is shallow enough, otherwise queues it for the
/// outermost dispatch on this thread.
pub(crate) fn dispatch<F: FnOnce() + 'static>(job: F) {
    TRAMPOLINE.with(|trampoline| {
        let depth = trampoline.depth.get();
        if depth >= MAX_DEPTH {
            trampoline.queue.borrow_mut().push_back(Box::new(job));
            return;
        }
        {
            let _guard = DepthGuard {
                depth: &trampoline.depth,
                previous: depth,
            };
            trampoline.depth.set(depth + 1);
            job();
        }
        if depth == 0 {
            drain(trampoline);
        }
    });
}

fn drain(trampoline: &Trampoline) {
    loop {
        let next = trampoline.queue.borrow_mut().pop_front();
        let Some(job) = next else { break };
        let _guard = DepthGuard {
            depth: &trampoline.depth,
            previous: 0,
        };
        trampoline.depth.set(1);
        job();
    }
}
