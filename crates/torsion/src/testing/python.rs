//! Python packages for tests that drive a real Python peer (websockets,
//! requests, Twisted), installed with pip on first use into a directory
//! the caller picks (an integration test's `CARGO_TARGET_TMPDIR`), so
//! that `cargo test` needs only `python3` and pip from the machine and
//! never a package installed by hand.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Makes sure `directory` holds exactly the packages pinned in
/// `requirements` (the text of a requirements file), installing them
/// with `pip install --target` when it does not yet. Safe when several
/// test processes race to do it: each installs into a directory of its
/// own and renames it into place, so a reader never sees half an
/// installation. Put `directory` on `PYTHONPATH` (see
/// [`python_command`]).
///
/// # Panics
///
/// When pip fails (no network, a package that does not exist), with
/// pip's last error line and the packages asked for.
pub fn install_python_packages(directory: &Path, requirements: &str) {
    if !is_current(directory, requirements) {
        install(directory, requirements);
    }
}

/// `python3` under `timeout` with `packages` on its `PYTHONPATH`: a hung
/// peer ends the test after `seconds` instead of hanging it (`-k 10`
/// follows the polite signal with SIGKILL).
pub fn python_command(packages: &Path, seconds: u32) -> Command {
    let mut command = Command::new("timeout");
    command
        .args(["-k", "10", &seconds.to_string(), "python3"])
        .env("PYTHONPATH", packages)
        .env("PYTHONDONTWRITEBYTECODE", "1");
    command
}

fn marker(directory: &Path) -> PathBuf {
    directory.join("requirements.txt")
}

fn is_current(directory: &Path, requirements: &str) -> bool {
    fs::read_to_string(marker(directory)).is_ok_and(|installed| installed == requirements)
}

fn install(target: &Path, requirements_text: &str) {
    let partial = target.with_extension(format!("partial-{}", std::process::id()));
    let _ = fs::remove_dir_all(&partial);
    fs::create_dir_all(&partial).expect("create the Python packages' directory");
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
            "cannot move the Python packages into {}",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pinned_packages_are_listed_without_comments() {
        assert_eq!(
            packages("# clients\nwebsockets==1\n\nrequests==2\n"),
            "websockets==1, requests==2"
        );
    }

    #[test]
    fn a_directory_is_current_only_for_the_same_requirements() {
        let directory = tempfile::tempdir().unwrap();
        fs::write(marker(directory.path()), "twisted==1\n").unwrap();
        assert!(is_current(directory.path(), "twisted==1\n"));
        assert!(!is_current(directory.path(), "twisted==2\n"));
        // Current: nothing to install, so no pip runs.
        install_python_packages(directory.path(), "twisted==1\n");
    }
}
