//! A program run as a child process and watched line by line: for tests of
//! whole programs (a server's start-up lines, its log, what it does on
//! SIGTERM), written with std's blocking process API on the test's side.

use std::ffi::OsStr;
use std::io::{self, BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a wait of a [`WatchedChild`] lasts unless
/// [`with_limit`](WatchedChild::with_limit) says otherwise.
const DEFAULT_LIMIT: Duration = Duration::from_secs(20);

/// A command for `program` whose child starts with SIGINT and SIGTERM at
/// their default disposition, so that a reactor in it takes them
/// ([`Signals`](crate::reactor::Signals) leaves an ignored signal
/// ignored). A test run in the background of a non-interactive shell
/// inherits SIGINT ignored, and an ignored signal stays ignored across
/// exec; coreutils' `env --default-signal` puts both back.
pub fn stop_signals_at_default(program: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new("env");
    command.arg("--default-signal=INT,TERM").arg(program);
    command
}

/// A running child process whose standard output and standard error are
/// read line by line by threads of their own, so that a test can wait for
/// a line with a bound, signal the child, and wait for its exit with a
/// bound. Every wait panics when its bound passes, with what the child
/// printed so far; a child still running when this is dropped (a test that
/// failed half-way) is killed and reaped.
///
/// ```
/// use std::process::Command;
/// use torsion::testing::WatchedChild;
///
/// let mut child = WatchedChild::spawn(
///     Command::new("sh").args(["-c", "echo ready; echo oops >&2; exec sleep 30"]),
/// )?;
/// assert_eq!(child.wait_for_stdout("ready"), "ready");
/// assert_eq!(child.wait_for_stderr("oops"), "oops");
/// child.signal("TERM");
/// let exited = child.wait();
/// assert_eq!(exited.status.code(), None, "ended by a signal");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct WatchedChild {
    child: Child,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
    /// Lines of standard output read so far.
    pub out: Vec<String>,
    /// Lines of standard error read so far.
    pub err: Vec<String>,
    limit: Duration,
}

/// How a [`WatchedChild`] ended, and every line it wrote.
#[derive(Debug)]
pub struct Exited {
    /// The exit status.
    pub status: ExitStatus,
    /// Every line of standard output.
    pub out: Vec<String>,
    /// Every line of standard error.
    pub err: Vec<String>,
}

impl WatchedChild {
    /// Spawns `command` with standard input from `/dev/null` and standard
    /// output and error piped to this watcher. Waits are bounded by 20
    /// seconds.
    pub fn spawn(command: &mut Command) -> io::Result<WatchedChild> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let stdout = lines_of(child.stdout.take().expect("piped"));
        let stderr = lines_of(child.stderr.take().expect("piped"));
        Ok(WatchedChild {
            child,
            stdout,
            stderr,
            out: Vec::new(),
            err: Vec::new(),
            limit: DEFAULT_LIMIT,
        })
    }

    /// Bounds every later wait by `limit` instead.
    pub fn with_limit(mut self, limit: Duration) -> WatchedChild {
        self.limit = limit;
        self
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits for a line of standard output containing `needle`, and
    /// returns it (the first such line, if one was already read).
    ///
    /// # Panics
    ///
    /// If no such line comes within the bound; the child is killed first.
    pub fn wait_for_stdout(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + self.limit;
        loop {
            if let Some(line) = self.out.iter().find(|line| line.contains(needle)) {
                return line.clone();
            }
            // Standard error is read on the way, for the panic message.
            self.err.extend(self.stderr.try_iter());
            let left = deadline.saturating_duration_since(Instant::now());
            match self
                .stdout
                .recv_timeout(left.min(Duration::from_millis(100)))
            {
                Ok(line) => self.out.push(line),
                Err(_) if Instant::now() < deadline => {}
                Err(_) => self.give_up(&format!("the child never printed {needle:?}")),
            }
        }
    }

    /// Waits for a line of standard error containing `needle`, and returns
    /// it.
    ///
    /// # Panics
    ///
    /// If no such line comes within the bound; the child is killed first.
    pub fn wait_for_stderr(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + self.limit;
        loop {
            if let Some(line) = self.err.iter().find(|line| line.contains(needle)) {
                return line.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) => self.err.push(line),
                Err(_) => self.give_up(&format!("the child never wrote {needle:?} to stderr")),
            }
        }
    }

    /// Sends `signal`, named as `kill` names it (`TERM`, `INT`, `HUP`,
    /// `KILL`...), with the system's `kill` command.
    ///
    /// # Panics
    ///
    /// If `kill` cannot be run or fails.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} {}: {status}", self.id());
    }

    /// Waits for the child to exit, then for the last of its lines.
    ///
    /// # Panics
    ///
    /// If it does not exit within the bound; it is killed first.
    pub fn wait(mut self) -> Exited {
        let deadline = Instant::now() + self.limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for the child") {
                break status;
            }
            if Instant::now() > deadline {
                self.give_up("the child did not exit");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        // The reader threads end with the pipes; a grandchild that kept
        // them open must not hold the test up for long.
        let grace = Duration::from_millis(500);
        while let Ok(line) = self.stdout.recv_timeout(grace) {
            self.out.push(line);
        }
        while let Ok(line) = self.stderr.recv_timeout(grace) {
            self.err.push(line);
        }
        Exited {
            status,
            out: std::mem::take(&mut self.out),
            err: std::mem::take(&mut self.err),
        }
    }

    fn give_up(&mut self, what: &str) -> ! {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.err.extend(self.stderr.try_iter());
        panic!(
            "{what} within {:?}; stdout {:#?}, stderr {:#?}",
            self.limit, self.out, self.err
        );
    }
}

impl Drop for WatchedChild {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A thread sending each line of `stream` until it ends.
fn lines_of(stream: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    lines
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;
    use std::time::Duration;

    use super::{WatchedChild, stop_signals_at_default};

    #[test]
    fn an_ignored_sigterm_is_put_back_to_its_default() {
        // The shell ignores TERM, then runs a program through the command:
        // with the default put back, TERM ends it.
        let mut command = stop_signals_at_default("sh");
        command.args(["-c", "echo ready; exec sleep 30"]);
        let mut ignoring = std::process::Command::new("sh");
        ignoring.args(["-c", "trap '' TERM; exec \"$@\"", "sh"]);
        ignoring.arg(command.get_program()).args(command.get_args());
        let mut child = WatchedChild::spawn(&mut ignoring)
            .unwrap()
            .with_limit(Duration::from_secs(10));
        child.wait_for_stdout("ready");
        child.signal("TERM");
        let exited = child.wait();
        assert_eq!(exited.status.signal(), Some(libc::SIGTERM), "{exited:?}");
    }

    #[test]
    #[should_panic(expected = "the child never printed \"never\"")]
    fn a_line_that_never_comes_fails_within_the_bound() {
        let mut child = WatchedChild::spawn(std::process::Command::new("sleep").arg("30"))
            .unwrap()
            .with_limit(Duration::from_millis(200));
        child.wait_for_stdout("never");
    }
}
