//! A large file streams with flow control: curl downloads 64 MiB intact
//! while the server's resident memory stays far below the file's size, and
//! a client that goes away mid-download stops the reading.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::serve;
use torsion_web::{Server, StaticFiles};

const FILE_SIZE: usize = 64 << 20;

/// Writes `FILE_SIZE` bytes of a pseudo-random sequence, 1 MiB at a time.
fn write_big_file(path: &Path) {
    let mut file = std::fs::File::create(path).unwrap();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut block = vec![0u8; 1 << 20];
    for _ in 0..FILE_SIZE / block.len() {
        for byte in block.iter_mut() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *byte = state as u8;
        }
        file.write_all(&block).unwrap();
    }
}

/// This process's resident set size, in KiB.
fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .expect("VmRSS in /proc/self/status")
}

fn sha256(path: &Path) -> String {
    let output = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// Descriptors of this process open on `path`.
fn open_descriptors(path: &Path) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter(|target| target == path)
        .count()
}

#[test]
fn a_large_file_downloads_intact_without_filling_memory() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.bin");
    write_big_file(&big);
    let root = dir.path().to_path_buf();
    let server = serve(move |_| Server::new(StaticFiles::new(root)));

    let started = Instant::now();
    let cat = Command::new("cat").arg(&big).output().unwrap();
    let cat_time = started.elapsed();
    assert_eq!(cat.stdout.len(), FILE_SIZE);
    drop(cat);

    let baseline = resident_kib();
    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(resident_kib());
                std::thread::sleep(Duration::from_millis(5));
            }
            peak
        })
    };
    let copy = dir.path().join("copy.bin");
    let started = Instant::now();
    // A client slower than the disk: flow control, not luck, must bound
    // the server's memory.
    let status = Command::new("curl")
        .args([
            "-sS",
            "--fail",
            "--max-time",
            "120",
            "--limit-rate",
            "256M",
            "-o",
        ])
        .arg(&copy)
        .arg(server.url("/big.bin"))
        .status()
        .unwrap();
    let download_time = started.elapsed();
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let peak = sampler.join().unwrap();
    assert!(status.success());

    assert_eq!(std::fs::metadata(&copy).unwrap().len(), FILE_SIZE as u64);
    assert_eq!(sha256(&copy), sha256(&big), "the download is intact");

    let growth_mib = peak.saturating_sub(baseline) as f64 / 1024.0;
    let mib_per_s = FILE_SIZE as f64 / (1 << 20) as f64 / download_time.as_secs_f64();
    println!(
        "64 MiB: curl {download_time:.2?} ({mib_per_s:.0} MiB/s), cat {cat_time:.2?}; \
         server RSS {baseline} KiB before, peak {peak} KiB (+{growth_mib:.1} MiB)"
    );
    assert!(
        growth_mib < 16.0,
        "resident memory grew by {growth_mib:.1} MiB serving a 64 MiB file"
    );
    assert!(
        download_time < Duration::from_secs(60),
        "64 MiB took {download_time:?}"
    );
}

#[test]
fn a_client_that_goes_away_stops_the_reading() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.bin");
    write_big_file(&big);
    let big = big.canonicalize().unwrap();
    let root = dir.path().to_path_buf();
    let server = serve(move |_| Server::new(StaticFiles::new(root)));

    let mut stream = TcpStream::connect(server.address).unwrap();
    stream
        .write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut first = vec![0u8; 256 * 1024];
    stream.read_exact(&mut first).unwrap();
    assert!(first.starts_with(b"HTTP/1.1 200"));
    // The client has stopped reading; the server waits, the file open.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(open_descriptors(&big), 1, "the file is open while sending");
    drop(stream);

    let deadline = Instant::now() + Duration::from_secs(5);
    while open_descriptors(&big) > 0 {
        assert!(
            Instant::now() < deadline,
            "the file is still open 5 s after the client left"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
