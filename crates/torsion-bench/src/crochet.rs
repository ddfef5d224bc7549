//! The bridge benchmark's reference: crochet, the library torsion's
//! blocking bridge is modelled on, doing the same round trip (blocking
//! code calls into a Twisted reactor on a background thread and waits for
//! an already-fired Deferred). crochet is installed from PyPI, pinned
//! (`python/crochet-requirements.txt`), under the target directory on
//! first use; where it cannot be, the reference is skipped with the
//! reason.

use std::path::PathBuf;
use std::process::Command;

use torsion::testing::install_python_packages;

const REQUIREMENTS: &str = include_str!("../python/crochet-requirements.txt");
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/python/crochet_round_trips.py");

/// One run of the Python script: p50 and p99 of a round trip (µs), and
/// round trips per second.
pub struct CrochetSample {
    /// Median round trip, µs.
    pub p50: f64,
    /// 99th percentile round trip, µs.
    pub p99: f64,
    /// Round trips per second, one at a time.
    pub rate: f64,
}

fn packages() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/tmp/python-crochet")
}

/// Installs crochet if needed: `Err` with why it cannot be used.
pub fn prepare() -> Result<(), String> {
    let installed = std::panic::catch_unwind(|| install_python_packages(&packages(), REQUIREMENTS));
    installed.map_err(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|text| (*text).to_owned()))
            .unwrap_or_else(|| "pip failed".to_owned())
    })
}

/// Runs `count` crochet round trips in a Python process of their own.
pub fn run(count: usize) -> Result<CrochetSample, String> {
    let output = Command::new("python3")
        .arg(SCRIPT)
        .arg(count.to_string())
        .env("PYTHONPATH", packages())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .map_err(|error| format!("python3 does not run: {error}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let figures: Vec<f64> = text
        .split_whitespace()
        .filter_map(|field| field.parse().ok())
        .collect();
    match (output.status.success(), &figures[..]) {
        (true, &[p50, p99, rate]) => Ok(CrochetSample { p50, p99, rate }),
        _ => Err(format!(
            "the crochet script failed: {}",
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .last()
                .unwrap_or("no output")
        )),
    }
}
