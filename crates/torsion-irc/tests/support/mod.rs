//! What the integration tests share: a reactor run with a deadline, the
//! pinned Python `irc` package, and ngircd started on a free port.

#![allow(dead_code)]

pub mod ngircd;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use torsion::net::{Address, ListeningPort};
use torsion::{Failure, Reactor};

/// [`run_test`](torsion::testing::run_test) with its limit in seconds.
pub fn run<Fut>(seconds: u64, test: impl FnOnce(Reactor) -> Fut)
where
    Fut: Future<Output = Result<(), Failure>> + 'static,
{
    torsion::testing::run_test(Duration::from_secs(seconds), test);
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
