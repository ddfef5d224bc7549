//! What a server running in the test process costs, read from `/proc`:
//! resident memory (now and its peak), open descriptors and CPU time, for
//! the hostile-client tests to bound. The test's own clients must be gone
//! (their sockets closed) before a figure means the server's.

use std::time::{Duration, Instant};

/// One `/proc/self/status` field in KiB (`VmRSS`, `VmHWM`).
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"))
}

/// This process's resident set size, in KiB.
pub fn resident_kib() -> u64 {
    status_kib("VmRSS")
}

/// The most this process has had resident since [`reset_peak_resident`],
/// in KiB.
pub fn peak_resident_kib() -> u64 {
    status_kib("VmHWM")
}

/// Starts the peak ([`peak_resident_kib`]) again from the current figure,
/// so that it measures what comes next and not an earlier test's peak.
pub fn reset_peak_resident() {
    // "5" resets the peak RSS (proc(5), /proc/pid/clear_refs).
    std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak resident size");
}

/// How many descriptors this process has open.
pub fn open_descriptor_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// CPU time this process has used, user and system together.
pub fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // The command name, in parentheses, may hold spaces: fields are
    // counted after it. utime and stime are fields 14 and 15.
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // The kernel reports in USER_HZ, 100 a second on every Linux ABI.
    Duration::from_millis(ticks * 10)
}

/// Waits (by polling, at most `limit`) until the open descriptors are at
/// most `bound`; gives the last count either way.
pub fn descriptors_settle_to(bound: usize, limit: Duration) -> usize {
    let started = Instant::now();
    loop {
        let count = open_descriptor_count();
        if count <= bound || started.elapsed() > limit {
            return count;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Resident size once the server has been quiet a moment, in KiB: freed
/// memory the allocator gives back goes only after the work that freed it.
pub fn settled_resident_kib() -> u64 {
    std::thread::sleep(Duration::from_millis(200));
    resident_kib()
}

/// KiB as MiB, for reports.
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
