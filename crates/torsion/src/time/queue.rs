//! The timed-call queue shared by the reactor and [`Clock`](crate::testing::Clock).
//!
//! A binary min-heap of `(deadline, sequence)` keys packed into one `u128`, so
//! a comparison is a single integer compare and calls with the same deadline
//! run in the order they were scheduled. Each call is one allocation holding
//! both its state and its closure. Cancelling or moving a call does not search
//! the heap: the call's state changes and its old heap entry goes stale, to be
//! dropped when it reaches the top or when stale entries outnumber live ones
//! (the same lazy scheme as Twisted's reactor).
//!
//! ```text
//!   heap: [ key(d=5ms,seq=1) ] [ key(d=5ms,seq=4) ] [ key(d=9ms,seq=2, stale) ] ...
//!                 |                    |                      |
//!                 v                    v                      v
//!            Rc<Call<F>>          Rc<Call<G>>        Rc<Call<H>> (cancelled)
//! ```

use std::cell::{Cell, RefCell};
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use crate::error::DelayedCallError;
use crate::time::DelayedCall;

/// Stale entries are compacted away only past this many, so small queues never
/// pay for a rebuild.
const COMPACT_MIN_STALE: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallState {
    Pending,
    Called,
    Cancelled,
}

/// The bookkeeping every timed call carries, whatever its closure type.
pub(crate) struct CallMeta {
    state: Cell<CallState>,
    time: Cell<Instant>,
    /// Sequence number of this call's one live heap entry.
    seq: Cell<u64>,
}

struct Call<F> {
    meta: CallMeta,
    func: Cell<Option<F>>,
}

/// A timed call with its closure type erased.
pub(crate) trait TimedCall {
    fn meta(&self) -> &CallMeta;
    /// Runs the closure if it is still there.
    fn run(&self);
    /// Drops the closure (and what it captured) without running it.
    fn discard(&self);
}

impl<F: FnOnce()> TimedCall for Call<F> {
    fn meta(&self) -> &CallMeta {
        &self.meta
    }

    fn run(&self) {
        if let Some(func) = self.func.take() {
            func();
        }
    }

    fn discard(&self) {
        drop(self.func.take());
    }
}

struct Entry {
    key: u128,
    call: Rc<dyn TimedCall>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest key.
    fn cmp(&self, other: &Self) -> Ordering {
        other.key.cmp(&self.key)
    }
}

/// Where the queue reads the current time from.
#[derive(Debug)]
pub(crate) enum TimeSource {
    /// The monotonic system clock.
    Monotonic,
    /// A manually advanced clock (testing).
    Manual(Cell<Instant>),
}

pub(crate) struct QueueInner {
    heap: RefCell<BinaryHeap<Entry>>,
    epoch: Instant,
    next_seq: Cell<u64>,
    stale: Cell<usize>,
    live: Cell<usize>,
    source: TimeSource,
    /// Called when a call becomes the earliest pending one (see
    /// [`TimerQueue::on_new_earliest`]).
    new_earliest: RefCell<Option<Box<dyn Fn()>>>,
}

/// A queue of timed calls; cheap to clone (shared).
#[derive(Clone)]
pub(crate) struct TimerQueue {
    inner: Rc<QueueInner>,
}

impl std::fmt::Debug for TimerQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimerQueue")
            .field("live", &self.inner.live.get())
            .field("stale", &self.inner.stale.get())
            .finish()
    }
}

impl TimerQueue {
    pub(crate) fn new(source: TimeSource) -> TimerQueue {
        let epoch = match &source {
            TimeSource::Monotonic => Instant::now(),
            TimeSource::Manual(now) => now.get(),
        };
        TimerQueue {
            inner: Rc::new(QueueInner {
                heap: RefCell::new(BinaryHeap::new()),
                epoch,
                next_seq: Cell::new(0),
                stale: Cell::new(0),
                live: Cell::new(0),
                source,
                new_earliest: RefCell::new(None),
            }),
        }
    }

    pub(crate) fn now(&self) -> Instant {
        self.inner.now()
    }

    /// Sets a manual clock's time. Does nothing on a monotonic queue.
    pub(crate) fn set_now(&self, now: Instant) {
        if let TimeSource::Manual(cell) = &self.inner.source {
            cell.set(now);
        }
    }

    /// Calls `hook` whenever a call is scheduled or moved before every call
    /// in the queue: a reactor driven by a host loop tells the host, whose
    /// wait was computed from the old earliest deadline. A call behind a
    /// cancelled one does not call it: the host wakes for the cancelled
    /// call's time anyway and then looks again.
    pub(crate) fn on_new_earliest(&self, hook: impl Fn() + 'static) {
        *self.inner.new_earliest.borrow_mut() = Some(Box::new(hook));
    }

    /// Schedules `func` to run `delay` from now.
    pub(crate) fn call_later<F: FnOnce() + 'static>(
        &self,
        delay: Duration,
        func: F,
    ) -> DelayedCall {
        let time = self.inner.now() + delay;
        let call: Rc<dyn TimedCall> = Rc::new(Call {
            meta: CallMeta {
                state: Cell::new(CallState::Pending),
                time: Cell::new(time),
                seq: Cell::new(0),
            },
            func: Cell::new(Some(func)),
        });
        self.inner.push(&call);
        self.inner.live.set(self.inner.live.get() + 1);
        DelayedCall::new(call, Rc::downgrade(&self.inner))
    }

    /// The next sequence number to be handed out: calls scheduled from now on
    /// have a sequence at or above it. The reactor uses it as a barrier so a
    /// zero-delay call scheduled by a timer waits for the next turn.
    pub(crate) fn sequence_barrier(&self) -> u64 {
        self.inner.next_seq.get()
    }

    /// Takes the earliest call due at `now` whose sequence is below `barrier`,
    /// marking it called. The caller runs it (outside any borrow of the queue).
    pub(crate) fn pop_due(&self, now: Instant, barrier: u64) -> Option<Rc<dyn TimedCall>> {
        let inner = &*self.inner;
        let due_key = (inner.offset_nanos(now) as u128) << 64 | u64::MAX as u128;
        let mut heap = inner.heap.borrow_mut();
        inner.drop_stale_top(&mut heap);
        let top = heap.peek()?;
        if top.key > due_key || (top.key as u64) >= barrier {
            return None;
        }
        let entry = heap.pop().expect("peeked entry");
        entry.call.meta().state.set(CallState::Called);
        inner.live.set(inner.live.get() - 1);
        Some(entry.call)
    }

    /// The deadline of the earliest pending call.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let inner = &*self.inner;
        let mut heap = inner.heap.borrow_mut();
        inner.drop_stale_top(&mut heap);
        heap.peek().map(|top| top.call.meta().time.get())
    }

    /// Entries in the heap, stale ones included.
    #[cfg(test)]
    pub(crate) fn heap_len(&self) -> usize {
        self.inner.heap.borrow().len()
    }

    /// How many calls are pending (scheduled, not run, not cancelled).
    pub(crate) fn len(&self) -> usize {
        self.inner.live.get()
    }

    /// Cancels every pending call (their owner will never run them).
    pub(crate) fn clear(&self) {
        let entries: Vec<Entry> = self.inner.heap.borrow_mut().drain().collect();
        self.inner.stale.set(0);
        self.inner.live.set(0);
        for entry in entries {
            if is_live(&entry) {
                entry.call.meta().state.set(CallState::Cancelled);
                entry.call.discard();
            }
        }
    }

    /// The deadlines of the `n` earliest pending calls, earliest first:
    /// one pass over the heap, only when somebody asks.
    pub(crate) fn next_deadlines(&self, n: usize) -> Vec<Instant> {
        let heap = self.inner.heap.borrow();
        let mut live: Vec<&Entry> = heap.iter().filter(|entry| is_live(entry)).collect();
        if live.len() > n && n > 0 {
            live.select_nth_unstable_by_key(n - 1, |entry| entry.key);
        }
        live.truncate(n);
        live.sort_by_key(|entry| entry.key);
        live.iter()
            .map(|entry| entry.call.meta().time.get())
            .collect()
    }

    /// Handles to every pending call, earliest first.
    pub(crate) fn pending(&self) -> Vec<DelayedCall> {
        let heap = self.inner.heap.borrow();
        let mut live: Vec<&Entry> = heap.iter().filter(|entry| is_live(entry)).collect();
        live.sort_by_key(|entry| entry.key);
        live.into_iter()
            .map(|entry| DelayedCall::new(entry.call.clone(), Rc::downgrade(&self.inner)))
            .collect()
    }
}

fn is_live(entry: &Entry) -> bool {
    let meta = entry.call.meta();
    meta.state.get() == CallState::Pending && meta.seq.get() == entry.key as u64
}

impl QueueInner {
    fn now(&self) -> Instant {
        match &self.source {
            TimeSource::Monotonic => Instant::now(),
            TimeSource::Manual(now) => now.get(),
        }
    }

    fn offset_nanos(&self, time: Instant) -> u64 {
        let nanos = time.saturating_duration_since(self.epoch).as_nanos();
        u64::try_from(nanos).unwrap_or(u64::MAX)
    }

    /// Gives `call` a fresh heap entry at its current time; any older entry
    /// of the same call becomes stale.
    fn push(&self, call: &Rc<dyn TimedCall>) {
        let seq = self.next_seq.get();
        self.next_seq.set(seq + 1);
        let meta = call.meta();
        meta.seq.set(seq);
        let key = (self.offset_nanos(meta.time.get()) as u128) << 64 | seq as u128;
        let earliest = {
            let mut heap = self.heap.borrow_mut();
            // Compared with the top, live or stale: a host loop's deadline
            // is never later than any call in the heap (each earlier call
            // woke it when pushed), so a call behind a stale top cannot be
            // earlier than that deadline and needs no wake.
            let earliest = heap.peek().is_none_or(|top| key < top.key);
            heap.push(Entry {
                key,
                call: call.clone(),
            });
            earliest
        };
        if earliest && let Some(hook) = &*self.new_earliest.borrow() {
            hook();
        }
    }

    /// Pops stale entries off the top, so the top is the earliest live call.
    fn drop_stale_top(&self, heap: &mut BinaryHeap<Entry>) {
        while heap.peek().is_some_and(|top| !is_live(top)) {
            heap.pop();
            self.stale.set(self.stale.get() - 1);
        }
    }

    fn mark_stale(&self) {
        self.stale.set(self.stale.get() + 1);
        self.compact_if_mostly_stale();
    }

    fn compact_if_mostly_stale(&self) {
        let stale = self.stale.get();
        let mut heap = self.heap.borrow_mut();
        if stale > COMPACT_MIN_STALE && stale > heap.len() / 2 {
            heap.retain(is_live);
            self.stale.set(0);
        }
    }

    pub(crate) fn cancel(&self, call: &Rc<dyn TimedCall>) -> Result<(), DelayedCallError> {
        check_pending(call)?;
        call.meta().state.set(CallState::Cancelled);
        self.live.set(self.live.get() - 1);
        self.mark_stale();
        call.discard();
        Ok(())
    }

    pub(crate) fn move_to(
        &self,
        call: &Rc<dyn TimedCall>,
        time: Instant,
    ) -> Result<(), DelayedCallError> {
        check_pending(call)?;
        call.meta().time.set(time);
        // The call's old entry goes stale when `push` gives it a new one.
        self.stale.set(self.stale.get() + 1);
        self.push(call);
        self.compact_if_mostly_stale();
        Ok(())
    }

    pub(crate) fn current_time(&self) -> Instant {
        self.now()
    }
}

impl Drop for QueueInner {
    /// Calls still pending when their queue goes away will never run: say so,
    /// so their handles report `AlreadyCancelled` instead of staying active.
    fn drop(&mut self) {
        for entry in self.heap.get_mut().drain() {
            if is_live(&entry) {
                entry.call.meta().state.set(CallState::Cancelled);
                entry.call.discard();
            }
        }
    }
}

pub(crate) fn check_pending(call: &Rc<dyn TimedCall>) -> Result<(), DelayedCallError> {
    match call.meta().state.get() {
        CallState::Pending => Ok(()),
        CallState::Called => Err(DelayedCallError::AlreadyCalled),
        CallState::Cancelled => Err(DelayedCallError::AlreadyCancelled),
    }
}

impl CallMeta {
    pub(crate) fn state(&self) -> CallState {
        self.state.get()
    }

    pub(crate) fn time(&self) -> Instant {
        self.time.get()
    }
}

pub(crate) type WeakQueue = Weak<QueueInner>;

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;
    use std::time::{Duration, Instant};

    use super::{TimeSource, TimerQueue};

    #[test]
    fn the_hook_runs_for_a_call_before_every_call_in_the_queue() {
        let start = Instant::now();
        let queue = TimerQueue::new(TimeSource::Manual(Cell::new(start)));
        let hooks = Rc::new(Cell::new(0));
        queue.on_new_earliest({
            let hooks = hooks.clone();
            move || hooks.set(hooks.get() + 1)
        });
        let ms = Duration::from_millis;
        let first = queue.call_later(ms(10), || {});
        assert_eq!(hooks.get(), 1, "the first call is the earliest");
        let _later = queue.call_later(ms(20), || {});
        assert_eq!(hooks.get(), 1, "a later call does not move the deadline");
        first.cancel().unwrap();
        let _behind_cancelled = queue.call_later(ms(15), || {});
        assert_eq!(
            hooks.get(),
            1,
            "the host wakes at 10 ms for the cancelled call and sees this one then"
        );
        assert_eq!(queue.next_deadline(), Some(start + ms(15)));
        let earlier = queue.call_later(ms(5), || {});
        assert_eq!(hooks.get(), 2);
        earlier.reset(ms(1)).unwrap();
        assert_eq!(hooks.get(), 3, "moved before every call");
        earlier.reset(ms(30)).unwrap();
        assert_eq!(hooks.get(), 3, "moved back");
        assert_eq!(queue.next_deadline(), Some(start + ms(15)));
    }
}
