//! Side-by-side benchmarks of torsion and tokio: every figure is printed
//! beside its peer from the same run, with the ratio torsion / tokio.
#![forbid(unsafe_code)]

mod cross_thread;
mod measure;
mod timers;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Benchmarks torsion against tokio in the same run")]
struct Cli {
    #[command(subcommand)]
    command: Bench,
    /// Runs of each engine, alternating (medians are reported).
    #[arg(long, global = true, default_value_t = 3)]
    runs: usize,
    /// A tenth of the work and one run: a smoke test.
    #[arg(long, global = true)]
    quick: bool,
}

#[derive(Subcommand, Clone, Copy)]
enum Bench {
    /// 1,000,000 timers with random delays, half cancelled.
    Timers,
    /// 1,000,000 calls posted from another thread.
    CrossThread,
    /// Every benchmark.
    Compare,
}

fn main() {
    let cli = Cli::parse();
    let (scale, runs) = if cli.quick {
        (10, 1)
    } else {
        (1, cli.runs.max(1))
    };
    let pinned = measure::pin_current_thread(0);
    println!(
        "torsion-bench: {runs} run(s) per engine, alternating; loop thread {}",
        if pinned {
            "pinned to CPU 0, load on CPU 1"
        } else {
            "not pinned (taskset unavailable)"
        }
    );
    let count = 1_000_000 / scale;
    if matches!(cli.command, Bench::Timers | Bench::Compare) {
        let rows = timers::compare(count, runs);
        print!(
            "{}",
            measure::render(
                &format!(
                    "timers: {count} call_later, half cancelled (goal: CPU time at most 1.0x tokio's)"
                ),
                &rows
            )
        );
    }
    if matches!(cli.command, Bench::CrossThread | Bench::Compare) {
        let rows = cross_thread::compare(count, runs);
        print!(
            "{}",
            measure::render(
                &format!(
                    "cross-thread: {count} calls posted from another thread (goal: throughput at least 1.0x tokio's)"
                ),
                &rows
            )
        );
    }
}
