//! [`Announce`]: a service that runs a function when it starts. Added
//! last to an application, it runs once every service before it is up,
//! which is when their bound addresses (port 0 resolved) can be printed.

use torsion::Failure;
use torsion::service::{Service, ServiceCore};

/// Runs its function at its start; its stop does nothing.
pub(crate) struct Announce {
    core: ServiceCore,
    announce: Box<dyn Fn() -> Result<(), Failure>>,
}

impl Announce {
    /// A service called `name` that calls `announce` at its start (an
    /// `Err` fails the start).
    pub(crate) fn new(
        name: &str,
        announce: impl Fn() -> Result<(), Failure> + 'static,
    ) -> Announce {
        Announce {
            core: ServiceCore::named(name),
            announce: Box::new(announce),
        }
    }
}

impl Service for Announce {
    fn core(&self) -> &ServiceCore {
        &self.core
    }

    fn start_service(&self) -> Result<(), Failure> {
        (self.announce)()
    }
}
