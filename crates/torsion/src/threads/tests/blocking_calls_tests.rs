//! `blocking_call_from_thread`: a thread waits for the reactor's answer.

use super::*;

#[test]
fn blocking_call_returns_the_value_of_the_deferred() {
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let caller = std::thread::spawn(move || {
        blocking_call_from_thread(&handle, |reactor: &Reactor| {
            defer_later(reactor, Duration::from_millis(5), || {
                Ok::<_, Failure>("later")
            })
        })
    });
    turn_until(&reactor, LIMIT, || caller.is_finished());
    assert_eq!(caller.join().unwrap().unwrap(), "later");
    stop_and_finish(&reactor);
}

#[test]
fn blocking_call_returns_the_failure() {
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let caller = std::thread::spawn(move || {
        blocking_call_from_thread(&handle, |_: &Reactor| {
            Deferred::<u32>::fail(Failure::new(Cancelled))
        })
    });
    turn_until(&reactor, LIMIT, || caller.is_finished());
    assert!(caller.join().unwrap().unwrap_err().is::<Cancelled>());
    stop_and_finish(&reactor);
}

#[test]
fn blocking_call_returns_a_panic_as_a_failure() {
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let caller = std::thread::spawn(move || {
        blocking_call_from_thread(&handle, |_: &Reactor| -> Result<u32, Failure> {
            panic!("reactor side exploded")
        })
    });
    turn_until(&reactor, LIMIT, || caller.is_finished());
    assert!(caller.join().unwrap().unwrap_err().is::<Panicked>());
    stop_and_finish(&reactor);
}

#[test]
fn blocking_call_on_the_reactor_thread_fails_at_once() {
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let started = Instant::now();
    let result = blocking_call_from_thread(&handle, |_: &Reactor| Ok::<u32, Failure>(1));
    assert!(result.unwrap_err().is::<OnReactorThread>());
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn blocking_call_after_the_reactor_stopped_fails_quickly() {
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    stop_and_finish(&reactor);
    let caller = std::thread::spawn(move || {
        let started = Instant::now();
        let result = blocking_call_from_thread(&handle, |_: &Reactor| Ok::<u32, Failure>(1));
        (result, started.elapsed())
    });
    let (result, took) = caller.join().unwrap();
    assert!(result.unwrap_err().is::<ReactorError>());
    assert!(took < Duration::from_secs(1));
}

#[test]
fn blocking_call_waiting_when_the_reactor_stops_fails_with_stopped() {
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let (called, was_called) = mpsc::channel();
    let caller = std::thread::spawn(move || {
        blocking_call_from_thread(&handle, move |_: &Reactor| {
            called.send(()).unwrap();
            // Never fires: only shutdown can end the wait.
            let (never, resolver) = Deferred::<u32>::new();
            std::mem::forget(resolver);
            never
        })
    });
    turn_until(&reactor, LIMIT, || was_called.try_recv().is_ok());
    stop_and_finish(&reactor);
    let deadline = Instant::now() + Duration::from_secs(2);
    while !caller.is_finished() {
        assert!(Instant::now() < deadline, "the blocked caller never woke");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(caller.join().unwrap().unwrap_err().is::<ReactorError>());
}

#[test]
fn a_worker_blocked_on_the_reactor_does_not_deadlock_shutdown() {
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let (started, is_started) = mpsc::channel();
    let result = outcome(reactor.defer_to_thread(move || {
        started.send(()).unwrap();
        // Wait until shutdown has begun, then ask the reactor for something:
        // the call can no longer run, and must not hang the join.
        std::thread::sleep(Duration::from_millis(50));
        blocking_call_from_thread(&handle, |_: &Reactor| Ok::<u32, Failure>(1))
    }));
    reactor.start().unwrap();
    is_started.recv_timeout(LIMIT).unwrap();
    stop_and_finish(&reactor);
    assert!(result.borrow().is_some());
}

#[test]
fn is_reactor_thread_only_on_the_thread_that_made_the_reactor() {
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    assert!(handle.is_reactor_thread());
    let elsewhere = std::thread::spawn(move || handle.is_reactor_thread());
    assert!(!elsewhere.join().unwrap());
}

#[test]
fn failures_cross_threads() {
    fn assert_send<T: Send + Sync>() {}
    assert_send::<Failure>();
}
