//! What a host loop (tokio, glib) that drives the reactor with `run_once`
//! relies on: the descriptor or `next_timeout` tells it about every piece
//! of work, including work added on the reactor's thread between turns.

use std::cell::Cell;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
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
fn a_timer_scheduled_between_turns_wakes_the_host() {
    let (reactor, mut host) = idle_reactor();
    reactor.call_later(Duration::from_secs(1), || {});
    assert!(host_hears(&mut host));
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    assert!(!host_hears(&mut host));
    let timeout = reactor.next_timeout().unwrap();
    assert!(timeout > Duration::from_millis(500), "{timeout:?}");
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

#[test]
fn a_full_batch_of_events_keeps_next_timeout_at_zero_until_the_rest_is_read() {
    // More ready descriptors than one poll returns: the host hears the
    // descriptor's edge once, so `next_timeout` must send it back.
    let (reactor, _host) = idle_reactor();
    let count = 1100;
    let heard = Rc::new(Cell::new(0usize));
    let mut writers = Vec::with_capacity(count);
    for _ in 0..count {
        let (writer, reader) = UnixStream::pair().unwrap();
        reader.set_nonblocking(true).unwrap();
        let reader = Rc::new(reader);
        let watched = reader.clone();
        let heard = heard.clone();
        reactor
            .add_reader(watched, move |_| {
                let mut byte = [0u8; 1];
                while (&*reader).read(&mut byte).is_ok_and(|n| n > 0) {
                    heard.set(heard.get() + 1);
                }
            })
            .unwrap();
        writers.push(writer);
    }
    for writer in &mut writers {
        writer.write_all(b"x").unwrap();
    }
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    assert!(heard.get() < count, "one poll took {}", heard.get());
    assert_eq!(reactor.next_timeout(), Some(Duration::ZERO));
    for _ in 0..10 {
        if heard.get() == count {
            break;
        }
        reactor.run_once(Some(Duration::ZERO)).unwrap();
    }
    assert_eq!(heard.get(), count);
}
