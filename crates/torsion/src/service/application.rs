//! [`Application`]: the top of the service tree, run with the reactor
//! (Twisted's `Application` as `twistd` runs it).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use super::contract::{self, Service};
use super::error::ServiceError;
use super::multi::MultiService;
use crate::reactor::{Phase, SystemEvent};
use crate::{Deferred, Failure, Reactor};

/// How long, by default, the application waits for each service's stop
/// before giving up on it: under the reactor's own
/// [shutdown timeout](crate::reactor::DEFAULT_SHUTDOWN_TIMEOUT), so that a
/// stuck service is named in the log before the reactor stops waiting.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(20);

struct Inner {
    root: Rc<MultiService>,
    stop_timeout: Cell<Duration>,
    /// The before-shutdown trigger is in place.
    watching: Cell<bool>,
    /// Why the start failed, for `run` to return.
    failed: RefCell<Option<ServiceError>>,
}

/// The services of a program, started when the reactor runs and stopped,
/// all of them, before it stops.
///
/// [`run`](Application::run) does what `twistd` does with a Twisted
/// application: it runs the privileged start of every service, starts
/// them once the reactor is running, in the order they were added, and
/// stops them in reverse order in a *before shutdown* trigger, so
/// [`Reactor::stop`], SIGINT and SIGTERM all wait for every service's stop
/// Deferred (each within the [stop timeout](Application::set_stop_timeout))
/// before connections are closed and the reactor finishes. If a service
/// fails to start, those started before it are stopped again, the reactor
/// stops, and `run` returns [`ServiceError::StartFailed`].
///
/// ```
/// use std::rc::Rc;
/// use std::time::Duration;
/// use torsion::Reactor;
/// use torsion::service::{Application, TimerService};
///
/// let reactor = Reactor::new()?;
/// let application = Application::new();
/// let timer = TimerService::new(reactor.clone(), Duration::from_millis(10), || {
///     println!("tick");
/// });
/// application.add_service(Rc::new(timer))?;
/// let stopper = reactor.clone();
/// reactor.call_later(Duration::from_millis(35), move || stopper.stop().unwrap());
/// application.run(&reactor)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Application {
    inner: Rc<Inner>,
}

impl Application {
    /// An application without services.
    pub fn new() -> Application {
        Application {
            inner: Rc::new(Inner {
                root: MultiService::named("application"),
                stop_timeout: Cell::new(DEFAULT_STOP_TIMEOUT),
                watching: Cell::new(false),
                failed: RefCell::new(None),
            }),
        }
    }

    /// Adds a service (started at once if the application is running).
    pub fn add_service(&self, service: Rc<dyn Service>) -> Result<(), ServiceError> {
        self.inner.root.add_service(service)
    }

    /// The service called `name`.
    pub fn service_named(&self, name: &str) -> Result<Rc<dyn Service>, ServiceError> {
        self.inner.root.service_named(name)
    }

    /// The collection holding the application's services.
    pub fn services(&self) -> &Rc<MultiService> {
        &self.inner.root
    }

    /// How long to wait for each service's stop before giving up on it
    /// (default [`DEFAULT_STOP_TIMEOUT`]). Set it before starting.
    pub fn set_stop_timeout(&self, timeout: Duration) {
        self.inner.stop_timeout.set(timeout);
    }

    /// True between a successful start and the stop.
    pub fn is_running(&self) -> bool {
        self.inner.root.core().is_running()
    }

    /// Starts the services now, on a reactor run by someone else (their
    /// privileged starts first), and arranges for them to be stopped in
    /// the reactor's before-shutdown phase. On failure the services
    /// started before the failing one are being stopped (the shutdown
    /// waits for them too) and the error names the service that failed.
    pub fn start(&self, reactor: &Reactor) -> Result<(), ServiceError> {
        contract::privileged_start(&*self.inner.root).map_err(as_start_error)?;
        self.start_after_privileged(reactor)
    }

    fn start_after_privileged(&self, reactor: &Reactor) -> Result<(), ServiceError> {
        let inner = &self.inner;
        let root = &inner.root;
        root.set_stop_timeout(Rc::new(reactor.clone()), inner.stop_timeout.get());
        self.stop_with(reactor);
        contract::start(&**root).map_err(as_start_error)
    }

    /// Stops the services now (in reverse order); the Deferred fires once
    /// every one has stopped or been given up on. Stopping an application
    /// that is not running does nothing.
    pub fn stop(&self) -> Deferred<()> {
        let root = &self.inner.root;
        if root.core().is_running() {
            contract::stop(&**root)
        } else {
            contract::undo_start(&**root)
        }
    }

    /// Runs `reactor` with the services: their privileged starts now
    /// (an error is returned at once, the reactor not run), their starts
    /// once it runs, their stops before it stops (on [`Reactor::stop`],
    /// SIGINT or SIGTERM), and returns when it has finished. A failed
    /// start stops the reactor after stopping what had started, and is
    /// returned.
    pub fn run(&self, reactor: &Reactor) -> Result<(), ServiceError> {
        contract::privileged_start(&*self.inner.root).map_err(as_start_error)?;
        let application = self.clone();
        let r = reactor.clone();
        reactor.call_when_running(move || {
            if let Err(error) = application.start_after_privileged(&r) {
                tracing::error!(%error, "the application could not start; stopping");
                *application.inner.failed.borrow_mut() = Some(error);
                let _ = r.stop();
            }
        });
        reactor.run()?;
        match self.inner.failed.borrow_mut().take() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// Puts the stop of the services in the reactor's before-shutdown
    /// phase, once.
    fn stop_with(&self, reactor: &Reactor) {
        if self.inner.watching.replace(true) {
            return;
        }
        let application = self.clone();
        reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, move || {
            application.stop()
        });
    }
}

impl Default for Application {
    fn default() -> Self {
        Application::new()
    }
}

/// The root's start failure as the error `start` returns.
fn as_start_error(failure: Failure) -> ServiceError {
    match failure.downcast::<ServiceError>() {
        Ok(error) => error,
        Err(reason) => ServiceError::StartFailed {
            service: "application".to_owned(),
            reason,
        },
    }
}

impl fmt::Debug for Application {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Application")
            .field("services", &self.inner.root)
            .field("stop_timeout", &self.inner.stop_timeout.get())
            .finish_non_exhaustive()
    }
}
