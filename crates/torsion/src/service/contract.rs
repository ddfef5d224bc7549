//! The [`Service`] contract and the state every service carries
//! ([`ServiceCore`]: name, parent, running).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::{Rc, Weak};

use super::error::ServiceError;
use crate::failure::catch_panic;
use crate::{Deferred, Failure};

/// Something that is started and stopped with its application (Twisted's
/// `IService`).
///
/// Who calls what: a parent ([`MultiService`](super::MultiService), and
/// through it the [`Application`](super::Application)) calls
/// [`privileged_start_service`](Service::privileged_start_service) once,
/// before the reactor runs, then [`start_service`](Service::start_service)
/// when the reactor is running, and [`stop_service`](Service::stop_service)
/// when it stops, all on the reactor's thread. The parent marks the
/// service running just before `start_service` and not running just before
/// `stop_service`, as Twisted's base `Service` does at the top of those
/// methods, so an implementation need only do its own work.
///
/// ```
/// use torsion::service::{Service, ServiceCore};
/// use torsion::{Deferred, Failure};
///
/// /// Says when it starts and stops.
/// struct Announcer(ServiceCore);
///
/// impl Service for Announcer {
///     fn core(&self) -> &ServiceCore {
///         &self.0
///     }
///     fn start_service(&self) -> Result<(), Failure> {
///         println!("{} starts", self.0.display_name());
///         Ok(())
///     }
///     fn stop_service(&self) -> Deferred<()> {
///         println!("{} stops", self.0.display_name());
///         Deferred::succeed(())
///     }
/// }
/// let announcer = Announcer(ServiceCore::named("announcer"));
/// assert_eq!(announcer.core().name().as_deref(), Some("announcer"));
/// ```
pub trait Service: 'static {
    /// The name, parent and running flag of this service.
    fn core(&self) -> &ServiceCore;

    /// Work that needs the process's privileges (binding a port below 1024
    /// before privileges are dropped). Runs before the reactor does; by
    /// default nothing.
    fn privileged_start_service(&self) -> Result<(), Failure> {
        Ok(())
    }

    /// Starts the service. An error makes the parent stop what it had
    /// already started and report the error.
    fn start_service(&self) -> Result<(), Failure> {
        Ok(())
    }

    /// Stops the service; the Deferred fires once it has stopped (the
    /// application's shutdown waits for it).
    fn stop_service(&self) -> Deferred<()> {
        Deferred::succeed(())
    }

    /// Called by the parent right after [`start_service`](Service::start_service)
    /// failed, instead of `stop_service`: the Deferred fires once whatever
    /// that start had set going has stopped again. By default nothing: a
    /// service whose start fails should have started nothing. A
    /// [`MultiService`](super::MultiService) returns the stop of the
    /// children it had started before one failed.
    fn undo_start(&self) -> Deferred<()> {
        Deferred::succeed(())
    }
}

/// Starts `service` as a parent does: marks it running, runs its start
/// hook (a panic becomes the failure) and marks it not running again if
/// the hook failed.
pub(super) fn start(service: &dyn Service) -> Result<(), Failure> {
    service.core().set_running(true);
    let started = catch_panic(|| service.start_service()).and_then(|result| result);
    if started.is_err() {
        service.core().set_running(false);
    }
    started
}

/// Stops `service` as a parent does: marks it not running, then runs its
/// stop hook (a panic becomes a failed Deferred).
pub(super) fn stop(service: &dyn Service) -> Deferred<()> {
    service.core().set_running(false);
    catch_panic(|| service.stop_service()).unwrap_or_else(Deferred::fail)
}

/// The Deferred of [`Service::undo_start`], a panic turned into a failure.
pub(super) fn undo_start(service: &dyn Service) -> Deferred<()> {
    catch_panic(|| service.undo_start()).unwrap_or_else(Deferred::fail)
}

/// Runs the privileged start hook, a panic becoming the failure.
pub(super) fn privileged_start(service: &dyn Service) -> Result<(), Failure> {
    catch_panic(|| service.privileged_start_service()).and_then(|result| result)
}

/// The state every service has (Twisted's base `Service`): an optional
/// name, the parent it belongs to, and whether it is running. A service
/// embeds one and returns it from [`Service::core`].
#[derive(Default)]
pub struct ServiceCore {
    name: RefCell<Option<String>>,
    parent: RefCell<Option<Weak<dyn Service>>>,
    running: Cell<bool>,
}

impl ServiceCore {
    /// The state of a service without a name.
    pub fn new() -> ServiceCore {
        ServiceCore::default()
    }

    /// The state of a service called `name`.
    pub fn named(name: &str) -> ServiceCore {
        let core = ServiceCore::default();
        *core.name.borrow_mut() = Some(name.to_owned());
        core
    }

    /// The service's name, if it has one.
    pub fn name(&self) -> Option<String> {
        self.name.borrow().clone()
    }

    /// The name, or `"(unnamed)"`, for messages.
    pub fn display_name(&self) -> String {
        self.name().unwrap_or_else(|| "(unnamed)".to_owned())
    }

    /// Renames the service. Refused while it has a parent, which files it
    /// under its name (Twisted raises `RuntimeError` there too).
    pub fn set_name(&self, name: &str) -> Result<(), ServiceError> {
        if self.parent().is_some() {
            return Err(ServiceError::RenamedWithParent);
        }
        *self.name.borrow_mut() = Some(name.to_owned());
        Ok(())
    }

    /// The service this one is a child of, while that parent exists.
    pub fn parent(&self) -> Option<Rc<dyn Service>> {
        self.parent.borrow().as_ref().and_then(Weak::upgrade)
    }

    /// True between the start and the stop of the service.
    pub fn is_running(&self) -> bool {
        self.running.get()
    }

    /// Marks the service running or not (parents do this around the
    /// start and stop hooks).
    pub fn set_running(&self, running: bool) {
        self.running.set(running);
    }

    pub(super) fn set_parent(&self, parent: Option<Weak<dyn Service>>) {
        *self.parent.borrow_mut() = parent;
    }
}

impl fmt::Debug for ServiceCore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceCore")
            .field("name", &*self.name.borrow())
            .field("has_parent", &self.parent().is_some())
            .field("running", &self.running.get())
            .finish()
    }
}
