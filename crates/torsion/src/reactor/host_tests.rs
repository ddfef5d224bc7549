//! What a host loop (tokio, glib) that drives the reactor with `run_once`
//! relies on: the descriptor or `next_timeout` tells it about every piece
//! of work, including work added on the reactor's thread between turns;
//! with a host waker, that work wakes the host task instead, and work from
//! other threads still reaches the descriptor.

use std::cell::{Cell, RefCell};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Wake, Waker};
use std::time::Duration;

use mio::{Events, Interest, Poll, Token};

use super::Reactor;

/// A host poller watching `reactor`'s descriptor, as tokio's `AsyncFd`
/// or glib's `unix_fd_add_local` would.
fn host_for(reactor: &Reactor) -> Poll {
    let host = Poll::new().unwrap();
    let fd = reactor.as_raw_fd();
    host.registry()
        .register(&mut mio::unix::SourceFd(&fd), Token(1), Interest::READABLE)
        .unwrap();
    host
}

fn host_hears(host: &mut Poll) -> bool {
    let mut events = Events::with_capacity(4);
    host.poll(&mut events, Some(Duration::ZERO)).unwrap();
    !events.is_empty()
}

/// A started reactor after one idle turn, and its host: nothing pending.
fn idle_reactor() -> (Reactor, Poll) {
    let reactor = Reactor::new().unwrap();
    reactor.start().unwrap();
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    let mut host = host_for(&reactor);
    assert!(!host_hears(&mut host));
    assert_eq!(reactor.next_timeout(), None);
    (reactor, host)
}

#[test]
fn a_stop_between_turns_wakes_the_host() {
    let (reactor, mut host) = idle_reactor();
    reactor.stop().unwrap();
    assert!(host_hears(&mut host));
    while !reactor.is_finished() {
        reactor.run_once(Some(Duration::ZERO)).unwrap();
    }
}

#[test]
fn a_timer_scheduled_inside_a_turn_writes_nothing() {
    let (reactor, mut host) = idle_reactor();
    reactor
        .handle()
        .call_from_thread(|r| drop(r.call_later(Duration::from_secs(1), || {})))
        .unwrap();
    assert!(host_hears(&mut host));
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    assert!(!host_hears(&mut host), "the timer came from inside a turn");
    assert!(reactor.next_timeout().is_some());
}

/// A host task's waker that counts its wake-ups.
#[derive(Default)]
struct Count(AtomicUsize);

impl Count {
    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn with_a_host_waker_work_from_the_reactors_thread_wakes_the_host_task_and_writes_nothing() {
    let (reactor, mut host) = idle_reactor();
    let task = Arc::new(Count::default());
    reactor.set_host_waker(Some(Waker::from(task.clone())));
    // A task woken from this thread between turns, as a tokio future on
    // the same thread wakes it.
    let opened = Rc::new(Cell::new(false));
    let waiting: Rc<RefCell<Option<Waker>>> = Rc::default();
    let (open, slot) = (opened.clone(), waiting.clone());
    let awaited = reactor.spawn(std::future::poll_fn(move |cx| {
        if open.get() {
            return std::task::Poll::Ready(Ok::<(), crate::Failure>(()));
        }
        *slot.borrow_mut() = Some(cx.waker().clone());
        std::task::Poll::Pending
    }));
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    assert!(!host_hears(&mut host));
    let before = task.get();
    opened.set(true);
    waiting.borrow_mut().take().unwrap().wake();
    assert_eq!(task.get(), before + 1, "the host task was woken");
    assert!(!host_hears(&mut host), "and the descriptor was not written");
    assert_eq!(reactor.next_timeout(), Some(Duration::ZERO));
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    assert!(awaited.is_fired());
    // A new earliest timer and a stop ask for a turn the same way.
    let before = task.get();
    drop(reactor.call_later(Duration::from_secs(1), || {}));
    assert_eq!(task.get(), before + 1);
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    let before = task.get();
    reactor.stop().unwrap();
    assert_eq!(task.get(), before + 1);
    assert!(!host_hears(&mut host));
    while !reactor.is_finished() {
        reactor.run_once(Some(Duration::ZERO)).unwrap();
    }
}

#[test]
fn with_a_host_waker_other_threads_still_write_the_descriptor() {
    let (reactor, mut host) = idle_reactor();
    let task = Arc::new(Count::default());
    reactor.set_host_waker(Some(Waker::from(task.clone())));
    let handle = reactor.handle();
    std::thread::spawn(move || handle.call_from_thread(|_| {}).unwrap())
        .join()
        .unwrap();
    assert!(host_hears(&mut host));
    assert_eq!(task.get(), 0);
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    // Taken back, the descriptor is written again for this thread's work.
    reactor.set_host_waker(None);
    reactor.stop().unwrap();
    assert!(host_hears(&mut host));
    assert_eq!(task.get(), 0);
    while !reactor.is_finished() {
        reactor.run_once(Some(Duration::ZERO)).unwrap();
    }
}
