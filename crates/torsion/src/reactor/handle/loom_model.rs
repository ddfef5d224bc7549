//! loom models of the cross-thread call queue: no call is stranded while
//! the reactor sleeps (after a spin or not), and none is stranded by the
//! reactor closing.

use super::{CrossThreadCall, Posted, Shared};
use crate::sync::{Arc, AtomicBool, Ordering, model};

fn shared() -> Arc<Shared> {
    // The eventfd is made but only `wake_signal` is seen by the model.
    let poll = mio::Poll::new().expect("poll");
    let waker = mio::Waker::new(poll.registry(), mio::Token(0)).expect("waker");
    Arc::new(Shared::new(waker))
}

fn noop() -> Posted {
    Posted::Call(CrossThreadCall::new(|_| {}))
}

/// What the model's reactor does when a turn leaves calls still to come.
#[derive(Clone, Copy)]
enum Between {
    /// Sleep until woken, unless a post came in meanwhile.
    Sleep,
    /// Mark itself spinning, look once for a post, and then either take
    /// the post or give up the spin and sleep: a post that skipped the
    /// eventfd write because the reactor was spinning must still be seen.
    SpinThenSleep,
    /// End a host's turn; the host then sleeps on the descriptor until it
    /// is written. Posts made while the turn ran wrote nothing, so ending
    /// the turn must.
    HostTurn,
}

/// The reactor's loop, reduced to the queue: drain, then wait as `between`
/// says, until `expected` calls have run. If a call is left queued with no
/// wake-up pending, the reactor sleeps for ever and loom reports the
/// deadlock.
fn run_reactor(shared: &Shared, expected: usize, between: Between) {
    let mut batch = Vec::new();
    let mut ran = 0;
    loop {
        shared.take_calls(&mut batch);
        ran += batch.len();
        batch.clear();
        if ran == expected {
            return;
        }
        match between {
            Between::Sleep => {
                if shared.prepare_to_sleep() {
                    shared.wake_signal.wait();
                }
            }
            Between::SpinThenSleep => {
                if !shared.begin_spin() {
                    continue;
                }
                loom::thread::yield_now();
                if shared.spin_saw_work() || !shared.prepare_to_sleep() {
                    continue;
                }
                shared.wake_signal.wait();
            }
            Between::HostTurn => {
                shared.end_host_turn();
                shared.wake_signal.wait();
            }
        }
    }
}

/// One thread posts twice while the reactor runs as `between` says.
fn one_thread_posts_twice(between: Between) {
    model(move || {
        let shared = shared();
        let poster = {
            let shared = shared.clone();
            loom::thread::spawn(move || {
                shared.post(noop()).expect("open");
                shared.post(noop()).expect("open");
            })
        };
        run_reactor(&shared, 2, between);
        poster.join().unwrap();
    });
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
        run_reactor(&shared, 2, Between::Sleep);
        for poster in posters {
            poster.join().unwrap();
        }
    });
}

#[test]
fn loom_model_a_second_post_after_a_drain_wakes_the_reactor_again() {
    one_thread_posts_twice(Between::Sleep);
}

#[test]
fn loom_model_posts_to_a_spinning_reactor_are_never_stranded() {
    one_thread_posts_twice(Between::SpinThenSleep);
}

#[test]
fn loom_model_posts_during_a_hosted_turn_wake_the_host() {
    one_thread_posts_twice(Between::HostTurn);
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
                let _ = shared.post(Posted::Call(CrossThreadCall::new(move |_| drop(flag))));
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
