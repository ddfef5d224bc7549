//! `instructions`: the instructions each HTTP server runs per request,
//! counted by valgrind's callgrind, torsion-web against hyper on tokio, in
//! the same run: HTTP/1 hello one request at a time, 16 pipelined per
//! write, and HTTP/2.
//!
//! CPU time per request moves by 10 % or more from run to run on a small
//! virtual machine; the instructions a server runs for a request barely
//! move, so a change to a hot path shows here when it is lost in the noise
//! of `http`. They are user space only: the kernel's share, most of a small
//! request's cost, is not counted (see docs/benchmarks.md).
//!
//! Each server runs under callgrind in a process of its own while the load
//! generator runs, then exits and writes its counts, which are divided by
//! the requests served; the server's start is counted too, a few hundredths
//! of a five-second run. (Zeroing the counts after a warm-up, with
//! `callgrind_control`, leaves the functions that were running then
//! charged with everything after, which `callgrind_annotate` cannot undo.)
//! `callgrind_annotate --inclusive=no` gives each function's own
//! instructions with the source file they were compiled from, which are
//! summed by the crate of that file.

use std::collections::BTreeMap;
use std::io;
use std::process::Command;
use std::time::Duration;

use crate::server::{Engine, ServerProcess};

/// How long a server under callgrind may take to write its counts and exit.
const EXIT_PATIENCE: Duration = Duration::from_secs(60);

/// One load, and the two servers it is put on.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// What the table is titled.
    pub title: &'static str,
    /// hyper's server for this load.
    pub peer: Engine,
    /// Requests written at once on each connection (HTTP/1), or streams in
    /// flight on each (HTTP/2).
    pub depth: usize,
    /// HTTP/2 (h2load) rather than HTTP/1 (wrk).
    pub http2: bool,
}

/// The cases `instructions` measures.
pub const CASES: [Case; 3] = [
    Case {
        title: "HTTP/1 hello, wrk -t1 -c8, one request at a time",
        peer: Engine::HyperTokio,
        depth: 1,
        http2: false,
    },
    Case {
        title: "HTTP/1 hello, wrk -t1 -c8, 16 pipelined per write",
        peer: Engine::HyperTokio,
        depth: 16,
        http2: false,
    },
    Case {
        title: "HTTP/2 hello, h2load -t1 -c8 -m16",
        peer: Engine::HyperTokioH2,
        depth: 16,
        http2: true,
    },
];

/// A server's own instructions per request, by the crate they were
/// compiled from, and all of them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Count {
    /// Instructions per request, by crate.
    pub by_crate: BTreeMap<String, f64>,
    /// Instructions per request, all of them.
    pub total: f64,
}

/// Why the counts cannot be taken here: a missing tool.
pub fn missing_tool() -> Option<&'static str> {
    // Found when it starts: wrk and callgrind_annotate exit with an error
    // even for their version.
    let found = |program: &str| Command::new(program).arg("--version").output().is_ok();
    if !found("valgrind") || !found("callgrind_annotate") {
        Some("valgrind not found (Debian's valgrind)")
    } else if !found("wrk") {
        Some("wrk not found")
    } else if !crate::h2::h2load_found() {
        Some("h2load not found (Debian's nghttp2-client)")
    } else {
        None
    }
}

/// Counts `engine`'s instructions per request under `case`'s load for
/// `window`.
pub fn count(engine: Engine, case: Case, window: Duration) -> io::Result<Count> {
    let out = tempfile::Builder::new()
        .prefix("torsion-bench-callgrind-")
        .tempfile()?;
    let wrapper = [
        "valgrind".to_owned(),
        "--quiet".to_owned(),
        "--tool=callgrind".to_owned(),
        format!("--callgrind-out-file={}", out.path().display()),
    ];
    let server = ServerProcess::start_under(engine, &wrapper)?;
    let (outcome, report) = if case.http2 {
        let load = crate::h2::Load {
            connections: 8,
            streams: case.depth,
            warm_up: Duration::ZERO,
            window,
        };
        let (report, _) = crate::h2::h2load(server.address, load, window)?;
        (crate::h2::parse_report(&report), report)
    } else {
        let report = crate::http::wrk(server.address, 8, case.depth, window)?;
        (crate::http::parse_wrk(&report), report)
    };
    let outcome = outcome
        .ok_or_else(|| io::Error::other(format!("cannot read the load's report:\n{report}")))?;
    // As in `http` and `http --h2`: a count over failed requests would be
    // another server's work.
    if outcome.errors > 0 {
        return Err(io::Error::other(format!(
            "{}: the load saw {} errors:\n{report}",
            engine.name(),
            outcome.errors
        )));
    }
    let requests = outcome.requests;
    server.stop(EXIT_PATIENCE)?;
    let annotated = Command::new("callgrind_annotate")
        .args(["--inclusive=no", "--threshold=100"])
        .arg(out.path())
        .output()?;
    if !annotated.status.success() {
        return Err(io::Error::other(format!(
            "callgrind_annotate failed: {}",
            String::from_utf8_lossy(&annotated.stderr)
        )));
    }
    let text = String::from_utf8_lossy(&annotated.stdout);
    let by_crate = by_crate(&text);
    if requests == 0 || by_crate.is_empty() {
        return Err(io::Error::other(format!(
            "{}: no requests or no counts ({requests} requests)",
            engine.name()
        )));
    }
    let per_request = |n: u64| n as f64 / requests as f64;
    Ok(Count {
        total: per_request(by_crate.values().sum()),
        by_crate: by_crate
            .into_iter()
            .map(|(name, n)| (name, per_request(n)))
            .collect(),
    })
}

/// Sums the per-function lines of `callgrind_annotate --inclusive=no` by
/// the crate of each function's source file.
pub fn by_crate(annotated: &str) -> BTreeMap<String, u64> {
    let mut sums = BTreeMap::new();
    let mut in_functions = false;
    for line in annotated.lines() {
        if line.starts_with("Ir") && line.contains("file:function") {
            in_functions = true;
            continue;
        }
        if line.starts_with("-- Auto-annotated") {
            break;
        }
        if !in_functions {
            continue;
        }
        let line = line.trim_start();
        let Some((count, rest)) = line.split_once(' ') else {
            continue;
        };
        let Ok(count) = count.replace(',', "").parse::<u64>() else {
            continue;
        };
        // "(12.34%)  FILE:FUNCTION [OBJECT]", the percentage as the tool's
        // version prints it or not at all.
        let rest = rest.trim_start();
        let rest = match rest.strip_prefix('(') {
            Some(percent) => percent.split_once(')').map_or("", |(_, rest)| rest),
            None => rest,
        };
        let file = rest.trim_start().split(':').next().unwrap_or("");
        *sums.entry(crate_of(file)).or_insert(0) += count;
    }
    sums
}

/// The crate a source file belongs to: a registry crate's name without its
/// version, a workspace crate's directory, the standard library (code
/// inlined from it counts where it was written), or the C library's
/// allocator and `memcpy`.
pub fn crate_of(file: &str) -> String {
    let parts: Vec<&str> = file.split('/').collect();
    if let Some(src) = parts.iter().rposition(|part| *part == "src")
        && src > 0
    {
        let parent = parts[src - 1];
        if src >= 2 && parts[src - 2] == "crates" {
            return parent.to_owned();
        }
        if parts.contains(&"library") && parts.contains(&"rustc") {
            return "std (inlined)".to_owned();
        }
        // NAME-1.2.3 in a registry.
        if let Some((name, version)) = parent.rsplit_once('-')
            && version.starts_with(|c: char| c.is_ascii_digit())
        {
            return name.to_owned();
        }
    }
    if parts.contains(&"library") {
        return "std (inlined)".to_owned();
    }
    let name = parts.last().copied().unwrap_or("");
    if name.starts_with("memmove") || name.starts_with("memcpy") {
        "memcpy".to_owned()
    } else if name.starts_with("malloc") || name == "arena.c" {
        "malloc".to_owned()
    } else {
        "other".to_owned()
    }
}

/// The table of one case: each crate's instructions per request on both
/// servers (the largest first), and the totals with their ratio.
pub fn render(case: Case, torsion: &Count, peer: &Count) -> String {
    let mut out = format!(
        "\ninstructions: {}, torsion-web vs {} (user-space instructions per request, counted by \
         callgrind)\n{:<28} {:>12} {:>12}\n",
        case.title,
        match case.peer {
            Engine::HyperTokioH2 => "hyper's HTTP/2 server on tokio",
            _ => "hyper on tokio",
        },
        "crate",
        "torsion-web",
        "hyper"
    );
    let mut crates: Vec<&String> = torsion
        .by_crate
        .keys()
        .chain(peer.by_crate.keys())
        .collect();
    crates.sort();
    crates.dedup();
    let of = |count: &Count, name: &str| count.by_crate.get(name).copied().unwrap_or(0.0);
    crates.sort_by(|a, b| {
        let size = |name: &str| of(torsion, name) + of(peer, name);
        size(b).total_cmp(&size(a))
    });
    for name in crates {
        let (left, right) = (of(torsion, name), of(peer, name));
        if left < 1.0 && right < 1.0 {
            continue;
        }
        out.push_str(&format!("{name:<28} {left:>12.0} {right:>12.0}\n"));
    }
    out.push_str(&format!(
        "{:<28} {:>12.0} {:>12.0} {:>8.3} (lower is better)\n",
        "all",
        torsion.total,
        peer.total,
        torsion.total / peer.total
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANNOTATED: &str = "\
--------------------------------------------------------------------------------
Ir
--------------------------------------------------------------------------------
488,833,372 (100.0%)  PROGRAM TOTALS

--------------------------------------------------------------------------------
Ir                   file:function
--------------------------------------------------------------------------------
47,217,179 ( 9.66%)  ./string/../sysdeps/x86_64/multiarch/memmove-vec-unaligned-erms.S:__memcpy_avx_unaligned_erms [/usr/lib/x86_64-linux-gnu/libc.so.6]
11,410,430 ( 2.33%)  /home/u/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/hyper-1.12.0/src/proto/h1/role.rs:<hyper::proto::h1::role::Server as hyper::proto::h1::Http1Transaction>::parse [/x/torsion-bench]
 7,929,135 ( 1.62%)  ./malloc/./malloc/malloc.c:_int_free [/usr/lib/x86_64-linux-gnu/libc.so.6]
 6,661,224 ( 1.36%)  /w/main/crates/torsion-web/src/server/http1_check/whole_head.rs:torsion_web::server::http1_check::Http1Check::check
 1,000,000  /rustc/59807616e1fa/library/core/src/ptr/mod.rs:core::ptr::drop_in_place<http::header::map::HeaderMap>
   500,000 ( 0.10%)  /home/u/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/h2-0.4.20/src/hpack/table.rs:h2::hpack::table::Table::index
       100 ( 0.00%)  ???:0x0000000000012345 [/usr/lib/ld.so]

--------------------------------------------------------------------------------
-- Auto-annotated source: /w/main/crates/torsion-web/src/server/mod.rs
--------------------------------------------------------------------------------
 9,999,999 ( 2.00%)  let x = 1;
";

    #[test]
    fn functions_are_summed_by_the_crate_of_their_source() {
        let sums = by_crate(ANNOTATED);
        let expected: BTreeMap<String, u64> = [
            ("memcpy", 47_217_179),
            ("hyper", 11_410_430),
            ("malloc", 7_929_135),
            ("torsion-web", 6_661_224),
            ("std (inlined)", 1_000_000),
            ("h2", 500_000),
            ("other", 100),
        ]
        .into_iter()
        .map(|(name, n)| (name.to_owned(), n))
        .collect();
        assert_eq!(sums, expected);
    }

    #[test]
    fn crates_are_named_without_their_versions() {
        assert_eq!(
            crate_of("/r/index.crates.io-1/http-body-util-0.1.3/src/lib.rs"),
            "http-body-util"
        );
        assert_eq!(crate_of("/w/crates/torsion/src/reactor/turn.rs"), "torsion");
        assert_eq!(crate_of("./malloc/./malloc/arena.c"), "malloc");
        assert_eq!(crate_of("???"), "other");
    }

    #[test]
    fn the_table_puts_the_largest_crates_first_and_the_ratio_of_the_totals_last() {
        let count = |pairs: &[(&str, f64)]| Count {
            by_crate: pairs.iter().map(|(n, v)| ((*n).to_owned(), *v)).collect(),
            total: pairs.iter().map(|(_, v)| v).sum(),
        };
        let torsion = count(&[("torsion", 500.0), ("hyper", 1400.0)]);
        let hyper = count(&[("tokio", 800.0), ("hyper", 1200.0)]);
        let table = render(CASES[0], &torsion, &hyper);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[3].starts_with("hyper"), "{table}");
        assert!(lines[4].starts_with("tokio"), "{table}");
        assert!(lines[5].starts_with("torsion"), "{table}");
        assert!(
            lines[6].starts_with("all") && lines[6].contains("0.950"),
            "{table}"
        );
    }
}
