//! One child process as the reactor sees it: its pipes (stream connections
//! over pipe ends), its exit once reaped, and the order its protocol hears
//! about them in (`process_ended` last, once it has exited and every pipe
//! has closed).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::os::fd::{OwnedFd, RawFd};
use std::process::{Child, ExitStatus};
use std::rc::Rc;

use super::error::{ProcessDone, ProcessExitedAlready, ProcessTerminated};
use super::{ProcessProtocol, ProcessTransport, Signal, sys};
use crate::failure::catch_panic;
use crate::net::{Protocol, Transport};
use crate::reactor::{WatchId, WeakReactor};
use crate::{Failure, Reactor};

/// A pipe to the child, by the child's descriptor number.
pub(crate) struct Pipe {
    pub(crate) transport: Transport,
    /// The parent writes it (the child's stdin, say).
    pub(crate) writer: bool,
}

/// How a child ended: its status, or a note that somebody else collected
/// it.
pub(crate) type Exit = Result<ExitStatus, ProcessTerminated>;

/// Told how the child exited (the async view's `wait`).
type ExitHook = Box<dyn FnOnce(Result<ExitStatus, Failure>)>;

pub(crate) struct ProcessCore {
    reactor: WeakReactor,
    pid: u32,
    /// The process group it leads or joined, for `signal_group`.
    group: Option<i32>,
    /// Until reaped.
    child: RefCell<Option<Child>>,
    /// The pidfd watched for its exit, which also signals it safely.
    pidfd: RefCell<Option<Rc<OwnedFd>>>,
    watch: Cell<Option<WatchId>>,
    /// How it ended, once reaped.
    exit: RefCell<Option<Exit>>,
    pipes: RefCell<BTreeMap<RawFd, Pipe>>,
    /// Until `process_ended` (or the reactor finishing) lets it go, which
    /// breaks the cycle through the transport it keeps.
    protocol: RefCell<Option<Box<dyn ProcessProtocol>>>,
    ended: Cell<bool>,
    /// Told of the exit besides the protocol (the async view).
    on_exit: RefCell<Option<ExitHook>>,
}

impl ProcessCore {
    pub(crate) fn new(
        reactor: &Reactor,
        child: Child,
        group: Option<i32>,
        protocol: Box<dyn ProcessProtocol>,
    ) -> ProcessCore {
        let pid = child.id();
        ProcessCore {
            reactor: reactor.downgrade(),
            pid,
            group: group.map(|pgid| if pgid == 0 { pid as i32 } else { pgid }),
            child: RefCell::new(Some(child)),
            pidfd: RefCell::new(None),
            watch: Cell::new(None),
            exit: RefCell::new(None),
            pipes: RefCell::new(BTreeMap::new()),
            protocol: RefCell::new(Some(protocol)),
            ended: Cell::new(false),
            on_exit: RefCell::new(None),
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    pub(crate) fn is_reaped(&self) -> bool {
        self.child.borrow().is_none()
    }

    pub(crate) fn add_pipe(&self, fd: RawFd, pipe: Pipe) {
        self.pipes.borrow_mut().insert(fd, pipe);
    }

    pub(crate) fn pipe(&self, fd: RawFd) -> Option<(Transport, bool)> {
        self.pipes
            .borrow()
            .get(&fd)
            .map(|pipe| (pipe.transport.clone(), pipe.writer))
    }

    pub(crate) fn pipes(&self) -> Vec<(Transport, bool)> {
        self.pipes
            .borrow()
            .values()
            .map(|pipe| (pipe.transport.clone(), pipe.writer))
            .collect()
    }

    pub(crate) fn set_on_exit(&self, f: impl FnOnce(Result<ExitStatus, Failure>) + 'static) {
        *self.on_exit.borrow_mut() = Some(Box::new(f));
    }

    pub(crate) fn watch_pidfd(&self, pidfd: Rc<OwnedFd>, watch: WatchId) {
        *self.pidfd.borrow_mut() = Some(pidfd);
        self.watch.set(Some(watch));
    }

    /// Calls the protocol, unless a nested loop turn is inside one of its
    /// callbacks already; a panic is logged and the process goes on.
    pub(crate) fn call(&self, f: impl FnOnce(&mut dyn ProcessProtocol)) {
        let Ok(mut slot) = self.protocol.try_borrow_mut() else {
            return;
        };
        let Some(protocol) = slot.as_mut() else {
            return;
        };
        if let Err(failure) = catch_panic(|| f(protocol.as_mut())) {
            tracing::error!(%failure, pid = self.pid, "panic in a process protocol callback");
        }
    }

    /// Lets the protocol go without telling it anything more (the reactor
    /// has finished).
    pub(crate) fn release_protocol(&self) {
        let protocol = self.protocol.borrow_mut().take();
        drop(protocol);
    }

    /// Sends `signal` to the child: through its pidfd when it has one,
    /// else by pid, which is safe while the child is unreaped (a zombie
    /// keeps its pid).
    pub(crate) fn signal(&self, signal: Signal) -> Result<(), Failure> {
        if self.is_reaped() {
            return Err(Failure::new(ProcessExitedAlready));
        }
        let sent = match &*self.pidfd.borrow() {
            Some(pidfd) => sys::pidfd_send_signal(pidfd, signal.as_raw()),
            None => sys::kill(self.pid as i32, signal.as_raw()),
        };
        sent.map_err(Failure::new)
    }

    /// Sends `signal` to the child's process group.
    pub(crate) fn signal_group(&self, signal: Signal) -> Result<(), Failure> {
        let Some(group) = self.group else {
            return Err(Failure::msg(
                "the process was not started in a process group of its own",
            ));
        };
        if self.is_reaped() {
            return Err(Failure::new(ProcessExitedAlready));
        }
        sys::kill(-group, signal.as_raw()).map_err(Failure::new)
    }

    /// Collects the child's status if it has exited (waitpid on its pid,
    /// never on any other); `None` while it runs. The caller reports the
    /// exit with [`exited`](Self::exited).
    pub(crate) fn collect(&self) -> Option<Exit> {
        let waited = {
            let mut child = self.child.borrow_mut();
            match child.as_mut()?.try_wait() {
                Ok(None) => return None,
                Ok(Some(status)) => Ok(status),
                Err(error) => Err(error),
            }
        };
        let child = self.child.borrow_mut().take();
        drop(child);
        Some(waited.map_err(|error| {
            tracing::warn!(pid = self.pid, %error, "a child's status was collected elsewhere");
            ProcessTerminated::unknown()
        }))
    }

    /// Reports the exit [`collect`](Self::collect) found: to the exit hook,
    /// then the protocol.
    pub(crate) fn exited(&self, exit: Exit) {
        let reactor = self.reactor.upgrade();
        if let (Some(reactor), Some(watch)) = (&reactor, self.watch.take()) {
            let _ = reactor.remove_watch(watch);
        }
        let pidfd = self.pidfd.borrow_mut().take();
        drop(pidfd);
        *self.exit.borrow_mut() = Some(exit);
        if let Some(on_exit) = self.on_exit.borrow_mut().take() {
            on_exit(exit.map_err(Failure::new));
        }
        let reason = self.reason();
        self.call(|protocol| protocol.process_exited(reason));
        self.maybe_end();
    }

    /// The reason the protocol is given, once the child has exited.
    fn reason(&self) -> Failure {
        match &*self.exit.borrow() {
            Some(Ok(status)) if status.success() => Failure::new(ProcessDone),
            Some(Ok(status)) => Failure::new(ProcessTerminated::from_status(*status)),
            Some(Err(terminated)) => Failure::new(*terminated),
            None => Failure::msg("the process has not exited"),
        }
    }

    fn pipe_closed(&self, fd: RawFd) {
        let removed = self.pipes.borrow_mut().remove(&fd);
        drop(removed);
        self.call(|protocol| protocol.child_connection_lost(fd));
        self.maybe_end();
    }

    /// `process_ended`, once the child has exited and every pipe closed.
    fn maybe_end(&self) {
        if self.exit.borrow().is_none() || !self.pipes.borrow().is_empty() || self.ended.get() {
            return;
        }
        self.ended.set(true);
        let reason = self.reason();
        let protocol = self.protocol.borrow_mut().take();
        if let Some(mut protocol) = protocol
            && let Err(failure) = catch_panic(|| protocol.process_ended(reason))
        {
            tracing::error!(%failure, pid = self.pid, "panic in process_ended");
        }
    }

    pub(crate) fn transport(self: &Rc<Self>) -> ProcessTransport {
        ProcessTransport::new(self.clone())
    }
}

/// The protocol on one pipe: hands what arrives, and the close, to the
/// process's protocol with the child's descriptor number.
pub(crate) struct PipeProtocol {
    pub(crate) core: Rc<ProcessCore>,
    pub(crate) fd: RawFd,
}

impl Protocol for PipeProtocol {
    fn data_received(&mut self, data: &[u8]) {
        let fd = self.fd;
        self.core
            .call(|protocol| protocol.child_data_received(fd, data));
    }

    fn connection_lost(&mut self, _reason: Failure) {
        self.core.pipe_closed(self.fd);
    }

    fn protocol_name(&self) -> &'static str {
        "process"
    }
}

impl ProcessCore {
    pub(crate) fn reactor(&self) -> Option<Reactor> {
        self.reactor.upgrade()
    }

    /// Takes the child away unreaped, for somebody else to wait on.
    pub(crate) fn take_child(&self) -> Option<Child> {
        self.child.borrow_mut().take()
    }
}
