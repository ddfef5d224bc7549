//! Chains 100,000 links long: resolved, dropped and cancelled without
//! overflowing the stack.

use super::*;

const DEEP: usize = 100_000;

#[test]
fn chain_100000_links_long_resolves_without_overflow() {
    let (deferred, resolver) = Deferred::<usize>::new();
    let mut chain = deferred;
    for _ in 0..DEEP {
        chain = chain.map(|n| n + 1);
    }
    let slot = record(chain);
    resolver.resolve(0);
    assert_eq!(value(&slot), DEEP);
}

#[test]
fn chain_100000_nested_returned_deferreds_resolves_without_overflow() {
    let mut resolvers = Vec::with_capacity(DEEP);
    let (first, first_resolver) = Deferred::<usize>::new();
    let mut chain = first;
    for _ in 0..DEEP {
        let (inner, inner_resolver) = Deferred::<usize>::new();
        resolvers.push(inner_resolver);
        chain = chain.then(move |_| inner);
    }
    let slot = record(chain);
    first_resolver.resolve(0);
    assert!(pending(&slot));
    for (index, resolver) in resolvers.into_iter().enumerate() {
        resolver.resolve(index);
    }
    assert_eq!(value(&slot), DEEP - 1);
}

#[test]
fn chain_of_100000_deferreds_each_waiting_on_the_next_resolves_innermost_last() {
    fn nest(depth: usize, innermost: Deferred<usize>) -> Deferred<usize> {
        let mut current = innermost;
        for _ in 0..depth {
            let inner = current;
            current = succeed(()).then(move |_| inner);
        }
        current
    }
    let (innermost, resolver) = Deferred::<usize>::new();
    let slot = record(nest(DEEP, innermost).map(|n| n + 1));
    assert!(pending(&slot));
    resolver.resolve(41);
    assert_eq!(value(&slot), 42);
}

#[test]
fn dropping_an_unfired_100000_chain_does_not_overflow() {
    let (deferred, resolver) = Deferred::<usize>::new();
    let mut chain = deferred;
    for _ in 0..DEEP {
        chain = chain.map(|n| n + 1);
    }
    drop(chain);
    drop(resolver);
}

#[test]
fn cancelling_the_end_of_a_long_chain_reaches_the_start() {
    let ran = Rc::new(Cell::new(false));
    let flag = ran.clone();
    let (deferred, _resolver) = Deferred::<usize>::with_canceller(move || flag.set(true));
    let mut chain = deferred;
    for _ in 0..1_000 {
        chain = chain.map(|n| n + 1);
    }
    chain.cancel();
    assert!(ran.get());
    assert!(failed_with::<_, Cancelled>(&record(chain)));
}

#[test]
fn cancelling_the_end_of_a_100000_chain_does_not_overflow() {
    let ran = Rc::new(Cell::new(false));
    let flag = ran.clone();
    let (deferred, _resolver) = Deferred::<usize>::with_canceller(move || flag.set(true));
    let mut chain = deferred;
    for _ in 0..DEEP {
        chain = chain.map(|n| n + 1);
    }
    chain.cancel();
    assert!(ran.get());
    assert!(failed_with::<_, Cancelled>(&record(chain)));
}
