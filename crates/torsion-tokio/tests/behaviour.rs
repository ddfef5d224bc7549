//! The behaviour suite (torsion-conformance) with the reactor inside a
//! tokio current-thread runtime: `block_on_reactor` builds one, with a
//! `LocalSet`, for each test.

use torsion::Reactor;
use torsion::error::ReactorError;

fn inside_tokio(reactor: &Reactor) -> Result<(), ReactorError> {
    torsion_tokio::block_on_reactor(reactor).map_err(|error| match error {
        torsion_tokio::Error::Reactor(error) => error,
        other => panic!("the tokio host failed: {other}"),
    })
}

torsion_conformance::behaviour_suite!(inside_tokio);
