//! [`Signal`]: the signals a child process is sent, or was killed by.

use std::fmt;
use std::str::FromStr;

/// A POSIX signal, by number. The common ones have names
/// ([`Signal::TERM`], [`Signal::KILL`], ...); any other number is
/// [`Signal::from_raw`]. Parsing takes Twisted's spelling (`"TERM"`) as
/// well as `"SIGTERM"` and a plain number.
///
/// ```
/// use torsion::process::Signal;
///
/// assert_eq!("TERM".parse::<Signal>().unwrap(), Signal::TERM);
/// assert_eq!("SIGKILL".parse::<Signal>().unwrap(), Signal::KILL);
/// assert_eq!(Signal::INT.to_string(), "SIGINT");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signal(i32);

/// The names [`Signal`] knows, with their numbers.
const NAMES: [(&str, i32); 14] = [
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ABRT", libc::SIGABRT),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
];

impl Signal {
    /// Hang-up: a daemon's "reload your configuration".
    pub const HUP: Signal = Signal(libc::SIGHUP);
    /// Interrupt, what Ctrl-C sends.
    pub const INT: Signal = Signal(libc::SIGINT);
    /// Quit, with a core dump.
    pub const QUIT: Signal = Signal(libc::SIGQUIT);
    /// Kill: cannot be caught or ignored.
    pub const KILL: Signal = Signal(libc::SIGKILL);
    /// User-defined signal 1.
    pub const USR1: Signal = Signal(libc::SIGUSR1);
    /// User-defined signal 2.
    pub const USR2: Signal = Signal(libc::SIGUSR2);
    /// Terminate, politely: what `kill` sends by default.
    pub const TERM: Signal = Signal(libc::SIGTERM);
    /// Continue a stopped process.
    pub const CONT: Signal = Signal(libc::SIGCONT);
    /// Stop (pause) a process: cannot be caught.
    pub const STOP: Signal = Signal(libc::SIGSTOP);

    /// The signal with this number.
    pub const fn from_raw(number: i32) -> Signal {
        Signal(number)
    }

    /// The signal's number.
    pub const fn as_raw(self) -> i32 {
        self.0
    }

    /// The signal's short name (`"TERM"`), if it is one of the common ones.
    pub fn name(self) -> Option<&'static str> {
        NAMES
            .iter()
            .find(|(_, number)| *number == self.0)
            .map(|(name, _)| *name)
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "SIG{name}"),
            None => write!(f, "signal {}", self.0),
        }
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signal({self})")
    }
}

/// A signal name or number that [`Signal`] does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown signal {0:?}")]
pub struct UnknownSignal(pub String);

impl FromStr for Signal {
    type Err = UnknownSignal;

    fn from_str(text: &str) -> Result<Signal, UnknownSignal> {
        if let Ok(number) = text.parse::<i32>() {
            return if number > 0 {
                Ok(Signal(number))
            } else {
                Err(UnknownSignal(text.to_owned()))
            };
        }
        let upper = text.to_ascii_uppercase();
        let short = upper.strip_prefix("SIG").unwrap_or(&upper);
        NAMES
            .iter()
            .find(|(name, _)| *name == short)
            .map(|(_, number)| Signal(*number))
            .ok_or_else(|| UnknownSignal(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_numbers_and_twisted_spellings_parse_to_the_same_signal() {
        assert_eq!("HUP".parse::<Signal>().unwrap(), Signal::HUP);
        assert_eq!("sigint".parse::<Signal>().unwrap(), Signal::INT);
        assert_eq!("9".parse::<Signal>().unwrap(), Signal::KILL);
        assert!("NOPE".parse::<Signal>().is_err());
        assert!("0".parse::<Signal>().is_err());
        assert_eq!(Signal::from_raw(libc::SIGTERM).name(), Some("TERM"));
        assert_eq!(Signal::from_raw(40).to_string(), "signal 40");
    }
}
