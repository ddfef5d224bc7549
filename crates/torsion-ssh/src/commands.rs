//! The operator's commands: a line parsed into a [`Command`], and a
//! command run against a reactor's [`Snapshot`] into an [`Output`] (the
//! text for standard output and standard error, and the exit status).
//!
//! Everything here is plain data in, text out, so the same code answers
//! an `ssh host connections` exec request and a line typed at the shell's
//! prompt, and is tested without a network.

use std::fmt::Write as _;
use std::time::Duration;

use torsion::reactor::Snapshot;

/// Exit status of a command that ran.
pub const OK: u32 = 0;
/// Exit status when the reactor could not be asked (stopped, or too busy
/// to answer in time).
pub const UNAVAILABLE: u32 = 1;
/// Exit status of a known command given arguments it does not take.
pub const USAGE: u32 = 2;
/// Exit status of an unknown command, as a POSIX shell's "command not
/// found".
pub const UNKNOWN: u32 = 127;

/// The commands, with what `help` says of each.
pub const COMMANDS: &[(&str, &str)] = &[
    ("help", "this list"),
    (
        "connections",
        "open connections: peer, local address, protocol, bytes, age",
    ),
    ("ports", "listening ports and bound datagram sockets"),
    ("timers", "pending timers and the earliest deadlines"),
    ("pools", "thread pools: workers, busy, queued, completed"),
    (
        "status",
        "tasks, Deferreds, cross-thread queue: one line each",
    ),
    (
        "exit [N]",
        "leave the shell (status N, else the last command's)",
    ),
];

/// One line of input, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Nothing but blanks: no output, the previous status stands.
    Empty,
    /// `help`.
    Help,
    /// `connections`.
    Connections,
    /// `ports`.
    Ports,
    /// `timers`.
    Timers,
    /// `pools`.
    Pools,
    /// `status`.
    Status,
    /// `exit`, with the status asked for, if any.
    Exit(Option<u32>),
    /// A known command with arguments it does not take: the message.
    Usage(String),
    /// A word that is no command.
    Unknown(String),
}

impl Command {
    /// Parses one line: the first word names the command; blanks around
    /// words do not matter.
    pub fn parse(line: &str) -> Command {
        let mut words = line.split_whitespace();
        let Some(name) = words.next() else {
            return Command::Empty;
        };
        let rest: Vec<&str> = words.collect();
        let command = match name {
            "help" | "?" => Command::Help,
            "connections" => Command::Connections,
            "ports" => Command::Ports,
            "timers" => Command::Timers,
            "pools" => Command::Pools,
            "status" => Command::Status,
            "exit" | "quit" | "logout" => {
                return match rest.as_slice() {
                    [] => Command::Exit(None),
                    [status] => match status.parse::<u32>() {
                        Ok(status) => Command::Exit(Some(status)),
                        Err(_) => Command::Usage(format!(
                            "exit: {:?} is not a status (a number from 0 to {})",
                            status,
                            u32::MAX
                        )),
                    },
                    _ => Command::Usage("exit: takes at most one status".to_owned()),
                };
            }
            other => return Command::Unknown(other.to_owned()),
        };
        if rest.is_empty() {
            command
        } else {
            Command::Usage(format!("{name}: takes no arguments"))
        }
    }

    /// True for the commands that show the reactor's figures, which need a
    /// snapshot taken on the reactor's thread.
    pub fn needs_snapshot(&self) -> bool {
        matches!(
            self,
            Command::Connections
                | Command::Ports
                | Command::Timers
                | Command::Pools
                | Command::Status
        )
    }
}

/// What a command printed, and its exit status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    /// Text for standard output, lines ending in `\n`.
    pub stdout: String,
    /// Text for standard error, lines ending in `\n`.
    pub stderr: String,
    /// The exit status.
    pub status: u32,
}

impl Output {
    fn out(stdout: String) -> Output {
        Output {
            stdout,
            ..Output::default()
        }
    }

    /// A failure: `message` on standard error with `status`.
    pub fn error(message: impl Into<String>, status: u32) -> Output {
        let mut stderr = message.into();
        stderr.push('\n');
        Output {
            stdout: String::new(),
            stderr,
            status,
        }
    }
}

/// Runs `command`; `snapshot` is the reactor's figures, present when the
/// command [needs it](Command::needs_snapshot). `Exit` and `Empty` print
/// nothing: the caller acts on them.
pub fn run(command: &Command, snapshot: Option<&Snapshot>) -> Output {
    let empty = Snapshot::default();
    let snapshot = snapshot.unwrap_or(&empty);
    match command {
        Command::Empty | Command::Exit(_) => Output::default(),
        Command::Help => Output::out(help()),
        Command::Connections => Output::out(connections(snapshot)),
        Command::Ports => Output::out(ports(snapshot)),
        Command::Timers => Output::out(timers(snapshot)),
        Command::Pools => Output::out(pools(snapshot)),
        Command::Status => Output::out(status(snapshot)),
        Command::Usage(message) => Output::error(message.clone(), USAGE),
        Command::Unknown(name) => Output::error(
            format!(
                "{}: unknown command; the commands are: {}",
                printable(name),
                names().join(", ")
            ),
            UNKNOWN,
        ),
    }
}

/// The command names, without their arguments.
fn names() -> Vec<&'static str> {
    COMMANDS
        .iter()
        .map(|(name, _)| name.split(' ').next().unwrap_or(name))
        .collect()
}

/// `name` with control characters shown escaped, so a typed escape
/// sequence echoed in an error cannot drive the operator's terminal.
fn printable(name: &str) -> String {
    const LIMIT: usize = 64;
    let mut shown: String = name
        .chars()
        .take(LIMIT)
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    if name.chars().count() > LIMIT {
        shown.push_str("...");
    }
    shown
}

fn help() -> String {
    let width = COMMANDS
        .iter()
        .map(|(name, _)| name.len())
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    for (name, what) in COMMANDS {
        let _ = writeln!(text, "{name:<width$}  {what}");
    }
    text
}

fn connections(snapshot: &Snapshot) -> String {
    let count = snapshot.connections.len();
    let mut text = format!("{count} open connection{}\n", plural(count));
    let rows: Vec<Vec<String>> = snapshot
        .connections
        .iter()
        .map(|c| {
            vec![
                c.peer.clone(),
                c.host.clone(),
                c.transport.clone(),
                c.protocol.clone(),
                bytes(c.bytes_in),
                bytes(c.bytes_out),
                c.buffered.to_string(),
                duration(c.age),
            ]
        })
        .collect();
    if !rows.is_empty() {
        let header = [
            "PEER",
            "LOCAL",
            "TRANSPORT",
            "PROTOCOL",
            "IN",
            "OUT",
            "BUFFERED",
            "AGE",
        ];
        table(&mut text, &header, &rows);
    }
    text
}

fn ports(snapshot: &Snapshot) -> String {
    let count = snapshot.ports.len();
    let mut text = format!("{count} port{}\n", plural(count));
    let rows: Vec<Vec<String>> = snapshot
        .ports
        .iter()
        .map(|p| vec![p.address.clone(), p.kind.clone(), p.accepted.to_string()])
        .collect();
    if !rows.is_empty() {
        table(&mut text, &["ADDRESS", "KIND", "ACCEPTED"], &rows);
    }
    text
}

fn timers(snapshot: &Snapshot) -> String {
    let timers = &snapshot.timers;
    let mut text = format!(
        "{} pending timer{}\n",
        timers.pending,
        plural(timers.pending)
    );
    if !timers.next.is_empty() {
        let next: Vec<String> = timers.next.iter().map(|d| duration(*d)).collect();
        let _ = writeln!(text, "next in: {}", next.join(", "));
    }
    text
}

fn pools(snapshot: &Snapshot) -> String {
    let count = snapshot.thread_pools.len();
    let mut text = format!("{count} thread pool{}\n", plural(count));
    let rows: Vec<Vec<String>> = snapshot
        .thread_pools
        .iter()
        .map(|p| {
            vec![
                p.name.clone(),
                p.workers.to_string(),
                p.busy.to_string(),
                p.queued.to_string(),
                p.completed.to_string(),
                p.max.to_string(),
            ]
        })
        .collect();
    if !rows.is_empty() {
        let header = ["NAME", "WORKERS", "BUSY", "QUEUED", "COMPLETED", "MAX"];
        table(&mut text, &header, &rows);
    }
    if let Some(bridge) = &snapshot.bridge {
        let _ = writeln!(text, "blocking bridge: {} waiting", bridge.waiting);
    }
    text
}

fn status(snapshot: &Snapshot) -> String {
    let mut text = String::new();
    let lines = [
        ("pid", std::process::id() as usize),
        ("connections", snapshot.connections.len()),
        ("ports", snapshot.ports.len()),
        ("timers", snapshot.timers.pending),
        ("tasks", snapshot.tasks),
        ("pending deferreds", snapshot.pending_deferreds),
        ("waiting for threads", snapshot.waiting_for_threads),
        ("queued calls", snapshot.queued_calls),
        ("watches", snapshot.watches),
    ];
    for (name, value) in lines {
        let _ = writeln!(text, "{name:<20}{value}");
    }
    text
}

/// Writes `rows` under `header`, each column as wide as its widest cell.
fn table(text: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut out = String::new();
        for (cell, width) in cells.zip(&widths) {
            let _ = write!(out, "{cell:<width$}  ");
        }
        text.push_str(out.trim_end());
        text.push('\n');
    };
    line(&mut header.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

fn bytes(count: Option<u64>) -> String {
    count.map_or_else(|| "-".to_owned(), |count| count.to_string())
}

/// A duration as an operator reads it: `850ms`, `12.4s`, `3m05s`, `2h07m`.
pub fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1_000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else if ms < 3_600_000 {
        let secs = d.as_secs();
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        let mins = d.as_secs() / 60;
        format!("{}h{:02}m", mins / 60, mins % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use torsion::reactor::introspect::ThreadPoolInfo;

    #[test]
    fn words_name_commands_and_blanks_do_not_matter() {
        assert_eq!(Command::parse("  connections \t"), Command::Connections);
        assert_eq!(Command::parse(""), Command::Empty);
        assert_eq!(Command::parse(" \t "), Command::Empty);
        assert_eq!(Command::parse("exit"), Command::Exit(None));
        assert_eq!(Command::parse("exit 3"), Command::Exit(Some(3)));
        assert!(matches!(Command::parse("exit x"), Command::Usage(_)));
        assert!(matches!(Command::parse("timers now"), Command::Usage(_)));
        assert_eq!(
            Command::parse("rm -rf /"),
            Command::Unknown("rm".to_owned())
        );
    }

    #[test]
    fn an_unknown_command_says_so_on_stderr_with_status_127() {
        let output = run(&Command::parse("frobnicate"), None);
        assert_eq!(output.status, UNKNOWN);
        assert!(output.stdout.is_empty());
        assert!(
            output.stderr.starts_with("frobnicate: unknown command"),
            "{}",
            output.stderr
        );
        assert!(output.stderr.contains("connections"), "{}", output.stderr);
    }

    #[test]
    fn a_typed_escape_sequence_comes_back_escaped() {
        let output = run(&Command::Unknown("\u{1b}[2Jboom".to_owned()), None);
        assert!(!output.stderr.contains('\u{1b}'), "{:?}", output.stderr);
        assert!(
            output.stderr.starts_with("\\u{1b}[2Jboom"),
            "{:?}",
            output.stderr
        );
    }

    #[test]
    fn help_lists_every_command() {
        let output = run(&Command::Help, None);
        assert_eq!(output.status, OK);
        for (name, _) in COMMANDS {
            assert!(output.stdout.contains(name), "{name} in {}", output.stdout);
        }
    }

    #[test]
    fn timers_and_pools_show_the_snapshot_figures() {
        let mut snapshot = Snapshot::default();
        snapshot.timers.pending = 2;
        snapshot.timers.next = vec![Duration::from_millis(812), Duration::from_secs(3600)];
        snapshot
            .thread_pools
            .push(ThreadPoolInfo::new("torsion-pool", 3, 1, 4, 17, 10));
        let timers = run(&Command::Timers, Some(&snapshot)).stdout;
        assert_eq!(timers, "2 pending timers\nnext in: 812ms, 1h00m\n");
        let pools = run(&Command::Pools, Some(&snapshot)).stdout;
        let lines: Vec<&str> = pools.lines().collect();
        assert_eq!(lines[0], "1 thread pool");
        assert!(lines[1].starts_with("NAME"), "{pools}");
        let row: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(row, ["torsion-pool", "3", "1", "4", "17", "10"]);
    }

    #[test]
    fn no_connections_is_one_line() {
        let output = run(&Command::Connections, Some(&Snapshot::default()));
        assert_eq!(output.stdout, "0 open connections\n");
    }

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(duration(Duration::from_millis(5)), "5ms");
        assert_eq!(duration(Duration::from_millis(12_400)), "12.4s");
        assert_eq!(duration(Duration::from_secs(185)), "3m05s");
        assert_eq!(duration(Duration::from_secs(7_620)), "2h07m");
    }
}
