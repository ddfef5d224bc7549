//! What a [`ProcessPool`](super::ProcessPool) is made with: its
//! [`PoolOptions`] (sizes, recycling, timeouts), the [`Starter`]s that
//! bring up its workers, and the [`WorkOptions`] of one call.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use torsion::process::{Signal, SpawnOptions};

use crate::Responders;

/// How one worker is brought up: a program spawned with AMP over its
/// stdin and stdout, or a connection to a worker server elsewhere.
///
/// ```
/// use torsion_amp::pool::{ProcessStarter, Starter};
///
/// let local: Starter = ProcessStarter::new("python3").arg("worker.py").env("PYTHONUNBUFFERED", "1").into();
/// let remote = Starter::remote("tcp:host=10.0.0.7:port=7100");
/// assert!(matches!(local, Starter::Process(_)));
/// assert!(matches!(remote, Starter::Remote(_)));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Starter {
    /// A child process speaking AMP on its stdin and stdout.
    Process(ProcessStarter),
    /// A worker reached over a torsion client endpoint (`tcp:...`,
    /// `tls:...`, `unix:...`; see `torsion::endpoints`), one connection
    /// per worker.
    Remote(String),
}

impl Starter {
    /// A remote worker at the client endpoint `description`.
    pub fn remote(description: impl Into<String>) -> Starter {
        Starter::Remote(description.into())
    }
}

impl From<ProcessStarter> for Starter {
    fn from(starter: ProcessStarter) -> Starter {
        Starter::Process(starter)
    }
}

/// A worker program: what to run, its arguments, and what its environment
/// and working directory differ in from this process's (ampoule's
/// `ProcessStarter`). Stderr is logged by the pool, line by line (target
/// `torsion_amp::child`); stdout belongs to AMP.
#[derive(Debug, Clone)]
pub struct ProcessStarter {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    env_clear: bool,
    cwd: Option<PathBuf>,
}

impl ProcessStarter {
    /// Runs `program` (found on `PATH` unless it is a path).
    pub fn new(program: impl AsRef<OsStr>) -> ProcessStarter {
        ProcessStarter {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            env_clear: false,
            cwd: None,
        }
    }

    /// Adds an argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> ProcessStarter {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds arguments.
    pub fn args(mut self, args: impl IntoIterator<Item = impl AsRef<OsStr>>) -> ProcessStarter {
        self.args
            .extend(args.into_iter().map(|arg| arg.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable for the worker.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> ProcessStarter {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Starts the worker with an empty environment (plus what
    /// [`env`](ProcessStarter::env) sets).
    pub fn env_clear(mut self) -> ProcessStarter {
        self.env_clear = true;
        self
    }

    /// Runs the worker in `dir`.
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> ProcessStarter {
        self.cwd = Some(dir.into());
        self
    }

    pub(super) fn program(&self) -> &OsStr {
        &self.program
    }

    pub(super) fn arguments(&self) -> &[OsString] {
        &self.args
    }

    pub(super) fn spawn_options(&self) -> SpawnOptions {
        let mut options = SpawnOptions::new();
        if self.env_clear {
            options = options.env_clear();
        }
        options = options.envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(cwd) = &self.cwd {
            options = options.cwd(cwd);
        }
        options
    }
}

/// The pool's settings, with ampoule's defaults: at least 5 workers and
/// at most 20, workers above the minimum stopped after 20 s idle, each
/// worker replaced after 500 calls, no timeout, `SIGKILL` for a worker
/// that runs past one.
///
/// ```
/// use std::time::Duration;
/// use torsion_amp::pool::{PoolOptions, ProcessStarter};
///
/// let options = PoolOptions::new(ProcessStarter::new("my-worker"))
///     .min(2)
///     .max(8)
///     .recycle_after(1000)
///     .timeout(Duration::from_secs(30))
///     .name("hashers");
/// # drop(options);
/// ```
#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub(super) starters: Vec<Starter>,
    pub(super) min: usize,
    pub(super) max: usize,
    pub(super) max_idle: Duration,
    pub(super) recycle_after: u64,
    pub(super) timeout: Option<Duration>,
    pub(super) timeout_signal: Signal,
    pub(super) stop_grace: Duration,
    pub(super) name: String,
    pub(super) responders: Responders,
}

impl PoolOptions {
    /// A pool whose workers `starter` brings up.
    pub fn new(starter: impl Into<Starter>) -> PoolOptions {
        PoolOptions {
            starters: vec![starter.into()],
            min: 5,
            max: 20,
            max_idle: Duration::from_secs(20),
            recycle_after: 500,
            timeout: None,
            timeout_signal: Signal::KILL,
            stop_grace: Duration::from_secs(5),
            name: "process-pool".to_owned(),
            responders: Responders::new(),
        }
    }

    /// Another way to bring up workers: the pool then starts each new
    /// worker with the starter that has the fewest live workers (the
    /// first of those on a tie), so one pool spreads over local programs
    /// and remote machines alike.
    pub fn also(mut self, starter: impl Into<Starter>) -> PoolOptions {
        self.starters.push(starter.into());
        self
    }

    /// Workers kept running even when idle (ampoule's `min`); started by
    /// [`ProcessPool::start`](super::ProcessPool::start).
    pub fn min(mut self, min: usize) -> PoolOptions {
        self.min = min;
        self
    }

    /// Workers at most (ampoule's `max`, at least 1); calls beyond them
    /// wait in a queue, first come first served.
    pub fn max(mut self, max: usize) -> PoolOptions {
        self.max = max.max(1);
        self
    }

    /// How long a worker above the minimum may stay idle before it is
    /// stopped (ampoule's `maxIdle`; checked every `max_idle`).
    pub fn max_idle(mut self, max_idle: Duration) -> PoolOptions {
        self.max_idle = max_idle;
        self
    }

    /// Calls a worker serves before it is stopped and replaced (ampoule's
    /// `recycleAfter`); 0 never recycles.
    pub fn recycle_after(mut self, calls: u64) -> PoolOptions {
        self.recycle_after = calls;
        self
    }

    /// How long a call may run on its worker before the worker is
    /// stopped with the [`timeout_signal`](PoolOptions::timeout_signal)
    /// and the call fails with [`PoolError::TimedOut`](super::PoolError::TimedOut).
    /// By default calls have no timeout.
    pub fn timeout(mut self, timeout: Duration) -> PoolOptions {
        self.timeout = Some(timeout);
        self
    }

    /// The signal sent to a worker whose call timed out (`SIGKILL` by
    /// default, as ampoule's `timeout_signal`).
    pub fn timeout_signal(mut self, signal: Signal) -> PoolOptions {
        self.timeout_signal = signal;
        self
    }

    /// How long a worker being stopped (recycled, idle, or by the pool's
    /// stop) gets to exit after its stdin is closed before it is killed;
    /// 5 s by default.
    pub fn stop_grace(mut self, grace: Duration) -> PoolOptions {
        self.stop_grace = grace;
        self
    }

    /// The pool's name, in logs and as its service's name.
    pub fn name(mut self, name: impl Into<String>) -> PoolOptions {
        self.name = name.into();
        self
    }

    /// What the pool answers when a worker calls a command back (ampoule's
    /// `ampParent`); by default every such call is answered `UNHANDLED`.
    pub fn responders(mut self, responders: Responders) -> PoolOptions {
        self.responders = responders;
        self
    }
}

/// The options of one call: a timeout or a deadline in place of the
/// pool's (ampoule's `_timeout` and `_deadline` keywords).
///
/// ```
/// use std::time::{Duration, Instant};
/// use torsion_amp::pool::WorkOptions;
///
/// let quick = WorkOptions::new().timeout(Duration::from_millis(200));
/// let by_noon = WorkOptions::new().deadline(Instant::now() + Duration::from_secs(60));
/// let patient = WorkOptions::new().no_timeout();
/// # drop((quick, by_noon, patient));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct WorkOptions {
    pub(super) timeout: Option<Option<Duration>>,
    pub(super) deadline: Option<Instant>,
}

impl WorkOptions {
    /// The pool's timeout, no deadline.
    pub fn new() -> WorkOptions {
        WorkOptions::default()
    }

    /// This call may run `timeout` on its worker.
    pub fn timeout(mut self, timeout: Duration) -> WorkOptions {
        self.timeout = Some(Some(timeout));
        self
    }

    /// This call has no timeout, whatever the pool's.
    pub fn no_timeout(mut self) -> WorkOptions {
        self.timeout = Some(None);
        self
    }

    /// This call must be answered by `deadline`: if it is still queued
    /// then, it leaves the queue and fails with
    /// [`PoolError::TimedOut`](super::PoolError::TimedOut); if it is
    /// running, its worker is stopped as for a timeout. With a timeout
    /// too, whichever ends first applies.
    pub fn deadline(mut self, deadline: Instant) -> WorkOptions {
        self.deadline = Some(deadline);
        self
    }
}
