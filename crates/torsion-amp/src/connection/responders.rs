//! [`Responders`]: the code that answers each command (Twisted's
//! `@Command.responder` methods and `locateResponder`), shared by every
//! connection given it.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::rc::Rc;

use bytes::Bytes;
use torsion::{Deferred, Failure, Reactor};

use super::Amp;
use crate::{AmpBox, AmpError, Command, CommandError, from_box, to_box};

/// A responder seen without its command's types: a box of arguments in,
/// a Deferred of the response box out.
pub(crate) type Erased = Rc<dyn Fn(&Amp, AmpBox) -> Deferred<AmpBox>>;

/// A failure to answer with an error box that keeps the connection
/// open (unless fatal): a declared error, or `UNHANDLED`.
#[derive(Debug, thiserror::Error)]
#[error("{description}")]
pub(crate) struct Declared {
    pub(crate) code: Bytes,
    pub(crate) description: String,
    pub(crate) fatal: bool,
}

/// The arguments of a received command did not read as its type.
#[derive(Debug, thiserror::Error)]
#[error("the arguments of {command:?} do not read as its arguments type: {error}")]
pub(crate) struct BadArguments {
    pub(crate) command: &'static str,
    pub(crate) error: AmpError,
}

/// Which command answers with what: one responder per command, each a
/// plain function, a function returning a [`Deferred`], or an async
/// function. Cheap to clone; clones share the responders, so one set
/// serves every connection of a server.
///
/// A responder gets the connection's [`Amp`] handle (to call the peer
/// back, Twisted's `self.callRemote` inside a responder) and the
/// command's arguments. What it returns is answered:
///
/// - a response: the answer box;
/// - one of the command's declared errors: an error box with its code and
///   its `Display` as the description; the connection stays up, unless
///   the error [`is_fatal`](CommandError::is_fatal);
/// - any other failure (or arguments that do not read as the command's
///   type): an error box with code `UNKNOWN` and description
///   `Unknown Error`, the failure is logged, and the connection is
///   closed, as Twisted does.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use torsion::Deferred;
/// use torsion_amp::{NoError, Responders};
///
/// #[derive(Serialize, Deserialize)]
/// pub struct Pair { a: i64, b: i64 }
/// #[derive(Serialize, Deserialize)]
/// pub struct Total { total: i64 }
///
/// torsion_amp::command! {
///     /// Adds.
///     pub struct Sum = "Sum" { arguments: Pair, response: Total, errors: NoError }
/// }
/// torsion_amp::command! {
///     /// Adds, later.
///     pub struct SlowSum = "SlowSum" { arguments: Pair, response: Total, errors: NoError }
/// }
/// torsion_amp::command! {
///     /// Adds, in an async fn.
///     pub struct AsyncSum = "AsyncSum" { arguments: Pair, response: Total, errors: NoError }
/// }
///
/// let responders = Responders::new()
///     .respond::<Sum>(|_, Pair { a, b }| Ok(Total { total: a + b }))
///     .respond_deferred::<SlowSum>(|_, Pair { a, b }| Deferred::succeed(Total { total: a + b }))
///     .respond_async::<AsyncSum, _, _>(|_amp, Pair { a, b }| async move {
///         Ok::<_, torsion::Failure>(Total { total: a + b })
///     });
/// assert!(responders.handles("SlowSum"));
/// ```
#[derive(Clone, Default)]
pub struct Responders {
    map: Rc<HashMap<Bytes, Erased>>,
}

impl Responders {
    /// No responders: every command is answered `UNHANDLED`.
    pub fn new() -> Responders {
        Responders::default()
    }

    /// Whether a responder is registered for the command named `name`.
    pub fn handles(&self, name: &str) -> bool {
        self.map.contains_key(name.as_bytes())
    }

    pub(crate) fn get(&self, name: &[u8]) -> Option<Erased> {
        self.map.get(name).cloned()
    }

    fn insert<C: Command>(mut self, responder: Erased) -> Responders {
        Rc::make_mut(&mut self.map).insert(Bytes::from_static(C::NAME.as_bytes()), responder);
        self
    }

    /// Answers `C` with what `responder` returns at once.
    pub fn respond<C: Command>(
        self,
        responder: impl Fn(&Amp, C::Arguments) -> Result<C::Response, C::Error> + 'static,
    ) -> Responders {
        self.insert::<C>(Rc::new(move |amp, amp_box| {
            let outcome = arguments::<C>(&amp_box)
                .and_then(|arguments| responder(amp, arguments).map_err(Failure::new));
            match answer::<C>(outcome) {
                Ok(amp_box) => Deferred::succeed(amp_box),
                Err(failure) => Deferred::fail(failure),
            }
        }))
    }

    /// Answers `C` when the Deferred `responder` returns fires; a failure
    /// holding one of `C`'s errors is answered as that declared error.
    pub fn respond_deferred<C: Command>(
        self,
        responder: impl Fn(&Amp, C::Arguments) -> Deferred<C::Response> + 'static,
    ) -> Responders {
        self.insert::<C>(Rc::new(move |amp, amp_box| {
            let response = match arguments::<C>(&amp_box) {
                Ok(arguments) => responder(amp, arguments),
                Err(failure) => Deferred::fail(failure),
            };
            response.both(answer::<C>)
        }))
    }

    /// Answers `C` when the future `responder` returns completes; it runs
    /// on the reactor as a task ([`Reactor::spawn`]). An error that is
    /// one of `C`'s is answered as that declared error. Name the command
    /// and let the rest be inferred: `respond_async::<C, _, _>(...)`.
    pub fn respond_async<C, Fut, E>(
        self,
        responder: impl Fn(Amp, C::Arguments) -> Fut + 'static,
    ) -> Responders
    where
        C: Command,
        Fut: Future<Output = Result<C::Response, E>> + 'static,
        E: Into<Failure> + 'static,
    {
        self.insert::<C>(Rc::new(move |amp, amp_box| {
            let response = match (arguments::<C>(&amp_box), Reactor::current()) {
                (Ok(arguments), Some(reactor)) => reactor.spawn(responder(amp.clone(), arguments)),
                (Err(failure), _) => Deferred::fail(failure),
                (Ok(_), None) => Deferred::fail(Failure::msg(
                    "an async AMP responder needs a running reactor on this thread",
                )),
            };
            response.both(answer::<C>)
        }))
    }
}

/// The command's arguments, read from the box.
fn arguments<C: Command>(amp_box: &AmpBox) -> Result<C::Arguments, Failure> {
    from_box(amp_box).map_err(|error| {
        Failure::new(BadArguments {
            command: C::NAME,
            error,
        })
    })
}

/// The answer box for a responder's outcome: the response, or the failure
/// with a declared error turned into what the dispatcher answers.
fn answer<C: Command>(outcome: Result<C::Response, Failure>) -> Result<AmpBox, Failure> {
    match outcome {
        Ok(response) => to_box(&response).map_err(Failure::new),
        Err(failure) => match failure.downcast_ref::<C::Error>() {
            Some(error) => Err(Failure::new(Declared {
                code: Bytes::from_static(error.code().as_bytes()),
                description: error.to_string(),
                fatal: error.is_fatal(),
            })),
            None => Err(failure),
        },
    }
}

impl fmt::Debug for Responders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<_> = self.map.keys().collect();
        names.sort();
        f.debug_struct("Responders")
            .field("commands", &names)
            .finish()
    }
}
