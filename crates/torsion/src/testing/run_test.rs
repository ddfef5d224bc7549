//! An async test on a reactor of its own, as trial runs a test method that
//! returns a Deferred.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use crate::{Failure, Reactor};

/// Runs `test` on a new reactor until it finishes, and returns the
/// reactor, run to its end. Panics with the failure when the test fails
/// (a panic inside it included), and when it is not done within `limit`,
/// so a hung test fails instead of hanging the suite.
///
/// ```
/// use std::time::Duration;
/// use torsion::testing::{echo_server, run_test};
/// use torsion::Failure;
///
/// run_test(Duration::from_secs(10), |reactor| async move {
///     let address = echo_server(&reactor);
///     let stream = reactor
///         .connect_stream(address.into(), Default::default())
///         .await?;
///     stream.write_all_now(b"ping");
///     let mut reply = [0u8; 4];
///     stream.read_exact(&mut reply).await?;
///     assert_eq!(&reply, b"ping");
///     Ok::<(), Failure>(())
/// });
/// ```
pub fn run_test<F, Fut>(limit: Duration, test: F) -> Reactor
where
    F: FnOnce(Reactor) -> Fut,
    Fut: Future<Output = Result<(), Failure>> + 'static,
{
    let reactor = Reactor::new().expect("a reactor for the test");
    let outcome: Rc<RefCell<Option<Result<(), Failure>>>> = Rc::default();
    let slot = outcome.clone();
    let stopper = reactor.clone();
    drop(reactor.spawn(test(reactor.clone())).both(move |result| {
        *slot.borrow_mut() = Some(result);
        let _ = stopper.stop();
        Ok::<(), Failure>(())
    }));
    let stopper = reactor.clone();
    let deadline = reactor.call_later(limit, move || {
        let _ = stopper.stop();
    });
    reactor.run().expect("the test's reactor runs");
    let _ = deadline.cancel();
    let outcome = outcome.borrow_mut().take();
    match outcome {
        Some(Ok(())) => reactor,
        Some(Err(failure)) => panic!("the test failed: {failure}"),
        None => panic!("the test did not finish within {limit:?}"),
    }
}
