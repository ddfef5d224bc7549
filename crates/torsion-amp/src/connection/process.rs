//! [`AmpProcessProtocol`]: an AMP connection over a child process's
//! stdin and stdout (how ampoule talks to its workers).

use std::fmt;

use torsion::Failure;
use torsion::net::Protocol;
use torsion::process::{ProcessProtocol, ProcessTransport};

use super::AmpProtocol;

/// Runs an [`AmpProtocol`] over a child process: boxes go to the child's
/// stdin and come from its stdout; its stderr is logged line by line (at
/// `info`, target `torsion_amp::child`). When the child has exited and
/// its pipes are closed, the connection is lost with the child's exit
/// reason (`ProcessDone` or `ProcessTerminated`), so the calls waiting
/// fail with it.
///
/// ```no_run
/// use torsion::Reactor;
/// use torsion::process::SpawnOptions;
/// use torsion_amp::{Amp, AmpProcessProtocol, Responders};
///
/// let reactor = Reactor::new()?;
/// let (amp, protocol) = Amp::new(Responders::new());
/// reactor.spawn_process(AmpProcessProtocol::new(protocol), "python3", ["worker.py"], SpawnOptions::new())?;
/// // amp.call_remote::<...>(...) now calls the worker.
/// # drop(amp);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct AmpProcessProtocol {
    protocol: AmpProtocol,
    /// The child's stderr not yet logged (a line at a time).
    stderr: Vec<u8>,
}

impl AmpProcessProtocol {
    /// Runs `protocol` over the child's stdin and stdout.
    pub fn new(protocol: AmpProtocol) -> AmpProcessProtocol {
        AmpProcessProtocol {
            protocol,
            stderr: Vec::new(),
        }
    }

    fn log_stderr(&mut self, all: bool) {
        while let Some(end) = self.stderr.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.stderr.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line[..end]);
            tracing::info!(target: "torsion_amp::child", "{line}");
        }
        if all && !self.stderr.is_empty() {
            let rest = String::from_utf8_lossy(&self.stderr).into_owned();
            tracing::info!(target: "torsion_amp::child", "{rest}");
            self.stderr.clear();
        }
    }
}

impl ProcessProtocol for AmpProcessProtocol {
    fn connection_made(&mut self, transport: &ProcessTransport) {
        if let Some(stdin) = transport.stdin() {
            self.protocol.connection_made(&stdin);
        }
    }

    fn out_received(&mut self, data: &[u8]) {
        self.protocol.data_received(data);
    }

    fn err_received(&mut self, data: &[u8]) {
        self.stderr.extend_from_slice(data);
        self.log_stderr(false);
    }

    fn process_ended(&mut self, reason: Failure) {
        self.log_stderr(true);
        self.protocol.connection_lost(reason);
    }
}

impl fmt::Debug for AmpProcessProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AmpProcessProtocol")
            .field("protocol", &self.protocol)
            .finish()
    }
}
