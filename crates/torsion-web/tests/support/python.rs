//! Python clients (websockets, requests) for the tests, installed on first
//! use into the target directory with pip, so that `cargo test` needs only
//! python3 and pip from the machine and never a package installed by hand.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

const REQUIREMENTS: &str = include_str!("../python-requirements.txt");

/// A `python3` command whose imports find the test clients.
pub fn python_command() -> Command {
    let mut command = Command::new("timeout");
    command
        .args(["30", "python3"])
        .env("PYTHONPATH", python_packages())
        .env("PYTHONDONTWRITEBYTECODE", "1");
    command
}

/// The directory holding the installed clients; installs them once per
/// requirements file, safely when several test processes race to do it.
fn python_packages() -> &'static Path {
    static PACKAGES: OnceLock<PathBuf> = OnceLock::new();
    PACKAGES.get_or_init(|| {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-clients");
        if !is_current(&target) {
            install(&target);
        }
        target
    })
}

fn marker(directory: &Path) -> PathBuf {
    directory.join("requirements.txt")
}

fn is_current(directory: &Path) -> bool {
    fs::read_to_string(marker(directory)).is_ok_and(|installed| installed == REQUIREMENTS)
}

/// Installs into a directory of this process's own and renames it into
/// place, so a reader never sees half an installation.
fn install(target: &Path) {
    let partial = target.with_extension(format!("partial-{}", std::process::id()));
    let _ = fs::remove_dir_all(&partial);
    fs::create_dir_all(&partial).expect("create the Python clients' directory");
    let requirements = marker(&partial);
    fs::write(&requirements, REQUIREMENTS).expect("write the requirements file");
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
            "cannot install the Python test clients ({}): {problem}",
            packages()
        );
    }
    if is_current(target) {
        // Another test process finished first.
        let _ = fs::remove_dir_all(&partial);
        return;
    }
    let _ = fs::remove_dir_all(target);
    if fs::rename(&partial, target).is_err() {
        let _ = fs::remove_dir_all(&partial);
        assert!(
            is_current(target),
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
fn packages() -> String {
    REQUIREMENTS
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect::<Vec<_>>()
        .join(", ")
}
