//! [`SpawnOptions`]: everything about a child process but its program and
//! arguments (environment, directory, descriptors, process group), and
//! turning them into a [`std::process::Command`].

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::sys::FdMap;

/// What a child process finds at one of its descriptors (Twisted's
/// `childFDs` values).
#[derive(Debug)]
pub enum ChildFd {
    /// A pipe the parent writes and the child reads (Twisted's `"w"`);
    /// fd 0 is one by default.
    Write,
    /// A pipe the child writes and the parent reads (Twisted's `"r"`);
    /// fds 1 and 2 are by default.
    Read,
    /// The parent's own descriptor of the same number (a child that shares
    /// the terminal: `ChildFd::Inherit` at 0, 1 and 2).
    Inherit,
    /// This descriptor of the parent (Twisted's integer value), handed
    /// over: the parent's copy closes once the child has started.
    From(OwnedFd),
    /// `/dev/null`.
    Null,
    /// Nothing: the child starts with this descriptor closed.
    Close,
}

/// The environment a child starts with.
#[derive(Debug, Clone, Default)]
enum EnvBase {
    /// The parent's environment.
    #[default]
    Inherit,
    /// Nothing but what is set explicitly.
    Clear,
}

/// How to start a child process, besides its program and arguments: the
/// builder [`Reactor::spawn_process`](crate::Reactor::spawn_process) and
/// the helpers take.
///
/// By default the child inherits the parent's environment and working
/// directory, its stdin is a pipe the parent writes and its stdout and
/// stderr are pipes the parent reads (`{0: Write, 1: Read, 2: Read}`).
///
/// ```
/// use torsion::process::{ChildFd, SpawnOptions};
///
/// let options = SpawnOptions::new()
///     .env_clear()
///     .env("LANG", "C")
///     .cwd("/tmp")
///     .child_fd(0, ChildFd::Null)
///     .child_fd(3, ChildFd::Read)
///     .process_group(0);
/// # drop(options);
/// ```
#[derive(Debug)]
pub struct SpawnOptions {
    env_base: EnvBase,
    /// Variables set (`Some`) or removed (`None`) on top of the base.
    env: BTreeMap<OsString, Option<OsString>>,
    cwd: Option<PathBuf>,
    fds: BTreeMap<RawFd, ChildFd>,
    process_group: Option<i32>,
    arg0: Option<OsString>,
    uid: Option<u32>,
    gid: Option<u32>,
}

impl Default for SpawnOptions {
    fn default() -> SpawnOptions {
        SpawnOptions::new()
    }
}

impl SpawnOptions {
    /// The defaults: inherited environment and directory, pipes at 0, 1
    /// and 2.
    pub fn new() -> SpawnOptions {
        let fds = BTreeMap::from([(0, ChildFd::Write), (1, ChildFd::Read), (2, ChildFd::Read)]);
        SpawnOptions {
            env_base: EnvBase::Inherit,
            env: BTreeMap::new(),
            cwd: None,
            fds,
            process_group: None,
            arg0: None,
            uid: None,
            gid: None,
        }
    }

    /// Starts from an empty environment instead of the parent's (what
    /// Twisted's `spawnProcess` does when given no `env`); variables set
    /// before or after still apply.
    pub fn env_clear(mut self) -> SpawnOptions {
        self.env_base = EnvBase::Clear;
        self.env.retain(|_, value| value.is_some());
        self
    }

    /// Sets one variable.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> SpawnOptions {
        self.env
            .insert(key.as_ref().to_owned(), Some(value.as_ref().to_owned()));
        self
    }

    /// Sets several variables.
    pub fn envs<K, V>(mut self, vars: impl IntoIterator<Item = (K, V)>) -> SpawnOptions
    where
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        for (key, value) in vars {
            self = self.env(key, value);
        }
        self
    }

    /// Removes one variable the child would otherwise inherit.
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> SpawnOptions {
        self.env.insert(key.as_ref().to_owned(), None);
        self
    }

    /// The child's working directory (Twisted's `path`).
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> SpawnOptions {
        self.cwd = Some(dir.into());
        self
    }

    /// What the child finds at descriptor `fd`, replacing what was set
    /// there (Twisted's `childFDs` entry). Descriptors above 2 that are not
    /// mentioned are not passed (torsion opens every descriptor
    /// close-on-exec, as std does).
    pub fn child_fd(mut self, fd: RawFd, what: ChildFd) -> SpawnOptions {
        self.fds.insert(fd, what);
        self
    }

    /// Puts the child in process group `pgid`; 0 makes it the leader of a
    /// new group of its own, which
    /// [`signal_group`](super::ProcessTransport::signal_group) then
    /// signals with everything it started.
    pub fn process_group(mut self, pgid: i32) -> SpawnOptions {
        self.process_group = Some(pgid);
        self
    }

    /// The `argv[0]` the child sees, instead of the program (in Twisted it
    /// is always the first of the arguments).
    pub fn arg0(mut self, arg0: impl AsRef<OsStr>) -> SpawnOptions {
        self.arg0 = Some(arg0.as_ref().to_owned());
        self
    }

    /// Runs the child as this user id (the parent needs the privilege).
    pub fn uid(mut self, uid: u32) -> SpawnOptions {
        self.uid = Some(uid);
        self
    }

    /// Runs the child with this group id (the parent needs the privilege).
    pub fn gid(mut self, gid: u32) -> SpawnOptions {
        self.gid = Some(gid);
        self
    }

    pub(crate) fn group(&self) -> Option<i32> {
        self.process_group
    }
}

/// The parent's end of a pipe to the child.
#[derive(Debug)]
pub(crate) enum ParentEnd {
    /// The parent writes (the child's `ChildFd::Write`).
    Writer(OwnedFd),
    /// The parent reads.
    Reader(OwnedFd),
}

/// A command ready to spawn, and the parent's ends of its pipes by child
/// descriptor. Dropping the command after spawning closes the child's ends
/// in the parent, which end of file on the pipes depends on.
pub(crate) struct Prepared {
    pub(crate) command: Command,
    pub(crate) pipes: BTreeMap<RawFd, ParentEnd>,
}

impl SpawnOptions {
    /// Builds the command: program, arguments, environment, directory and
    /// every descriptor of the map.
    pub(crate) fn prepare(
        self,
        program: &OsStr,
        args: impl IntoIterator<Item = impl AsRef<OsStr>>,
    ) -> io::Result<Prepared> {
        let mut command = Command::new(program);
        command.args(args);
        if let EnvBase::Clear = self.env_base {
            command.env_clear();
        }
        for (key, value) in &self.env {
            match value {
                Some(value) => command.env(key, value),
                None => command.env_remove(key),
            };
        }
        if let Some(cwd) = &self.cwd {
            command.current_dir(cwd);
        }
        if let Some(pgid) = self.process_group {
            command.process_group(pgid);
        }
        if let Some(arg0) = &self.arg0 {
            command.arg0(arg0);
        }
        if let Some(uid) = self.uid {
            command.uid(uid);
        }
        if let Some(gid) = self.gid {
            command.gid(gid);
        }
        // Standard descriptors std places itself; the others (and closing
        // any) take a step between fork and exec.
        let mut pipes = BTreeMap::new();
        let mut map = FdMap::default();
        for (fd, what) in self.fds {
            let child_end: Option<OwnedFd> = match what {
                ChildFd::Write => {
                    let (reader, writer) = std::io::pipe()?;
                    pipes.insert(fd, ParentEnd::Writer(writer.into()));
                    Some(reader.into())
                }
                ChildFd::Read => {
                    let (reader, writer) = std::io::pipe()?;
                    pipes.insert(fd, ParentEnd::Reader(reader.into()));
                    Some(writer.into())
                }
                ChildFd::From(owned) => Some(owned),
                ChildFd::Null => Some(
                    std::fs::File::options()
                        .read(true)
                        .write(true)
                        .open("/dev/null")?
                        .into(),
                ),
                ChildFd::Inherit => {
                    if fd > 2 {
                        map.keep(fd);
                    }
                    None
                }
                ChildFd::Close => {
                    map.close(fd);
                    None
                }
            };
            match (fd, child_end) {
                (0, Some(end)) => drop(command.stdin(Stdio::from(end))),
                (1, Some(end)) => drop(command.stdout(Stdio::from(end))),
                (2, Some(end)) => drop(command.stderr(Stdio::from(end))),
                (0, None) => drop(command.stdin(Stdio::inherit())),
                (1, None) => drop(command.stdout(Stdio::inherit())),
                (2, None) => drop(command.stderr(Stdio::inherit())),
                (fd, Some(end)) => map.place(end, fd),
                (_, None) => {}
            }
        }
        map.install(&mut command);
        Ok(Prepared { command, pipes })
    }
}
