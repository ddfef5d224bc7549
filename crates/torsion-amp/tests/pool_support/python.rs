//! Twisted for the Python worker, installed with pip on first use under
//! the target directory (pinned in `tests/pool-twisted-requirements.txt`),
//! so that `cargo test` needs only `python3` and pip from the machine.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const REQUIREMENTS: &str = include_str!("../pool-twisted-requirements.txt");

/// The directory holding Twisted, to put on the worker's `PYTHONPATH`.
pub fn twisted() -> &'static Path {
    static INSTALLED: OnceLock<PathBuf> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pool-twisted");
        let marker = target.join("requirements.txt");
        if fs::read_to_string(&marker).is_ok_and(|installed| installed == REQUIREMENTS) {
            return target;
        }
        // A directory of this process's own, renamed into place, so that
        // test processes racing to install never see half of one.
        let partial = target.with_extension(format!("partial-{}", std::process::id()));
        let _ = fs::remove_dir_all(&partial);
        fs::create_dir_all(&partial).expect("create the Twisted directory");
        fs::write(partial.join("requirements.txt"), REQUIREMENTS).expect("write requirements");
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
            .arg(partial.join("requirements.txt"))
            .output()
            .expect("run pip");
        assert!(
            output.status.success(),
            "cannot install Twisted for the Python worker: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        if fs::read_to_string(&marker).is_ok_and(|installed| installed == REQUIREMENTS) {
            let _ = fs::remove_dir_all(&partial);
            return target;
        }
        let _ = fs::remove_dir_all(&target);
        fs::rename(&partial, &target).expect("move Twisted into place");
        target
    })
}
