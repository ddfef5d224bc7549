//! System events and their triggers (Twisted's `addSystemEventTrigger`).
//!
//! An event (startup, shutdown) runs in three phases: every *before* trigger,
//! then every *during* trigger, then every *after* trigger, each phase in
//! registration order. A before-shutdown trigger may return a Deferred; the
//! reactor keeps running (timers, I/O) until all of them have fired, or the
//! shutdown timeout passes, before it moves on to the during phase.

use std::collections::VecDeque;

use crate::Deferred;
use crate::error::ReactorError;
use crate::failure::catch_panic;

/// Which phase of a system event a trigger runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// First; before-shutdown triggers may return a Deferred to delay the
    /// later phases (the place for asynchronous clean-up).
    Before,
    /// Second.
    During,
    /// Last.
    After,
}

/// The system events a trigger can be attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SystemEvent {
    /// The reactor starts; [`Reactor::is_running`](crate::Reactor::is_running)
    /// becomes true between the before and during phases.
    Startup,
    /// The reactor stops.
    Shutdown,
}

/// Identifies a registered trigger, for
/// [`Reactor::remove_system_event_trigger`](crate::Reactor::remove_system_event_trigger).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TriggerId(u64);

/// What a trigger may return: nothing, or a Deferred the before phase of
/// shutdown waits for.
pub trait TriggerOutput {
    /// A Deferred to wait for, if any.
    fn into_wait(self) -> Option<Deferred<()>>;
}

impl TriggerOutput for () {
    fn into_wait(self) -> Option<Deferred<()>> {
        None
    }
}

impl<T: 'static> TriggerOutput for Deferred<T> {
    fn into_wait(self) -> Option<Deferred<()>> {
        Some(self.both(|result| {
            if let Err(failure) = result {
                tracing::error!(%failure, "a system event trigger's Deferred failed");
            }
            Ok::<(), crate::Failure>(())
        }))
    }
}

type Trigger = Box<dyn FnOnce() -> Option<Deferred<()>>>;

struct Entry {
    id: TriggerId,
    event: SystemEvent,
    phase: Phase,
    trigger: Trigger,
}

/// The registered triggers of every event and phase.
#[derive(Default)]
pub(crate) struct Triggers {
    next_id: u64,
    entries: VecDeque<Entry>,
}

impl Triggers {
    pub(crate) fn add(&mut self, phase: Phase, event: SystemEvent, trigger: Trigger) -> TriggerId {
        self.next_id += 1;
        let id = TriggerId(self.next_id);
        self.entries.push_back(Entry {
            id,
            event,
            phase,
            trigger,
        });
        id
    }

    pub(crate) fn remove(&mut self, id: TriggerId) -> Result<(), ReactorError> {
        let index = self
            .entries
            .iter()
            .position(|entry| entry.id == id)
            .ok_or(ReactorError::NoSuchTrigger)?;
        self.entries.remove(index);
        Ok(())
    }

    /// Takes the first remaining trigger of `event` and `phase`, so triggers
    /// added while a phase runs are run by it too.
    pub(crate) fn pop(&mut self, event: SystemEvent, phase: Phase) -> Option<Trigger> {
        let index = self
            .entries
            .iter()
            .position(|entry| entry.event == event && entry.phase == phase)?;
        self.entries.remove(index).map(|entry| entry.trigger)
    }
}

/// Runs one trigger, logging a panic instead of propagating it.
pub(crate) fn run_trigger(
    trigger: Trigger,
    event: SystemEvent,
    phase: Phase,
) -> Option<Deferred<()>> {
    match catch_panic(trigger) {
        Ok(wait) => wait,
        Err(failure) => {
            tracing::error!(?event, ?phase, %failure, what = "system event trigger", "panic in a system event trigger");
            None
        }
    }
}
