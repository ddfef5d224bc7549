//! Watched descriptors and the settle queue.

use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::Duration;

use super::io::FIRST_IO_TOKEN;
use super::test_support::{ms, stop_after};
use super::*;
use crate::testing::log_capture::LogCapture;

#[test]
fn add_reader_fires_when_data_arrives() {
    let reactor = Reactor::new().unwrap();
    let (left, right) = UnixStream::pair().unwrap();
    left.set_nonblocking(true).unwrap();
    let received = Rc::new(RefCell::new(Vec::new()));
    let into = received.clone();
    let left = Rc::new(left);
    let id = reactor
        .add_reader(left.clone(), move |r| {
            let mut buffer = [0u8; 64];
            loop {
                match (&*left).read(&mut buffer) {
                    Ok(0) => break,
                    Ok(n) => into.borrow_mut().extend_from_slice(&buffer[..n]),
                    Err(_) => break,
                }
            }
            if into.borrow().ends_with(b"!") {
                r.stop().unwrap();
            }
        })
        .unwrap();
    assert_eq!(reactor.stats().watches, 1);
    let worker = std::thread::spawn(move || {
        let mut right = right;
        right.write_all(b"hello").unwrap();
        std::thread::sleep(ms(5));
        right.write_all(b"!").unwrap();
        right
    });
    stop_after(&reactor, Duration::from_secs(5));
    reactor.run().unwrap();
    drop(worker.join().unwrap());
    assert_eq!(&*received.borrow(), b"hello!");
    let _ = id;
}

#[test]
fn removed_reader_is_not_called_again() {
    let reactor = Reactor::new().unwrap();
    let (left, mut right) = UnixStream::pair().unwrap();
    left.set_nonblocking(true).unwrap();
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    let left = Rc::new(left);
    let id = reactor
        .add_reader(left.clone(), move |_| c.set(c.get() + 1))
        .unwrap();
    reactor.remove_watch(id).unwrap();
    assert_eq!(reactor.stats().watches, 0);
    assert_eq!(
        Rc::strong_count(&left),
        1,
        "the watch let go of the descriptor"
    );
    right.write_all(b"ignored").unwrap();
    stop_after(&reactor, ms(10));
    reactor.run().unwrap();
    assert_eq!(calls.get(), 0);
}

#[test]
fn panic_in_a_readiness_callback_is_logged_and_the_reactor_goes_on() {
    let reactor = Reactor::new().unwrap();
    let (left, mut right) = UnixStream::pair().unwrap();
    left.set_nonblocking(true).unwrap();
    reactor
        .add_reader(left, move |_| panic!("reader exploded"))
        .unwrap();
    right.write_all(b"x").unwrap();
    let later = Rc::new(Cell::new(false));
    let (r, l) = (reactor.clone(), later.clone());
    reactor.call_later(ms(10), move || {
        l.set(true);
        r.stop().unwrap();
    });
    let logs = LogCapture::new();
    logs.run(|| reactor.run().unwrap());
    assert!(later.get());
    assert!(logs.text().contains("reader exploded"), "{}", logs.text());
}

#[test]
fn add_writer_fires_while_the_descriptor_is_writable_until_removed() {
    let reactor = Reactor::new().unwrap();
    let (left, mut right) = UnixStream::pair().unwrap();
    left.set_nonblocking(true).unwrap();
    let left = Rc::new(left);
    let calls = Rc::new(Cell::new(0));
    let watch = Rc::new(Cell::new(None));
    let (writer, c, w) = (left.clone(), calls.clone(), watch.clone());
    let id = reactor
        .add_writer(left.clone(), move |reactor| {
            c.set(c.get() + 1);
            (&*writer).write_all(b"written when writable").unwrap();
            // Nothing more to write: stop watching, from inside the callback.
            reactor.remove_watch(w.get().unwrap()).unwrap();
            reactor.stop().unwrap();
        })
        .unwrap();
    watch.set(Some(id));
    stop_after(&reactor, Duration::from_secs(5));
    reactor.run_with(Signals::LeaveAlone).unwrap();
    assert_eq!(calls.get(), 1);
    assert_eq!(reactor.stats().watches, 0);
    let mut received = [0u8; 21];
    right.read_exact(&mut received).unwrap();
    assert_eq!(&received, b"written when writable");
}

#[test]
fn a_watch_owns_the_descriptor_it_was_given_until_removed() {
    let reactor = Reactor::new().unwrap();
    let (left, mut right) = UnixStream::pair().unwrap();
    right.set_nonblocking(true).unwrap();
    let id = reactor.add_reader(left, |_| {}).unwrap();
    let mut buffer = [0u8; 1];
    // The watch keeps the socket open: the peer waits for data, no end of
    // file.
    let open = right.read(&mut buffer).unwrap_err();
    assert_eq!(open.kind(), std::io::ErrorKind::WouldBlock);
    reactor.remove_watch(id).unwrap();
    // Removing the watch closed it: the peer reads end of file.
    assert_eq!(right.read(&mut buffer).unwrap(), 0);
}

/// A source that counts its settles and never becomes ready.
#[derive(Default)]
struct CountsSettles {
    settled: Cell<usize>,
}

impl IoSource for CountsSettles {
    fn ready(&self, _reactor: &Reactor, _readiness: Readiness) {}
    fn settle(&self, _reactor: &Reactor) {
        self.settled.set(self.settled.get() + 1);
    }
    fn shutdown(&self, _reactor: &Reactor) {}
}

#[test]
fn settle_later_runs_the_settle_on_the_next_turn_without_a_timer() {
    let reactor = Reactor::new().unwrap();
    let source = reactor
        .add_source(|_registry, _token| Ok(Rc::new(CountsSettles::default())))
        .unwrap();
    let token = Token(FIRST_IO_TOKEN);
    reactor.settle_later(token);
    assert_eq!(reactor.stats().pending_calls, 0, "no timer for it");
    assert_eq!(reactor.next_timeout(), Some(Duration::ZERO));
    assert_eq!(source.settled.get(), 0, "not at once");
    reactor.start().unwrap();
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(source.settled.get(), 1);
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(source.settled.get(), 1, "once per request");
}

#[test]
fn a_settle_asked_for_during_the_settles_waits_for_the_next_turn() {
    /// Asks for another settle of itself from inside each settle.
    #[derive(Default)]
    struct SettlesAgain {
        settled: Cell<usize>,
    }
    impl IoSource for SettlesAgain {
        fn ready(&self, _reactor: &Reactor, _readiness: Readiness) {}
        fn settle(&self, reactor: &Reactor) {
            self.settled.set(self.settled.get() + 1);
            reactor.settle_later(Token(FIRST_IO_TOKEN));
        }
        fn shutdown(&self, _reactor: &Reactor) {}
    }
    let reactor = Reactor::new().unwrap();
    let source = reactor
        .add_source(|_registry, _token| Ok(Rc::new(SettlesAgain::default())))
        .unwrap();
    reactor.settle_later(Token(FIRST_IO_TOKEN));
    reactor.start().unwrap();
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(source.settled.get(), 1, "the turn ended");
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(source.settled.get(), 2);
}

#[test]
fn more_ready_descriptors_than_one_poll_takes_make_next_timeout_zero() {
    let reactor = Reactor::with_events_capacity(2).unwrap();
    reactor.start().unwrap();
    let called = Rc::new(Cell::new(0));
    let mut writers = Vec::new();
    for _ in 0..3 {
        let (writer, reader) = UnixStream::pair().unwrap();
        let count = called.clone();
        reactor
            .add_reader(reader, move |_| count.set(count.get() + 1))
            .unwrap();
        (&writer).write_all(b"x").unwrap();
        writers.push(writer);
    }
    reactor.run_once(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(called.get(), 2, "one poll takes two events");
    // The third is still in the poller: a host loop is told to turn now.
    assert_eq!(reactor.next_timeout(), Some(Duration::ZERO));
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(called.get(), 3);
    assert_eq!(reactor.next_timeout(), None);
}
