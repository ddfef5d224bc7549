//! Python packages for the tests, installed on first use into the target
//! directory by `torsion::testing::install_python_packages`. Two sets, each
//! pinned in a requirements file beside the tests: the clients
//! (websockets, requests, h2), and the browser driver (selenium, kept
//! apart because it is large and only the browser test needs it).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use torsion::testing::{install_python_packages, python_command as python_with};

/// A set of packages: the directory under the target's tmp directory it
/// is installed into, and its pinned requirements.
struct PackageSet {
    directory: &'static str,
    requirements: &'static str,
}

const CLIENTS: PackageSet = PackageSet {
    directory: "python-clients",
    requirements: include_str!("../python-requirements.txt"),
};

const BROWSER_DRIVER: PackageSet = PackageSet {
    directory: "python-browser-driver",
    requirements: include_str!("../browser-requirements.txt"),
};

/// A `python3` command whose imports find the test clients.
pub fn python_command() -> Command {
    static INSTALLED: OnceLock<PathBuf> = OnceLock::new();
    python_with(installed(&INSTALLED, &CLIENTS), 30)
}

/// A `python3` command whose imports find the browser driver (selenium),
/// stopped after `seconds`.
pub fn browser_driver_python(seconds: u32) -> Command {
    static INSTALLED: OnceLock<PathBuf> = OnceLock::new();
    python_with(installed(&INSTALLED, &BROWSER_DRIVER), seconds)
}

/// The directory holding `set`, installed once per test process.
fn installed<'a>(cell: &'a OnceLock<PathBuf>, set: &PackageSet) -> &'a Path {
    cell.get_or_init(|| {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join(set.directory);
        install_python_packages(&target, set.requirements);
        target
    })
}
