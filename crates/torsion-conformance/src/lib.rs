//! One behaviour suite for every way of running a torsion reactor, in the
//! model of Twisted's `reactormixins`: the reactor tests that speak only of
//! public behaviour (timers, TCP echo, UDP, UNIX sockets, other threads,
//! shutdown triggers, signals) are written once here and run against each
//! backend.
//!
//! A backend is a [`Runner`]: a function that runs a reactor (started or
//! not) until it has stopped and finished, the way
//! `reactor.run_with(Signals::LeaveAlone)` does. A backend crate runs the
//! whole suite with one line in `tests/behaviour.rs`, which expands to one
//! `#[test]` per behaviour:
//!
//! ```ignore
//! fn run(reactor: &torsion::Reactor) -> Result<(), torsion::error::ReactorError> {
//!     reactor.run_with(torsion::reactor::Signals::LeaveAlone)
//! }
//!
//! torsion_conformance::behaviour_suite!(run);
//! ```
//!
//! This crate's own tests run it for the plain reactor; `torsion-glib`'s for
//! a reactor inside a glib main loop (`torsion_glib::run`), and
//! `torsion-tokio`'s for a reactor inside a tokio runtime
//! (`torsion_tokio::block_on_reactor`).
//!
//! The signal behaviour runs the reactor in a child process (the same test
//! binary, running an ignored test the macro generates), so SIGTERM never
//! reaches the test process and the suite runs in parallel with anything.
//! Each behaviour is also a plain function (`fn(Runner)`), to call alone.
#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]

mod lifecycle;
mod net;
mod shutdown;
#[doc(hidden)]
pub mod signals;
mod support;
mod threads;
mod timers;

pub use lifecycle::*;
pub use net::*;
pub use shutdown::*;
pub use threads::*;
pub use timers::*;

use torsion::Reactor;
use torsion::error::ReactorError;

/// A backend: runs `reactor` (started or not) until it has stopped and
/// finished its shutdown, touching no signal, as
/// `reactor.run_with(Signals::LeaveAlone)` does; fails as it does
/// (`AlreadyRunning`, `NotRestartable`).
pub type Runner = fn(&Reactor) -> Result<(), ReactorError>;

/// Expands to one `#[test]` per behaviour of the suite, each running the
/// behaviour with the given [`Runner`] (a path to a function).
///
/// ```ignore
/// torsion_conformance::behaviour_suite!(torsion_glib::run);
/// ```
#[macro_export]
macro_rules! behaviour_suite {
    ($runner:path) => {
        $crate::behaviour_suite!(@each $runner;
            run_returns_after_stop,
            stop_when_not_running_is_not_running,
            running_twice_is_not_restartable,
            running_while_running_is_already_running,
            call_when_running_before_the_run_runs_after_startup,
            timers_fire_in_deadline_order,
            timer_fires_no_earlier_than_its_delay,
            cancelled_timer_does_not_fire,
            zero_delay_call_scheduled_from_a_timer_runs_after_ready_io,
            finishing_cancels_pending_timers,
            tcp_echo_with_a_blocking_client_thread,
            stopping_the_reactor_closes_every_connection_and_port,
            udp_echo_with_a_std_socket_in_a_thread,
            unix_socket_echo_and_stop_listening_removes_the_file,
            call_from_thread_from_8_threads_keeps_per_thread_order,
            handle_stop_from_another_thread_stops_the_reactor,
            defer_to_thread_fires_on_the_reactor_thread_with_the_value,
            spawn_runs_a_future_and_its_deferred_fires,
            waker_used_from_another_thread_wakes_the_task,
            triggers_run_in_phase_order,
            before_shutdown_deferred_delays_later_phases_until_it_fires,
            shutdown_waits_for_a_never_firing_trigger_until_the_timeout_without_spinning,
        );

        #[test]
        #[ignore = "the child process of sigterm_stops_the_reactor_gracefully"]
        fn signal_child_runs_the_reactor() {
            $crate::signals::signal_child($runner);
        }

        #[test]
        fn sigterm_stops_the_reactor_gracefully() {
            $crate::signals::sigterm_stops_the_reactor_gracefully(
                &$crate::signals::test_name(module_path!(), "signal_child_runs_the_reactor"),
            );
        }
    };
    (@each $runner:path; $($behaviour:ident),* $(,)?) => {
        $(
            #[test]
            fn $behaviour() {
                $crate::$behaviour($runner);
            }
        )*
    };
}
