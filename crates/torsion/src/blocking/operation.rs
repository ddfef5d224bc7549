//! What a function handed to the bridge may return: a `Result` (an
//! immediate value or failure), a [`Deferred`], or any other future, such
//! as the one an `async fn` returns (crochet's `ensureDeferred` for
//! coroutines).

use std::any::Any;
use std::future::Future;

use crate::defer::Outcome;
use crate::{Deferred, Failure, Reactor};

/// A value a bridged function may return, turned into the operation's
/// outcome on the reactor thread. The `Marker` only tells the two kinds
/// apart ([`Immediate`] for a `Result`, [`Awaited`] for a future); the
/// compiler infers it.
///
/// ```
/// use std::time::Duration;
/// use torsion::blocking::Bridge;
/// use torsion::time::defer_later;
/// use torsion::{Failure, Reactor};
///
/// async fn answer(reactor: Reactor) -> Result<u32, Failure> {
///     defer_later(&reactor, Duration::from_millis(5), || Ok::<_, Failure>(42)).await
/// }
///
/// let bridge = Bridge::start()?;
/// let long = Duration::from_secs(5);
/// assert_eq!(bridge.run_in_reactor(|_| Ok::<_, Failure>(1)).wait(long)?, 1);
/// assert_eq!(bridge.run_in_reactor(answer).wait(long)?, 42);
/// bridge.shutdown(long)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait IntoEventual<Marker> {
    /// The operation's value.
    type Output: Send + 'static;

    #[doc(hidden)]
    fn into_outcome(self, reactor: &Reactor) -> Outcome<Self::Output>;
}

/// The [`IntoEventual`] marker of a `Result`: the outcome is there at once.
#[derive(Debug)]
pub enum Immediate {}

/// The [`IntoEventual`] marker of a future: a [`Deferred`] is followed, any
/// other future runs as a task on the reactor ([`Reactor::spawn`]), and
/// cancelling the operation drops it.
#[derive(Debug)]
pub enum Awaited {}

impl<T, E> IntoEventual<Immediate> for Result<T, E>
where
    T: Send + 'static,
    E: Into<Failure>,
{
    type Output = T;

    fn into_outcome(self, _reactor: &Reactor) -> Outcome<T> {
        Outcome::Ready(self.map_err(Into::into))
    }
}

impl<F, T, E> IntoEventual<Awaited> for F
where
    F: Future<Output = Result<T, E>> + 'static,
    T: Send + 'static,
    E: Into<Failure>,
{
    type Output = T;

    fn into_outcome(self, reactor: &Reactor) -> Outcome<T> {
        // A Deferred is a future too, but one with a canceller of its own:
        // follow it as it is rather than await it from a task. (A second
        // impl for Deferred would make the marker ambiguous.)
        let mut future = Some(self);
        if let Some(deferred) = (&mut future as &mut dyn Any).downcast_mut::<Option<Deferred<T>>>()
            && let Some(deferred) = deferred.take()
        {
            return Outcome::Wait(deferred);
        }
        match future {
            Some(future) => Outcome::Wait(reactor.spawn(future)),
            None => unreachable!("only a Deferred is taken out above"),
        }
    }
}
