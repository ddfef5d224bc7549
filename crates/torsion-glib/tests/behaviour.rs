//! The behaviour suite (torsion-conformance) with the reactor inside a glib
//! main loop: `torsion_glib::run` on a fresh main context made this test
//! thread's default, so tests running in parallel each own theirs.

use torsion::Reactor;
use torsion::error::ReactorError;

fn under_glib(reactor: &Reactor) -> Result<(), ReactorError> {
    let context = glib::MainContext::new();
    context
        .with_thread_default(|| torsion_glib::run(reactor))
        .expect("a new context becomes this thread's default")
}

torsion_conformance::behaviour_suite!(under_glib);
