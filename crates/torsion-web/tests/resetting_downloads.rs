//! A thousand clients that reset their connection halfway through a large
//! static download: the server closes every connection and every file it
//! opened for them, its memory stays flat, and a normal client downloads
//! the whole file afterwards.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::{CountingAllocator, Rounds, Vanish, curl_output, mib, serve};
use torsion_web::{Server, StaticFiles};

/// Large enough that no download fits in the sockets' buffers: the server
/// is always mid-file when the reset comes.
const FILE_SIZE: usize = 16 << 20;
/// Clients in a round.
const CLIENTS: usize = 1000;
/// Clients connected at once: the rest wait their turn, so that the
/// machine's cores and the port's backlog cope.
const BATCH: usize = 50;
/// The reactor's thread pool, which reads the file, at its default most.
const POOL_THREADS: usize = 10;
/// How much of the file each client reads before it resets.
const READ_BEFORE_RESET: usize = 64 * 1024;
/// Most the settled resident size may grow from the warm-up round to the
/// attack round: a 64 KiB chunk kept per client would be 64 MiB. Resident
/// memory also moves with the allocator's arenas and fragmentation, hence
/// the margin; the live heap below is exact.
const MAX_GROWTH_KIB: i64 = 8 * 1024;
/// Most the live heap may grow from the warm-up round to the attack round:
/// 64 bytes a client.
const MAX_HEAP_GROWTH: isize = 64 * CLIENTS as isize;

#[global_allocator]
static HEAP: CountingAllocator = CountingAllocator;

/// Starts a download and reads `READ_BEFORE_RESET` bytes of it.
fn start_download(address: std::net::SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut buffer = vec![0u8; 16 * 1024];
    let mut read = 0;
    while read < READ_BEFORE_RESET {
        let n = stream.read(&mut buffer).unwrap();
        assert!(n > 0, "the server ended the download early");
        read += n;
    }
    stream
}

#[test]
fn a_thousand_downloads_reset_midway_leave_no_descriptor_or_memory_behind() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("big.bin"), vec![7u8; FILE_SIZE]).unwrap();
    let root = dir.path().to_path_buf();
    let server = serve(move |reactor| {
        // The pool that reads the file starts all its threads now, not
        // while the rounds are measured: each thread brings its stack and
        // an allocator arena to the resident size.
        reactor.thread_pool().adjust(POOL_THREADS, POOL_THREADS);
        Server::new(StaticFiles::new(root))
    });
    let address = server.address;

    let mut attack_time = Duration::ZERO;
    let rounds = Rounds::measure(
        Duration::from_secs(10),
        || {
            let started = Instant::now();
            for _ in 0..CLIENTS / BATCH {
                let downloads: Vec<TcpStream> =
                    (0..BATCH).map(|_| start_download(address)).collect();
                for download in downloads {
                    Vanish::Reset.leave(download);
                }
            }
            attack_time = started.elapsed();
        },
        // The descriptors returning to their baseline is the sign.
        |_| true,
    );

    let started = Instant::now();
    let output = curl_output(&["--fail", &server.url("/big.bin")]);
    let normal = started.elapsed();
    assert!(output.status.success(), "{:?}", output.status);
    assert_eq!(output.stdout.len(), FILE_SIZE);

    println!(
        "{CLIENTS} resetting downloads in {attack_time:.2?}: descriptors {:?} \
         (before, after warm-up, after attack); RSS {:.1} -> {:.1} MiB settled, \
         peak +{:.1} MiB; live heap {:?} bytes; a normal 16 MiB download then \
         took {normal:.0?}",
        rounds.descriptors,
        mib(rounds.resident_kib[0]),
        mib(rounds.resident_kib[1]),
        mib(rounds.peak_growth_kib),
        rounds.live_heap_bytes,
    );
    assert!(
        rounds.descriptors_returned(),
        "every connection and file the clients made the server open is closed: {:?}",
        rounds.descriptors
    );
    assert!(
        rounds.growth_kib() < MAX_GROWTH_KIB,
        "the server grew by {} KiB over a round",
        rounds.growth_kib()
    );
    assert!(
        rounds.heap_growth() < MAX_HEAP_GROWTH,
        "the live heap grew by {} bytes over a round",
        rounds.heap_growth()
    );
}
