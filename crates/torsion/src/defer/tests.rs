//! Deferreds on their own: chaining, cancelling, what is reported
//! unhandled, futures, and chains deep enough to overflow a naive stack;
//! the helpers they share are here.

mod cancelling_tests;
mod chaining_tests;
mod deep_chains_tests;
mod unhandled_and_futures_tests;

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::*;
use crate::Failure;
use crate::error::{Cancelled, ConnectionLost, Panicked, ResolverDropped, TimedOut};
use crate::testing::Clock;
use crate::testing::log_capture::LogCapture;
use crate::testing::outcome::{Slot, record};

fn value<T: Clone>(slot: &Slot<T>) -> T {
    match &*slot.borrow() {
        Some(Ok(value)) => value.clone(),
        Some(Err(failure)) => panic!("expected a value, got {failure}"),
        None => panic!("expected a value, the Deferred has not fired"),
    }
}

fn failed_with<T, E: std::error::Error + 'static>(slot: &Slot<T>) -> bool {
    matches!(&*slot.borrow(), Some(Err(failure)) if failure.is::<E>())
}

fn pending<T>(slot: &Slot<T>) -> bool {
    slot.borrow().is_none()
}
