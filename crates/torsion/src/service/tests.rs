//! Services without sockets: order, waiting, bounds and failed starts,
//! on a [`Clock`].

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use super::*;
use crate::defer::Resolver;
use crate::testing::Clock;
use crate::testing::log_capture::LogCapture;
use crate::{Deferred, Failure, Reactor};

type Log = Rc<RefCell<Vec<String>>>;

/// How a recorder's stop ends.
#[derive(Clone, Copy, PartialEq)]
enum Stop {
    /// Fired at once.
    AtOnce,
    /// Fired by the test through `Recorder::finish_stop`.
    Later,
}

/// Writes `start NAME` / `stop NAME` into a shared log.
struct Recorder {
    core: ServiceCore,
    log: Log,
    fail_start: bool,
    stop: Stop,
    stopping: RefCell<Option<Resolver<()>>>,
}

impl Recorder {
    fn new(name: &str, log: &Log) -> Rc<Recorder> {
        Recorder::with(name, log, false, Stop::AtOnce)
    }

    fn with(name: &str, log: &Log, fail_start: bool, stop: Stop) -> Rc<Recorder> {
        Rc::new(Recorder {
            core: ServiceCore::named(name),
            log: log.clone(),
            fail_start,
            stop,
            stopping: RefCell::new(None),
        })
    }

    fn finish_stop(&self) {
        let resolver = self.stopping.borrow_mut().take().expect("stopping");
        resolver.resolve(());
    }
}

impl Service for Recorder {
    fn core(&self) -> &ServiceCore {
        &self.core
    }

    fn start_service(&self) -> Result<(), Failure> {
        let name = self.core.display_name();
        if self.fail_start {
            self.log.borrow_mut().push(format!("fail {name}"));
            return Err(Failure::msg("no such file"));
        }
        self.log.borrow_mut().push(format!("start {name}"));
        Ok(())
    }

    fn stop_service(&self) -> Deferred<()> {
        self.log
            .borrow_mut()
            .push(format!("stop {}", self.core.display_name()));
        match self.stop {
            Stop::AtOnce => Deferred::succeed(()),
            Stop::Later => {
                let (deferred, resolver) = Deferred::new();
                *self.stopping.borrow_mut() = Some(resolver);
                deferred
            }
        }
    }
}

fn log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

fn entries(log: &Log) -> Vec<String> {
    log.borrow().clone()
}

/// Starts `service` as a parent would.
fn start(service: &dyn Service) -> Result<(), Failure> {
    super::contract::start(service)
}

/// Whether the Deferred has fired, observed through a flag.
fn watch(deferred: Deferred<()>) -> Rc<Cell<bool>> {
    let fired = Rc::new(Cell::new(false));
    let flag = fired.clone();
    drop(deferred.map(move |()| flag.set(true)));
    fired
}

#[test]
fn children_start_in_insertion_order_and_stop_in_reverse() {
    let log = log();
    let parent = MultiService::new();
    for name in ["a", "b", "c"] {
        parent.add_service(Recorder::new(name, &log)).unwrap();
    }
    start(&*parent).unwrap();
    assert!(parent.services().iter().all(|s| s.core().is_running()));
    let stopped = watch(super::contract::stop(&*parent));
    assert!(stopped.get());
    assert_eq!(
        entries(&log),
        [
            "start a", "start b", "start c", "stop c", "stop b", "stop a"
        ]
    );
    assert!(parent.services().iter().all(|s| !s.core().is_running()));
}

#[test]
fn stop_waits_for_every_childs_deferred() {
    let log = log();
    let parent = MultiService::new();
    let a = Recorder::with("a", &log, false, Stop::Later);
    let b = Recorder::with("b", &log, false, Stop::Later);
    parent.add_service(a.clone()).unwrap();
    parent.add_service(b.clone()).unwrap();
    start(&*parent).unwrap();
    let stopped = watch(super::contract::stop(&*parent));
    // Both stops were asked for at once, last added first.
    assert_eq!(entries(&log)[2..], ["stop b", "stop a"]);
    assert!(!stopped.get());
    a.finish_stop();
    assert!(!stopped.get(), "b has not stopped yet");
    b.finish_stop();
    assert!(stopped.get());
}

#[test]
fn a_child_whose_stop_never_fires_is_given_up_on_after_the_bound() {
    let clock = Rc::new(Clock::new());
    let log = log();
    let parent = MultiService::new();
    parent.set_stop_timeout(clock.clone(), Duration::from_secs(5));
    let stuck = Recorder::with("stuck", &log, false, Stop::Later);
    parent.add_service(Recorder::new("quick", &log)).unwrap();
    parent.add_service(stuck.clone()).unwrap();
    start(&*parent).unwrap();
    let logs = LogCapture::new();
    let stopped = logs.run(|| {
        let stopped = watch(super::contract::stop(&*parent));
        clock.advance(Duration::from_secs(4));
        assert!(!stopped.get());
        clock.advance(Duration::from_secs(1));
        stopped
    });
    assert!(stopped.get(), "given up on after 5 s");
    let given_up: Vec<String> = logs
        .text()
        .lines()
        .filter(|line| line.contains("gave up waiting for a service to stop"))
        .map(str::to_owned)
        .collect();
    assert_eq!(given_up.len(), 1, "{}", logs.text());
    assert!(given_up[0].contains("WARN") && given_up[0].contains("service=stuck"));
    // The bound cancelled the stuck stop; its resolver fires into nothing.
    drop(stuck.stopping.borrow_mut().take());
}

#[test]
fn a_failing_start_stops_the_started_ones_in_reverse_and_names_the_failure() {
    let log = log();
    let parent = MultiService::new();
    parent.add_service(Recorder::new("a", &log)).unwrap();
    parent.add_service(Recorder::new("b", &log)).unwrap();
    parent
        .add_service(Recorder::with("broken", &log, true, Stop::AtOnce))
        .unwrap();
    parent.add_service(Recorder::new("never", &log)).unwrap();
    let failure = start(&*parent).unwrap_err();
    match failure.downcast::<ServiceError>() {
        Ok(ServiceError::StartFailed { service, reason }) => {
            assert_eq!(service, "broken");
            assert_eq!(reason.to_string(), "no such file");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        entries(&log),
        ["start a", "start b", "fail broken", "stop b", "stop a"]
    );
    assert!(!parent.core().is_running());
    assert!(parent.services().iter().all(|s| !s.core().is_running()));
    assert!(watch(super::contract::undo_start(&*parent)).get());
}

#[test]
fn a_failure_inside_a_nested_collection_undoes_both_levels_in_reverse() {
    let log = log();
    let outer = MultiService::new();
    let inner = MultiService::named("inner");
    outer.add_service(Recorder::new("a", &log)).unwrap();
    outer.add_service(inner.clone()).unwrap();
    inner.add_service(Recorder::new("b", &log)).unwrap();
    inner
        .add_service(Recorder::with("broken", &log, true, Stop::AtOnce))
        .unwrap();
    let failure = start(&*outer).unwrap_err();
    let error = failure.downcast::<ServiceError>().unwrap();
    assert!(
        error.to_string().starts_with("service broken failed"),
        "{error}"
    );
    assert_eq!(
        entries(&log),
        ["start a", "start b", "fail broken", "stop b", "stop a"]
    );
}

#[test]
fn a_panicking_start_is_a_failed_start() {
    struct Panics(ServiceCore);
    impl Service for Panics {
        fn core(&self) -> &ServiceCore {
            &self.0
        }
        fn start_service(&self) -> Result<(), Failure> {
            panic!("boom")
        }
    }
    let parent = MultiService::new();
    parent
        .add_service(Rc::new(Panics(ServiceCore::named("p"))))
        .unwrap();
    let failure = start(&*parent).unwrap_err();
    assert!(failure.to_string().contains("boom"), "{failure}");
}

#[test]
fn a_child_added_to_a_running_parent_starts_at_once_and_removing_it_stops_it() {
    let log = log();
    let parent = MultiService::new();
    start(&*parent).unwrap();
    let late: Rc<dyn Service> = Recorder::new("late", &log);
    parent.add_service(late.clone()).unwrap();
    assert_eq!(entries(&log), ["start late"]);
    assert!(late.core().is_running());
    let removed = watch(parent.remove_service(&late).unwrap());
    assert!(removed.get());
    assert_eq!(entries(&log), ["start late", "stop late"]);
    assert!(late.core().parent().is_none());
    assert!(matches!(
        parent.remove_service(&late),
        Err(ServiceError::NotAChild)
    ));
}

#[test]
fn a_child_that_fails_to_start_in_a_running_parent_is_not_kept() {
    let log = log();
    let parent = MultiService::new();
    start(&*parent).unwrap();
    let broken = Recorder::with("broken", &log, true, Stop::AtOnce);
    let error = parent.add_service(broken.clone()).unwrap_err();
    assert!(error.is_start_failure());
    assert!(parent.services().is_empty());
    assert!(broken.core().parent().is_none());
}

#[test]
fn names_are_unique_among_siblings_and_fixed_while_parented() {
    let log = log();
    let parent = MultiService::new();
    let a = Recorder::new("a", &log);
    parent.add_service(a.clone()).unwrap();
    assert!(matches!(
        parent.add_service(Recorder::new("a", &log)),
        Err(ServiceError::DuplicateName(name)) if name == "a"
    ));
    assert!(matches!(
        a.core().set_name("b"),
        Err(ServiceError::RenamedWithParent)
    ));
    let other = MultiService::new();
    assert!(matches!(
        other.add_service(a.clone()),
        Err(ServiceError::AlreadyHasParent)
    ));
    assert!(matches!(
        parent.service_named("zz"),
        Err(ServiceError::NoSuchService(_))
    ));
    let found = parent.service_named("a").unwrap();
    assert!(Rc::ptr_eq(&found, &(a.clone() as Rc<dyn Service>)));
}

#[test]
fn timer_service_calls_at_its_interval_until_stopped() {
    let clock = Clock::new();
    let calls = Rc::new(Cell::new(0));
    let counter = calls.clone();
    let timer = TimerService::new(clock.clone(), Duration::from_secs(10), move || {
        counter.set(counter.get() + 1)
    });
    start(&timer).unwrap();
    assert_eq!(calls.get(), 1, "called at start");
    let ten = Duration::from_secs(10);
    clock.pump(&[ten, ten, Duration::from_secs(5)]);
    assert_eq!(calls.get(), 3, "at 0, 10 and 20 s");
    assert!(watch(super::contract::stop(&timer)).get());
    clock.advance(Duration::from_secs(100));
    assert_eq!(calls.get(), 3);
}

#[test]
fn timer_service_stop_waits_for_the_call_in_progress() {
    let clock = Clock::new();
    let pending: Rc<RefCell<Option<Resolver<()>>>> = Rc::new(RefCell::new(None));
    let slot = pending.clone();
    let timer = TimerService::new(clock.clone(), Duration::from_secs(1), move || {
        let (deferred, resolver) = Deferred::<()>::new();
        *slot.borrow_mut() = Some(resolver);
        deferred
    });
    start(&timer).unwrap();
    let stopped = watch(super::contract::stop(&timer));
    assert!(!stopped.get());
    pending.borrow_mut().take().unwrap().resolve(());
    assert!(stopped.get());
}

#[test]
fn application_run_stops_every_service_before_the_reactor_finishes() {
    let reactor = Reactor::new().unwrap();
    let log = log();
    let application = Application::new();
    let slow = Recorder::with("slow", &log, false, Stop::Later);
    application.add_service(Recorder::new("a", &log)).unwrap();
    application.add_service(slow.clone()).unwrap();
    // The stop of "slow" fires 30 ms into shutdown; the reactor waits.
    let r = reactor.clone();
    let s = slow.clone();
    reactor.call_later(Duration::from_millis(10), move || {
        r.stop().unwrap();
        r.call_later(Duration::from_millis(30), move || s.finish_stop());
    });
    application.run(&reactor).unwrap();
    assert_eq!(
        entries(&log),
        ["start a", "start slow", "stop slow", "stop a"]
    );
    assert!(slow.stopping.borrow().is_none(), "its stop was waited for");
    assert!(!application.is_running());
}

#[test]
fn application_run_returns_the_failed_start_after_undoing_the_rest() {
    let reactor = Reactor::new().unwrap();
    let log = log();
    let application = Application::new();
    application.add_service(Recorder::new("a", &log)).unwrap();
    application
        .add_service(Recorder::with("broken", &log, true, Stop::AtOnce))
        .unwrap();
    let error = application.run(&reactor).unwrap_err();
    assert!(error.is_start_failure());
    assert_eq!(
        error.to_string(),
        "service broken failed to start: no such file"
    );
    assert_eq!(entries(&log), ["start a", "fail broken", "stop a"]);
    assert!(reactor.is_finished());
}

#[test]
fn application_gives_up_on_a_stuck_service_after_its_stop_timeout() {
    let reactor = Reactor::new().unwrap();
    let log = log();
    let application = Application::new();
    application.set_stop_timeout(Duration::from_millis(100));
    let stuck = Recorder::with("stuck", &log, false, Stop::Later);
    application.add_service(Recorder::new("a", &log)).unwrap();
    application.add_service(stuck.clone()).unwrap();
    let r = reactor.clone();
    reactor.call_later(Duration::from_millis(10), move || r.stop().unwrap());
    let started = std::time::Instant::now();
    application.run(&reactor).unwrap();
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(100), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(
        entries(&log),
        ["start a", "start stuck", "stop stuck", "stop a"]
    );
    drop(stuck.stopping.borrow_mut().take());
}

#[test]
fn a_failing_privileged_start_is_returned_before_the_reactor_runs() {
    struct NeedsRoot(ServiceCore);
    impl Service for NeedsRoot {
        fn core(&self) -> &ServiceCore {
            &self.0
        }
        fn privileged_start_service(&self) -> Result<(), Failure> {
            Err(Failure::msg("permission denied"))
        }
        fn start_service(&self) -> Result<(), Failure> {
            panic!("never started")
        }
    }
    let reactor = Reactor::new().unwrap();
    let log = log();
    let application = Application::new();
    application.add_service(Recorder::new("a", &log)).unwrap();
    application
        .add_service(Rc::new(NeedsRoot(ServiceCore::named("low-port"))))
        .unwrap();
    let error = application.run(&reactor).unwrap_err();
    assert_eq!(
        error.to_string(),
        "service low-port failed to start: permission denied"
    );
    assert!(entries(&log).is_empty(), "nothing started");
    assert!(!reactor.is_finished(), "the reactor never ran");
}
