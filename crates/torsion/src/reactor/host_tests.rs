//! What a host loop (tokio, glib) that drives the reactor with `run_once`
//! relies on: the descriptor or `next_timeout` tells it about every piece
//! of work, including work added on the reactor's thread between turns.

use std::os::fd::AsRawFd;
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
