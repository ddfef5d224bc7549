//! [`MultiService`]: a service made of services (Twisted's `MultiService`).

use std::cell::RefCell;
use std::fmt;
use std::rc::{Rc, Weak};
use std::time::Duration;

use super::contract::{self, Service, ServiceCore};
use super::error::ServiceError;
use crate::defer::DeferredList;
use crate::time::Scheduler;
use crate::{Deferred, Failure};

/// How long a parent waits for each child's stop, and on which clock.
struct StopBound {
    scheduler: Rc<dyn Scheduler>,
    timeout: Duration,
}

/// A collection of services started and stopped together.
///
/// Children start in the order they were added and stop in the reverse
/// order: every running child's [`stop_service`](Service::stop_service) is
/// called, last added first, and the MultiService's own stop Deferred fires
/// once all of theirs have (Twisted's `DeferredList`). With a
/// [stop bound](MultiService::set_stop_timeout), a child whose stop has not
/// fired within it is given up on and logged, so one stuck child cannot
/// hold the others' shutdown for ever. A child's failed stop is logged and
/// counts as stopped.
///
/// A child added while the collection runs is started at once; a running
/// child that is removed is stopped. Names are unique among siblings.
///
/// If a child fails to start, the children started before it are stopped
/// again, in reverse order, and the start fails with
/// [`ServiceError::StartFailed`]; [`undo_start`](Service::undo_start)
/// returns the Deferred of that stop.
///
/// ```
/// use std::rc::Rc;
/// use torsion::service::{MultiService, Service, ServiceCore};
///
/// struct Quiet(ServiceCore);
/// impl Service for Quiet {
///     fn core(&self) -> &ServiceCore {
///         &self.0
///     }
/// }
///
/// let parent = MultiService::new();
/// parent.add_service(Rc::new(Quiet(ServiceCore::named("web"))))?;
/// parent.add_service(Rc::new(Quiet(ServiceCore::named("db"))))?;
/// assert!(parent.add_service(Rc::new(Quiet(ServiceCore::named("db")))).is_err());
/// let web = parent.service_named("web")?;
/// assert!(web.core().parent().is_some());
/// # Ok::<(), torsion::service::ServiceError>(())
/// ```
pub struct MultiService {
    core: ServiceCore,
    this: Weak<MultiService>,
    children: RefCell<Vec<Rc<dyn Service>>>,
    bound: RefCell<Option<StopBound>>,
    /// The stop of the children started before one failed to start.
    undoing: RefCell<Option<Deferred<()>>>,
}

impl MultiService {
    /// An empty, unnamed collection without a stop bound.
    pub fn new() -> Rc<MultiService> {
        MultiService::with_core(ServiceCore::new())
    }

    /// An empty collection called `name`.
    pub fn named(name: &str) -> Rc<MultiService> {
        MultiService::with_core(ServiceCore::named(name))
    }

    fn with_core(core: ServiceCore) -> Rc<MultiService> {
        Rc::new_cyclic(|this| MultiService {
            core,
            this: this.clone(),
            children: RefCell::new(Vec::new()),
            bound: RefCell::new(None),
            undoing: RefCell::new(None),
        })
    }

    /// Gives up on a child's stop once `timeout` has passed on
    /// `scheduler`'s clock (the reactor, or a
    /// [`Clock`](crate::testing::Clock) in tests), logging its name.
    pub fn set_stop_timeout(&self, scheduler: Rc<dyn Scheduler>, timeout: Duration) {
        *self.bound.borrow_mut() = Some(StopBound { scheduler, timeout });
    }

    /// Adds `service` as the last child (Twisted's `setServiceParent`).
    /// If this collection is running, the child is started at once; if
    /// that start fails, the child is removed again and the error
    /// returned. Fails if the service already has a parent or its name is
    /// taken here.
    pub fn add_service(&self, service: Rc<dyn Service>) -> Result<(), ServiceError> {
        if service.core().parent().is_some() {
            return Err(ServiceError::AlreadyHasParent);
        }
        if let Some(name) = service.core().name()
            && self.find(&name).is_some()
        {
            return Err(ServiceError::DuplicateName(name));
        }
        let this: Weak<dyn Service> = self.this.clone();
        service.core().set_parent(Some(this));
        self.children.borrow_mut().push(service.clone());
        if !self.core.is_running() {
            return Ok(());
        }
        let started =
            contract::privileged_start(&*service).and_then(|()| contract::start(&*service));
        match started {
            Ok(()) => Ok(()),
            Err(reason) => {
                drop(contract::undo_start(&*service));
                self.forget(&service);
                Err(start_failed(&*service, reason))
            }
        }
    }

    /// Removes a child (Twisted's `removeService`); if it was running it is
    /// stopped, and the Deferred fires once it has.
    pub fn remove_service(&self, service: &Rc<dyn Service>) -> Result<Deferred<()>, ServiceError> {
        if !self.forget(service) {
            return Err(ServiceError::NotAChild);
        }
        if service.core().is_running() {
            Ok(contract::stop(&**service))
        } else {
            Ok(Deferred::succeed(()))
        }
    }

    /// The child called `name` (Twisted's `getServiceNamed`).
    pub fn service_named(&self, name: &str) -> Result<Rc<dyn Service>, ServiceError> {
        self.find(name)
            .ok_or_else(|| ServiceError::NoSuchService(name.to_owned()))
    }

    /// The children, in the order they start.
    pub fn services(&self) -> Vec<Rc<dyn Service>> {
        self.children.borrow().clone()
    }

    fn find(&self, name: &str) -> Option<Rc<dyn Service>> {
        self.children
            .borrow()
            .iter()
            .find(|child| child.core().name().as_deref() == Some(name))
            .cloned()
    }

    /// Takes `service` out of the children; false if it was not one.
    fn forget(&self, service: &Rc<dyn Service>) -> bool {
        let mut children = self.children.borrow_mut();
        let Some(index) = children.iter().position(|c| Rc::ptr_eq(c, service)) else {
            return false;
        };
        children.remove(index);
        drop(children);
        service.core().set_parent(None);
        true
    }

    /// Stops `child`, within the bound if there is one; fires with `()`
    /// whatever happens, having logged a failure or a child given up on.
    fn stop_child(&self, child: &Rc<dyn Service>) -> Deferred<()> {
        let name = child.core().display_name();
        let stopping = contract::stop(&**child);
        let stopping = match &*self.bound.borrow() {
            Some(bound) => stopping.add_timeout(bound.timeout, &*bound.scheduler),
            None => stopping,
        };
        stopping.or_else(move |failure: Failure| {
            if failure.is_timeout() {
                tracing::warn!(service = %name, %failure, "gave up waiting for a service to stop");
            } else {
                tracing::error!(service = %name, %failure, "a service failed to stop");
            }
            Ok::<(), Failure>(())
        })
    }

    /// Stops `children` (already in reverse order) and waits for them all.
    fn stop_all(&self, children: Vec<Rc<dyn Service>>) -> Deferred<()> {
        let stops = children
            .iter()
            .filter(|child| child.core().is_running())
            .map(|child| self.stop_child(child))
            .collect();
        DeferredList::all(stops).map(|_| ())
    }
}

/// The error for `service`'s failed start: a child's own
/// [`ServiceError::StartFailed`] (from a nested collection) passes through
/// as it is, so the error names the service that failed.
fn start_failed(service: &dyn Service, reason: Failure) -> ServiceError {
    match reason.downcast::<ServiceError>() {
        Ok(error @ ServiceError::StartFailed { .. }) => error,
        Ok(other) => ServiceError::StartFailed {
            service: service.core().display_name(),
            reason: Failure::new(other),
        },
        Err(reason) => ServiceError::StartFailed {
            service: service.core().display_name(),
            reason,
        },
    }
}

impl Service for MultiService {
    fn core(&self) -> &ServiceCore {
        &self.core
    }

    /// Runs every child's privileged start, in order.
    fn privileged_start_service(&self) -> Result<(), Failure> {
        for child in self.services() {
            contract::privileged_start(&*child).map_err(|reason| start_failed(&*child, reason))?;
        }
        Ok(())
    }

    /// Starts the children in order; if one fails, stops those started
    /// before it in reverse order and fails with
    /// [`ServiceError::StartFailed`].
    fn start_service(&self) -> Result<(), Failure> {
        let children = self.services();
        for (index, child) in children.iter().enumerate() {
            if let Err(reason) = contract::start(&**child) {
                let error = start_failed(&**child, reason);
                tracing::error!(%error, "stopping the services started before it");
                let undo_failed = contract::undo_start(&**child);
                let earlier = children[..index].iter().rev().cloned().collect();
                let undo_earlier = self.stop_all(earlier);
                let undoing = DeferredList::all(vec![undo_failed, undo_earlier]).map(|_| ());
                *self.undoing.borrow_mut() = Some(undoing);
                return Err(Failure::new(error));
            }
        }
        Ok(())
    }

    /// Stops the running children, last added first, and fires once every
    /// one has stopped or been given up on.
    fn stop_service(&self) -> Deferred<()> {
        let children = self.services().into_iter().rev().collect();
        self.stop_all(children)
    }

    fn undo_start(&self) -> Deferred<()> {
        self.undoing
            .borrow_mut()
            .take()
            .unwrap_or_else(|| Deferred::succeed(()))
    }
}

impl fmt::Debug for MultiService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self
            .children
            .borrow()
            .iter()
            .map(|child| child.core().display_name())
            .collect();
        f.debug_struct("MultiService")
            .field("core", &self.core)
            .field("children", &names)
            .field(
                "stop_timeout",
                &self.bound.borrow().as_ref().map(|b| b.timeout),
            )
            .finish()
    }
}
