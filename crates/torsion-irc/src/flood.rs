//! Flood control on sends: a burst of lines goes out at once, the lines
//! after it one per interval, on a timer of the [`Scheduler`] (the
//! reactor, or a test's [`Clock`](torsion::testing::Clock)).
//!
//! Servers disconnect clients that send too fast ("Excess Flood"), and
//! count a client's lines the way RFC 1459 §8.10 describes: each line
//! moves a timer forward by a fixed penalty, and a client whose timer runs
//! too far ahead of the clock is throttled. [`Throttle`] keeps the same
//! account on the sending side, so it never gets there:
//!
//! ```text
//!  send ──► debt_until = max(debt_until, now) + interval
//!           sent at once while debt_until - now <= burst × interval,
//!           else queued; a timer sends the queue as the debt drains
//! ```

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use torsion::net::Transport;
use torsion::time::{DelayedCall, Scheduler};

/// How fast a client may send: `burst` lines at once, then one line per
/// `interval` (irssi's defaults, 5 lines and 2.2 s, are close to the
/// default here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FloodControl {
    /// Lines sent at once after a quiet spell.
    pub burst: u32,
    /// Time between lines once the burst is spent.
    pub interval: Duration,
}

impl Default for FloodControl {
    /// 5 lines at once, then one every 2 seconds.
    fn default() -> FloodControl {
        FloodControl {
            burst: 5,
            interval: Duration::from_secs(2),
        }
    }
}

impl FloodControl {
    /// No flood control: every line is written at once.
    pub fn unlimited() -> FloodControl {
        FloodControl {
            burst: u32::MAX,
            interval: Duration::ZERO,
        }
    }

    /// How far ahead of the clock the account may run and still send.
    fn allowance(&self) -> Duration {
        self.interval.saturating_mul(self.burst.saturating_sub(1))
    }
}

/// The sending side of a connection, under [`FloodControl`]. Lines queued
/// here are written in order; [`detach`](Throttle::detach) (the
/// connection closed) drops what is still queued.
#[derive(Clone)]
pub(crate) struct Throttle(Rc<RefCell<State>>);

struct State {
    control: FloodControl,
    scheduler: Rc<dyn Scheduler>,
    transport: Option<Transport>,
    debt_until: Option<Instant>,
    queue: VecDeque<Vec<u8>>,
    timer: Option<DelayedCall>,
}

impl Throttle {
    pub(crate) fn new(control: FloodControl, scheduler: Rc<dyn Scheduler>) -> Throttle {
        Throttle(Rc::new(RefCell::new(State {
            control,
            scheduler,
            transport: None,
            debt_until: None,
            queue: VecDeque::new(),
            timer: None,
        })))
    }

    pub(crate) fn attach(&self, transport: Transport) {
        self.0.borrow_mut().transport = Some(transport);
    }

    /// Drops the transport, the queue and the timer.
    pub(crate) fn detach(&self) {
        let mut state = self.0.borrow_mut();
        state.transport = None;
        state.queue.clear();
        if let Some(timer) = state.timer.take() {
            let _ = timer.cancel();
        }
    }

    /// How many lines wait for their turn.
    pub(crate) fn queued(&self) -> usize {
        self.0.borrow().queue.len()
    }

    /// Writes `line` (with its `\r\n`) now if the account allows, else
    /// queues it behind the others.
    pub(crate) fn send(&self, line: Vec<u8>) {
        let mut state = self.0.borrow_mut();
        state.queue.push_back(line);
        if state.timer.is_none() {
            state.flush(&self.0);
        }
    }

    /// Writes `line` now, ahead of the queue and outside the account: for
    /// PONG, which a server waits for with a deadline.
    pub(crate) fn send_now(&self, line: &[u8]) {
        if let Some(transport) = &self.0.borrow().transport {
            transport.write(line);
        }
    }
}

impl State {
    /// Sends what the account allows, and sets a timer for the rest.
    fn flush(&mut self, this: &Rc<RefCell<State>>) {
        let Some(transport) = self.transport.clone() else {
            self.queue.clear();
            return;
        };
        let now = self.scheduler.now();
        while !self.queue.is_empty() {
            let start = self.debt_until.map_or(now, |debt| debt.max(now));
            let ahead = start - now;
            if ahead > self.control.allowance() {
                let wait = ahead - self.control.allowance();
                let weak: Weak<RefCell<State>> = Rc::downgrade(this);
                self.timer = Some(self.scheduler.call_later_boxed(
                    wait,
                    Box::new(move || {
                        if let Some(this) = weak.upgrade() {
                            let mut state = this.borrow_mut();
                            state.timer = None;
                            state.flush(&this);
                        }
                    }),
                ));
                return;
            }
            self.debt_until = Some(start + self.control.interval);
            if let Some(line) = self.queue.pop_front() {
                transport.write(&line);
            }
        }
    }
}

impl fmt::Debug for Throttle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.0.borrow();
        f.debug_struct("Throttle")
            .field("control", &state.control)
            .field("queued", &state.queue.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use torsion::net::Protocol;
    use torsion::testing::{Clock, StringTransport};

    struct Quiet;
    impl Protocol for Quiet {
        fn data_received(&mut self, _: &[u8]) {}
    }

    fn throttle(burst: u32, interval_ms: u64) -> (Throttle, Clock, StringTransport) {
        let clock = Clock::new();
        let fake = StringTransport::new();
        fake.make_connection(&mut Quiet);
        let control = FloodControl {
            burst,
            interval: Duration::from_millis(interval_ms),
        };
        let throttle = Throttle::new(control, Rc::new(clock.clone()));
        throttle.attach(fake.transport());
        (throttle, clock, fake)
    }

    fn lines_written(fake: &StringTransport) -> usize {
        fake.value().iter().filter(|&&b| b == b'\n').count()
    }

    #[test]
    fn a_burst_goes_at_once_and_the_rest_one_per_interval() {
        let (throttle, clock, fake) = throttle(3, 100);
        for n in 0..6 {
            throttle.send(format!("PRIVMSG #a :{n}\r\n").into_bytes());
        }
        assert_eq!(lines_written(&fake), 3);
        let mut written_at = Vec::new();
        for _ in 0..40 {
            clock.advance(Duration::from_millis(10));
            if lines_written(&fake) > 3 + written_at.len() {
                written_at.push(clock.elapsed().as_millis());
            }
        }
        assert_eq!(written_at, [100, 200, 300]);
        assert_eq!(throttle.queued(), 0);
        let text = String::from_utf8(fake.value()).unwrap();
        let order: Vec<_> = text
            .lines()
            .map(|line| line.trim_start_matches("PRIVMSG #a :"))
            .collect();
        assert_eq!(order, ["0", "1", "2", "3", "4", "5"], "in order");
    }

    #[test]
    fn a_quiet_spell_earns_the_burst_back() {
        let (throttle, clock, fake) = throttle(2, 100);
        for _ in 0..3 {
            throttle.send(b"PING x\r\n".to_vec());
        }
        assert_eq!(lines_written(&fake), 2);
        clock.advance(Duration::from_millis(100));
        assert_eq!(lines_written(&fake), 3);
        clock.advance(Duration::from_secs(1));
        throttle.send(b"PING x\r\n".to_vec());
        throttle.send(b"PING x\r\n".to_vec());
        assert_eq!(lines_written(&fake), 5, "a full burst again");
    }

    #[test]
    fn send_now_goes_ahead_of_the_queue() {
        let (throttle, _clock, fake) = throttle(1, 1000);
        throttle.send(b"A\r\n".to_vec());
        throttle.send(b"B\r\n".to_vec());
        throttle.send_now(b"PONG x\r\n");
        assert_eq!(fake.value(), b"A\r\nPONG x\r\n");
    }

    #[test]
    fn detaching_drops_the_queue_and_its_timer() {
        let (throttle, clock, fake) = throttle(1, 100);
        throttle.send(b"A\r\n".to_vec());
        throttle.send(b"B\r\n".to_vec());
        throttle.detach();
        assert!(clock.pending_calls().is_empty());
        clock.advance(Duration::from_secs(1));
        assert_eq!(fake.value(), b"A\r\n");
    }

    #[test]
    fn unlimited_never_queues() {
        let (throttle, _clock, fake) = (
            Throttle::new(FloodControl::unlimited(), Rc::new(Clock::new())),
            (),
            StringTransport::new(),
        );
        fake.make_connection(&mut Quiet);
        throttle.attach(fake.transport());
        for _ in 0..1000 {
            throttle.send(b"X\r\n".to_vec());
        }
        assert_eq!(lines_written(&fake), 1000);
    }
}
