//! [`ReconnectingClientFactory`]: a client that reconnects with exponential
//! back-off (Twisted's `ReconnectingClientFactory`).

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use crate::Failure;
use crate::net::{Address, ClientFactory, Connector, Factory, Protocol};
use crate::time::{DelayedCall, Scheduler};

/// How the delay between attempts grows (Twisted's defaults).
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    /// The first delay, and the delay again after a success.
    pub initial_delay: Duration,
    /// The delay never grows past this.
    pub max_delay: Duration,
    /// Each failure multiplies the delay by this.
    pub factor: f64,
    /// The delay is drawn from a normal distribution around its value with
    /// this relative standard deviation, so that many clients do not retry
    /// in lockstep; 0 turns it off.
    pub jitter: f64,
    /// Give up after this many retries in a row; `None` never gives up.
    pub max_retries: Option<u32>,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(3600),
            factor: std::f64::consts::E,
            jitter: 0.119_626_565_582_880_36,
            max_retries: None,
        }
    }
}

struct State {
    delay: f64,
    retries: u32,
    continue_trying: bool,
    pending: Option<DelayedCall>,
    connector: Option<Connector>,
    random: u64,
}

/// Wraps a factory so that a lost or failed connection is retried after a
/// growing delay: `delay = min(delay × factor, max_delay)`, with jitter.
/// A successful connection resets the delay. The retry timer runs on the
/// given scheduler (the reactor, or a [`Clock`](crate::testing::Clock) in
/// tests).
///
/// ```no_run
/// use std::rc::Rc;
/// use torsion::Reactor;
/// use torsion::net::{Backoff, Protocol, ReconnectingClientFactory, factory_fn};
///
/// struct Quiet;
/// impl Protocol for Quiet {
///     fn data_received(&mut self, _: &[u8]) {}
/// }
///
/// let reactor = Reactor::new()?;
/// let factory = Rc::new(ReconnectingClientFactory::new(
///     factory_fn(|_| Some(Quiet)),
///     Rc::new(reactor.clone()),
///     Backoff::default(),
/// ));
/// reactor.connect_tcp("127.0.0.1:7000".parse()?, factory.clone());
/// // Later: factory.stop_trying();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ReconnectingClientFactory<F> {
    inner: F,
    scheduler: Rc<dyn Scheduler>,
    backoff: Backoff,
    state: RefCell<State>,
}

impl<F: Factory> ReconnectingClientFactory<F> {
    /// Reconnects connections whose protocols `inner` builds.
    pub fn new(inner: F, scheduler: Rc<dyn Scheduler>, backoff: Backoff) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9e37_79b9, |t| t.as_nanos() as u64)
            | 1;
        ReconnectingClientFactory {
            inner,
            scheduler,
            state: RefCell::new(State {
                delay: backoff.initial_delay.as_secs_f64(),
                retries: 0,
                continue_trying: true,
                pending: None,
                connector: None,
                random: seed,
            }),
            backoff,
        }
    }

    /// Back to the initial delay and no retries counted (done on each
    /// successful connection).
    pub fn reset_delay(&self) {
        let mut state = self.state.borrow_mut();
        state.delay = self.backoff.initial_delay.as_secs_f64();
        state.retries = 0;
    }

    /// Stops retrying: cancels a scheduled retry and abandons an attempt in
    /// progress.
    pub fn stop_trying(&self) {
        let (pending, connector) = {
            let mut state = self.state.borrow_mut();
            state.continue_trying = false;
            (state.pending.take(), state.connector.clone())
        };
        if let Some(call) = pending {
            let _ = call.cancel();
        }
        if let Some(connector) = connector {
            connector.stop_connecting();
        }
    }

    /// Failed attempts and losses since the last success.
    pub fn retries(&self) -> u32 {
        self.state.borrow().retries
    }

    /// The delay the next retry will wait (before jitter).
    pub fn current_delay(&self) -> Duration {
        Duration::from_secs_f64(self.state.borrow().delay)
    }

    /// Schedules `connector.connect()` after the next delay, unless retrying
    /// has stopped or the retries are used up.
    fn retry(&self, connector: &Connector) {
        let delay = {
            let mut state = self.state.borrow_mut();
            if !state.continue_trying {
                return;
            }
            state.connector = Some(connector.clone());
            state.retries += 1;
            if self
                .backoff
                .max_retries
                .is_some_and(|max| state.retries > max)
            {
                tracing::info!(destination = %connector.destination(), retries = state.retries - 1, "giving up reconnecting");
                return;
            }
            let max = self.backoff.max_delay.as_secs_f64();
            state.delay = (state.delay * self.backoff.factor).min(max);
            if self.backoff.jitter > 0.0 {
                let spread = state.delay * self.backoff.jitter;
                state.delay = (state.delay + spread * standard_normal(&mut state.random)).max(0.0);
            }
            state.delay
        };
        let connector = connector.clone();
        let call = self.scheduler.call_later_boxed(
            Duration::from_secs_f64(delay),
            Box::new(move || connector.connect()),
        );
        self.state.borrow_mut().pending = Some(call);
    }
}

/// A standard normal sample (Box–Muller over xorshift64*).
fn standard_normal(state: &mut u64) -> f64 {
    let mut uniform = || {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        let bits = state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11;
        (bits as f64 + 0.5) / (1u64 << 53) as f64
    };
    let (u1, u2) = (uniform(), uniform());
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

impl<F: Factory> Factory for ReconnectingClientFactory<F> {
    fn build_protocol(&self, address: &Address) -> Option<Box<dyn Protocol>> {
        let protocol = self.inner.build_protocol(address);
        if protocol.is_some() {
            self.reset_delay();
        }
        protocol
    }

    fn start_factory(&self) {
        self.inner.start_factory();
    }

    fn stop_factory(&self) {
        self.inner.stop_factory();
    }
}

impl<F: Factory> ClientFactory for ReconnectingClientFactory<F> {
    fn started_connecting(&self, connector: &Connector) {
        self.state.borrow_mut().connector = Some(connector.clone());
    }

    fn client_connection_failed(&self, connector: &Connector, reason: Failure) {
        tracing::debug!(destination = %connector.destination(), %reason, "connection failed; retrying");
        self.retry(connector);
    }

    fn client_connection_lost(&self, connector: &Connector, reason: Failure) {
        tracing::debug!(destination = %connector.destination(), %reason, "connection lost; reconnecting");
        self.retry(connector);
    }
}

impl<F> fmt::Debug for ReconnectingClientFactory<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.borrow();
        f.debug_struct("ReconnectingClientFactory")
            .field("backoff", &self.backoff)
            .field("delay", &state.delay)
            .field("retries", &state.retries)
            .field("continue_trying", &state.continue_trying)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::Reactor;
    use crate::net::factory_fn;
    use crate::testing::Clock;

    struct Quiet;
    impl Protocol for Quiet {
        fn data_received(&mut self, _: &[u8]) {}
    }

    type QuietFactory = crate::net::FnFactory<fn(&Address) -> Option<Quiet>>;

    /// Counts attempts as the factory hears of them.
    struct Counting {
        inner: ReconnectingClientFactory<QuietFactory>,
        attempts: Cell<u32>,
        failures: Cell<u32>,
    }

    impl Factory for Counting {
        fn build_protocol(&self, address: &Address) -> Option<Box<dyn Protocol>> {
            self.inner.build_protocol(address)
        }
    }

    impl ClientFactory for Counting {
        fn started_connecting(&self, connector: &Connector) {
            self.attempts.set(self.attempts.get() + 1);
            self.inner.started_connecting(connector);
        }
        fn client_connection_failed(&self, connector: &Connector, reason: Failure) {
            self.failures.set(self.failures.get() + 1);
            self.inner.client_connection_failed(connector, reason);
        }
        fn client_connection_lost(&self, connector: &Connector, reason: Failure) {
            self.inner.client_connection_lost(connector, reason);
        }
    }

    fn closed_port() -> std::net::SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    }

    fn turn(reactor: &Reactor) {
        for _ in 0..20 {
            reactor.run_once(Some(Duration::from_millis(5))).unwrap();
        }
    }

    #[test]
    fn delays_grow_by_the_factor_up_to_the_maximum_and_retries_stop_at_the_limit() {
        let reactor = Reactor::new().unwrap();
        reactor.start().unwrap();
        let clock = Rc::new(Clock::new());
        let backoff = Backoff {
            jitter: 0.0,
            max_delay: Duration::from_secs(10),
            max_retries: Some(3),
            ..Backoff::default()
        };
        let quiet: fn(&Address) -> Option<Quiet> = |_| Some(Quiet);
        let factory = Rc::new(Counting {
            inner: ReconnectingClientFactory::new(factory_fn(quiet), clock.clone(), backoff),
            attempts: Cell::new(0),
            failures: Cell::new(0),
        });
        reactor.connect_tcp(closed_port(), factory.clone());
        let e = std::f64::consts::E;
        let mut expected = Vec::new();
        for retry in 1..=3 {
            turn(&reactor);
            assert_eq!(factory.failures.get(), retry);
            let delay = factory.inner.current_delay().as_secs_f64();
            expected.push((e.powi(retry as i32)).min(10.0));
            assert!(
                (delay - expected.last().unwrap()).abs() < 1e-9,
                "{delay} vs {expected:?}"
            );
            assert_eq!(factory.attempts.get(), retry);
            clock.advance(Duration::from_secs_f64(delay));
            assert_eq!(factory.attempts.get(), retry + 1);
        }
        turn(&reactor);
        // The fourth failure is past max_retries: no more attempts.
        assert_eq!(factory.failures.get(), 4);
        assert!(clock.pending_calls().is_empty());
        clock.advance(Duration::from_secs(100));
        assert_eq!(factory.attempts.get(), 4);
    }

    #[test]
    fn stop_trying_cancels_the_scheduled_retry() {
        let reactor = Reactor::new().unwrap();
        reactor.start().unwrap();
        let clock = Rc::new(Clock::new());
        let quiet: fn(&Address) -> Option<Quiet> = |_| Some(Quiet);
        let factory = Rc::new(Counting {
            inner: ReconnectingClientFactory::new(
                factory_fn(quiet),
                clock.clone(),
                Backoff::default(),
            ),
            attempts: Cell::new(0),
            failures: Cell::new(0),
        });
        reactor.connect_tcp(closed_port(), factory.clone());
        turn(&reactor);
        assert_eq!(clock.pending_calls().len(), 1);
        factory.inner.stop_trying();
        assert!(clock.pending_calls().iter().all(|call| !call.active()));
        clock.advance(Duration::from_secs(10_000));
        assert_eq!(factory.attempts.get(), 1);
    }

    #[test]
    fn a_successful_connection_resets_the_delay_and_a_loss_reconnects() {
        let reactor = Reactor::new().unwrap();
        reactor.start().unwrap();
        let clock = Rc::new(Clock::new());
        // A server that closes each connection at once.
        struct Closer;
        impl Protocol for Closer {
            fn connection_made(&mut self, transport: &crate::net::Transport) {
                transport.lose_connection();
            }
            fn data_received(&mut self, _: &[u8]) {}
        }
        let port = reactor
            .listen_tcp("127.0.0.1:0".parse().unwrap(), factory_fn(|_| Some(Closer)))
            .unwrap();
        let quiet: fn(&Address) -> Option<Quiet> = |_| Some(Quiet);
        let backoff = Backoff {
            jitter: 0.0,
            ..Backoff::default()
        };
        let factory = Rc::new(Counting {
            inner: ReconnectingClientFactory::new(factory_fn(quiet), clock.clone(), backoff),
            attempts: Cell::new(0),
            failures: Cell::new(0),
        });
        reactor.connect_tcp(port.tcp_address().unwrap(), factory.clone());
        turn(&reactor);
        // Connected (delay reset), then lost: one retry at e seconds.
        assert_eq!(factory.inner.retries(), 1);
        assert!((factory.inner.current_delay().as_secs_f64() - std::f64::consts::E).abs() < 1e-9);
        clock.advance(Duration::from_secs(3));
        turn(&reactor);
        assert_eq!(factory.attempts.get(), 2);
        assert_eq!(
            factory.inner.retries(),
            1,
            "the second success reset the count"
        );
        factory.inner.stop_trying();
    }

    #[test]
    fn jitter_spreads_delays_around_their_value() {
        let mut state = 12345;
        let samples: Vec<f64> = (0..10_000).map(|_| standard_normal(&mut state)).collect();
        let mean = samples.iter().sum::<f64>() / samples.len() as f64;
        let variance =
            samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / samples.len() as f64;
        assert!(mean.abs() < 0.05, "{mean}");
        assert!((variance - 1.0).abs() < 0.1, "{variance}");
    }
}
