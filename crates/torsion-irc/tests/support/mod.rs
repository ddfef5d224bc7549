//! What the integration tests share: a reactor run with a deadline, the
//! pinned Python `irc` package, and ngircd started on a free port.

#![allow(dead_code)]

pub mod ngircd;

use std::cell::RefCell;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;
use std::sync::OnceLock;
use std::time::Duration;

use torsion::net::{Address, ListeningPort};
use torsion::{Failure, Reactor};

/// Runs `test` on a fresh reactor; fails when it fails or takes longer
/// than `seconds`.
pub fn run<F, Fut>(seconds: u64, test: F)
where
    F: FnOnce(Reactor) -> Fut,
    Fut: Future<Output = Result<(), Failure>> + 'static,
{
    let reactor = Reactor::new().unwrap();
    let outcome = Rc::new(RefCell::new(None));
    let o = outcome.clone();
    let r = reactor.clone();
    let task = reactor.spawn(test(reactor.clone()));
    drop(task.both(move |result| {
        *o.borrow_mut() = Some(result);
        r.stop().unwrap();
        Ok::<(), Failure>(())
    }));
    let r = reactor.clone();
    let deadline = reactor.call_later(Duration::from_secs(seconds), move || {
        r.stop().unwrap();
    });
    reactor.run().unwrap();
    drop(deadline);
    match outcome.borrow_mut().take() {
        Some(Ok(())) => {}
        Some(Err(failure)) => panic!("the test failed: {failure}"),
        None => panic!("the test did not finish within {seconds} s"),
    }
}

/// The TCP port a listening port has.
pub fn port_of(port: &ListeningPort) -> u16 {
    match port.address() {
        Address::Tcp(address) => address.port(),
        other => panic!("not a TCP port: {other}"),
    }
}

/// A `python3` command whose imports find the pinned `irc` package
/// (installed on first use), stopped after `seconds`.
pub fn python_irc(seconds: u32) -> Command {
    static INSTALLED: OnceLock<PathBuf> = OnceLock::new();
    let packages = INSTALLED.get_or_init(|| {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-irc");
        torsion::testing::install_python_packages(
            &target,
            include_str!("../python-requirements.txt"),
        );
        target
    });
    torsion::testing::python_command(packages, seconds)
}

/// A script under `tests/data`.
pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}
