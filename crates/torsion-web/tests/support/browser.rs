//! A real Chromium for the tests, driven by `tests/browser_driver.py`
//! (selenium and the system's chromedriver): a test gives a list of page
//! checks as data and gets back what the pages showed. Chromium comes from
//! the system (Debian's `chromium` and `chromium-driver`, which
//! `scripts/test` installs when missing); without it the test fails, it
//! does not skip.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use std::{env, fs};

use serde_json::{Value, json};

use super::browser_driver_python;

/// The driver's whole run, browser start included, is stopped after this.
const DRIVER_LIMIT_SECONDS: u32 = 150;

/// How long one expectation may take to show on a page.
const WAIT_SECONDS: u32 = 15;

/// The environment variable every process of one run inherits (the
/// driver, chromedriver, Chromium and its helpers), with a value of the
/// run's own: it finds them all afterwards.
const MARKER: &str = "TORSION_BROWSER_RUN";

/// The chat page (`torsion_web::chat`) at `url` in two pages, alice's and
/// bob's: both join, alice speaks, bob hears her. The checks are named
/// `PREFIX-chat-alice-joins`, `PREFIX-chat-bob-joins`,
/// `PREFIX-chat-alice-says-hello` and `PREFIX-chat-bob-hears-it`.
pub fn chat_checks(prefix: &str, url: &str) -> Vec<Value> {
    let join = |name: &str, others: usize| {
        json!({
            "name": format!("{prefix}-chat-{name}-joins"),
            "tab": name,
            "url": url,
            "wait": [{"css": "#name"}],
            "actions": [{"type": "#name", "text": name}, {"click": "#join button"}],
            "expect": [
                {"css": "#status", "text": "connected"},
                {"css": "#log div", "text": format!("* welcome, {name}; {others} other(s) here")},
            ],
        })
    };
    vec![
        join("alice", 0),
        join("bob", 1),
        json!({
            "name": format!("{prefix}-chat-alice-says-hello"),
            "tab": "alice",
            "wait": [{"css": "#log div", "text": "* bob joined"}],
            "actions": [
                {"type": "#text", "text": "hello from alice"},
                {"click": "#say button"},
            ],
            "expect": [{"css": "#log div", "text": "<alice> hello from alice"}],
        }),
        json!({
            "name": format!("{prefix}-chat-bob-hears-it"),
            "tab": "bob",
            "expect": [{"css": "#log div", "text": "<alice> hello from alice"}],
        }),
    ]
}

/// Removes the screenshots of checks named `PREFIX-…` from an earlier run,
/// so that a check that took none cannot pass on an old one.
pub fn clear_screenshots(prefix: &str) {
    let Ok(entries) = fs::read_dir(screenshot_directory()) else {
        return;
    };
    for entry in entries.flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(&format!("{prefix}-"))
        {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Where the screenshots go: `target/browser-screenshots/`.
pub fn screenshot_directory() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .join("browser-screenshots")
}

/// The browser and its driver, found on PATH.
struct Chromium {
    browser: PathBuf,
    driver: PathBuf,
}

/// Finds Chromium and chromedriver, or fails the test saying how to get
/// them.
fn chromium() -> Chromium {
    let find = |name: &str| {
        env::var_os("PATH").and_then(|path| {
            env::split_paths(&path)
                .map(|directory| directory.join(name))
                .find(|candidate| candidate.is_file())
        })
    };
    match (find("chromium"), find("chromedriver")) {
        (Some(browser), Some(driver)) => Chromium { browser, driver },
        (browser, driver) => panic!(
            "the browser test needs Chromium and chromedriver on PATH (found chromium: {}, \
             chromedriver: {}); on Debian: apt-get install chromium chromium-driver \
             (scripts/test installs them when missing)",
            browser.is_some(),
            driver.is_some()
        ),
    }
}

/// Runs `checks` (see `browser_driver.py` for their form) in one fresh
/// headless Chromium, saving a screenshot per check under
/// [`screenshot_directory`]. Gives, for each check in order, its name and
/// the texts that met each of its expectations. Fails the test when a
/// check fails, the run outlasts its limit, or a browser process is left
/// running after it (those are killed first).
pub fn run_browser_checks(checks: Value) -> Vec<(String, Vec<Vec<String>>)> {
    let chromium = chromium();
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let run = format!("{}-{}", std::process::id(), since_epoch.as_nanos());
    let profile = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("browser-profile-{}", std::process::id()));
    let _ = fs::remove_dir_all(&profile);
    fs::create_dir_all(&profile).expect("create the browser profile");
    let plan = json!({
        "chromium": chromium.browser,
        "chromedriver": chromium.driver,
        "profile": profile,
        "screenshots": screenshot_directory(),
        "wait_seconds": WAIT_SECONDS,
        "checks": checks,
    });

    let started = Instant::now();
    let mut driver = browser_driver_python(DRIVER_LIMIT_SECONDS)
        // From torsion-web's directory or a sibling crate's that shares
        // this module.
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../torsion-web/tests/browser_driver.py"))
        .arg("-")
        .env(MARKER, &run)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    driver
        .stdin
        .take()
        .unwrap()
        .write_all(plan.to_string().as_bytes())
        .expect("the driver reads its plan");
    let output = driver.wait_with_output().expect("the driver ends");
    let left_running = end_leftovers(&run);
    let _ = fs::remove_dir_all(&profile);

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the browser driver failed after {:.1} s ({}; status 124 or 137 is the {} s limit; \
         screenshots in {}):\n{stderr}",
        started.elapsed().as_secs_f64(),
        output.status,
        DRIVER_LIMIT_SECONDS,
        screenshot_directory().display()
    );
    assert!(
        left_running.is_empty(),
        "browser processes were left running after the driver quit (now killed): {left_running:?}"
    );
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("the driver's report ({error}): {stderr}"));
    report["checks"]
        .as_array()
        .expect("a list of checks")
        .iter()
        .map(|check| {
            let matched = serde_json::from_value(check["matched"].clone()).unwrap();
            (check["name"].as_str().unwrap().to_owned(), matched)
        })
        .collect()
}

/// Waits a few seconds for the run's processes (those carrying the marker
/// in their environment) to end after the driver quit the browser; kills
/// any still there and names them.
fn end_leftovers(run: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut left = marked_processes(run);
    while !left.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        left = marked_processes(run);
    }
    for (pid, _) in &left {
        let _ = Command::new("kill").args(["-KILL", pid]).status();
    }
    left.into_iter()
        .map(|(pid, command)| format!("{pid} {command}"))
        .collect()
}

/// Processes whose environment holds `MARKER=run`, as (pid, command).
/// An exited process not yet reaped has an empty environment: not listed.
fn marked_processes(run: &str) -> Vec<(String, String)> {
    let wanted = format!("{MARKER}={run}");
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.to_owned();
            pid.parse::<u32>().ok()?;
            let environment = fs::read(entry.path().join("environ")).ok()?;
            environment
                .split(|byte| *byte == 0)
                .any(|variable| variable == wanted.as_bytes())
                .then(|| {
                    let command = fs::read(entry.path().join("cmdline")).unwrap_or_default();
                    let command = String::from_utf8_lossy(&command).replace('\0', " ");
                    (pid, command.chars().take(120).collect())
                })
        })
        .collect()
}
