//! Reaping: learning that a child exited without busy-waiting and without
//! touching anybody else's children.
//!
//! Each child gets a pidfd where the kernel has them (Linux 5.3+): the
//! pidfd is watched like any descriptor and is readable once the child has
//! exited; the reactor then waits on that one pid. Without pidfds, the
//! reactor subscribes to SIGCHLD (the reactor's signal pipe machinery, one
//! pipe per subscribed reactor) and, on each one, waits with `WNOHANG` on
//! each of its own children in turn. `waitpid(-1)` is never called, so
//! children that other code spawned with `std::process` stay theirs.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::rc::Rc;
use std::time::Duration;

use super::core::ProcessCore;
use super::sys;
use crate::Reactor;
use crate::reactor::{ChildSignals, Extension, WatchId};

/// How a reactor learns that its children exited (see
/// [`set_reaping`](super::set_reaping)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Reaping {
    /// A pidfd per child where the kernel has them, SIGCHLD otherwise.
    #[default]
    Auto,
    /// SIGCHLD always, as on a kernel without pidfds.
    ChildSignal,
}

/// A reactor's children that have not been reaped yet.
#[derive(Default)]
pub(crate) struct Reaper {
    children: RefCell<BTreeMap<u32, Rc<ProcessCore>>>,
    /// Those reaped on SIGCHLD rather than through a pidfd.
    by_signal: RefCell<BTreeSet<u32>>,
    signal_watch: RefCell<Option<WatchId>>,
    mode: Cell<Reaping>,
}

impl Reaper {
    pub(crate) fn set_mode(&self, mode: Reaping) {
        self.mode.set(mode);
    }

    fn uses_signals(&self) -> bool {
        self.mode.get() == Reaping::ChildSignal || !sys::pidfds_supported()
    }

    /// Before spawning: a reactor reaping on SIGCHLD subscribes first, so
    /// that a child exiting at once is not missed.
    pub(crate) fn prepare(&self, reactor: &Reactor) -> io::Result<()> {
        if self.uses_signals() {
            self.watch_signals(reactor)?;
        }
        Ok(())
    }

    /// Watches `core`'s child until it exits.
    pub(crate) fn adopt(&self, reactor: &Reactor, core: &Rc<ProcessCore>) -> io::Result<()> {
        self.children.borrow_mut().insert(core.pid(), core.clone());
        if !self.uses_signals() {
            match self.watch_pidfd(reactor, core) {
                Ok(()) => return Ok(()),
                Err(error) => {
                    tracing::debug!(pid = core.pid(), %error, "no pidfd; reaping on SIGCHLD")
                }
            }
        }
        self.watch_signals(reactor)?;
        self.by_signal.borrow_mut().insert(core.pid());
        // The child may have exited before the subscription: look once.
        let core = core.clone();
        reactor.call_later(Duration::ZERO, move || {
            reap(&core);
        });
        Ok(())
    }

    fn watch_pidfd(&self, reactor: &Reactor, core: &Rc<ProcessCore>) -> io::Result<()> {
        let pidfd = Rc::new(sys::pidfd_open(core.pid())?);
        let watched = core.clone();
        // A pidfd that is already readable (the child exited first) is
        // reported at once when registered.
        let watch = reactor.add_reader(pidfd.clone(), move |_| {
            reap(&watched);
        })?;
        core.watch_pidfd(pidfd, watch);
        Ok(())
    }

    fn watch_signals(&self, reactor: &Reactor) -> io::Result<()> {
        if self.signal_watch.borrow().is_some() {
            return Ok(());
        }
        let signals = Rc::new(ChildSignals::subscribe()?);
        let drained = signals.clone();
        let watch = reactor.add_reader(signals, move |reactor| {
            drained.drain();
            reactor.extension::<Reaper>().reap_signalled();
        })?;
        *self.signal_watch.borrow_mut() = Some(watch);
        Ok(())
    }

    /// A SIGCHLD arrived: look at each child reaped that way.
    fn reap_signalled(&self) {
        let pids: Vec<u32> = self.by_signal.borrow().iter().copied().collect();
        for pid in pids {
            let core = self.children.borrow().get(&pid).cloned();
            if let Some(core) = core {
                reap(&core);
            }
        }
    }

    /// `pid` has been reaped. The SIGCHLD subscription goes with the last
    /// child that needed it.
    pub(crate) fn forget(&self, reactor: &Reactor, pid: u32) {
        let removed = self.children.borrow_mut().remove(&pid);
        let mut by_signal = self.by_signal.borrow_mut();
        by_signal.remove(&pid);
        if by_signal.is_empty() && !self.uses_signals() {
            drop(by_signal);
            if let Some(watch) = self.signal_watch.borrow_mut().take() {
                let _ = reactor.remove_watch(watch);
            }
        }
        drop(removed);
    }

    /// Children not reaped yet.
    pub(crate) fn len(&self) -> usize {
        self.children.borrow().len()
    }
}

/// Reaps `core`'s child if it has exited and reports the exit; false while
/// it runs.
fn reap(core: &Rc<ProcessCore>) -> bool {
    let Some(exit) = core.collect() else {
        return core.is_reaped();
    };
    if let Some(reactor) = core.reactor() {
        reactor.extension::<Reaper>().forget(&reactor, core.pid());
    }
    core.exited(exit);
    true
}

impl Extension for Reaper {
    /// Children still running when the reactor finishes are not killed
    /// (Twisted leaves them too), but they must not become zombies: one
    /// thread waits for them, each on its own pid. Their protocols are let
    /// go.
    fn reactor_finished(&self, _reactor: &Reactor) {
        let children = std::mem::take(&mut *self.children.borrow_mut());
        self.by_signal.borrow_mut().clear();
        self.signal_watch.borrow_mut().take();
        let mut running = Vec::new();
        for core in children.values() {
            if !reap(core) {
                running.extend(core.take_child());
            }
            core.release_protocol();
        }
        if running.is_empty() {
            return;
        }
        let waiter = std::thread::Builder::new()
            .name("torsion-reaper".into())
            .spawn(move || {
                for mut child in running {
                    let _ = child.wait();
                }
            });
        if let Err(error) = waiter {
            tracing::warn!(%error, "could not start a thread to reap the remaining children");
        }
    }
}
