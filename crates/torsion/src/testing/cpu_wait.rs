//! How long the calling thread has waited for a CPU: the part of a timing
//! test's lateness that no event loop can help on a busy machine.

use std::time::Duration;

/// The time the calling thread has spent runnable but waiting for a CPU
/// since it started, as the kernel counts it
/// (`/proc/thread-self/schedstat`, second field). Zero where the kernel
/// does not tell (no `/proc`, or scheduler statistics compiled out).
///
/// A timing test takes the difference over a timer's wait off the timer's
/// lateness, so that a loop is judged by what it did and not by what
/// other processes on the machine did to its thread:
///
/// ```
/// use std::time::{Duration, Instant};
/// use torsion::testing::cpu_wait;
///
/// let (start, waited_before) = (Instant::now(), cpu_wait());
/// std::thread::sleep(Duration::from_millis(10));
/// let late = start.elapsed().saturating_sub(Duration::from_millis(10));
/// let late_by_this_code = late.saturating_sub(cpu_wait() - waited_before);
/// assert!(late_by_this_code <= late);
/// ```
pub fn cpu_wait() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|text| text.split_whitespace().nth(1)?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    use super::cpu_wait;

    fn spin_until(deadline: Instant) {
        while Instant::now() < deadline {
            std::hint::spin_loop();
        }
    }

    #[test]
    fn a_thread_outnumbered_by_busy_threads_waits_for_a_cpu() {
        if !std::path::Path::new("/proc/thread-self/schedstat").exists() {
            assert_eq!(cpu_wait(), Duration::ZERO);
            return;
        }
        // Twice as many spinning threads as CPUs, for 100 ms: this one,
        // spinning too, must be kept waiting some of that time.
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        let stop = Arc::new(AtomicBool::new(false));
        let spinners: Vec<_> = (0..cpus * 2)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        let before = cpu_wait();
        spin_until(Instant::now() + Duration::from_millis(100));
        let waited = cpu_wait() - before;
        stop.store(true, Ordering::Relaxed);
        for spinner in spinners {
            spinner.join().unwrap();
        }
        assert!(waited > Duration::ZERO, "{waited:?}");
    }
}
