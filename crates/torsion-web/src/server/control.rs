//! One connection's state as the server oversees it: what the connection
//! is doing (reading a request head, idle between requests, answering),
//! the order the server gave it (finish gracefully, stop now), and the
//! watchdog that enforces the header read and idle timeouts.
//!
//! The watchdog is one reactor timer per connection that never moves while
//! requests come and go: each request only records a phase and an instant.
//! When the timer fires it compares the phase's deadline with the clock,
//! gives an order if the deadline has passed, and otherwise sleeps again
//! until the deadline or for one period (the shortest timeout), whichever
//! comes first. A deadline set after the timer was armed is never earlier
//! than the timer, since every deadline is at least one period away when it
//! is set, so no deadline is missed and none is late.
//!
//! Request bodies arriving on the connection have deadlines of their own
//! (see `body_clock`); they register with the connection as [`Deadline`]s
//! and the same timer looks at them each time it wakes.
//!
//! Once the connection is upgraded (to a WebSocket) the watchdog stops, and
//! the orders go to the protocol that took the connection over instead of
//! to the HTTP connection.
//!
//! An HTTP/1 connection at rest between requests may let go of its buffers
//! (it is then *parked*; see `http1::connection`). It does so at its first
//! rest, and afterwards at most once per sweep of the server (see
//! [`Control::sweep`]): a busy keep-alive connection, whose rests are
//! short, does not make its buffers again for every request.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::task::Waker;
use std::time::{Duration, Instant};

use torsion::Reactor;
use torsion::time::DelayedCall;

use super::ServerOptions;

/// What a connection is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// A request head is arriving (or is awaited on a new connection),
    /// since then.
    Head(Instant),
    /// Nothing in flight and nothing received, since then.
    Idle(Instant),
    /// Requests in flight.
    Busy,
}

/// What the server wants a connection to do, in increasing severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Order {
    /// Go on serving.
    Serve,
    /// Finish the requests in flight, accept no more, then close.
    Finish,
    /// Close now.
    Abort,
}

/// What a [`Deadline`] has left to watch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Next {
    /// Its deadline falls then.
    At(Instant),
    /// Nothing is timed now, but may be later.
    NotYet,
    /// Nothing more to watch: forget it.
    Done,
}

/// Something on the connection with a deadline of its own (a request body
/// arriving), looked at by the watchdog each time it wakes. A deadline is
/// never set closer than one watchdog period (the shortest timeout) from
/// the moment it is set, so the watchdog is never late for it.
pub(super) trait Deadline {
    /// Acts if the deadline has passed by `now`, and says what is left.
    fn check(&self, now: Instant) -> Next;
}

/// Carries out orders for a connection upgraded to another protocol.
pub(super) type OrderHook = Rc<dyn Fn(Order)>;

/// The shared state of one connection.
pub(super) struct Control {
    phase: Cell<Phase>,
    in_flight: Cell<usize>,
    /// Requests that reached the resource, ever.
    started: Cell<u64>,
    /// The header read timeout passed.
    head_timed_out: Cell<bool>,
    order: Cell<Order>,
    /// The connection's task, woken when an order arrives.
    task: RefCell<Option<Waker>>,
    /// Told of orders once the connection is upgraded.
    upgraded: RefCell<Option<OrderHook>>,
    watchdog: RefCell<Option<DelayedCall>>,
    /// Deadlines of the requests in flight.
    watched: RefCell<Vec<Weak<dyn Deadline>>>,
    header_read_timeout: Option<Duration>,
    idle_timeout: Option<Duration>,
    /// The connection may park at its next rest.
    release_wanted: Cell<bool>,
    /// `started` when the server last swept: a connection that took a
    /// request since is in use, not idle.
    started_at_sweep: Cell<u64>,
    /// The connection's buffers are let go, until the client sends again.
    parked: Cell<bool>,
}

impl Control {
    /// A new connection, awaiting its first request head.
    pub(super) fn start(reactor: &Reactor, options: &ServerOptions) -> Rc<Control> {
        let control = Rc::new(Control {
            phase: Cell::new(Phase::Head(Instant::now())),
            in_flight: Cell::new(0),
            started: Cell::new(0),
            head_timed_out: Cell::new(false),
            order: Cell::new(Order::Serve),
            task: RefCell::new(None),
            upgraded: RefCell::new(None),
            watchdog: RefCell::new(None),
            watched: RefCell::new(Vec::new()),
            header_read_timeout: options.header_read_timeout,
            idle_timeout: options.idle_timeout,
            release_wanted: Cell::new(true),
            started_at_sweep: Cell::new(0),
            parked: Cell::new(false),
        });
        if let Some(period) = options.watchdog_period() {
            arm(&control, reactor, period, period);
        }
        control
    }

    pub(super) fn order(&self) -> Order {
        self.order.get()
    }

    /// Gives an order (never a milder one than already given) and wakes
    /// the connection's task, or tells its upgraded protocol, to carry it
    /// out.
    pub(super) fn command(&self, order: Order) {
        if order > self.order.get() {
            self.order.set(order);
            if let Some(waker) = self.task.borrow_mut().take() {
                waker.wake();
            }
            // Cloned out: the protocol may give another order from inside.
            let upgraded = self.upgraded.borrow().clone();
            if let Some(tell) = upgraded {
                tell(order);
            }
        }
    }

    /// The connection was upgraded: its HTTP timeouts no longer apply, and
    /// `tell` carries out the orders from now on (the order already given,
    /// if any, at once).
    pub(super) fn hand_over(&self, tell: OrderHook) {
        self.stop_watchdog();
        *self.upgraded.borrow_mut() = Some(tell.clone());
        if self.order.get() != Order::Serve {
            tell(self.order.get());
        }
    }

    /// Remembers the task to wake for orders.
    pub(super) fn register_task(&self, waker: &Waker) {
        let mut task = self.task.borrow_mut();
        match &*task {
            Some(known) if known.will_wake(waker) => {}
            _ => *task = Some(waker.clone()),
        }
    }

    /// Has the watchdog look at `deadline` too, for as long as it lives.
    pub(super) fn watch(&self, deadline: Weak<dyn Deadline>) {
        self.watched.borrow_mut().push(deadline);
    }

    /// Checks the watched deadlines: the time to the nearest one left.
    fn check_watched(&self, now: Instant) -> Option<Duration> {
        // Taken out: a check may give an order, or a new request register.
        let watched = std::mem::take(&mut *self.watched.borrow_mut());
        let mut nearest = None::<Duration>;
        let mut kept = Vec::with_capacity(watched.len());
        for weak in watched {
            let Some(deadline) = weak.upgrade() else {
                continue;
            };
            match deadline.check(now) {
                Next::Done => continue,
                Next::NotYet => {}
                Next::At(when) => {
                    let left = when.saturating_duration_since(now);
                    nearest = Some(nearest.map_or(left, |nearest| nearest.min(left)));
                }
            }
            kept.push(weak);
        }
        self.watched.borrow_mut().extend(kept);
        nearest
    }

    /// Bytes arrived: on an idle connection, a request head has begun.
    pub(super) fn received(&self) {
        if let Phase::Idle(_) = self.phase.get() {
            self.phase.set(Phase::Head(Instant::now()));
        }
    }

    /// The protocol is settled and no request is in flight yet (HTTP/2
    /// after its preface, whose requests arrive as frames among others).
    pub(super) fn settled_idle(&self) {
        if self.in_flight.get() == 0 {
            self.phase.set(Phase::Idle(Instant::now()));
        }
    }

    /// A request's head is complete and it goes to the resource.
    pub(super) fn request_started(&self) {
        self.in_flight.set(self.in_flight.get() + 1);
        self.started.set(self.started.get() + 1);
        self.phase.set(Phase::Busy);
    }

    /// A request's response was sent (or abandoned).
    pub(super) fn request_finished(&self) {
        let left = self.in_flight.get().saturating_sub(1);
        self.in_flight.set(left);
        if left == 0 {
            self.phase.set(Phase::Idle(Instant::now()));
        }
    }

    /// Whether the connection may park now: it is wanted, and no request
    /// is in flight and nothing has arrived since the last answer.
    pub(super) fn may_park(&self) -> bool {
        self.release_wanted.get()
            && !self.parked.get()
            && matches!(self.phase.get(), Phase::Idle(_))
            && self.in_flight.get() == 0
    }

    /// The connection parked (`true`), or took its buffers up again
    /// (`false`); it parks again at its first rest after the next sweep.
    pub(super) fn set_parked(&self, parked: bool) {
        self.parked.set(parked);
        self.release_wanted.set(false);
    }

    /// The server's periodic sweep: a connection not parked that took no
    /// request since the last sweep may park at its next rest, and one
    /// resting now is woken to park at once. A connection in use keeps
    /// its buffers: parking it would only have them made again for its
    /// next request, a second later.
    pub(super) fn sweep(&self) {
        let started = self.started.get();
        let took_requests = self.started_at_sweep.replace(started) != started;
        if took_requests || self.parked.get() {
            return;
        }
        self.release_wanted.set(true);
        if let Phase::Idle(_) = self.phase.get()
            && let Some(task) = &*self.task.borrow()
        {
            task.wake_by_ref();
        }
    }

    /// Whether the connection was cut because a request head took longer
    /// than the header read timeout.
    pub(super) fn head_timed_out(&self) -> bool {
        self.head_timed_out.get()
    }

    /// The connection is over: its watchdog stops.
    pub(super) fn ended(&self) {
        self.stop_watchdog();
        self.task.borrow_mut().take();
        self.upgraded.borrow_mut().take();
        self.watched.borrow_mut().clear();
    }

    fn stop_watchdog(&self) {
        if let Some(call) = self.watchdog.borrow_mut().take() {
            let _ = call.cancel();
        }
    }

    /// The current deadline and what happens when it passes.
    fn deadline(&self) -> Option<(Instant, Order)> {
        match self.phase.get() {
            Phase::Head(since) => self
                .header_read_timeout
                .map(|timeout| (since + timeout, Order::Abort)),
            Phase::Idle(since) => self
                .idle_timeout
                .map(|timeout| (since + timeout, Order::Finish)),
            Phase::Busy => None,
        }
    }
}

/// Sleeps `delay`, then looks at the connection's deadline.
fn arm(control: &Rc<Control>, reactor: &Reactor, delay: Duration, period: Duration) {
    let weak = Rc::downgrade(control);
    let r = reactor.clone();
    let call = reactor.call_later(delay, move || {
        let Some(control) = weak.upgrade() else {
            return;
        };
        control.watchdog.borrow_mut().take();
        let now = Instant::now();
        let mut next = period;
        if let Some((deadline, order)) = control.deadline() {
            if deadline <= now {
                tracing::debug!(?order, "a connection's timeout passed");
                // Only a request head's timeout aborts.
                control.head_timed_out.set(order == Order::Abort);
                control.command(order);
            } else {
                next = next.min(deadline - now);
            }
        }
        if let Some(left) = control.check_watched(now) {
            next = next.min(left);
        }
        if control.order() != Order::Abort {
            arm(&control, &r, next, period);
        }
    });
    *control.watchdog.borrow_mut() = Some(call);
}

#[cfg(test)]
mod tests {
    use super::*;
    use torsion::Failure;

    fn options(header: u64, idle: u64) -> ServerOptions {
        ServerOptions {
            header_read_timeout: Some(Duration::from_millis(header)),
            idle_timeout: Some(Duration::from_millis(idle)),
            ..ServerOptions::default()
        }
    }

    /// Runs the reactor until `control` has an order other than Serve, and
    /// says how long after `started` that happened. `started` is read
    /// before the control starts its clock: read after, a pause of the
    /// test's thread in between would make the timeout look early.
    fn time_until_ordered(
        reactor: &Reactor,
        control: &Rc<Control>,
        started: Instant,
    ) -> (Order, Duration) {
        let seen = Rc::new(Cell::new(None));
        let (c, s, r) = (control.clone(), seen.clone(), reactor.clone());
        drop(reactor.spawn(async move {
            loop {
                if c.order() != Order::Serve {
                    s.set(Some((c.order(), started.elapsed())));
                    r.stop().unwrap();
                    return Ok::<(), Failure>(());
                }
                torsion::time::defer_later(&r, Duration::from_millis(2), || Ok::<_, Failure>(()))
                    .await?;
            }
        }));
        reactor.run().unwrap();
        seen.get().expect("an order was given")
    }

    #[test]
    fn a_connection_that_sends_no_head_is_aborted_at_the_header_timeout() {
        let reactor = Reactor::new().unwrap();
        let started = Instant::now();
        let control = Control::start(&reactor, &options(60, 1000));
        let (order, after) = time_until_ordered(&reactor, &control, started);
        assert_eq!(order, Order::Abort);
        assert!(after >= Duration::from_millis(60), "{after:?}");
        assert!(after < Duration::from_millis(400), "{after:?}");
    }

    #[test]
    fn a_sweep_lets_only_a_connection_quiet_since_the_last_one_park() {
        let reactor = Reactor::new().unwrap();
        let control = Control::start(&reactor, &ServerOptions::default());
        let serve_one = || {
            control.request_started();
            control.request_finished();
        };
        // A new connection parks at its first rest; once it is taken up
        // again, only a sweep that finds it quiet lets it park.
        serve_one();
        assert!(control.may_park());
        control.set_parked(false);
        control.sweep();
        assert!(!control.may_park(), "in use since the last sweep");
        serve_one();
        control.sweep();
        assert!(!control.may_park(), "still in use");
        control.sweep();
        assert!(control.may_park(), "quiet for a whole sweep");
        control.set_parked(true);
        control.sweep();
        assert!(!control.may_park(), "parked already");
    }

    #[test]
    fn an_idle_connection_is_told_to_finish_at_the_idle_timeout_and_a_busy_one_never() {
        let reactor = Reactor::new().unwrap();
        let started = Instant::now();
        let control = Control::start(&reactor, &options(40, 120));
        control.request_started();
        let busy_for = Duration::from_millis(200);
        let c = control.clone();
        reactor.call_later(busy_for, move || c.request_finished());
        let (order, after) = time_until_ordered(&reactor, &control, started);
        assert_eq!(order, Order::Finish);
        assert!(after >= busy_for + Duration::from_millis(120), "{after:?}");
        assert!(after < busy_for + Duration::from_millis(400), "{after:?}");
    }
}
