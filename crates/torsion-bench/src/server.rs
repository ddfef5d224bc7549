//! Benchmark servers (echo here, hello-world HTTP in
//! [`hello`](crate::hello)), each in a process of its own, so its CPU time and memory
//! can be read from `/proc/<pid>` with nothing else in the account.
//!
//! The benchmark binary re-executes itself as `torsion-bench serve --engine
//! torsion|tokio|torsion-http|hyper-tokio`, under `taskset -c 0` when it can. The server prints
//! `listening <address>` on its standard output once it accepts, and exits
//! when its standard input closes, which is how [`ServerProcess`] stops it.
//!
//! Both servers do the same job in the usual way for their engine:
//!
//! - torsion: a `Protocol` that writes back every chunk `data_received`
//!   hands it (reads land in the reactor's one shared 64 KiB buffer);
//! - torsion inside tokio: the same `Protocol` on a reactor hosted by a
//!   tokio current-thread runtime (`torsion_tokio::block_on_reactor`);
//! - tokio: a current-thread runtime, one task per connection that reads
//!   into its own 16 KiB buffer (one read per message of either size) and
//!   `write_all`s what it read.
//!
//! Both turn Nagle's algorithm off on accepted connections.

use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use torsion::Reactor;
use torsion::net::{Protocol, Transport, factory_fn};
use torsion::reactor::Backend;

use crate::bare::{self, Reply};

/// Which engine a server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    /// torsion's reactor and a `Protocol`.
    Torsion,
    /// tokio's current-thread runtime and a task per connection.
    Tokio,
    /// torsion's reactor and the same `Protocol`, hosted by a tokio
    /// current-thread runtime (`torsion_tokio::block_on_reactor`).
    TorsionInTokio,
    /// torsion-web's HTTP server with a hello-world resource.
    TorsionHttp,
    /// hyper's HTTP/1 server on tokio's current-thread runtime.
    HyperTokio,
    /// torsion-web's hello-world server on a pool of two reactors, one
    /// SO_REUSEPORT socket each; its standard input also takes
    /// `connections`, answered with each reactor's accepted count.
    #[value(name = "torsion-http-pool")]
    TorsionHttpPool,
    /// hyper's HTTP/2 server (h2c) on tokio's current-thread runtime.
    HyperTokioH2,
    /// torsion-amp answering `Sum` (the `amp` benchmark).
    TorsionAmp,
    /// torsion's echo server on the io_uring backend.
    #[value(name = "torsion-uring")]
    TorsionUring,
    /// torsion-web's hello-world server on the io_uring backend.
    #[value(name = "torsion-http-uring")]
    TorsionHttpUring,
    /// The echo server with no framework, on epoll (`floor`).
    #[value(name = "floor-epoll")]
    FloorEpoll,
    /// The echo server with no framework, on io_uring (`floor`).
    #[value(name = "floor-ring")]
    FloorRing,
    /// The hello-world answer with no framework, on epoll (`floor`).
    #[value(name = "floor-epoll-http")]
    FloorEpollHttp,
    /// The hello-world answer with no framework, on io_uring (`floor`).
    #[value(name = "floor-ring-http")]
    FloorRingHttp,
}

impl Engine {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Torsion => "torsion",
            Engine::Tokio => "tokio",
            Engine::TorsionInTokio => "torsion-in-tokio",
            Engine::TorsionHttp => "torsion-http",
            Engine::HyperTokio => "hyper-tokio",
            Engine::TorsionHttpPool => "torsion-http-pool",
            Engine::HyperTokioH2 => "hyper-tokio-h2",
            Engine::TorsionAmp => "torsion-amp",
            Engine::TorsionUring => "torsion-uring",
            Engine::TorsionHttpUring => "torsion-http-uring",
            Engine::FloorEpoll => "floor-epoll",
            Engine::FloorRing => "floor-ring",
            Engine::FloorEpollHttp => "floor-epoll-http",
            Engine::FloorRingHttp => "floor-ring-http",
        }
    }
}

/// The tokio server's read buffer, one per connection.
pub const TOKIO_BUFFER: usize = 16 * 1024;

/// Writes back whatever it receives.
#[derive(Default)]
struct Echo {
    transport: Option<Transport>,
}

impl Protocol for Echo {
    fn connection_made(&mut self, transport: &Transport) {
        let _ = transport.set_nodelay(true);
        self.transport = Some(transport.clone());
    }

    fn data_received(&mut self, data: &[u8]) {
        if let Some(transport) = &self.transport {
            transport.write(data);
        }
    }
}

/// Runs torsion's echo server on this thread until its reactor stops,
/// telling `ready` where it listens first.
pub fn serve_torsion(ready: impl FnOnce(SocketAddr, torsion::ReactorHandle)) -> io::Result<()> {
    serve_torsion_on(ready, Backend::Epoll, |reactor| {
        reactor.run().map_err(io::Error::other)
    })
}

/// The same torsion echo server, its reactor hosted by a tokio
/// current-thread runtime on this thread.
pub fn serve_torsion_in_tokio(
    ready: impl FnOnce(SocketAddr, torsion::ReactorHandle),
) -> io::Result<()> {
    serve_torsion_on(ready, Backend::Epoll, |reactor| {
        torsion_tokio::block_on_reactor(reactor).map_err(io::Error::other)
    })
}

/// A reactor on `backend`, or an error if the kernel refused io_uring (a
/// table labelled io_uring must not measure epoll).
pub fn reactor_on(backend: Backend) -> io::Result<Reactor> {
    let reactor = Reactor::with_backend(backend)?;
    if reactor.backend() != backend {
        return Err(io::Error::other(format!("{backend} is not available here")));
    }
    Ok(reactor)
}

fn serve_torsion_on(
    ready: impl FnOnce(SocketAddr, torsion::ReactorHandle),
    backend: Backend,
    run: impl FnOnce(&Reactor) -> io::Result<()>,
) -> io::Result<()> {
    let reactor = reactor_on(backend)?;
    let port = reactor.listen_tcp(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        factory_fn(|_| Some(Echo::default())),
    )?;
    let address = port
        .tcp_address()
        .ok_or_else(|| io::Error::other("no TCP address"))?;
    ready(address, reactor.handle());
    run(&reactor)
}

/// Runs tokio's echo server on this thread, forever, telling `ready` where
/// it listens first.
pub fn serve_tokio(ready: impl FnOnce(SocketAddr)) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        ready(listener.local_addr()?);
        loop {
            let (mut stream, _) = listener.accept().await?;
            tokio::spawn(async move {
                let _ = stream.set_nodelay(true);
                let mut buffer = vec![0u8; TOKIO_BUFFER];
                loop {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => {
                            if stream.write_all(&buffer[..read]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    })
}

/// The engine a command line `serve --engine NAME` (the program's name
/// left out) asks this process to serve, or `None` for any other command
/// line.
pub fn engine_to_serve(mut args: impl Iterator<Item = String>) -> Option<io::Result<Engine>> {
    if args.next()? != "serve" || args.next()? != "--engine" {
        return None;
    }
    let (Some(name), None) = (args.next(), args.next()) else {
        return Some(Err(io::Error::other("usage: serve --engine NAME")));
    };
    Some(
        <Engine as clap::ValueEnum>::from_str(&name, false)
            .map_err(|_| io::Error::other(format!("no engine named {name:?}"))),
    )
}

/// What `torsion-bench serve --engine NAME` does: runs `engine`'s server,
/// prints where it listens, and exits when standard input closes.
pub fn serve(engine: Engine) -> io::Result<()> {
    if engine == Engine::TorsionHttpPool {
        return serve_pool();
    }
    std::thread::spawn(|| {
        let mut sink = Vec::new();
        let _ = io::stdin().read_to_end(&mut sink);
        std::process::exit(0);
    });
    let announce = |address: SocketAddr| println!("listening {address}");
    match engine {
        Engine::Torsion => serve_torsion(|address, _| announce(address)),
        Engine::Tokio => serve_tokio(announce),
        Engine::TorsionInTokio => serve_torsion_in_tokio(|address, _| announce(address)),
        Engine::TorsionHttp => crate::hello::serve_torsion(move |address, _| announce(address)),
        Engine::TorsionUring => serve_torsion_on(
            |address, _| announce(address),
            Backend::IoUring,
            |reactor| reactor.run().map_err(io::Error::other),
        ),
        Engine::TorsionHttpUring => {
            crate::hello::serve_torsion_on(&reactor_on(Backend::IoUring)?, move |address, _| {
                announce(address)
            })
        }
        Engine::HyperTokio => crate::hello::serve_hyper(announce),
        Engine::TorsionHttpPool => unreachable!("served above"),
        Engine::HyperTokioH2 => crate::hello::serve_hyper_h2(announce),
        Engine::TorsionAmp => crate::amp_server::serve(announce),
        Engine::FloorEpoll => bare::serve(bare::epoll::serve, Reply::Echo, announce),
        Engine::FloorRing => bare::serve(bare::ring::serve, Reply::Echo, announce),
        Engine::FloorEpollHttp => bare::serve(bare::epoll::serve, Reply::Hello, announce),
        Engine::FloorRingHttp => bare::serve(bare::ring::serve, Reply::Hello, announce),
    }
}

/// The two-reactor server: its reactors serve on their own threads while
/// this one answers `connections` on standard input, until it closes.
fn serve_pool() -> io::Result<()> {
    let (address, pool) = crate::hello::serve_torsion_pool(2)?;
    println!("listening {address}");
    for line in io::stdin().lines() {
        if line?.trim() == "connections" {
            let counts = crate::hello::accepted_per_reactor(&pool);
            let counts: Vec<String> = counts.iter().map(u64::to_string).collect();
            println!("connections {}", counts.join(" "));
        }
    }
    std::process::exit(0);
}

/// The soft limit on open descriptors is raised to the hard one, for this
/// process and so for the servers it starts, with util-linux `prlimit`.
/// Returns the soft limit in force afterwards.
pub fn raise_descriptor_limit() -> u64 {
    let pid = std::process::id().to_string();
    let hard = limit(&pid, "--hard");
    if let Some(hard) = hard {
        let _ = Command::new("prlimit")
            .args(["--pid", &pid, &format!("--nofile={hard}:{hard}")])
            .output();
    }
    limit(&pid, "--soft").unwrap_or(1024)
}

fn limit(pid: &str, which: &str) -> Option<u64> {
    let output = Command::new("prlimit")
        .args(["--pid", pid, "--nofile", "--noheadings", "--raw"])
        .args([
            "--output",
            which.trim_start_matches("--").to_uppercase().as_str(),
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let value = text.trim();
    if value == "unlimited" {
        Some(1 << 20)
    } else {
        value.parse().ok()
    }
}

/// A server running in a child process.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    /// Where it accepts connections.
    pub address: SocketAddr,
}

impl ServerProcess {
    /// Starts `engine`'s server pinned to CPU 0 (when `taskset` is here)
    /// and waits until it listens.
    pub fn start(engine: Engine) -> io::Result<ServerProcess> {
        ServerProcess::start_under(engine, &[])
    }

    /// [`start`](Self::start), the server run by `wrapper` (a program and
    /// its arguments, such as valgrind's) rather than directly.
    pub fn start_under(engine: Engine, wrapper: &[String]) -> io::Result<ServerProcess> {
        let exe = std::env::current_exe()?;
        let mut line: Vec<std::ffi::OsString> = Vec::new();
        if taskset_works() {
            line.extend(["taskset", "-c", "0"].map(Into::into));
        }
        line.extend(wrapper.iter().map(Into::into));
        line.push(exe.into());
        let mut command = Command::new(&line[0]);
        command.args(&line[1..]);
        let mut child = command
            .args(["serve", "--engine", engine.name()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdin = child.stdin.take();
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        stdout.read_line(&mut line)?;
        let address = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|address| address.parse().ok());
        let Some(address) = address else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other(format!(
                "{} server did not start: {line:?}",
                engine.name()
            )));
        };
        Ok(ServerProcess {
            child,
            stdin,
            stdout,
            address,
        })
    }

    /// Connections each reactor has accepted so far, for a server that
    /// answers `connections` ([`Engine::TorsionHttpPool`]).
    pub fn connections_per_reactor(&mut self) -> io::Result<Vec<u64>> {
        let stdin = self.stdin.as_mut().expect("the server's input is open");
        stdin.write_all(b"connections\n")?;
        stdin.flush()?;
        let mut line = String::new();
        self.stdout.read_line(&mut line)?;
        line.trim()
            .strip_prefix("connections")
            .map(|counts| {
                counts
                    .split_whitespace()
                    .filter_map(|n| n.parse().ok())
                    .collect()
            })
            .ok_or_else(|| io::Error::other(format!("not a count: {line:?}")))
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Tells the server to exit (closes its standard input) and waits up to
    /// `patience` for it to have exited.
    pub fn stop(mut self, patience: Duration) -> io::Result<()> {
        if self.close_and_wait(patience)? {
            Ok(())
        } else {
            Err(io::Error::other("the server did not exit in time"))
        }
    }

    /// Closes the server's standard input, which tells it to exit, and
    /// waits up to `patience`: whether it has exited.
    fn close_and_wait(&mut self, patience: Duration) -> io::Result<bool> {
        drop(self.stdin.take());
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(true);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(false)
    }

    /// CPU time the whole server process has used: utime + stime from
    /// `/proc/<pid>/stat`, in clock ticks.
    pub fn cpu_time(&self) -> Duration {
        process_cpu(self.pid())
    }

    /// The server's anonymous resident memory (`RssAnon` in
    /// `/proc/<pid>/status`: heap, stacks, relocated data), in bytes.
    ///
    /// The rest of `VmRSS` is file pages, almost all the binary's code,
    /// which measures the page cache rather than the server: the kernel
    /// maps cached pages around each one touched, so one binary's server
    /// shows several hundred KiB more right after the binary is written
    /// than later, and the figure grows with the whole suite's code.
    pub fn anonymous_resident_bytes(&self) -> u64 {
        let text = fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        text.lines()
            .find_map(|line| line.strip_prefix("RssAnon:"))
            .and_then(|value| {
                value
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map_or(0, |kib| kib * 1024)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if !matches!(self.close_and_wait(Duration::from_secs(5)), Ok(true)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn taskset_works() -> bool {
    static WORKS: OnceLock<bool> = OnceLock::new();
    *WORKS.get_or_init(|| {
        Command::new("taskset")
            .args(["-c", "0", "true"])
            .output()
            .is_ok_and(|output| output.status.success())
    })
}

fn clock_ticks_per_second() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|output| String::from_utf8_lossy(&output.stdout).trim().parse().ok())
            .unwrap_or(100)
    })
}

/// CPU time process `pid` has used: utime + stime from
/// `/proc/<pid>/stat`, in clock ticks.
pub fn process_cpu(pid: u32) -> Duration {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses: the
    // state is field 3, utime field 14, stime field 15.
    let after_name = text.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize| -> u64 {
        fields
            .get(index)
            .and_then(|field| field.parse().ok())
            .unwrap_or(0)
    };
    let total = ticks(11) + ticks(12);
    Duration::from_secs_f64(total as f64 / clock_ticks_per_second() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> impl Iterator<Item = String> {
        line.split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn a_server_child_is_recognised_before_the_command_line_is_parsed() {
        for engine in [Engine::Torsion, Engine::HyperTokio, Engine::TorsionAmp] {
            let line = format!("serve --engine {}", engine.name());
            assert_eq!(engine_to_serve(args(&line)).unwrap().unwrap(), engine);
        }
        assert!(engine_to_serve(args("compare")).is_none());
        assert!(engine_to_serve(args("idle --http")).is_none());
        assert!(engine_to_serve(args("")).is_none());
        let unknown = engine_to_serve(args("serve --engine gevent")).unwrap();
        assert!(unknown.unwrap_err().to_string().contains("gevent"));
        assert!(
            engine_to_serve(args("serve --engine tokio extra"))
                .unwrap()
                .is_err()
        );
    }
}
