//! loom models of the cross-thread call queue: no call is stranded while
//! the reactor sleeps (after a spin or not), and none is stranded by the
//! reactor closing.

use super::{Posted, Shared};
use crate::sync::{Arc, AtomicBool, Ordering, model};

fn shared() -> Arc<Shared> {
    // The eventfd is made but only `wake_signal` is seen by the model.
    let poll = mio::Poll::new().expect("poll");
    let waker = mio::Waker::new(poll.registry(), mio::Token(0)).expect("waker");
    Arc::new(Shared::new(waker))
}

fn noop() -> Posted {
    Posted::Call(Box::new(|_| {}))
}

/// The reactor's loop, reduced to the queue: drain, then sleep until woken
/// (unless a post came in meanwhile), until `expected` calls have run. If a
/// call is left queued with no wake-up pending, the reactor sleeps for ever
/// and loom reports the deadlock.
fn run_reactor(shared: &Shared, expected: usize) {
    let mut batch = Vec::new();
    let mut ran = 0;
    loop {
        shared.take_calls(&mut batch);
        ran += batch.len();
        batch.clear();
        if ran == expected {
            return;
        }
        if shared.prepare_to_sleep() {
            shared.wake_signal.wait();
        }
    }
}

#[test]
fn loom_model_calls_posted_from_two_threads_always_wake_the_reactor() {
    model(|| {
        let shared = shared();
        let posters: Vec<_> = (0..2)
            .map(|_| {
                let shared = shared.clone();
                loom::thread::spawn(move || shared.post(noop()).expect("open"))
            })
            .collect();
        run_reactor(&shared, 2);
        for poster in posters {
            poster.join().unwrap();
        }
    });
}

#[test]
fn loom_model_a_second_post_after_a_drain_wakes_the_reactor_again() {
    model(|| {
        let shared = shared();
        let poster = {
            let shared = shared.clone();
            loom::thread::spawn(move || {
                shared.post(noop()).expect("open");
                shared.post(noop()).expect("open");
            })
        };
        run_reactor(&shared, 2);
        poster.join().unwrap();
    });
}

/// The reactor's loop with a spin before each sleep: it marks itself
/// spinning, looks once for a post, and then either takes the post or
/// gives up the spin and sleeps. A post that skipped the eventfd write
/// because the reactor was spinning must still be seen.
fn run_spinning_reactor(shared: &Shared, expected: usize) {
    let mut batch = Vec::new();
    let mut ran = 0;
    loop {
        shared.take_calls(&mut batch);
        ran += batch.len();
        batch.clear();
        if ran == expected {
            return;
        }
        if !shared.begin_spin() {
            continue;
        }
        loom::thread::yield_now();
        if shared.spin_saw_work() || !shared.end_spin() {
            continue;
        }
        if shared.prepare_to_sleep() {
            shared.wake_signal.wait();
        }
    }
}

#[test]
fn loom_model_posts_to_a_spinning_reactor_are_never_stranded() {
    model(|| {
        let shared = shared();
        let poster = {
            let shared = shared.clone();
            loom::thread::spawn(move || {
                shared.post(noop()).expect("open");
                shared.post(noop()).expect("open");
            })
        };
        run_spinning_reactor(&shared, 2);
        poster.join().unwrap();
    });
}

/// A reactor driven by a host loop: each turn drains the queue, then the
/// host sleeps on the descriptor until it is written. Posts made while the
/// turn ran wrote nothing, so ending the turn must.
fn run_hosted_reactor(shared: &Shared, expected: usize) {
    let mut batch = Vec::new();
    let mut ran = 0;
    loop {
        shared.take_calls(&mut batch);
        ran += batch.len();
        batch.clear();
        if ran == expected {
            return;
        }
        shared.end_host_turn();
        shared.wake_signal.wait();
    }
}

#[test]
fn loom_model_posts_during_a_hosted_turn_wake_the_host() {
    model(|| {
        let shared = shared();
        let poster = {
            let shared = shared.clone();
            loom::thread::spawn(move || {
                shared.post(noop()).expect("open");
                shared.post(noop()).expect("open");
            })
        };
        run_hosted_reactor(&shared, 2);
        poster.join().unwrap();
    });
}

/// Sets its flag when dropped, run or not.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

#[test]
fn loom_model_a_call_posted_while_the_reactor_closes_is_refused_or_dropped() {
    model(|| {
        let shared = shared();
        let dropped = Arc::new(AtomicBool::new(false));
        let poster = {
            let shared = shared.clone();
            let flag = DropFlag(dropped.clone());
            loom::thread::spawn(move || {
                let _ = shared.post(Posted::Call(Box::new(move |_| drop(flag))));
            })
        };
        shared.close();
        poster.join().unwrap();
        // The queue is still alive: the call must not be sitting in it,
        // where nothing would ever run or drop it (a bridged caller would
        // wait for its result in vain).
        assert!(
            dropped.load(Ordering::Acquire),
            "a call was stranded in a closed queue"
        );
    });
}
