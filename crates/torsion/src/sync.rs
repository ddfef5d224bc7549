//! The synchronisation primitives torsion's cross-thread core uses, in one
//! place, so that core can be model-checked: built with `--cfg loom`, this
//! module hands out loom's mutex, condition variable and atomics instead of
//! std's, and the loom models (the cross-thread call queue and its waker,
//! the thread pool's result hand-over, `EventualResult`'s wait / cancel /
//! timeout) explore every interleaving of the real code. Run them with
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 \
//!     cargo test -p torsion --release --no-default-features --lib loom_model
//! ```
//!
//! `Arc` stays std's in both builds: loom's cannot become an
//! `Arc<dyn Trait>` (the queue and the result tables hold trait objects),
//! and the races worth checking are in what the `Arc` points to, not in its
//! count. Statics that must be built in a `const` (id counters, the stash)
//! use std's types directly and stay outside the models.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::{Condvar, Mutex, MutexGuard};
pub(crate) use std::sync::Arc;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::{Condvar, Mutex, MutexGuard};

/// Locks `mutex`, ignoring poisoning: torsion never panics while holding
/// one of its own locks (user code runs outside them), so a poisoned lock
/// only means a panic unwound through a caller's frame and the data is
/// still consistent.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What the reactor's eventfd is to loom: a wake-up that stays pending
/// until the reactor's next "poll" consumes it. The eventfd itself is a
/// system call loom cannot see, so the cross-thread queue signals this as
/// well when built for the models; a model whose reactor sleeps while a
/// call waits with no wake-up pending deadlocks, which loom reports.
#[cfg(loom)]
#[derive(Debug)]
pub(crate) struct WakeSignal {
    pending: Mutex<bool>,
    changed: Condvar,
}

#[cfg(loom)]
impl Default for WakeSignal {
    fn default() -> WakeSignal {
        WakeSignal {
            pending: Mutex::new(false),
            changed: Condvar::new(),
        }
    }
}

#[cfg(loom)]
impl WakeSignal {
    /// Leaves a wake-up pending (the eventfd write).
    pub(crate) fn wake(&self) {
        *lock(&self.pending) = true;
        self.changed.notify_all();
    }

    /// Sleeps until a wake-up is pending, and consumes it (the reactor's
    /// poll).
    pub(crate) fn wait(&self) {
        let mut pending = lock(&self.pending);
        while !*pending {
            pending = self
                .changed
                .wait(pending)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        *pending = false;
    }
}

/// Runs a loom model, bounded to three preemptions unless
/// `LOOM_MAX_PREEMPTIONS` says otherwise: enough for the races of a queue,
/// a slot and a flag, and it keeps each model to seconds.
#[cfg(all(test, loom))]
pub(crate) fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    builder.check(f);
}
