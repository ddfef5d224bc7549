//! The thread-safe side of the reactor: [`ReactorHandle`] and the one queue
//! every cross-thread call goes through.
//!
//! Posting a call locks the queue just long enough to push its closure,
//! held inline when small (see [`CrossThreadCall`]). Only a post that finds
//! the reactor asleep (or about to be) writes to the `mio::Waker` (an
//! eventfd): a burst of a million posts costs a handful of wake-ups, not a
//! million syscalls. The reactor swaps the whole batch out under the lock
//! and runs it outside it; calls posted while a batch runs wait for the
//! next turn, so a busy poster cannot starve I/O.
//!
//! Whether a post must write the eventfd is one atomic word, `wake`:
//! `IDLE` (the reactor may be asleep: the next post writes), `AWAKE` (the
//! reactor is turning and will look at the queue again before it sleeps),
//! `NOTIFIED` (a post came since the reactor last took the queue: it will
//! look again without another write) or `SPINNING` (the reactor is awake,
//! watching this word for a while before it sleeps). A post swaps in
//! `NOTIFIED` and writes only if it took the word from `IDLE`, so posts to
//! a reactor that is turning or spinning make no system call at all: a
//! poster that streams calls to a busy loop pays none. The reactor
//! goes back to `IDLE` only just before it sleeps, with a compare-and-swap
//! from `AWAKE` or `SPINNING`, so a post either lands before it (the swap
//! fails, and the reactor does not sleep) or after it (and writes the
//! eventfd).
//!
//! A host loop that drives the reactor from a task of its own (tokio's,
//! through `torsion-tokio`) may give the reactor that task's waker
//! ([`Reactor::set_host_waker`]). Then a wake-up from the reactor's own
//! thread between turns (a task woken by a future of the host, a post)
//! wakes the host task instead of writing the eventfd, which the host
//! would otherwise learn of only by polling its own poller for the
//! reactor's descriptor: no system call on either side. Other threads
//! still write the eventfd.
//!
//! A thread pool's results take the same queue, in order with the calls,
//! but as a [`Completion`]: a reference to state the reactor thread
//! allocated when it queued the job, instead of a closure boxed on the
//! worker. The worker then allocates and frees nothing, and the memory
//! goes back to the allocator on the thread that took it, which is much
//! cheaper than freeing it from another thread.

use std::fmt;
use std::task::Waker;
use std::thread::ThreadId;

use smallbox::space::S4;
use smallbox::{SmallBox, smallbox};

use crate::error::ReactorError;
use crate::reactor::Reactor;
use crate::sync::{Arc, AtomicBool, AtomicUsize, Mutex, Ordering, lock};

/// `Shared::wake`: the reactor may be asleep; the next post writes the
/// eventfd.
const IDLE: usize = 0;
/// A post arrived since the reactor last looked: it will look again
/// without another write.
const NOTIFIED: usize = 1;
/// The reactor is spinning before it sleeps: a post needs no write.
const SPINNING: usize = 2;
/// The reactor took the queue in this turn and will look at it again
/// before it sleeps: a post needs no write.
const AWAKE: usize = 3;

/// A call posted from another thread. A closure of up to three words
/// (what most calls capture: a sender, an `Arc`, a number) is held inline
/// with the tag that lets it run once, in four words, so posting it
/// allocates nothing; a larger one is boxed. A box made on
/// the poster's thread and freed on the loop's is the dearest part of a
/// posted call: glibc's free then takes the lock of the poster's arena,
/// which the poster holds as it allocates the next one.
pub(crate) struct CrossThreadCall(SmallBox<dyn FnMut(&Reactor) + Send, S4>);

impl CrossThreadCall {
    pub(crate) fn new(f: impl FnOnce(&Reactor) + Send + 'static) -> CrossThreadCall {
        // `SmallBox` calls through `FnMut` only: the `Option` makes the
        // one call a move.
        let mut f = Some(f);
        CrossThreadCall(smallbox!(move |reactor: &Reactor| {
            if let Some(f) = f.take() {
                f(reactor);
            }
        }))
    }

    /// Runs the call; it runs once, as it is consumed.
    pub(crate) fn call(mut self, reactor: &Reactor) {
        (self.0)(reactor);
    }
}

/// Work another thread has finished, whose outcome the reactor delivers on
/// its own thread.
pub(crate) trait Completion: Send + Sync {
    /// Runs on the reactor thread, once.
    fn complete(self: Arc<Self>, reactor: &Reactor);
}

/// What the cross-thread queue holds.
pub(crate) enum Posted {
    /// A call whose poster goes on (`call_from_thread`).
    Call(CrossThreadCall),
    /// A call whose poster waits for its answer (the blocking bridge): the
    /// loop may spin after it (see `spin`).
    AwaitedCall(CrossThreadCall),
    Completion(Arc<dyn Completion>),
}

/// State shared between the reactor thread and every handle.
pub(crate) struct Shared {
    calls: Mutex<Vec<Posted>>,
    /// Ids of local tasks woken through a `Waker` (possibly from another
    /// thread).
    woken: Mutex<Vec<usize>>,
    /// `IDLE`, `AWAKE`, `NOTIFIED` or `SPINNING` (see the module
    /// documentation): set to `NOTIFIED` by the first post after a drain,
    /// to `AWAKE` by the reactor as it drains, and back to `IDLE` just
    /// before it sleeps. While not `IDLE`, posts skip the wake-up syscall.
    wake: AtomicUsize,
    /// A task was woken on the reactor's own thread during a turn: the loop
    /// is awake and sees it without the wake-up syscall.
    woken_in_turn: AtomicBool,
    /// The reactor has finished (or been dropped) and takes no more calls.
    closed: AtomicBool,
    /// A host task asked to be woken in place of the eventfd
    /// (`host_waker` holds its waker): checked before the lock is taken.
    hosted: AtomicBool,
    host_waker: Mutex<Option<Waker>>,
    waker: mio::Waker,
    /// The thread that made the reactor, the only one that can run it (a
    /// `Reactor` is `!Send`).
    thread: ThreadId,
    /// The eventfd as the loom models see it.
    #[cfg(loom)]
    pub(crate) wake_signal: crate::sync::WakeSignal,
}

impl Shared {
    pub(crate) fn new(waker: mio::Waker) -> Shared {
        Shared {
            calls: Mutex::new(Vec::new()),
            woken: Mutex::new(Vec::new()),
            wake: AtomicUsize::new(IDLE),
            woken_in_turn: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            hosted: AtomicBool::new(false),
            host_waker: Mutex::new(None),
            waker,
            thread: std::thread::current().id(),
            #[cfg(loom)]
            wake_signal: crate::sync::WakeSignal::default(),
        }
    }

    pub(crate) fn post(&self, call: Posted) -> Result<(), ReactorError> {
        {
            // Checked under the queue's lock: `close` sets the flag before
            // it empties the queue under the same lock, so a call is either
            // refused here or dropped there, never left behind in a queue
            // nobody drains (where a caller would wait for it in vain).
            let mut calls = lock(&self.calls);
            if self.closed.load(Ordering::Acquire) {
                drop(calls);
                drop(call);
                return Err(ReactorError::Stopped);
            }
            calls.push(call);
        }
        self.notify();
        Ok(())
    }

    pub(crate) fn wake_task(&self, id: usize) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        lock(&self.woken).push(id);
        if TURNING.with(|turning| std::ptr::eq(turning.get(), self)) {
            self.woken_in_turn.store(true, Ordering::Release);
        } else {
            self.notify();
        }
    }

    /// Marks this reactor's turn on the current thread until the guard
    /// drops, so wakes from inside the turn skip the wake-up syscall.
    pub(crate) fn turn(&self) -> TurnGuard {
        TurnGuard {
            previous: TURNING.with(|turning| turning.replace(self)),
        }
    }

    /// Writes the wake-up descriptor unless this reactor is turning on this
    /// thread now: for news a host loop must hear between turns (a timer
    /// earlier than the deadline it waits for, a stop). A loop that is
    /// turning asks `next_timeout` before it polls and needs no write.
    pub(crate) fn wake_outside_turn(&self) {
        if self.wake.load(Ordering::Acquire) != NOTIFIED
            && !TURNING.with(|turning| std::ptr::eq(turning.get(), self))
        {
            self.notify();
        }
    }

    /// Ends a turn driven by a host loop, which watches the descriptor
    /// until the next one: the reactor counts as asleep from here on, and
    /// work that came in without a write (posts while it turned, a task
    /// woken inside the turn) gets one now.
    pub(crate) fn end_host_turn(&self) {
        if !self.prepare_to_sleep() {
            self.wake_host();
        } else if self.woken_in_turn.load(Ordering::Acquire) {
            self.notify();
        }
    }

    fn notify(&self) {
        // Posts after the first since the reactor took the queue find
        // `NOTIFIED` and leave the word alone: a read keeps the cache line
        // shared with a spinning reactor, where a swap would pull it over.
        if self.wake.load(Ordering::Acquire) == NOTIFIED {
            return;
        }
        if self.wake.swap(NOTIFIED, Ordering::AcqRel) == IDLE {
            self.wake_host();
        }
    }

    /// Moves the pending calls into `batch` (which must be empty), keeping
    /// both vectors' capacity for the next turns. The reactor is awake
    /// until [`prepare_to_sleep`](Shared::prepare_to_sleep): posts from now
    /// on need no eventfd write.
    pub(crate) fn take_calls(&self, batch: &mut Vec<Posted>) {
        self.wake.store(AWAKE, Ordering::Release);
        std::mem::swap(&mut *lock(&self.calls), batch);
    }

    /// The reactor is about to sleep (in `epoll_wait`, or in a host loop
    /// watching the descriptor): true if it may, and later posts write the
    /// eventfd; false if a post came in since it took the queue.
    pub(crate) fn prepare_to_sleep(&self) -> bool {
        self.move_unless_notified(IDLE)
    }

    /// Moves the wake word to `state` unless a post came in (`NOTIFIED`),
    /// which the reactor must take first: true if it is now `state`.
    fn move_unless_notified(&self, state: usize) -> bool {
        let mut current = self.wake.load(Ordering::Acquire);
        loop {
            if current == NOTIFIED {
                return false;
            }
            if current == state {
                return true;
            }
            match self
                .wake
                .compare_exchange(current, state, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return true,
                Err(now) => current = now,
            }
        }
    }

    /// Writes the eventfd for work that came in without one (while the
    /// reactor was awake), for a host loop that is about to watch it; or,
    /// on the reactor's thread, wakes the host task that asked for it.
    pub(crate) fn wake_host(&self) {
        if self.wake_host_task() {
            return;
        }
        #[cfg(loom)]
        self.wake_signal.wake();
        if let Err(error) = self.waker.wake() {
            tracing::error!(%error, "could not wake the reactor");
        }
    }

    /// Wakes the host task given to [`set_host_waker`](Shared::set_host_waker)
    /// if there is one and this is the reactor's thread: true if it did.
    fn wake_host_task(&self) -> bool {
        if !self.hosted.load(Ordering::Acquire) || std::thread::current().id() != self.thread {
            return false;
        }
        // Cloned out of the lock: waking may run the host's own code.
        let waker = lock(&self.host_waker).clone();
        waker.map(Waker::wake).is_some()
    }

    /// Wakes `waker` in place of the eventfd for wake-ups made on the
    /// reactor's thread from now on (`None`: the eventfd again). Called on
    /// the reactor's thread.
    pub(crate) fn set_host_waker(&self, waker: Option<Waker>) {
        let mut host = lock(&self.host_waker);
        self.hosted.store(waker.is_some(), Ordering::Release);
        *host = waker;
    }

    /// Moves the woken task ids into `into` (which must be empty). True if
    /// some were woken and none of them inside a turn: woken from another
    /// thread (or by a host loop between turns).
    pub(crate) fn take_woken(&self, into: &mut Vec<usize>) -> bool {
        let in_turn = self.woken_in_turn.swap(false, Ordering::AcqRel);
        std::mem::swap(&mut *lock(&self.woken), into);
        !in_turn && !into.is_empty()
    }

    /// Puts back, for the next turn, tasks a turn took but did not poll
    /// (polled once in it already); called inside the turn, so the loop
    /// sees them as woken there, with no wake-up write.
    pub(crate) fn wake_later(&self, ids: &mut Vec<usize>) {
        lock(&self.woken).append(ids);
        self.woken_in_turn.store(true, Ordering::Release);
    }

    /// True if a post or wake is waiting for the reactor.
    pub(crate) fn has_work(&self) -> bool {
        self.wake.load(Ordering::Acquire) == NOTIFIED || self.woken_in_turn.load(Ordering::Acquire)
    }

    /// The reactor is about to spin before it sleeps: posts still need no
    /// eventfd write. False if a post already came in (there is work: do
    /// not spin).
    pub(crate) fn begin_spin(&self) -> bool {
        self.move_unless_notified(SPINNING)
    }

    /// While spinning: true once a post or wake has come in.
    pub(crate) fn spin_saw_work(&self) -> bool {
        self.wake.load(Ordering::Acquire) != SPINNING
    }

    /// Calls and completions waiting for the reactor to run them.
    pub(crate) fn queued(&self) -> usize {
        lock(&self.calls).len()
    }

    /// Refuses further calls and drops the ones still queued.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let pending = std::mem::take(&mut *lock(&self.calls));
        drop(pending);
        lock(&self.woken).clear();
    }
}

thread_local! {
    /// The reactor whose turn is running on this thread, if any. While it
    /// runs, that loop cannot be asleep in `poll`, so waking one of its
    /// tasks needs no eventfd write until the turn ends; a wake from
    /// anywhere else (another thread, or a host loop between turns) still
    /// writes it at once.
    static TURNING: std::cell::Cell<*const Shared> = const { std::cell::Cell::new(std::ptr::null()) };
}

/// Restores the previous turn marker (nested turns, several reactors on one
/// thread) when a turn ends, even by a panic.
pub(crate) struct TurnGuard {
    previous: *const Shared,
}

impl Drop for TurnGuard {
    fn drop(&mut self) {
        TURNING.with(|turning| turning.set(self.previous));
    }
}

/// A thread-safe handle to a [`Reactor`]: post calls to run on the reactor's
/// thread, or stop it (Twisted's `callFromThread`).
///
/// Cheap to clone, `Send` and `Sync`. Calls posted from one thread run in
/// the order they were posted.
///
/// ```
/// use torsion::Reactor;
///
/// let reactor = Reactor::new()?;
/// let handle = reactor.handle();
/// std::thread::spawn(move || {
///     handle.call_from_thread(|reactor| {
///         println!("running on the reactor thread");
///         reactor.stop().ok();
///     })
/// });
/// reactor.run()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ReactorHandle {
    shared: Arc<Shared>,
}

impl ReactorHandle {
    pub(crate) fn new(shared: Arc<Shared>) -> ReactorHandle {
        ReactorHandle { shared }
    }

    /// Runs `f` on the reactor's thread during its next turn. Fails with
    /// [`ReactorError::Stopped`] once the reactor has finished.
    ///
    /// The poster is taken to go on rather than wait for the loop, so the
    /// loop does not spin for its next call (see
    /// [`Reactor::set_spin_before_sleep`]); a thread that waits for an
    /// answer is served faster by [`blocking::Bridge`](crate::blocking::Bridge).
    pub fn call_from_thread(
        &self,
        f: impl FnOnce(&Reactor) + Send + 'static,
    ) -> Result<(), ReactorError> {
        self.shared.post(Posted::Call(CrossThreadCall::new(f)))
    }

    /// Runs `f` on the reactor's thread during its next turn, for a poster
    /// that waits for its answer: after a turn that ran it, the loop spins
    /// briefly for the poster's next call instead of sleeping at once.
    pub(crate) fn call_awaited_from_thread(
        &self,
        f: impl FnOnce(&Reactor) + Send + 'static,
    ) -> Result<(), ReactorError> {
        self.shared
            .post(Posted::AwaitedCall(CrossThreadCall::new(f)))
    }

    /// Hands `completion` to the reactor thread, in order with the calls
    /// posted from this thread. Fails with [`ReactorError::Stopped`] once
    /// the reactor has finished.
    pub(crate) fn post_completion(
        &self,
        completion: Arc<dyn Completion>,
    ) -> Result<(), ReactorError> {
        self.shared.post(Posted::Completion(completion))
    }

    /// Asks the reactor to stop, from any thread.
    pub fn stop(&self) -> Result<(), ReactorError> {
        self.call_from_thread(|reactor| {
            let _ = reactor.stop();
        })
    }

    /// True once the reactor has finished and takes no more calls.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// True on the reactor's own thread (Twisted's `isInIOThread`): the
    /// thread that made the reactor, which is the only one that can run it.
    /// Code that would block waiting for the reactor checks this first.
    pub fn is_reactor_thread(&self) -> bool {
        std::thread::current().id() == self.shared.thread
    }

    /// Refuses further calls and drops the queued ones, whose waiters then
    /// see the reactor as stopped. For shutdown steps that block the
    /// reactor thread, after which no posted call could run anyway.
    pub(crate) fn refuse_calls(&self) {
        self.shared.close();
    }
}

#[cfg(all(test, loom))]
mod loom_model;

impl fmt::Debug for ReactorHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReactorHandle")
            .field("closed", &self.is_closed())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::CrossThreadCall;

    #[test]
    fn small_calls_are_held_inline_and_large_ones_boxed() {
        let (a, b, c) = (1u64, 2u64, 3u64);
        let small = CrossThreadCall::new(move |_| {
            std::hint::black_box((a, b, c));
        });
        assert!(!small.0.is_heap());
        let words = [0u64; 8];
        let large = CrossThreadCall::new(move |_| {
            std::hint::black_box(words);
        });
        assert!(large.0.is_heap());
    }
}
