//! The thread pool, Deferreds fired from threads, and blocking calls into
//! the reactor from threads; the helpers they share are here.

mod blocking_calls_tests;
mod deferreds_tests;
mod pool_tests;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::*;
use crate::error::{Cancelled, OnReactorThread, Panicked, ReactorError};
use crate::sync::Arc;
use crate::testing::net_support::turn_until;
use crate::time::defer_later;

const LIMIT: Duration = Duration::from_secs(10);

/// This thread's kernel id, from `/proc/thread-self`.
/// The calling thread: its id and its name, as `/proc` tells them.
fn thread_tid() -> String {
    let link = std::fs::read_link("/proc/thread-self").unwrap();
    let tid = link.file_name().unwrap().to_string_lossy().into_owned();
    format!("{tid}/{}", thread_comm(&tid).unwrap_or_default())
}

fn thread_comm(tid: &str) -> Option<String> {
    let comm = std::path::Path::new("/proc/self/task")
        .join(tid)
        .join("comm");
    Some(std::fs::read_to_string(comm).ok()?.trim_end().to_owned())
}

/// Whether the thread `thread_tid` named is alive: the id and the name
/// both, since another test's new thread may be given a finished one's id.
fn thread_alive(thread: &str) -> bool {
    let (tid, name) = thread.split_once('/').unwrap();
    thread_comm(tid).is_some_and(|comm| comm == name)
}

/// The names of this process's threads that start with `prefix` (names are
/// cut to 15 bytes by the kernel).
fn threads_named(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim_end().starts_with(prefix))
        .count()
}

/// Counts worker threads as they end. A thread destroys its thread-locals
/// as its last act, before a join of it returns; the kernel may still list
/// it in `/proc` for a moment after, so that alone cannot show a join.
#[derive(Clone, Default)]
struct Ends(Arc<EndCounts>);

#[derive(Default)]
struct EndCounts {
    /// Threads that asked to be counted (a worker may run several jobs).
    watched: AtomicUsize,
    ended: AtomicUsize,
}

impl Ends {
    /// On a worker: counts this thread when it ends.
    fn count_this_thread(&self) {
        END_MARK.with(|mark| {
            let mut slot = mark.0.borrow_mut();
            if slot.is_none() {
                self.0.watched.fetch_add(1, Ordering::SeqCst);
                *slot = Some(self.0.clone());
            }
        });
    }

    /// Whether every thread counted has ended, and how many there were.
    fn all_ended(&self) -> (bool, usize) {
        let watched = self.0.watched.load(Ordering::SeqCst);
        (self.0.ended.load(Ordering::SeqCst) == watched, watched)
    }
}

struct EndMark(RefCell<Option<Arc<EndCounts>>>);

impl Drop for EndMark {
    fn drop(&mut self) {
        if let Some(counts) = self.0.get_mut().take() {
            counts.ended.fetch_add(1, Ordering::SeqCst);
        }
    }
}

thread_local! {
    static END_MARK: EndMark = const { EndMark(RefCell::new(None)) };
}

fn wait_until(mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + LIMIT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Collects a Deferred's outcome.
fn outcome<T: 'static>(deferred: Deferred<T>) -> Rc<RefCell<Option<Result<T, Failure>>>> {
    let slot = Rc::new(RefCell::new(None));
    let into = slot.clone();
    drop(deferred.both(move |result| {
        *into.borrow_mut() = Some(result);
        Ok::<(), Failure>(())
    }));
    slot
}

/// Stops the reactor (starting it first if needed) and turns it until
/// shutdown has finished.
fn stop_and_finish(reactor: &Reactor) {
    if !reactor.is_running() && !reactor.is_finished() {
        let _ = reactor.start();
    }
    let _ = reactor.stop();
    let deadline = Instant::now() + LIMIT;
    while !reactor.is_finished() {
        assert!(Instant::now() < deadline, "shutdown did not finish");
        reactor.run_once(Some(Duration::from_millis(10))).unwrap();
    }
}

/// A gate jobs wait on until the test opens it.
fn gate() -> (
    mpsc::Sender<()>,
    Arc<crate::sync::Mutex<mpsc::Receiver<()>>>,
) {
    let (open, wait) = mpsc::channel();
    (open, Arc::new(crate::sync::Mutex::new(wait)))
}
