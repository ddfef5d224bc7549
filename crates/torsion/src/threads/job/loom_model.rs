//! loom models of a pool worker handing its result back to the reactor:
//! the completion never arrives before the result it carries, and a job
//! cancelled as it starts either runs and reports or does neither.

use super::super::pool::Task;
use super::{Stage, ThreadJob};
use crate::Failure;
use crate::ReactorHandle;
use crate::reactor::{Cancellable, SlotKey};
use crate::reactor::{Posted, Shared};
use crate::sync::{Arc, AtomicBool, Ordering, lock, model};

const KEY: SlotKey = SlotKey {
    index: 0,
    generation: 1,
};

fn shared() -> Arc<Shared> {
    let poll = mio::Poll::new().expect("poll");
    let waker = mio::Waker::new(poll.registry(), mio::Token(0)).expect("waker");
    Arc::new(Shared::new(waker))
}

#[test]
fn loom_model_the_result_is_in_the_job_before_the_reactor_gets_it() {
    model(|| {
        let shared = shared();
        let job = ThreadJob::new(
            KEY,
            || Ok::<u32, Failure>(7),
            ReactorHandle::new(shared.clone()),
        );
        let worker = {
            let job = job.clone();
            loom::thread::spawn(move || Task::run(job))
        };
        // The reactor: sleep until the queue has something, as its loop does.
        let mut batch = Vec::new();
        loop {
            shared.take_calls(&mut batch);
            if !batch.is_empty() {
                break;
            }
            if shared.prepare_to_sleep() {
                shared.wake_signal.wait();
            }
        }
        assert!(matches!(batch.pop(), Some(Posted::Completion(_))));
        assert!(
            matches!(&*lock(&job.stage), Stage::Done(Ok(7))),
            "the completion arrived before its result"
        );
        worker.join().unwrap();
    });
}

#[test]
fn loom_model_a_job_cancelled_as_it_starts_reports_if_and_only_if_it_ran() {
    model(|| {
        let shared = shared();
        let ran = Arc::new(AtomicBool::new(false));
        let job = {
            let ran = ran.clone();
            ThreadJob::new(
                KEY,
                move || {
                    ran.store(true, Ordering::Release);
                    Ok::<u32, Failure>(7)
                },
                ReactorHandle::new(shared.clone()),
            )
        };
        let worker = {
            let job = job.clone();
            loom::thread::spawn(move || Task::run(job))
        };
        Cancellable::cancel(&*job);
        worker.join().unwrap();
        let mut batch = Vec::new();
        shared.take_calls(&mut batch);
        let reported = !batch.is_empty();
        assert_eq!(reported, ran.load(Ordering::Acquire));
        if reported {
            assert!(matches!(&*lock(&job.stage), Stage::Done(Ok(7))));
        }
    });
}
