//! The synchronisation primitives torsion's cross-thread core uses, in one
//! place, so that core can be model-checked by swapping this module for
//! loom's equivalents without touching the code that uses them.

pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
pub(crate) use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Locks `mutex`, ignoring poisoning: torsion never panics while holding
/// one of its own locks (user code runs outside them), so a poisoned lock
/// only means a panic unwound through a caller's frame and the data is
/// still consistent.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
