//! The behaviour suite against the plain reactor: `run_with`, its own
//! loop. (Other backends run the same suite from their own crates.)

use torsion::Reactor;
use torsion::error::ReactorError;
use torsion::reactor::Signals;

fn plain(reactor: &Reactor) -> Result<(), ReactorError> {
    reactor.run_with(Signals::LeaveAlone)
}

torsion_conformance::behaviour_suite!(plain);
