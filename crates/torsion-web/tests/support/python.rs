//! Python packages for the tests, installed on first use into the target
//! directory with pip, so that `cargo test` needs only python3 and pip from
//! the machine and never a package installed by hand. Two sets, each pinned
//! in a requirements file beside the tests: the clients (websockets,
//! requests, h2), and the browser driver (selenium, kept apart because it
//! is large and only the browser test needs it).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

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

/// `python3` under `timeout`: a hung client ends the test instead of
/// hanging it. `-k 10` follows the polite signal with SIGKILL.
fn python_with(packages: &Path, seconds: u32) -> Command {
    let mut command = Command::new("timeout");
    command
        .args(["-k", "10", &seconds.to_string(), "python3"])
        .env("PYTHONPATH", packages)
        .env("PYTHONDONTWRITEBYTECODE", "1");
    command
}

/// The directory holding `set`, installed once per requirements file,
/// safely when several test processes race to do it.
fn installed<'a>(cell: &'a OnceLock<PathBuf>, set: &PackageSet) -> &'a Path {
    cell.get_or_init(|| {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join(set.directory);
        if !is_current(&target, set.requirements) {
            install(&target, set.requirements);
        }
        target
    })
}

fn marker(directory: &Path) -> PathBuf {
    directory.join("requirements.txt")
}

fn is_current(directory: &Path, requirements: &str) -> bool {
    fs::read_to_string(marker(directory)).is_ok_and(|installed| installed == requirements)
}

/// Installs into a directory of this process's own and renames it into
/// place, so a reader never sees half an installation.
fn install(target: &Path, requirements_text: &str) {
    let partial = target.with_extension(format!("partial-{}", std::process::id()));
    let _ = fs::remove_dir_all(&partial);
    fs::create_dir_all(&partial).expect("create the Python clients' directory");
    let requirements = marker(&partial);
    fs::write(&requirements, requirements_text).expect("write the requirements file");
    let output = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(["--no-input", "--no-cache-dir", "--target"])
        .arg(&partial)
        .arg("-r")
        .arg(&requirements)
        .output();
    if let Some(problem) = install_problem(output) {
        let _ = fs::remove_dir_all(&partial);
        panic!(
            "cannot install the tests' Python packages ({}): {problem}",
            packages(requirements_text)
        );
    }
    if is_current(target, requirements_text) {
        // Another test process finished first.
        let _ = fs::remove_dir_all(&partial);
        return;
    }
    let _ = fs::remove_dir_all(target);
    if fs::rename(&partial, target).is_err() {
        let _ = fs::remove_dir_all(&partial);
        assert!(
            is_current(target, requirements_text),
            "cannot move the Python test clients into {}",
            target.display()
        );
    }
}

/// Why pip's run failed, in one line (pip's own last error line names the
/// package it could not get), or `None` when it succeeded.
fn install_problem(output: std::io::Result<Output>) -> Option<String> {
    match output {
        Err(error) => Some(format!("python3 does not run: {error}")),
        Ok(output) if output.status.success() => None,
        Ok(output) => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let last = stderr
                .lines()
                .rev()
                .find(|line| line.contains("ERROR") || line.contains("No module named"))
                .or_else(|| stderr.lines().rev().find(|line| !line.trim().is_empty()))
                .unwrap_or("pip failed without a message");
            Some(last.trim().to_owned())
        }
    }
}

/// The pinned packages, as "websockets==17.4, requests==2.34.2".
fn packages(requirements: &str) -> String {
    requirements
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect::<Vec<_>>()
        .join(", ")
}
