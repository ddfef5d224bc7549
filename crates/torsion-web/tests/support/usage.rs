//! What a server running in the test process costs, read from `/proc`:
//! resident memory (now and its peak), open descriptors and CPU time, for
//! the hostile-client tests to bound. The test's own clients must be gone
//! (their sockets closed) before a figure means the server's.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

/// The system allocator, counting the bytes live on the heap. A test
/// binary installs it with
/// `#[global_allocator] static HEAP: CountingAllocator = CountingAllocator;`
/// to read [`live_heap_bytes`]: unlike the resident size, which moves with
/// the allocator's arenas, fragmentation and thread stacks, this figure
/// returns exactly to where it was when everything allocated is freed, so
/// a small leak per connection shows over a thousand connections.
#[derive(Debug)]
pub struct CountingAllocator;

static LIVE_HEAP_BYTES: AtomicIsize = AtomicIsize::new(0);

/// Bytes allocated and not yet freed, through [`CountingAllocator`] (zero
/// in a binary that does not install it).
pub fn live_heap_bytes() -> isize {
    LIVE_HEAP_BYTES.load(Ordering::Relaxed)
}

// SAFETY: every call is forwarded unchanged to `System`, which upholds
// GlobalAlloc's contract; the counter is a side effect that allocates
// nothing.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's guarantees for `alloc` are `System`'s.
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            LIVE_HEAP_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        pointer
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let pointer = unsafe { System.alloc_zeroed(layout) };
        if !pointer.is_null() {
            LIVE_HEAP_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: `pointer` came from this allocator, that is from `System`,
        // with `layout`.
        unsafe { System.dealloc(pointer, layout) };
        LIVE_HEAP_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `pointer` came from `System` with `layout`; the caller
        // guarantees `new_size` is valid for it.
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if !moved.is_null() {
            LIVE_HEAP_BYTES.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        moved
    }
}

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

/// What the server held after each of two equal rounds of hostile
/// clients: a warm-up (the allocator's arenas, buffers kept for reuse, the
/// port's accept backlog all grow to their working size) and the attack
/// proper, whose figures are compared with the warm-up's.
#[derive(Debug)]
pub struct Rounds {
    /// Open descriptors before any client, after the warm-up, after the
    /// attack.
    pub descriptors: [usize; 3],
    /// Resident size after the warm-up and after the attack, settled, KiB.
    pub resident_kib: [u64; 2],
    /// How far the resident size rose above the warm-up's figure during
    /// the attack, KiB.
    pub peak_growth_kib: u64,
    /// Bytes live on the heap after the warm-up and after the attack
    /// (through [`CountingAllocator`]).
    pub live_heap_bytes: [isize; 2],
}

impl Rounds {
    /// Runs `round` twice; after each, waits until `served` holds (the
    /// server has finished with every client of the round) and the
    /// descriptors are back to where they started, each for at most
    /// `limit`.
    pub fn measure(
        limit: Duration,
        mut round: impl FnMut(),
        served: impl Fn(usize) -> bool,
    ) -> Rounds {
        let baseline = open_descriptor_count();
        let mut descriptors = [baseline, 0, 0];
        let mut resident_kib = [0, 0];
        let mut peak_growth_kib = 0;
        let mut live = [0, 0];
        for done in 1..=2 {
            round();
            let started = Instant::now();
            while !served(done) {
                assert!(
                    started.elapsed() < limit,
                    "the server did not finish with round {done} within {limit:?}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            descriptors[done] = descriptors_settle_to(baseline, limit);
            resident_kib[done - 1] = settled_resident_kib();
            live[done - 1] = live_heap_bytes();
            if done == 1 {
                reset_peak_resident();
            } else {
                peak_growth_kib = peak_resident_kib().saturating_sub(resident_kib[0]);
            }
        }
        Rounds {
            descriptors,
            resident_kib,
            peak_growth_kib,
            live_heap_bytes: live,
        }
    }

    /// Whether every descriptor the rounds made the server open was closed:
    /// no round ends above the count before the first. One the process
    /// already had open then (a setup's own, closing late) may be gone.
    pub fn descriptors_returned(&self) -> bool {
        self.descriptors[1..]
            .iter()
            .all(|&count| count <= self.descriptors[0])
    }

    /// How far the live heap moved from the warm-up to the attack, bytes.
    pub fn heap_growth(&self) -> isize {
        self.live_heap_bytes[1] - self.live_heap_bytes[0]
    }

    /// How far the settled resident size moved from the warm-up to the
    /// attack, KiB (negative when it shrank).
    pub fn growth_kib(&self) -> i64 {
        self.resident_kib[1] as i64 - self.resident_kib[0] as i64
    }
}
