//! Side-by-side benchmarks of torsion and tokio: every figure is printed
//! beside its peer from the same run, with the ratio torsion / tokio.
// The io_uring server with no framework (`bare/ring.rs`) lends memory to the kernel; nothing
// else here needs `unsafe`.
#![deny(unsafe_code)]

mod amp;
mod amp_server;
mod bare;
mod bridge;
mod crochet;
mod cross_thread;
mod defer_to_thread;
mod echo;
mod floor;
mod h2;
mod hello;
mod http;
mod idle;
mod instructions;
mod measure;
mod mixed;
mod pool;
mod server;
mod timers;

use std::time::Duration;

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
    /// 100,000 round trips from blocking code into a loop on another
    /// thread: `run_in_reactor` + `wait` against tokio's `Handle::block_on`.
    Bridge,
    /// Jobs handed to a thread pool and their results back on the loop:
    /// 20,000 round trips one at a time, then 200,000 queued at once.
    DeferToThread,
    /// Echo servers in their own processes: 64 connections round-tripping
    /// 64-byte and 16 KiB messages.
    Echo,
    /// Resident memory per idle connection, 10,000 connections: echo
    /// servers (torsion against tokio), and with `--http` keep-alive HTTP/1.1
    /// connections that have each been answered once (torsion-web against
    /// hyper on tokio).
    Idle {
        /// Measures only the HTTP servers.
        #[arg(long)]
        http: bool,
    },
    /// wrk against hello-world HTTP servers in their own processes:
    /// torsion-web and hyper on tokio, 64 keep-alive connections, one
    /// request at a time and then 16 pipelined per write, then 8
    /// connections one request at a time; then h2load
    /// against torsion-web and hyper's HTTP/2 server on tokio, 64
    /// connections with 16 streams in flight on each.
    Http {
        /// Measures only HTTP/2.
        #[arg(long)]
        h2: bool,
    },
    /// wrk against torsion-web on two reactors (a ReactorPool, one
    /// SO_REUSEPORT socket each) and on one, both servers on CPU 0:
    /// CPU per request and how evenly connections split.
    Reactors {
        /// wrk's connections (64 as in `http` unless told).
        #[arg(long, default_value_t = 64)]
        connections: usize,
    },
    /// 100,000 round trips of futures from torsion code through tokio and
    /// back (`torsion_tokio::from_future`), inside tokio and beside it,
    /// against tokio's own spawn + await.
    Mixed,
    /// AMP calls over one loopback connection, 100 in flight:
    /// torsion-amp to torsion-amp against Twisted to Twisted.
    Amp,
    /// 20,000 round trips of a small call to one worker process, one at
    /// a time: torsion_amp's ProcessPool to a Rust AMP worker against
    /// tokio::process with a line protocol over the child's pipes.
    Pool,
    /// The user-space instructions each HTTP server runs per request,
    /// counted by valgrind's callgrind: torsion-web against hyper on tokio,
    /// HTTP/1 one request at a time and 16 pipelined, then HTTP/2. Steadier
    /// than CPU time; not part of `compare` (a server under callgrind runs
    /// some fifty times slower).
    Instructions,
    /// The floor: echo (64 connections, 64-byte messages) and HTTP hello
    /// (wrk, 64 connections, one request at a time) from servers with no
    /// framework, on epoll and on io_uring, against tokio and hyper in the
    /// same runs. The least CPU any server spends here, beside the ratios
    /// torsion is held to.
    Floor,
    /// Every benchmark.
    Compare,
    /// Measures one engine for `defer-to-thread` (each sample runs in a
    /// process of its own) and prints its figures on one line.
    #[command(hide = true)]
    DeferSample {
        /// Which engine to measure.
        #[arg(long, value_enum)]
        engine: defer_to_thread::Engine,
        /// Round trips one at a time.
        #[arg(long)]
        round_trips: usize,
        /// Jobs queued at once.
        #[arg(long)]
        burst: usize,
    },
    /// The AMP worker process of `pool`.
    #[command(hide = true)]
    PoolWorker,
    /// The line-protocol worker process of `pool`.
    #[command(hide = true)]
    LineWorker,
}

fn main() {
    // A server child is told apart before the command line is parsed: the
    // parser builds every subcommand's definition on the heap, which would
    // count in the server's memory that `idle` measures.
    if let Some(engine) = server::engine_to_serve(std::env::args().skip(1)) {
        let outcome = engine.and_then(server::serve);
        if let Err(error) = outcome {
            eprintln!("torsion-bench serve: {error}");
            std::process::exit(1);
        }
        return;
    }
    let cli = Cli::parse();
    if let Bench::PoolWorker | Bench::LineWorker = cli.command {
        let outcome = match cli.command {
            Bench::PoolWorker => pool::amp_worker(),
            _ => pool::line_worker(),
        };
        if let Err(error) = outcome {
            eprintln!("torsion-bench worker: {error}");
            std::process::exit(1);
        }
        return;
    }
    let (scale, runs) = if cli.quick {
        (10, 1)
    } else {
        (1, cli.runs.max(1))
    };
    if let Bench::Instructions = cli.command {
        count_instructions(cli.quick);
        return;
    }
    let pinned = measure::pin_current_thread(0);
    if let Bench::DeferSample {
        engine,
        round_trips,
        burst,
    } = cli.command
    {
        defer_to_thread::print_sample(engine, round_trips, burst);
        return;
    }
    println!(
        "torsion-bench: {runs} run(s) per engine, alternating; loop thread {}",
        if pinned {
            "pinned to CPU 0, load on CPU 1"
        } else {
            "not pinned (taskset unavailable)"
        }
    );
    // The io_uring rows need a kernel that allows io_uring.
    let uring = matches!(
        cli.command,
        Bench::Echo | Bench::Http { h2: false } | Bench::Compare
    ) && match server::reactor_on(torsion::reactor::Backend::IoUring) {
        Ok(_) => true,
        Err(error) => {
            println!("no io_uring rows: {error}");
            false
        }
    };
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
        let (channel, spawned) = cross_thread::compare(count, runs);
        print!(
            "{}",
            measure::render(
                &format!(
                    "cross-thread: {count} calls posted from another thread, call_from_thread vs \
                     tokio's unbounded mpsc of boxed closures run by one task (goal: loop CPU \
                     per call at most 1.0x)"
                ),
                &channel
            )
        );
        print!(
            "{}",
            measure::render(
                "cross-thread: the same torsion runs vs tokio Handle::spawn \
                 (goal: throughput at least 1.0x tokio's)",
                &spawned
            )
        );
    }
    if matches!(cli.command, Bench::Bridge | Bench::Compare) {
        let round_trips = 100_000 / scale;
        let compared = bridge::compare(round_trips, runs);
        print!(
            "{}",
            measure::render(
                &format!(
                    "bridge: {round_trips} round trips, run_in_reactor(ready) + wait vs tokio \
                     Handle::block_on(ready future), which runs on the caller's thread"
                ),
                &compared.direct
            )
        );
        print!(
            "{}",
            measure::render(
                "bridge: the same torsion runs vs tokio Handle::block_on(spawn(ready future)), \
                 which runs on the runtime's thread (goal: p50 at most 5 us, 8x better than \
                 tokio's)",
                &compared.spawned
            )
        );
        match compared.crochet {
            Ok(rows) => print!(
                "{}",
                measure::render_columns(
                    "bridge: the same torsion runs vs crochet's @wait_for of a fired Deferred \
                     (Python, a tenth of the round trips; reference)",
                    ("torsion", "crochet"),
                    &rows
                )
            ),
            Err(why) => println!("\nbridge: crochet skipped: {why}"),
        }
    }
    if matches!(cli.command, Bench::DeferToThread | Bench::Compare) {
        let (round_trips, burst) = (20_000 / scale, 200_000 / scale);
        let rows = defer_to_thread::compare(round_trips, burst, runs);
        print!(
            "{}",
            measure::render(
                &format!(
                    "defer-to-thread: {round_trips} round trips one at a time, then {burst} jobs \
                     queued at once, pools of 10 threads (goal: at least 1.0x tokio's spawn_blocking)"
                ),
                &rows
            )
        );
    }
    if matches!(cli.command, Bench::Mixed | Bench::Compare) {
        let round_trips = 100_000 / scale;
        let rows = mixed::compare(round_trips, runs);
        print!(
            "{}",
            measure::render(
                &format!(
                    "mixed: {round_trips} round trips torsion -> tokio -> torsion \
                     (torsion_tokio::from_future(ready).await) vs tokio's spawn(ready).await, \
                     inside (one thread) and beside (tokio on its own thread)"
                ),
                &rows
            )
        );
    }
    if matches!(cli.command, Bench::Amp | Bench::Compare) {
        let load = amp::Load {
            torsion_calls: 1_000_000 / scale,
            twisted_calls: 20_000 / scale,
            in_flight: 100,
        };
        let (rows, twisted_missing) = amp::compare(load, runs);
        let title = format!(
            "amp: Sum calls over one loopback connection, 100 in flight, {} by torsion-amp, {} by \
             Twisted (per call), servers on CPU 0 (goal: CPU per call at most 0.1x Twisted's)",
            load.torsion_calls, load.twisted_calls
        );
        match twisted_missing {
            None => print!(
                "{}",
                measure::render_columns(&title, ("torsion", "Twisted"), &rows)
            ),
            Some(why) => {
                println!("\n{title}\nTwisted cannot be imported ({why}): its half is skipped.");
                for row in &rows {
                    println!("{:<34} {:>12.3}", row.metric, measure::median(&row.torsion));
                }
            }
        }
    }
    if matches!(cli.command, Bench::Pool | Bench::Compare) {
        let round_trips = 20_000 / scale;
        let rows = pool::compare(round_trips, runs);
        print!(
            "{}",
            measure::render(
                &format!(
                    "pool: {round_trips} round trips of a small call to one worker process, one \
                     at a time: ProcessPool + AMP vs tokio::process + a line protocol \
                     (goal: p50 at most 1.5x tokio's)"
                ),
                &rows
            )
        );
    }
    if matches!(cli.command, Bench::Echo | Bench::Compare) {
        let (warm_up, window) = echo_timing(cli.quick);
        for size in [64, 16 * 1024] {
            let load = echo::Load {
                connections: 64,
                size,
                warm_up,
                window,
            };
            let tables = echo::compare(load, runs, uring);
            print!(
                "{}",
                measure::render(
                    &format!(
                        "echo: 64 connections, {size}-byte messages, {:.1} s windows, server on CPU 0 \
                         (goal: server CPU per message at most 1.0x tokio's)",
                        window.as_secs_f64()
                    ),
                    &tables.engines
                )
            );
            print!(
                "{}",
                measure::render_columns(
                    &format!(
                        "echo, the same runs: torsion's server hosted by tokio (torsion_tokio::\
                         block_on_reactor) vs torsion alone, {size}-byte messages \
                         (goal: mixing costs at most 1.1x CPU per message)"
                    ),
                    ("torsion in tokio", "torsion alone"),
                    &tables.hosted
                )
            );
            if uring {
                print!(
                    "{}",
                    measure::render_columns(
                        &format!(
                            "echo, the same runs: torsion on the io_uring backend vs tokio, \
                             {size}-byte messages (goal for 64 bytes: server CPU per message at \
                             most 0.77x tokio's)"
                        ),
                        ("torsion io_uring", "tokio"),
                        &tables.uring
                    )
                );
            }
        }
    }
    if matches!(cli.command, Bench::Http { h2: false } | Bench::Compare) {
        let (warm_up, window) = http_timing(cli.quick);
        // With 64 connections both cores are saturated, and the latencies
        // say on which side of the loop requests queue (docs/benchmarks.md);
        // with 8, the server is not always busy, and they say what a
        // request takes.
        for (connections, pipeline, how) in [
            (64, 1, "one request at a time"),
            (64, 16, "16 pipelined requests per write"),
            (
                8,
                1,
                "one request at a time, latency with the server not always busy",
            ),
        ] {
            let load = http::Load {
                connections,
                pipeline,
                warm_up,
                window,
            };
            let rows = http::compare(load, runs);
            let uring_rows = uring.then(|| http::compare_uring(load, runs));
            print!(
                "{}",
                measure::render(
                    &format!(
                        "http: wrk -t1 -c{connections} -d{}s, {how}, hello world, server on CPU \
                         0, torsion-web (pipelined responses batched, its default) vs hyper on \
                         tokio current_thread with pipeline_flush on, in the tokio column (goal: \
                         CPU per request at most 1.0x, requests/s at least 1.0x)",
                        window.as_secs()
                    ),
                    &rows
                )
            );
            if let Some(rows) = uring_rows {
                print!(
                    "{}",
                    measure::render_columns(
                        &format!(
                            "http: wrk -t1 -c{connections} -d{}s, {how}, torsion-web on the \
                             io_uring backend vs hyper on tokio current_thread (goal: CPU per \
                             request at most 0.85x)",
                            window.as_secs()
                        ),
                        ("torsion-web io_uring", "hyper"),
                        &rows
                    )
                );
            }
        }
    }
    if matches!(cli.command, Bench::Floor | Bench::Compare) {
        print_floor(cli.quick, runs);
    }
    if let Bench::Reactors { .. } | Bench::Compare = cli.command {
        let connections = match cli.command {
            Bench::Reactors { connections } => connections,
            _ => 64,
        };
        let (warm_up, window) = http_timing(cli.quick);
        let load = http::Load {
            connections,
            pipeline: 1,
            warm_up,
            window,
        };
        let (rows, splits) = http::compare_reactors(load, runs);
        print!(
            "{}",
            measure::render_columns(
                &format!(
                    "reactors: wrk -t1 -c{connections} -d{}s, hello world, torsion-web on a \
                     ReactorPool of 2 reactors vs on 1, both servers on CPU 0 and wrk on CPU 1 \
                     (goal: CPU per request within 1.1x; throughput scaling needs a third core \
                     for wrk, which this machine does not have)",
                    window.as_secs()
                ),
                ("2 reactors", "1 reactor"),
                &rows
            )
        );
        let imbalances: Vec<f64> = splits.iter().map(|split| http::imbalance(split)).collect();
        println!(
            "connections per reactor in each measured run: {splits:?}; largest share off \
             even: median {:.1} %, max {:.1} % (goal: within 10 %)",
            measure::median(&imbalances),
            imbalances.iter().copied().fold(0.0, f64::max)
        );
    }
    if matches!(cli.command, Bench::Http { .. } | Bench::Compare) {
        let (warm_up, window) = http_timing(cli.quick);
        let load = h2::Load {
            connections: 64,
            streams: 16,
            warm_up,
            window,
        };
        let title = format!(
            "http --h2: h2load -t1 -c64 -m16 -D{}, h2c by prior knowledge, hello world, server on \
             CPU 0, torsion-web vs hyper's HTTP/2 server on tokio current_thread in the tokio \
             column (goal: CPU per request at most 1.0x)",
            window.as_secs()
        );
        match h2::compare(load, runs) {
            Some(rows) => print!("{}", measure::render(&title, &rows)),
            None => println!("\n{title}\nskipped: h2load not found (Debian's nghttp2-client)"),
        }
    }
    if matches!(cli.command, Bench::Idle { http: false } | Bench::Compare) {
        let (rows, count) = idle::compare(10_000 / scale, runs, idle::Exchange::Echo);
        print!(
            "{}",
            measure::render(
                &format!(
                    "idle: {count} open connections, one byte echoed on each \
                     (goal: memory per connection at most 1.0x tokio's)"
                ),
                &rows
            )
        );
        println!(
            "note: tokio's server keeps a {} KiB read buffer per connection, the usual \
             task-per-connection shape; most of its figure is that buffer.",
            server::TOKIO_BUFFER / 1024
        );
    }
    if matches!(cli.command, Bench::Idle { .. } | Bench::Compare) {
        let (rows, count) = idle::compare(5_000 / scale, runs, idle::Exchange::Http);
        print!(
            "{}",
            measure::render(
                &format!(
                    "idle --http: {count} keep-alive HTTP/1.1 connections, each answered once, \
                     torsion-web vs hyper on tokio current_thread in the tokio column \
                     (goal: memory per connection at most 1.0x hyper's and 8 KiB)"
                ),
                &rows
            )
        );
    }
}

/// `instructions`: each case's table, or why it cannot be counted here.
fn count_instructions(quick: bool) {
    if let Some(missing) = instructions::missing_tool() {
        println!("instructions: skipped: {missing}");
        return;
    }
    // Quick, a window still long enough for h2load to open its
    // connections to a debug build under callgrind.
    let window = Duration::from_secs(if quick { 3 } else { 5 });
    for case in instructions::CASES {
        let counted = instructions::count(server::Engine::TorsionHttp, case, window)
            .and_then(|torsion| Ok((torsion, instructions::count(case.peer, case, window)?)));
        match counted {
            Ok((torsion, peer)) => print!("{}", instructions::render(case, &torsion, &peer)),
            Err(error) => println!("\ninstructions: {}: {error}", case.title),
        }
    }
}

/// The warm-up and the measured window of each echo run (`echo`, and the
/// floor's echo).
fn echo_timing(quick: bool) -> (Duration, Duration) {
    if quick {
        (Duration::from_millis(100), Duration::from_millis(300))
    } else {
        (Duration::from_millis(500), Duration::from_secs(3))
    }
}

/// The warm-up and the measured window of each wrk or h2load run (`http`,
/// `reactors`, and the floor's hello world).
fn http_timing(quick: bool) -> (Duration, Duration) {
    if quick {
        (Duration::ZERO, Duration::from_secs(1))
    } else {
        (Duration::from_secs(1), Duration::from_secs(5))
    }
}

/// Measures and prints the floor (`floor`).
fn print_floor(quick: bool, runs: usize) {
    let (echo_warm_up, echo_window) = echo_timing(quick);
    let (http_warm_up, http_window) = http_timing(quick);
    let echo = echo::Load {
        connections: 64,
        size: 64,
        warm_up: echo_warm_up,
        window: echo_window,
    };
    let hello = http::Load {
        connections: 64,
        pipeline: 1,
        warm_up: http_warm_up,
        window: http_window,
    };
    let ring = match bare::ring::available() {
        Ok(()) => true,
        Err(error) => {
            println!("no io_uring floor rows: {error}");
            false
        }
    };
    let tables = floor::compare(echo, hello, runs, ring);
    let http = format!(
        "wrk -t1 -c64 -d{}s, one request at a time",
        http_window.as_secs()
    );
    let printed = [
        (
            "floor: echo, 64 connections, 64-byte messages: a server with no framework on epoll \
             (mio) vs tokio, the least an epoll server spends here (the goal for torsion on \
             epoll: at most 1.0x)"
                .to_owned(),
            ("floor on epoll", "tokio"),
            &tables.echo_epoll,
        ),
        (
            "floor: the same echo on io_uring (multishot receive into provided buffers, the loop \
             waiting in the ring, no system call per message) vs tokio (the goal for torsion on \
             io_uring: at most 0.77x)"
                .to_owned(),
            ("floor on io_uring", "tokio"),
            &tables.echo_ring,
        ),
        (
            format!(
                "floor: http, {http}, the hello-world answer from a server with no framework on \
                 epoll vs hyper on tokio (the goal for torsion-web: CPU per request at most 0.9x)"
            ),
            ("floor on epoll", "hyper"),
            &tables.hello_epoll,
        ),
        (
            format!(
                "floor: http, {http}, the same on io_uring vs hyper on tokio (the goal for \
                 torsion-web on io_uring: at most 0.85x)"
            ),
            ("floor on io_uring", "hyper"),
            &tables.hello_ring,
        ),
    ];
    for (title, columns, rows) in printed {
        if !rows.is_empty() {
            print!("{}", measure::render_columns(&title, columns, rows));
        }
    }
}
