//! Spinning before sleeping: after a turn that ran work from other threads,
//! the loop watches its queue for a few microseconds before it blocks in
//! `epoll_wait`.
//!
//! Waking a thread asleep in `epoll_wait` costs the poster an eventfd write
//! and the loop a scheduler wake-up: tens of microseconds of latency on a
//! virtual machine, whatever the poster does. A thread that calls into the
//! loop and waits for the answer (the blocking bridge, a pool worker
//! handing back its result) tends to post again soon after; a loop still
//! spinning then sees the post within a cache-line transfer, and the post
//! makes no system call at all (see `handle.rs`).
//!
//! Spinning only pays when posts come back quickly, so it is bounded
//! three ways: it follows only turns that ran exactly one piece of
//! cross-thread work a thread may be waiting on, a bridge's call, a
//! completion or a task woken from outside (a loop driven by I/O alone
//! never spins, nor one fed by plain `call_from_thread`, whose poster goes
//! on instead of waiting); it lasts at most the window (and never past the
//! next timer); and it stops after [`CREDIT`] spins in a row saw nothing,
//! until a sleep that followed cross-thread work is cut short by more of
//! it within the window (a sign that spinning would have paid). A loop
//! with nothing to do sleeps.
//!
//! One call, not several: a thread that waits for the loop's answer has one
//! call in flight at a time, so a turn that found several came from a
//! producer that does not wait. Such a producer loses nothing while the
//! loop sleeps, and its calls then run in big batches; a loop that spun for
//! it would take them one or two at a time and stay busy at its pace, for
//! twice the CPU time per call.

use std::cell::Cell;
use std::time::{Duration, Instant};

use super::Reactor;

/// The default window: about what putting the loop to sleep and waking it
/// costs here, so a spin that sees nothing costs about what one that sees
/// a post saves.
pub const DEFAULT_SPIN_BEFORE_SLEEP: Duration = Duration::from_micros(20);

/// Spins in a row that may see nothing before spinning stops.
const CREDIT: u8 = 8;

/// The loop's spinning state (on the reactor thread).
#[derive(Debug)]
pub(crate) struct Spin {
    window: Cell<Duration>,
    /// Spins left before spinning stops; refilled by a spin that saw work.
    credit: Cell<u8>,
    /// When the loop last went to sleep right after cross-thread work
    /// without spinning (spinning had stopped): a wake-up by more of it
    /// within the window turns spinning back on.
    slept_at: Cell<Option<Instant>>,
    /// Spins begun, for tests to tell whether a turn spun.
    #[cfg(test)]
    pub(super) spins: Cell<u32>,
}

impl Default for Spin {
    fn default() -> Spin {
        Spin {
            window: Cell::new(DEFAULT_SPIN_BEFORE_SLEEP),
            credit: Cell::new(CREDIT),
            slept_at: Cell::new(None),
            #[cfg(test)]
            spins: Cell::new(0),
        }
    }
}

/// True if a turn that ran `external` pieces of cross-thread work may have
/// answered a thread that now waits for the loop (see the module
/// documentation: one call, not several).
fn answers_a_waiting_thread(external: usize) -> bool {
    external == 1
}

impl Spin {
    /// How long to spin before a poll that would wait `wait` (`None`: no
    /// limit), after a turn that ran `external` pieces of cross-thread
    /// work; `None` means do not spin.
    fn plan(&self, external: usize, wait: Option<Duration>) -> Option<Duration> {
        let window = self.window.get();
        if !answers_a_waiting_thread(external) || window.is_zero() || self.credit.get() == 0 {
            return None;
        }
        let spin = wait.map_or(window, |wait| wait.min(window));
        (!spin.is_zero()).then_some(spin)
    }

    /// Counts a spin's outcome.
    fn spun(&self, saw_work: bool) {
        if saw_work {
            self.credit.set(CREDIT);
        } else {
            self.credit.set(self.credit.get().saturating_sub(1));
        }
    }

    /// The loop sleeps without spinning after a turn that ran `external`
    /// pieces of cross-thread work.
    fn sleeping(&self, external: usize) {
        if answers_a_waiting_thread(external)
            && self.credit.get() == 0
            && !self.window.get().is_zero()
        {
            self.slept_at.set(Some(Instant::now()));
        } else {
            self.slept_at.set(None);
        }
    }

    /// The loop woke from its last poll and found cross-thread work (or
    /// not): if that came soon enough after it went to sleep, spinning
    /// would have paid, so it starts again.
    pub(crate) fn woke(&self, external: bool) {
        if let Some(slept_at) = self.slept_at.take()
            && external
            && slept_at.elapsed() <= self.window.get()
        {
            self.credit.set(CREDIT);
        }
    }
}

impl Reactor {
    /// How long the loop spins, watching for calls from other threads,
    /// before it sleeps after a turn that ran some (see
    /// [`set_spin_before_sleep`](Reactor::set_spin_before_sleep)).
    pub fn spin_before_sleep(&self) -> Duration {
        self.inner.spin.window.get()
    }

    /// Sets how long the loop spins before it sleeps after a turn that ran
    /// work another thread may be waiting on (a call from
    /// [`blocking::Bridge`](crate::blocking::Bridge), a thread pool's
    /// result, a task woken from another thread; not a plain
    /// [`call_from_thread`](crate::ReactorHandle::call_from_thread)); zero
    /// turns spinning off. The default, [`DEFAULT_SPIN_BEFORE_SLEEP`]
    /// (20 µs), lets a thread that calls in and waits for the answer
    /// (`blocking::Bridge`, a thread pool's results) reach a loop that is
    /// still awake in a few microseconds instead of waking it from
    /// `epoll_wait` each time, at the cost of up to that much CPU time
    /// after such a turn. Spinning stops by itself when it keeps seeing
    /// nothing, and a loop driven by I/O alone never spins.
    ///
    /// ```
    /// use std::time::Duration;
    /// use torsion::Reactor;
    ///
    /// let reactor = Reactor::new()?;
    /// reactor.set_spin_before_sleep(Duration::ZERO);
    /// assert_eq!(reactor.spin_before_sleep(), Duration::ZERO);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_spin_before_sleep(&self, window: Duration) {
        self.inner.spin.window.set(window);
    }

    /// Before a poll that would wait `wait`: spins if that may pay, and
    /// returns how long the poll may still wait (zero once a post or wake
    /// came in meanwhile).
    pub(super) fn spin_before_poll(
        &self,
        external: usize,
        wait: Option<Duration>,
    ) -> Option<Duration> {
        let spin = &self.inner.spin;
        let Some(window) = spin.plan(external, wait) else {
            if wait != Some(Duration::ZERO) {
                spin.sleeping(external);
            }
            return wait;
        };
        spin.slept_at.set(None);
        #[cfg(test)]
        spin.spins.set(spin.spins.get() + 1);
        let shared = &self.inner.shared;
        if !shared.begin_spin() {
            return Some(Duration::ZERO);
        }
        let deadline = Instant::now() + window;
        let mut saw_work = false;
        'spin: loop {
            for _ in 0..64 {
                if shared.spin_saw_work() {
                    saw_work = true;
                    break 'spin;
                }
                std::hint::spin_loop();
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        // A post between the last look and the end of the spin counts too.
        if saw_work || !shared.prepare_to_sleep() {
            spin.spun(true);
            return Some(Duration::ZERO);
        }
        spin.spun(false);
        wait.map(|wait| wait.saturating_sub(window))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spins_only_after_one_piece_of_cross_thread_work_and_never_past_the_wait() {
        let spin = Spin::default();
        assert_eq!(spin.plan(0, None), None);
        assert_eq!(spin.plan(1, None), Some(DEFAULT_SPIN_BEFORE_SLEEP));
        assert_eq!(
            spin.plan(2, None),
            None,
            "several calls: a producer that does not wait"
        );
        let short = Duration::from_micros(3);
        assert_eq!(spin.plan(1, Some(short)), Some(short));
        assert_eq!(spin.plan(1, Some(Duration::ZERO)), None);
        spin.window.set(Duration::ZERO);
        assert_eq!(spin.plan(1, None), None);
    }

    #[test]
    fn spinning_stops_after_empty_spins_and_resumes_when_it_would_have_paid() {
        let spin = Spin::default();
        for _ in 0..CREDIT {
            assert!(spin.plan(1, None).is_some());
            spin.spun(false);
        }
        assert_eq!(
            spin.plan(1, None),
            None,
            "stopped after {CREDIT} empty spins"
        );
        // A sleep after cross-thread work, ended by more of it at once.
        spin.sleeping(1);
        spin.woke(true);
        assert!(spin.plan(1, None).is_some(), "resumed");
        // A spin that sees work refills the credit.
        for _ in 0..CREDIT - 1 {
            spin.spun(false);
        }
        spin.spun(true);
        for _ in 0..CREDIT {
            assert!(spin.plan(1, None).is_some());
            spin.spun(false);
        }
        assert_eq!(spin.plan(1, None), None);
    }

    #[test]
    fn a_late_wake_up_leaves_spinning_off() {
        let spin = Spin::default();
        spin.window.set(Duration::from_millis(1));
        for _ in 0..CREDIT {
            spin.spun(false);
        }
        spin.sleeping(1);
        std::thread::sleep(Duration::from_millis(5));
        spin.woke(true);
        assert_eq!(spin.plan(1, None), None);
        // Nor does a prompt wake-up by I/O alone turn it on.
        spin.sleeping(1);
        spin.woke(false);
        assert_eq!(spin.plan(1, None), None);
    }
}
