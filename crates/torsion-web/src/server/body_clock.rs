//! The body timeouts of one request: how long the client may leave the
//! resource waiting for body bytes (`body_read_timeout`) and how long the
//! whole body may take (`body_total_timeout`).
//!
//! A [`BodyClock`] is shared by three parties: the request's body, which
//! reports when its reader waits and when bytes arrive; the connection's
//! watchdog, which looks at the clock's deadline each time it wakes (no
//! timer of its own per request); and the server's answer, which on expiry
//! answers 408 for a resource that has not answered, or cuts a response
//! already under way.
//!
//! ```text
//!   body polled, Pending ──> waiting since t   (deadline t + read timeout)
//!   bytes arrive          ──> not waiting      (no read deadline)
//!   first read            ──> started at t0    (deadline t0 + total timeout)
//!   watchdog: deadline passed ──> expired: wake the reader and the answer,
//!                                 abort an HTTP/1 connection already answering
//! ```

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::task::Waker;
use std::time::{Duration, Instant};

use super::ServerOptions;
use super::control::{Control, Deadline, Next, Order};
use crate::BodyError;
use crate::body::ArrivalWatch;

/// Which bound a slow body passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expiry {
    /// No bytes for the read timeout.
    Read(Duration),
    /// The whole body past the total timeout.
    Total(Duration),
}

impl Expiry {
    fn error(self) -> BodyError {
        match self {
            Expiry::Read(timeout) => BodyError::ReadTimedOut { timeout },
            Expiry::Total(timeout) => BodyError::TotalTimedOut { timeout },
        }
    }
}

/// Where the answer to the request stands, which decides what an expiry
/// does to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    /// The resource has not answered: the server answers 408 for it.
    Awaited,
    /// The response head has gone out: the response is cut.
    Started,
}

/// The body timeouts of one request.
pub(super) struct BodyClock {
    read_timeout: Option<Duration>,
    total_timeout: Option<Duration>,
    /// The resource's first read of the body.
    started: Cell<Option<Instant>>,
    /// Since when the reader has waited with no bytes arriving.
    waiting: Cell<Option<Instant>>,
    ended: Cell<bool>,
    expired: Cell<Option<Expiry>>,
    answer: Cell<Answer>,
    /// HTTP/2 cuts a stream (its response body fails); HTTP/1 has to close
    /// the connection.
    http2: bool,
    control: Rc<Control>,
    /// The reader, the pending answer and the response body, woken on
    /// expiry.
    wakers: RefCell<Vec<Waker>>,
}

impl BodyClock {
    /// A clock for a request body on the connection `control` oversees,
    /// registered with its watchdog; `None` when bodies are not timed.
    pub(super) fn start(
        options: &ServerOptions,
        control: &Rc<Control>,
        http2: bool,
    ) -> Option<Rc<BodyClock>> {
        if !options.times_bodies() {
            return None;
        }
        let clock = Rc::new(BodyClock {
            read_timeout: options.body_read_timeout,
            total_timeout: options.body_total_timeout,
            started: Cell::new(None),
            waiting: Cell::new(None),
            ended: Cell::new(false),
            expired: Cell::new(None),
            answer: Cell::new(Answer::Awaited),
            http2,
            control: control.clone(),
            wakers: RefCell::new(Vec::new()),
        });
        let weak = Rc::downgrade(&clock);
        control.watch(weak);
        Some(clock)
    }

    /// The bound that passed, as the error the body's reader sees.
    pub(super) fn expired(&self) -> Option<BodyError> {
        self.expired.get().map(Expiry::error)
    }

    /// The response head is on its way: an expiry from now on cuts it.
    pub(super) fn answered(&self) {
        self.answer.set(Answer::Started);
    }

    /// Wakes `waker` when the body expires.
    pub(super) fn wake_on_expiry(&self, waker: &Waker) {
        let mut wakers = self.wakers.borrow_mut();
        if !wakers.iter().any(|known| known.will_wake(waker)) {
            wakers.push(waker.clone());
        }
    }

    fn deadline(&self) -> Option<(Instant, Expiry)> {
        let read = self
            .waiting
            .get()
            .zip(self.read_timeout)
            .map(|(since, timeout)| (since + timeout, Expiry::Read(timeout)));
        let total = self
            .started
            .get()
            .zip(self.total_timeout)
            .map(|(since, timeout)| (since + timeout, Expiry::Total(timeout)));
        match (read, total) {
            (Some(read), Some(total)) => Some(if total.0 < read.0 { total } else { read }),
            (one, other) => one.or(other),
        }
    }

    fn expire(&self, expiry: Expiry) {
        tracing::debug!(?expiry, "a request body was too slow");
        self.expired.set(Some(expiry));
        if self.answer.get() == Answer::Started && !self.http2 {
            self.control.command(Order::Abort);
        }
        let wakers = std::mem::take(&mut *self.wakers.borrow_mut());
        for waker in wakers {
            waker.wake();
        }
    }
}

impl Deadline for BodyClock {
    fn check(&self, now: Instant) -> Next {
        if self.ended.get() || self.expired.get().is_some() {
            return Next::Done;
        }
        match self.deadline() {
            None => Next::NotYet,
            Some((deadline, expiry)) if deadline <= now => {
                self.expire(expiry);
                Next::Done
            }
            Some((deadline, _)) => Next::At(deadline),
        }
    }
}

impl ArrivalWatch for BodyClock {
    fn expired(&self) -> Option<BodyError> {
        BodyClock::expired(self)
    }

    fn waiting(&self, waker: &Waker) {
        let now = Instant::now();
        if self.started.get().is_none() {
            self.started.set(Some(now));
        }
        if self.waiting.get().is_none() {
            self.waiting.set(Some(now));
        }
        self.wake_on_expiry(waker);
    }

    fn arrived(&self) {
        if self.started.get().is_none() {
            self.started.set(Some(Instant::now()));
        }
        self.waiting.set(None);
    }

    fn ended(&self) {
        self.ended.set(true);
        self.waiting.set(None);
        self.wakers.borrow_mut().clear();
    }
}
