//! A 10 ms timer on the reactor that measures how late it fires: the proof
//! that nothing blocks the reactor while the blocking app waits on its
//! own threads. Its figures are on the rate site's `/status`.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::Serialize;
use torsion::Reactor;
use torsion::reactor::Extension;
use torsion::service::TimerService;

/// How often the heartbeat fires.
pub(crate) const INTERVAL: Duration = Duration::from_millis(10);

/// How many of the last beats the recent figure covers (about a second).
const RECENT: usize = 100;

/// What the heartbeat measured. One per reactor (an extension), read by
/// the status page.
#[derive(Debug, Default)]
pub(crate) struct Heartbeat {
    last: Cell<Option<Instant>>,
    beats: Cell<u64>,
    worst: Cell<Duration>,
    recent: RefCell<VecDeque<Duration>>,
}

impl Extension for Heartbeat {}

/// The heartbeat's figures, in milliseconds.
#[derive(Debug, Serialize)]
pub(crate) struct Lateness {
    /// The timer's interval.
    pub(crate) interval_ms: f64,
    /// How many times it fired.
    pub(crate) beats: u64,
    /// The latest it ever fired past its due time.
    pub(crate) worst_late_ms: f64,
    /// The latest among the last hundred beats.
    pub(crate) recent_worst_late_ms: f64,
}

impl Heartbeat {
    fn beat(&self, now: Instant) {
        if let Some(last) = self.last.get() {
            let late = now.saturating_duration_since(last + INTERVAL);
            self.worst.set(self.worst.get().max(late));
            let mut recent = self.recent.borrow_mut();
            recent.push_back(late);
            if recent.len() > RECENT {
                recent.pop_front();
            }
        }
        self.last.set(Some(now));
        self.beats.set(self.beats.get() + 1);
    }

    /// The figures now.
    pub(crate) fn lateness(&self) -> Lateness {
        let recent = self.recent.borrow().iter().copied().max();
        Lateness {
            interval_ms: millis(INTERVAL),
            beats: self.beats.get(),
            worst_late_ms: millis(self.worst.get()),
            recent_worst_late_ms: millis(recent.unwrap_or_default()),
        }
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// The heartbeat as a service: a `TimerService` every [`INTERVAL`].
pub(crate) fn service(reactor: &Reactor) -> TimerService {
    let heartbeat = reactor.extension::<Heartbeat>();
    TimerService::new(reactor.clone(), INTERVAL, move || {
        heartbeat.beat(Instant::now())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lateness_is_measured_from_the_previous_beat() {
        let heartbeat = Heartbeat::default();
        let start = Instant::now();
        heartbeat.beat(start);
        heartbeat.beat(start + INTERVAL);
        heartbeat.beat(start + INTERVAL * 2 + Duration::from_millis(7));
        let lateness = heartbeat.lateness();
        assert_eq!(lateness.beats, 3);
        assert!((lateness.worst_late_ms - 7.0).abs() < 0.01);
        assert!((lateness.recent_worst_late_ms - 7.0).abs() < 0.01);
    }
}
