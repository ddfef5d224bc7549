//! `SharedDeferred`: one outcome, many consumers.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Waker};

use super::*;
use crate::error::{Cancelled, ConnectionLost};
use crate::testing::log_capture::LogCapture;
use crate::testing::outcome::record;

#[test]
fn every_consumer_gets_the_value() {
    let (source, resolver) = Deferred::<String>::new();
    let shared = source.share();
    let first = record(shared.get());
    let second = record(shared.get().map(|text| text.len()));
    resolver.resolve("four".to_owned());
    assert_eq!(first.borrow().as_ref().unwrap().as_ref().unwrap(), "four");
    assert!(matches!(*second.borrow(), Some(Ok(4))));
}

#[test]
fn every_consumer_gets_the_failure() {
    let (source, resolver) = Deferred::<u32>::new();
    let shared = SharedDeferred::new(source);
    let consumers: Vec<_> = (0..3).map(|_| record(shared.get())).collect();
    resolver.reject(ConnectionLost::new());
    for consumer in consumers {
        assert!(
            consumer
                .borrow()
                .as_ref()
                .unwrap()
                .as_ref()
                .unwrap_err()
                .is::<ConnectionLost>()
        );
    }
}

#[test]
fn a_late_consumer_gets_the_outcome_at_once() {
    let shared = Deferred::succeed(5u32).share();
    assert!(shared.is_fired());
    let late = record(shared.get());
    assert!(matches!(*late.borrow(), Some(Ok(5))));
}

#[test]
fn cancelling_one_consumer_leaves_the_operation_to_the_others() {
    let cancelled = Rc::new(Cell::new(false));
    let flag = cancelled.clone();
    let (source, resolver) = Deferred::<u32>::with_canceller(move || flag.set(true));
    let shared = source.share();
    let leaving = shared.get();
    let staying = record(shared.get());
    leaving.cancel();
    assert!(!cancelled.get());
    resolver.resolve(1);
    assert!(matches!(*staying.borrow(), Some(Ok(1))));
}

#[test]
fn dropping_an_awaited_consumer_leaves_the_operation_running() {
    let cancelled = Rc::new(Cell::new(false));
    let flag = cancelled.clone();
    let (source, _resolver) = Deferred::<u32>::with_canceller(move || flag.set(true));
    let shared = source.share();
    let mut consumer = shared.get();
    let mut cx = Context::from_waker(Waker::noop());
    assert!(Pin::new(&mut consumer).poll(&mut cx).is_pending());
    drop(consumer);
    assert!(!cancelled.get());
    assert!(!shared.is_fired());
}

#[test]
fn cancelling_the_shared_deferred_cancels_the_operation_for_everyone() {
    let cancelled = Rc::new(Cell::new(false));
    let flag = cancelled.clone();
    let (source, _resolver) = Deferred::<u32>::with_canceller(move || flag.set(true));
    let shared = source.share();
    let consumer = record(shared.get());
    let capture = LogCapture::new();
    capture.run(|| shared.cancel_handle().cancel());
    assert!(cancelled.get());
    assert!(
        consumer
            .borrow()
            .as_ref()
            .unwrap()
            .as_ref()
            .unwrap_err()
            .is::<Cancelled>()
    );
    assert_eq!(capture.count("ERROR"), 0, "{}", capture.text());
}

#[test]
fn a_failure_no_consumer_ever_asked_for_is_reported() {
    let capture = LogCapture::new();
    capture.run(|| drop(Deferred::<u32>::fail(ConnectionLost::new()).share()));
    assert_eq!(
        capture.count("Unhandled error in Deferred"),
        1,
        "{}",
        capture.text()
    );
}
