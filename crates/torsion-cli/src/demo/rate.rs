//! The exchange rate: a board of the latest value and its history, kept on
//! the reactor, and the poller that fills it from a rate source through
//! torsion's HTTP client on a `LoopingCall` (a `TimerService`).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use torsion::reactor::Extension;
use torsion::service::TimerService;
use torsion::{Deferred, Failure, Reactor};
use torsion_web::WebService;
use torsion_web::client::{Client, FullResponse};

/// How many samples the board keeps (two hours at the default interval).
pub(crate) const HISTORY: usize = 240;

/// The longest a poll may take, whatever the interval.
const MAX_POLL_TIME: Duration = Duration::from_secs(10);

/// One rate read from the source.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) struct Sample {
    /// Seconds since the Unix epoch, when the poll answered.
    pub(crate) time: f64,
    /// EUR/USD.
    pub(crate) rate: f64,
}

/// The latest rate and the ones before it. One per reactor (a reactor
/// extension), so that blocking code reaches it through the bridge with
/// nothing but the reactor: `reactor.extension::<RateBoard>()`.
#[derive(Debug, Default)]
pub(crate) struct RateBoard {
    /// `None` before the first poll and after a failed one: a stale rate
    /// is not shown as the current one.
    latest: Cell<Option<Sample>>,
    history: RefCell<VecDeque<Sample>>,
    polls: Cell<u64>,
    failures: Cell<u64>,
    last_error: RefCell<Option<String>>,
}

impl Extension for RateBoard {}

impl RateBoard {
    /// The current rate, if the last poll got one.
    pub(crate) fn latest(&self) -> Option<Sample> {
        self.latest.get()
    }

    /// Every sample kept, oldest first.
    pub(crate) fn history(&self) -> Vec<Sample> {
        self.history.borrow().iter().copied().collect()
    }

    /// Polls made, and how many of them failed.
    pub(crate) fn counts(&self) -> (u64, u64) {
        (self.polls.get(), self.failures.get())
    }

    /// Why the last poll failed, if it did.
    pub(crate) fn last_error(&self) -> Option<String> {
        self.last_error.borrow().clone()
    }

    fn record(&self, outcome: Result<f64, Failure>) {
        self.polls.set(self.polls.get() + 1);
        match outcome {
            Ok(rate) => {
                let sample = Sample {
                    time: unix_now(),
                    rate,
                };
                self.latest.set(Some(sample));
                let mut history = self.history.borrow_mut();
                history.push_back(sample);
                while history.len() > HISTORY {
                    history.pop_front();
                }
                *self.last_error.borrow_mut() = None;
            }
            Err(failure) => {
                self.failures.set(self.failures.get() + 1);
                self.latest.set(None);
                tracing::warn!(%failure, "the rate source did not answer");
                *self.last_error.borrow_mut() = Some(failure.to_string());
            }
        }
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64())
}

/// Where the poller reads the rate.
#[derive(Clone)]
pub(crate) enum RateSource {
    /// A URL given on the command line or in a services file.
    Url(String),
    /// The demo's own feed, wherever it was bound.
    Feed(Rc<WebService>),
}

impl RateSource {
    fn url(&self) -> Result<String, Failure> {
        match self {
            RateSource::Url(url) => Ok(url.clone()),
            RateSource::Feed(feed) => feed
                .address()
                .map(|address| format!("http://{address}{}", super::feed::PATH))
                .ok_or_else(|| Failure::msg("the rate feed is not listening")),
        }
    }
}

/// A `TimerService` polling `source` every `interval` into the reactor's
/// [`RateBoard`]. The first poll is at the start; a poll waits for its
/// answer (bounded by the interval, at most 10 s) before the next is due,
/// and a failed one is recorded, never ending the loop.
pub(crate) fn poller(reactor: &Reactor, source: RateSource, interval: Duration) -> TimerService {
    let client = Client::builder()
        .timeout(interval.min(MAX_POLL_TIME))
        .build(reactor);
    let board = reactor.extension::<RateBoard>();
    TimerService::new(reactor.clone(), interval, move || -> Deferred<()> {
        let board = board.clone();
        let fetched = match source.url() {
            Ok(url) => client.get(&url).fetch(),
            Err(failure) => Deferred::fail(failure),
        };
        fetched.both(move |outcome| {
            board.record(outcome.and_then(|response| parse_rate(&response)));
            Ok::<(), Failure>(())
        })
    })
}

/// The rate in a source's answer: JSON with a number under `rate` (what
/// the demo's feed sends), or the bare number as text.
fn parse_rate(response: &FullResponse) -> Result<f64, Failure> {
    if !response.status().is_success() {
        return Err(Failure::msg(format!(
            "the rate source answered {}",
            response.status()
        )));
    }
    let text = response.text();
    let rate = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(fields)) => fields.get("rate").and_then(|r| r.as_f64()),
        Ok(serde_json::Value::Number(number)) => number.as_f64(),
        _ => None,
    };
    rate.filter(|rate| rate.is_finite() && *rate > 0.0)
        .ok_or_else(|| Failure::msg(format!("no rate in the source's answer: {text:.80}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_poll_hides_the_rate_but_keeps_the_history() {
        let board = RateBoard::default();
        assert_eq!(board.latest(), None);
        board.record(Ok(1.08));
        assert_eq!(board.latest().map(|sample| sample.rate), Some(1.08));
        board.record(Err(Failure::msg("connection refused")));
        assert_eq!(board.latest(), None);
        assert_eq!(board.history().len(), 1);
        assert_eq!(board.counts(), (2, 1));
        assert!(board.last_error().unwrap().contains("refused"));
    }

    #[test]
    fn the_history_keeps_the_last_samples() {
        let board = RateBoard::default();
        for n in 0..HISTORY + 5 {
            board.record(Ok(1.0 + n as f64));
        }
        let history = board.history();
        assert_eq!(history.len(), HISTORY);
        assert_eq!(history[0].rate, 6.0);
    }
}
