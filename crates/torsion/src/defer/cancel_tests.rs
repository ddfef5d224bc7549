//! Cancelling by handle and by dropping an awaited Deferred, and what is
//! (not) reported afterwards.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Waker};

use super::*;
use crate::Failure;
use crate::error::{Cancelled, ConnectionLost};
use crate::testing::log_capture::LogCapture;
use crate::testing::outcome::record;

fn with_flag<T: 'static>() -> (Deferred<T>, Resolver<T>, Rc<Cell<bool>>) {
    let flag = Rc::new(Cell::new(false));
    let set = flag.clone();
    let (deferred, resolver) = Deferred::with_canceller(move || set.set(true));
    (deferred, resolver, flag)
}

/// Polls `deferred` once, as a future awaiting it would.
fn poll_once<T: 'static>(deferred: &mut Deferred<T>) {
    let mut cx = Context::from_waker(Waker::noop());
    assert!(Pin::new(deferred).poll(&mut cx).is_pending());
}

#[test]
fn dropping_an_awaited_unfired_deferred_cancels_its_operation() {
    let (mut deferred, resolver, cancelled) = with_flag::<u32>();
    poll_once(&mut deferred);
    drop(deferred);
    assert!(cancelled.get());
    assert!(resolver.is_cancelled());
}

#[test]
fn dropping_a_deferred_nobody_awaited_leaves_its_operation_running() {
    let (deferred, resolver, cancelled) = with_flag::<u32>();
    drop(deferred);
    assert!(!cancelled.get());
    assert!(!resolver.is_cancelled());
}

#[test]
fn chaining_a_deferred_that_was_polled_does_not_cancel_it() {
    let (mut deferred, resolver, cancelled) = with_flag::<u32>();
    poll_once(&mut deferred);
    let slot = record(deferred.map(|n| n + 1));
    assert!(!cancelled.get());
    resolver.resolve(1);
    assert!(matches!(*slot.borrow(), Some(Ok(2))));
}

#[test]
fn dropping_an_awaited_link_cancels_the_operation_upstream() {
    let (deferred, _resolver, cancelled) = with_flag::<u32>();
    let mut doubled = deferred.map(|n| n * 2);
    poll_once(&mut doubled);
    drop(doubled);
    assert!(cancelled.get());
}

#[test]
fn a_deferred_cancelled_then_dropped_is_not_reported() {
    let capture = LogCapture::new();
    capture.run(|| {
        let (deferred, _resolver) = Deferred::<u32>::new();
        deferred.cancel();
        drop(deferred);
        let (upstream, _resolver) = Deferred::<u32>::new();
        let chained = upstream.map(|n| n + 1);
        chained.cancel();
        drop(chained);
    });
    assert_eq!(capture.count("ERROR"), 0, "{}", capture.text());
}

#[test]
fn a_dropped_awaited_deferred_is_not_reported() {
    let capture = LogCapture::new();
    capture.run(|| {
        let (mut deferred, _resolver) = Deferred::<u32>::new();
        poll_once(&mut deferred);
        drop(deferred);
    });
    assert_eq!(capture.count("ERROR"), 0, "{}", capture.text());
}

#[test]
fn a_failure_nobody_looked_at_is_still_reported() {
    let capture = LogCapture::new();
    capture.run(|| {
        let (cancelled, _resolver) = Deferred::<u32>::new();
        cancelled.cancel();
        drop(cancelled);
        drop(Deferred::<u32>::fail(ConnectionLost::new()));
    });
    assert_eq!(
        capture.count("Unhandled error in Deferred"),
        1,
        "{}",
        capture.text()
    );
}

#[test]
fn a_cancel_handle_cancels_while_the_caller_chains_on() {
    let (request, _resolver, cancelled) = with_flag::<u32>();
    let cancel = request.cancel_handle();
    let slot = record(request.map(|n| n + 1));
    cancel.cancel();
    assert!(cancelled.get());
    assert!(
        slot.borrow()
            .as_ref()
            .unwrap()
            .as_ref()
            .unwrap_err()
            .is::<Cancelled>()
    );
}

#[test]
fn a_cancel_handle_does_nothing_once_the_deferred_fired() {
    let (request, resolver, cancelled) = with_flag::<u32>();
    let cancel = request.cancel_handle();
    let slot = record(request);
    resolver.resolve(7);
    cancel.cancel();
    assert!(!cancelled.get());
    assert!(matches!(*slot.borrow(), Some(Ok(7))));
}

#[test]
fn inspect_err_sees_the_failure_and_passes_it_on() {
    let seen = Rc::new(Cell::new(false));
    let flag = seen.clone();
    let slot = record(
        Deferred::<u32>::fail(ConnectionLost::new())
            .inspect_err(move |failure: &Failure| flag.set(failure.is::<ConnectionLost>())),
    );
    assert!(seen.get());
    assert!(
        slot.borrow()
            .as_ref()
            .unwrap()
            .as_ref()
            .unwrap_err()
            .is::<ConnectionLost>()
    );
}
