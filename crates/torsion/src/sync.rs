//! The synchronisation primitives torsion's cross-thread core uses, in one
//! place, so that core can be model-checked by swapping this module for
//! loom's equivalents without touching the code that uses them.

pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
pub(crate) use std::sync::{Arc, Condvar, Mutex, MutexGuard};
