//! Attaching a reactor to a glib main context: what attaching refuses,
//! what detaching leaves, and torsion work started from glib's callbacks.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use glib::{ControlFlow, MainContext, Priority};
use torsion::Reactor;
use torsion::error::ReactorError;
use torsion_glib::{AttachError, attach};

/// Iterates `context` until `done` holds; panics after ten seconds.
fn iterate_until(context: &MainContext, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out");
        context.iteration(true);
    }
}

#[test]
fn attaching_a_finished_reactor_is_not_restartable() {
    let reactor = Reactor::new().unwrap();
    let r = reactor.clone();
    reactor.call_when_running(move || r.stop().unwrap());
    reactor
        .run_with(torsion::reactor::Signals::LeaveAlone)
        .unwrap();
    let refused = attach(&reactor, &MainContext::new());
    assert!(matches!(
        refused,
        Err(AttachError::Reactor(ReactorError::NotRestartable))
    ));
    assert_eq!(
        torsion_glib::run_on(&reactor, &MainContext::new()),
        Err(ReactorError::NotRestartable)
    );
}

#[test]
fn a_context_another_thread_owns_is_refused() {
    let context = MainContext::new();
    let (owned_tx, owned) = mpsc::channel();
    let (release, release_rx) = mpsc::channel::<()>();
    let owner = {
        let context = context.clone();
        std::thread::spawn(move || {
            let _guard = context.acquire().unwrap();
            owned_tx.send(()).unwrap();
            release_rx.recv().unwrap();
        })
    };
    owned.recv().unwrap();
    let reactor = Reactor::new().unwrap();
    let refused = attach(&reactor, &context);
    assert!(matches!(refused, Err(AttachError::ContextOwnedElsewhere)));
    assert!(!reactor.is_running(), "a refused attach starts nothing");
    release.send(()).unwrap();
    owner.join().unwrap();
}

#[test]
fn dropping_the_attachment_detaches_and_leaves_the_reactor_running() {
    let context = MainContext::new();
    let reactor = Reactor::new().unwrap();
    let attached = attach(&reactor, &context).unwrap();
    assert!(reactor.is_running(), "attaching starts the reactor");
    let fired = Rc::new(Cell::new(false));
    let f = fired.clone();
    reactor.call_later(Duration::ZERO, move || f.set(true));
    iterate_until(&context, || fired.get());
    drop(attached);
    // Detached: a due timer no longer runs however long glib iterates.
    let again = Rc::new(Cell::new(false));
    let a = again.clone();
    reactor.call_later(Duration::ZERO, move || a.set(true));
    let waited = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let w = waited.clone();
    glib::timeout_source_new(
        Duration::from_millis(30),
        None,
        Priority::DEFAULT,
        move || {
            w.store(true, std::sync::atomic::Ordering::SeqCst);
            ControlFlow::Break
        },
    )
    .attach(Some(&context));
    iterate_until(&context, || {
        waited.load(std::sync::atomic::Ordering::SeqCst)
    });
    assert!(!again.get());
    assert!(reactor.is_running());
    // Attached again, it goes on where it was.
    let _attached = attach(&reactor, &context).unwrap();
    iterate_until(&context, || again.get());
}

#[test]
fn a_torsion_timer_scheduled_from_a_glib_callback_fires_on_time() {
    let context = MainContext::new();
    let reactor = Reactor::new().unwrap();
    // The reactor idles with only a far timer: glib sleeps until it.
    let _far = reactor.call_later(Duration::from_secs(60), || {});
    let _attached = attach(&reactor, &context).unwrap();
    let fired_after = Rc::new(Cell::new(None));
    let (r, f) = (reactor.clone(), fired_after.clone());
    let r = glib::thread_guard::ThreadGuard::new(r);
    let f = glib::thread_guard::ThreadGuard::new(f);
    glib::timeout_source_new(
        Duration::from_millis(5),
        None,
        Priority::DEFAULT,
        move || {
            // Between the reactor's turns: glib's own callback schedules a
            // 20 ms torsion timer, earlier than the one glib waits for.
            let scheduled = Instant::now();
            let fired = f.get_ref().clone();
            r.get_ref().call_later(Duration::from_millis(20), move || {
                fired.set(Some(scheduled.elapsed()));
            });
            ControlFlow::Break
        },
    )
    .attach(Some(&context));
    iterate_until(&context, || fired_after.get().is_some());
    let after = fired_after.get().unwrap();
    assert!(
        after >= Duration::from_millis(20) && after < Duration::from_millis(200),
        "{after:?}"
    );
}
