//! A reactor attached to a glib `MainContext`: two sources turn it.
//!
//! ```text
//!   fd source     the reactor's descriptor readable (I/O, posted work,
//!                 a woken task, a stop signal)          -> one turn
//!   timeout       re-armed after every turn for the reactor's
//!   source        next_timeout (its next timer, the shutdown timeout,
//!                 or at once when work is ready)        -> one turn
//!   finished      both sources destroyed; on_finished hooks run
//! ```
//!
//! A turn is `run_once(Some(Duration::ZERO))`: glib does all the waiting.
//! The timeout source is replaced only when the deadline moves, so a busy
//! reactor does not churn through glib sources.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use glib::thread_guard::ThreadGuard;
use glib::{ControlFlow, IOCondition, MainContext, Priority, Source};
use torsion::Reactor;
use torsion::error::ReactorError;

/// Why [`attach`] could not attach a reactor.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    /// The reactor could not start: it has already run and finished
    /// ([`ReactorError::NotRestartable`]).
    #[error(transparent)]
    Reactor(#[from] ReactorError),
    /// Another thread owns the main context; a reactor is `!Send` and
    /// its sources must be dispatched on the reactor's own thread.
    #[error("the glib main context is owned by another thread")]
    ContextOwnedElsewhere,
}

/// A reactor attached to a glib [`MainContext`]: while this value lives
/// (and the reactor has not finished), whatever iterates the context (a
/// `MainLoop`, GTK's main loop, `context.iteration`) also turns the
/// reactor. Dropping it detaches the reactor, which stays as it was
/// (running, stopping); [`run`](crate::run) is the convenience that runs a
/// main loop until the reactor finishes.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use std::time::Duration;
/// use torsion::Reactor;
///
/// let context = glib::MainContext::new();
/// let reactor = Reactor::new()?;
/// let attached = torsion_glib::attach(&reactor, &context)?;
/// let r = reactor.clone();
/// reactor.call_later(Duration::from_millis(5), move || r.stop().unwrap());
/// let finished = Rc::new(Cell::new(false));
/// let flag = finished.clone();
/// attached.on_finished(move || flag.set(true));
/// while !finished.get() {
///     context.iteration(true);
/// }
/// assert!(reactor.is_finished());
/// assert!(!attached.is_attached());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Attachment {
    driver: Rc<Driver>,
}

/// Attaches `reactor` to `context`, starting the reactor if it has not
/// started (its startup triggers run now). A reactor that a host already
/// started attaches as it is; a finished one is refused.
///
/// Call it on the reactor's thread, which must be able to own `context`
/// (no other thread is iterating it): the reactor's sources run wherever
/// the context is iterated, and the reactor is `!Send`.
pub fn attach(reactor: &Reactor, context: &MainContext) -> Result<Attachment, AttachError> {
    let _owned = context
        .acquire()
        .map_err(|_| AttachError::ContextOwnedElsewhere)?;
    match reactor.start() {
        Ok(()) | Err(ReactorError::AlreadyRunning) => {}
        Err(error) => return Err(error.into()),
    }
    let driver = Rc::new(Driver {
        reactor: reactor.clone(),
        context: context.clone(),
        fd_source: RefCell::new(None),
        timer: RefCell::new(None),
        attached: Cell::new(true),
        failed: Cell::new(false),
        on_finished: RefCell::new(Vec::new()),
    });
    let weak = ThreadGuard::new(Rc::downgrade(&driver));
    let fd_source = glib::unix_fd_source_new(
        reactor.as_raw_fd(),
        IOCondition::IN,
        Some("torsion reactor"),
        Priority::DEFAULT,
        move |_, _| match weak.get_ref().upgrade() {
            Some(driver) if driver.turn() => ControlFlow::Continue,
            _ => ControlFlow::Break,
        },
    );
    fd_source.attach(Some(context));
    *driver.fd_source.borrow_mut() = Some(fd_source);
    driver.rearm();
    Ok(Attachment { driver })
}

impl Attachment {
    /// The reactor this attachment turns.
    pub fn reactor(&self) -> &Reactor {
        &self.driver.reactor
    }

    /// True until the reactor finishes (or the attachment is dropped).
    pub fn is_attached(&self) -> bool {
        self.driver.attached.get()
    }

    /// Calls `f` from the main loop once the reactor has finished (at once
    /// if it already has). [`run`](crate::run) quits its main loop so.
    pub fn on_finished(&self, f: impl FnOnce() + 'static) {
        if self.driver.attached.get() {
            self.driver.on_finished.borrow_mut().push(Box::new(f));
        } else {
            f();
        }
    }

    /// True if a turn failed to poll for I/O (logged); the attachment then
    /// detached and ran its `on_finished` hooks, though the reactor has not
    /// finished.
    pub fn failed(&self) -> bool {
        self.driver.failed.get()
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        self.driver.detach();
    }
}

impl fmt::Debug for Attachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attachment")
            .field("reactor", &self.driver.reactor)
            .field("attached", &self.driver.attached.get())
            .finish()
    }
}

/// The state both sources share. They hold it weakly: they belong to it,
/// and dropping the attachment must free it.
struct Driver {
    reactor: Reactor,
    context: MainContext,
    fd_source: RefCell<Option<Source>>,
    timer: RefCell<Option<Timer>>,
    attached: Cell<bool>,
    failed: Cell<bool>,
    on_finished: RefCell<Vec<Box<dyn FnOnce()>>>,
}

/// The armed timeout source and when glib will fire it.
struct Timer {
    source: Source,
    fires_at: Instant,
}

impl Driver {
    /// One turn of the reactor, then the timer re-armed; false once the
    /// sources are gone.
    fn turn(self: &Rc<Self>) -> bool {
        if !self.attached.get() {
            return false;
        }
        if let Err(error) = self.reactor.run_once(Some(Duration::ZERO)) {
            tracing::error!(%error, "polling for events failed; detaching the reactor from glib");
            self.failed.set(true);
            self.finish();
            return false;
        }
        if self.reactor.is_finished() {
            self.finish();
            return false;
        }
        // A callback of the turn may have dropped the attachment.
        if !self.attached.get() {
            return false;
        }
        self.rearm();
        true
    }

    /// Arms the timeout source for the reactor's next deadline, keeping the
    /// one armed when it already fires then.
    fn rearm(self: &Rc<Self>) {
        let Some(wait) = self.reactor.next_timeout() else {
            self.disarm();
            return;
        };
        let now = Instant::now();
        let deadline = now + wait;
        // glib counts whole milliseconds: round up, so the reactor's timer
        // is due when the source fires, and a sub-millisecond wait does not
        // become a busy zero.
        let interval = Duration::from_millis(wait.as_nanos().div_ceil(1_000_000) as u64);
        if let Some(timer) = &*self.timer.borrow()
            && timer.fires_at >= deadline
            && timer.fires_at <= deadline + Duration::from_millis(1)
        {
            return;
        }
        self.disarm();
        let weak = ThreadGuard::new(Rc::downgrade(self));
        let source = glib::timeout_source_new(
            interval,
            Some("torsion timer"),
            Priority::DEFAULT,
            move || {
                if let Some(driver) = weak.get_ref().upgrade() {
                    // This source ends with the callback; the turn arms
                    // a fresh one if the reactor needs it.
                    drop(driver.timer.borrow_mut().take());
                    driver.turn();
                }
                ControlFlow::Break
            },
        );
        source.attach(Some(&self.context));
        *self.timer.borrow_mut() = Some(Timer {
            source,
            fires_at: now + interval,
        });
    }

    fn disarm(&self) {
        let timer = self.timer.borrow_mut().take();
        if let Some(timer) = timer {
            timer.source.destroy();
        }
    }

    /// Removes both sources; the reactor is left as it is.
    fn detach(&self) {
        self.attached.set(false);
        self.disarm();
        let fd_source = self.fd_source.borrow_mut().take();
        if let Some(source) = fd_source {
            source.destroy();
        }
    }

    /// The reactor finished (or failed): detach, then tell whoever waits.
    fn finish(&self) {
        self.detach();
        let hooks = std::mem::take(&mut *self.on_finished.borrow_mut());
        for hook in hooks {
            hook();
        }
    }
}
