//! `gather`, `DeferredList` and `race` against every order in which three
//! members can succeed, fail or be cancelled: each gives the outcome its
//! model says, fires once, and logs no error.

use super::*;
use crate::Failure;
use crate::error::{Cancelled, ConnectionLost, FailureGroup, FirstError};
use crate::testing::log_capture::LogCapture;
use crate::testing::outcome::{Slot, record};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fate {
    Succeed,
    Fail,
    Cancel,
}

const FATES: [Fate; 3] = [Fate::Succeed, Fate::Fail, Fate::Cancel];
const ORDERS: [[usize; 3]; 6] = [
    [0, 1, 2],
    [0, 2, 1],
    [1, 0, 2],
    [1, 2, 0],
    [2, 0, 1],
    [2, 1, 0],
];

/// One case: each member's fate, and the order in which they meet it.
#[derive(Debug, Clone, Copy)]
struct Case {
    fates: [Fate; 3],
    order: [usize; 3],
}

fn every_case() -> Vec<Case> {
    let mut cases = Vec::new();
    for a in FATES {
        for b in FATES {
            for c in FATES {
                for order in ORDERS {
                    cases.push(Case {
                        fates: [a, b, c],
                        order,
                    });
                }
            }
        }
    }
    cases
}

/// The value member `index` succeeds with.
fn value_of(index: usize) -> u32 {
    10 + index as u32
}

/// Builds three members, hands them to `combine`, then plays the case:
/// members meet their fate in order. Returns what the combined Deferred
/// fired with (it must fire, and only once) and the log.
fn play<R: 'static>(
    case: Case,
    combine: impl FnOnce(Vec<Deferred<u32>>) -> Deferred<R>,
) -> (Slot<R>, String) {
    let capture = LogCapture::new();
    let slot = capture.run(|| {
        let mut resolvers = Vec::new();
        let mut handles = Vec::new();
        let mut members = Vec::new();
        for _ in 0..3 {
            let (member, resolver) = Deferred::<u32>::new();
            handles.push(member.cancel_handle());
            members.push(member);
            resolvers.push(Some(resolver));
        }
        let slot = record(combine(members));
        for index in case.order {
            let resolver = resolvers[index].take().expect("each member plays once");
            match case.fates[index] {
                Fate::Succeed => resolver.resolve(value_of(index)),
                Fate::Fail => resolver.reject(ConnectionLost::new()),
                Fate::Cancel => {
                    handles[index].cancel();
                    drop(resolver);
                }
            }
        }
        slot
    });
    assert!(
        slot.borrow().is_some(),
        "{case:?}: the combined Deferred fired"
    );
    (slot, capture.text())
}

fn assert_quiet(case: Case, log: &str) {
    assert!(
        !log.contains("ERROR"),
        "{case:?}: nothing is logged as an error, got:\n{log}"
    );
}

/// The first member, in the order they were played, that did not succeed.
fn first_not_succeeding(case: Case) -> Option<usize> {
    case.order
        .into_iter()
        .find(|&index| case.fates[index] != Fate::Succeed)
}

fn first_succeeding(case: Case) -> Option<usize> {
    case.order
        .into_iter()
        .find(|&index| case.fates[index] == Fate::Succeed)
}

fn is_fate(failure: &Failure, fate: Fate) -> bool {
    match fate {
        Fate::Fail => failure.is::<ConnectionLost>(),
        Fate::Cancel => failure.is::<Cancelled>(),
        Fate::Succeed => false,
    }
}

#[test]
fn gather_gives_every_value_or_the_first_failure_whatever_the_order() {
    for case in every_case() {
        let (slot, log) = play(case, gather);
        assert_quiet(case, &log);
        match (
            first_not_succeeding(case),
            slot.borrow_mut().take().unwrap(),
        ) {
            (None, Ok(values)) => assert_eq!(values, vec![10, 11, 12], "{case:?}"),
            (Some(index), Err(failure)) => {
                let first = failure.downcast_ref::<FirstError>().expect("FirstError");
                assert_eq!(first.index, index, "{case:?}");
                assert!(is_fate(&first.failure, case.fates[index]), "{case:?}");
            }
            (expected, got) => panic!("{case:?}: expected {expected:?}, got {got:?}"),
        }
    }
}

#[test]
fn deferred_list_gives_each_members_outcome_whatever_the_order() {
    for case in every_case() {
        let (slot, log) = play(case, DeferredList::all);
        assert_quiet(case, &log);
        let results = slot
            .borrow_mut()
            .take()
            .unwrap()
            .expect("a list never fails");
        for (index, result) in results.iter().enumerate() {
            match (case.fates[index], result) {
                (Fate::Succeed, Ok(value)) => assert_eq!(*value, value_of(index)),
                (fate, Err(failure)) => assert!(is_fate(failure, fate), "{case:?}"),
                (fate, Ok(_)) => panic!("{case:?}: member {index} was to {fate:?}"),
            }
        }
    }
}

#[test]
fn fire_on_one_callback_gives_the_first_success_or_every_failure_whatever_the_order() {
    for case in every_case() {
        let (slot, log) = play(case, DeferredList::fire_on_one_callback);
        assert_quiet(case, &log);
        check_first_success(case, slot.borrow_mut().take().unwrap().map(|(v, i)| (i, v)));
    }
}

#[test]
fn race_gives_the_first_success_or_every_failure_whatever_the_order() {
    for case in every_case() {
        let (slot, log) = play(case, race);
        assert_quiet(case, &log);
        check_first_success(case, slot.borrow_mut().take().unwrap());
    }
}

/// A race (or fire-on-one-callback list) won by the first success; with
/// none, a group of every failure in input order.
fn check_first_success(case: Case, outcome: Result<(usize, u32), Failure>) {
    match (first_succeeding(case), outcome) {
        (Some(index), Ok((winner, value))) => {
            assert_eq!((winner, value), (index, value_of(index)), "{case:?}");
        }
        (None, Err(failure)) => {
            let group = failure
                .downcast_ref::<FailureGroup>()
                .expect("FailureGroup");
            assert_eq!(group.failures.len(), 3, "{case:?}");
            for (index, failure) in group.failures.iter().enumerate() {
                assert!(is_fate(failure, case.fates[index]), "{case:?}");
            }
        }
        (expected, got) => panic!("{case:?}: expected a win by {expected:?}, got {got:?}"),
    }
}
