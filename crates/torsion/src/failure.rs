//! [`Failure`]: the type-erased error that travels down a Deferred's error path.
//!
//! Twisted wraps every exception in a `Failure` so that errbacks can inspect it
//! (`check`), handle only what they understand (`trap`) and pass the rest on.
//! torsion's `Failure` does the same for any `std::error::Error + Send + Sync`:
//! it owns the error, keeps its `source()` chain, captures a backtrace when
//! `RUST_BACKTRACE` / `RUST_LIB_BACKTRACE` ask for one, and turns panics into
//! ordinary values.
//!
//! ```
//! use torsion::error::Cancelled;
//! use torsion::Failure;
//!
//! let failure = Failure::new(Cancelled);
//! assert!(failure.is::<Cancelled>());
//! // `trap` hands back the error it names, or the failure itself, so an
//! // errback can handle what it knows and pass everything else down with `?`.
//! let cancelled: Result<Cancelled, Failure> = failure.trap::<Cancelled>();
//! assert!(cancelled.is_ok());
//! ```

use std::any::Any;
use std::backtrace::{Backtrace, BacktraceStatus};
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use crate::error::{Cancelled, Panicked, TimedOut};

/// The error type every Deferred fails with.
///
/// `Failure` deliberately does not implement [`std::error::Error`] itself (as
/// `anyhow::Error` does not): that lets `?` convert any error into a `Failure`
/// through the blanket `From` impl. Use [`Failure::error`] to get a
/// `&dyn Error` view.
///
/// A `Failure` is cheap to clone: clones share one error (behind an `Arc`),
/// so one outcome can go to several consumers (see
/// [`SharedDeferred`](crate::defer::SharedDeferred)). Looking at the error
/// ([`is`](Failure::is), [`downcast_ref`](Failure::downcast_ref),
/// [`find`](Failure::find), `Display`) works on every clone; taking it out by
/// value ([`downcast`](Failure::downcast), [`trap`](Failure::trap)) needs the
/// only handle, and on a clone that is still shared hands the failure back.
///
/// A `Failure` is a single shared pointer (the backtrace, when there is
/// one, lives beside the error), which keeps every `Result<T, Failure>`,
/// and so every Deferred, small.
#[derive(Clone)]
pub struct Failure {
    error: Arc<dyn Erased>,
}

/// The shared error, whichever way it was made: typed (one allocation, as
/// a `Box` would be) or from an already boxed error.
trait Erased: Send + Sync {
    fn error(&self) -> &(dyn StdError + Send + Sync + 'static);
    fn backtrace(&self) -> Option<&Backtrace>;
    /// The error by value if this is the only handle, else the handle back.
    fn take(self: Arc<Self>) -> Result<Box<dyn StdError + Send + Sync + 'static>, Arc<dyn Erased>>;
}

/// An error as a failure keeps it: in its own type, or already boxed.
trait Stored: Send + Sync + 'static {
    fn error(&self) -> &(dyn StdError + Send + Sync + 'static);
    fn into_boxed(self) -> Box<dyn StdError + Send + Sync + 'static>;
}

struct Typed<E>(E);

impl<E: StdError + Send + Sync + 'static> Stored for Typed<E> {
    fn error(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &self.0
    }

    fn into_boxed(self) -> Box<dyn StdError + Send + Sync + 'static> {
        Box::new(self.0)
    }
}

struct Boxed(Box<dyn StdError + Send + Sync + 'static>);

impl Stored for Boxed {
    fn error(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.0
    }

    fn into_boxed(self) -> Box<dyn StdError + Send + Sync + 'static> {
        self.0
    }
}

/// A stored error and the backtrace captured with it. The backtrace is
/// boxed so that a failure made without one (the usual case) pays one word
/// for it.
struct Captured<S> {
    stored: S,
    backtrace: Option<Box<Backtrace>>,
}

impl<S: Stored> Erased for Captured<S> {
    fn error(&self) -> &(dyn StdError + Send + Sync + 'static) {
        self.stored.error()
    }

    fn backtrace(&self) -> Option<&Backtrace> {
        self.backtrace.as_deref()
    }

    fn take(self: Arc<Self>) -> Result<Box<dyn StdError + Send + Sync + 'static>, Arc<dyn Erased>> {
        match Arc::try_unwrap(self) {
            Ok(captured) => Ok(captured.stored.into_boxed()),
            Err(shared) => Err(shared),
        }
    }
}

/// The error of a clone that is still shared, given out by
/// [`Failure::into_error`]: shows and chains as the shared error.
struct SharedError(Arc<dyn Erased>);

impl fmt::Debug for SharedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0.error(), f)
    }
}

impl fmt::Display for SharedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.0.error(), f)
    }
}

impl StdError for SharedError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0.error().source()
    }
}

/// An error made from a plain message, for [`Failure::msg`].
#[derive(Debug)]
struct Message(String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Message {}

impl Failure {
    /// Wraps an error, capturing a backtrace if the environment enables them.
    pub fn new<E>(error: E) -> Failure
    where
        E: StdError + Send + Sync + 'static,
    {
        Failure::capture(Typed(error))
    }

    /// Wraps an already boxed error without boxing it a second time, so
    /// [`is`](Failure::is) and [`downcast`](Failure::downcast) still see the
    /// original type.
    pub fn from_boxed(error: Box<dyn StdError + Send + Sync + 'static>) -> Failure {
        Failure::capture(Boxed(error))
    }

    /// A failure carrying only a message, for errors that have no type of
    /// their own.
    pub fn msg(message: impl Into<String>) -> Failure {
        Failure::new(Message(message.into()))
    }

    /// Turns the payload of a caught panic into a [`Panicked`] failure that
    /// carries the panic message.
    pub fn from_panic(payload: Box<dyn Any + Send>) -> Failure {
        let message = if let Some(text) = payload.downcast_ref::<&'static str>() {
            (*text).to_owned()
        } else if let Some(text) = payload.downcast_ref::<String>() {
            text.clone()
        } else {
            "a panic with a non-string payload".to_owned()
        };
        Failure::new(Panicked { message })
    }

    /// The wrapped error.
    pub fn error(&self) -> &(dyn StdError + Send + Sync + 'static) {
        self.error.error()
    }

    /// Gives the wrapped error back, dropping the backtrace. From a clone
    /// that is still shared, the error given back shows and chains as the
    /// original but no longer downcasts to its type.
    pub fn into_error(self) -> Box<dyn StdError + Send + Sync + 'static> {
        match self.error.take() {
            Ok(error) => error,
            Err(shared) => Box::new(SharedError(shared)),
        }
    }

    /// True if the wrapped error is an `E` (Twisted's `Failure.check`).
    pub fn is<E>(&self) -> bool
    where
        E: StdError + 'static,
    {
        self.error().is::<E>()
    }

    /// The wrapped error as an `E`, if it is one.
    pub fn downcast_ref<E>(&self) -> Option<&E>
    where
        E: StdError + 'static,
    {
        self.error().downcast_ref::<E>()
    }

    /// The first error of type `E` anywhere in the `source()` chain.
    pub fn find<E>(&self) -> Option<&E>
    where
        E: StdError + 'static,
    {
        self.chain().find_map(|error| error.downcast_ref::<E>())
    }

    /// Takes the wrapped error out as an `E`, or gives the failure back
    /// unchanged: when it is not an `E`, or when it is a clone still shared
    /// with another consumer (which may look at it by reference).
    pub fn downcast<E>(self) -> Result<E, Failure>
    where
        E: StdError + Send + Sync + 'static,
    {
        if !self.is::<E>() {
            return Err(self);
        }
        match self.error.take() {
            Ok(error) => Ok(*error.downcast::<E>().expect("checked to be an E")),
            Err(error) => Err(Failure { error }),
        }
    }

    /// Twisted's `Failure.trap`: returns the error if it is an `E`, otherwise
    /// the failure itself, so an errback written as
    /// `let err = failure.trap::<MyError>()?;` handles `MyError` and passes
    /// every other failure down the chain untouched.
    pub fn trap<E>(self) -> Result<E, Failure>
    where
        E: StdError + Send + Sync + 'static,
    {
        self.downcast::<E>()
    }

    /// The wrapped error followed by its `source()` chain.
    pub fn chain(&self) -> impl Iterator<Item = &(dyn StdError + 'static)> {
        let first: &(dyn StdError + 'static) = self.error();
        std::iter::successors(Some(first), |error: &&(dyn StdError + 'static)| {
            (*error).source()
        })
    }

    /// The backtrace captured when the failure was made, if backtraces are
    /// enabled.
    pub fn backtrace(&self) -> Option<&Backtrace> {
        self.error.backtrace()
    }

    /// True if the failure is a [`Cancelled`].
    pub fn is_cancelled(&self) -> bool {
        self.is::<Cancelled>()
    }

    /// True if the failure is a [`TimedOut`].
    pub fn is_timeout(&self) -> bool {
        self.is::<TimedOut>()
    }

    /// True if the failure is a caught panic.
    pub fn is_panic(&self) -> bool {
        self.is::<Panicked>()
    }
}

impl Failure {
    /// Keeps `stored`, with a backtrace if the environment enables them.
    fn capture(stored: impl Stored) -> Failure {
        let backtrace = Backtrace::capture();
        let backtrace = match backtrace.status() {
            BacktraceStatus::Captured => Some(Box::new(backtrace)),
            _ => None,
        };
        Failure {
            error: Arc::new(Captured { stored, backtrace }),
        }
    }
}

/// Runs `f`, turning a panic into a [`Panicked`] failure. User code (callbacks,
/// timers, tasks) runs through this so that one panic never unwinds through
/// torsion's own state.
pub(crate) fn catch_panic<R>(f: impl FnOnce() -> R) -> Result<R, Failure> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(Failure::from_panic)
}

impl<E> From<E> for Failure
where
    E: StdError + Send + Sync + 'static,
{
    fn from(error: E) -> Failure {
        Failure::new(error)
    }
}

/// Shows the error and, after `: `, each error in its `source()` chain.
impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut chain = self.chain();
        if let Some(first) = chain.next() {
            write!(f, "{first}")?;
        }
        for cause in chain {
            write!(f, ": {cause}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Failure({self}; {:?})", self.error())?;
        if let Some(backtrace) = self.backtrace() {
            write!(f, "\n{backtrace}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ConnectionLost;
    use std::io;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] io::Error);

    #[test]
    fn display_shows_the_source_chain() {
        let failure = Failure::new(Outer(io::Error::other("inner")));
        assert_eq!(failure.to_string(), "outer: inner");
    }

    #[test]
    fn is_and_downcast_ref_check_the_wrapped_type() {
        let failure = Failure::new(Cancelled);
        assert!(failure.is::<Cancelled>());
        assert!(!failure.is::<TimedOut>());
        assert!(failure.downcast_ref::<Cancelled>().is_some());
        assert!(failure.is_cancelled());
    }

    #[test]
    fn trap_passes_unrelated_failures_through_unchanged() {
        let failure = Failure::new(ConnectionLost::new());
        let passed_on = failure.trap::<Cancelled>().unwrap_err();
        assert!(passed_on.is::<ConnectionLost>());
        assert!(passed_on.trap::<ConnectionLost>().is_ok());
    }

    #[test]
    fn find_searches_the_whole_chain() {
        let failure = Failure::new(Outer(io::Error::new(io::ErrorKind::BrokenPipe, "gone")));
        let io_error = failure.find::<io::Error>().expect("io error in chain");
        assert_eq!(io_error.kind(), io::ErrorKind::BrokenPipe);
    }

    #[test]
    fn from_boxed_keeps_the_original_type() {
        let boxed: Box<dyn StdError + Send + Sync> = Box::new(Cancelled);
        assert!(Failure::from_boxed(boxed).is::<Cancelled>());
    }

    #[test]
    fn panics_become_failures_with_their_message() {
        let payload = std::panic::catch_unwind(|| panic!("boom {}", 7)).unwrap_err();
        let failure = Failure::from_panic(payload);
        assert!(failure.is_panic());
        assert!(failure.to_string().contains("boom 7"));
        let payload = std::panic::catch_unwind(|| panic!("static")).unwrap_err();
        assert!(Failure::from_panic(payload).to_string().contains("static"));
    }

    #[test]
    fn question_mark_converts_any_error() {
        fn parse() -> Result<u32, Failure> {
            Ok("x".parse::<u32>()?)
        }
        assert!(parse().unwrap_err().is::<std::num::ParseIntError>());
    }

    #[test]
    fn clones_share_one_error() {
        let failure = Failure::new(Outer(io::Error::other("inner")));
        let copy = failure.clone();
        assert!(copy.is::<Outer>());
        assert_eq!(copy.to_string(), failure.to_string());
        assert!(std::ptr::eq(copy.error(), failure.error()));
    }

    #[test]
    fn a_shared_clone_gives_itself_back_instead_of_its_error() {
        let failure = Failure::new(Cancelled);
        let copy = failure.clone();
        let still_shared = copy.downcast::<Cancelled>().unwrap_err();
        assert!(still_shared.is_cancelled());
        drop(failure);
        assert!(still_shared.downcast::<Cancelled>().is_ok());
    }

    #[test]
    fn into_error_of_a_shared_clone_keeps_message_and_chain() {
        let failure = Failure::new(Outer(io::Error::other("inner")));
        let error = failure.clone().into_error();
        assert_eq!(error.to_string(), "outer");
        assert_eq!(error.source().unwrap().to_string(), "inner");
    }

    #[test]
    fn a_failure_is_one_shared_pointer() {
        assert_eq!(
            std::mem::size_of::<Failure>(),
            std::mem::size_of::<Arc<dyn Erased>>()
        );
    }

    /// Backtraces are switched on by the environment, which std reads once
    /// per process: the check runs in a child of this test binary.
    #[test]
    fn a_failure_made_with_backtraces_enabled_keeps_its_backtrace() {
        if std::env::var_os("TORSION_TEST_BACKTRACE_CHILD").is_some() {
            for failure in [
                Failure::new(Cancelled),
                Failure::from_boxed(Box::new(Cancelled)),
            ] {
                assert!(failure.backtrace().is_some());
                assert!(format!("{failure:?}").contains("a_failure_made_with_backtraces"));
                let copy = failure.clone();
                let still_shared = copy.downcast::<Cancelled>().unwrap_err();
                assert!(still_shared.backtrace().is_some());
            }
            return;
        }
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "failure::tests::a_failure_made_with_backtraces_enabled_keeps_its_backtrace",
            ])
            .env("TORSION_TEST_BACKTRACE_CHILD", "1")
            .env("RUST_LIB_BACKTRACE", "1")
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    }

    #[test]
    fn msg_makes_an_untyped_failure() {
        assert_eq!(Failure::msg("plain").to_string(), "plain");
    }
}
