//! The commands the demonstration worker answers, shared with the pool's
//! tests (which include this file) and answered alike by the Python
//! worker in `tests/data/pool_worker.py`.

use serde::{Deserialize, Serialize};
use torsion_amp::NoError;

/// No arguments.
#[derive(Debug, Serialize, Deserialize)]
pub struct Nothing {}

/// A worker's process id.
#[derive(Debug, Serialize, Deserialize)]
pub struct WorkerPid {
    /// The process id.
    pub pid: i64,
}

/// How long to block.
#[derive(Debug, Serialize, Deserialize)]
pub struct Seconds {
    /// Seconds, fractions allowed.
    pub seconds: f64,
}

/// An exit status.
#[derive(Debug, Serialize, Deserialize)]
pub struct Code {
    /// The status the worker exits with.
    pub code: i64,
}

/// What to hash, how many times.
#[derive(Debug, Serialize, Deserialize)]
pub struct HashJob {
    /// The text hashed first.
    pub data: String,
    /// How many more rounds of hashing the hash.
    pub rounds: i64,
}

/// A hash, in hex.
#[derive(Debug, Serialize, Deserialize)]
pub struct Digest {
    /// Sixteen hex digits.
    pub digest: String,
}

torsion_amp::command! {
    /// Answers with the worker's pid.
    pub struct Pid = "Pid" { arguments: Nothing, response: WorkerPid, errors: NoError }
}

torsion_amp::command! {
    /// Blocks the worker for a while (a stuck worker, for long enough),
    /// then answers with its pid.
    pub struct Sleep = "Sleep" { arguments: Seconds, response: WorkerPid, errors: NoError }
}

torsion_amp::command! {
    /// Exits the worker at once, without answering (a crash mid-call).
    pub struct Exit = "Exit" { arguments: Code, response: Nothing, errors: NoError }
}

torsion_amp::command! {
    /// A deliberately slow hash: 64-bit FNV-1a of the text, then of the
    /// hash's own eight bytes, `rounds` times.
    pub struct SlowHash = "SlowHash" { arguments: HashJob, response: Digest, errors: NoError }
}

/// The slow hash, as the workers compute it.
#[allow(dead_code)]
pub fn slow_hash(data: &[u8], rounds: u64) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in data {
        hash = (hash ^ u64::from(byte)).wrapping_mul(PRIME);
    }
    for _ in 0..rounds {
        for byte in hash.to_le_bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(PRIME);
        }
    }
    hash
}
