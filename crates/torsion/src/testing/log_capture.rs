//! Captures what torsion logs through `tracing`, so tests can assert on it.

use std::io;
use std::sync::{Arc, Mutex};

/// Collects formatted log lines written while [`LogCapture::run`] runs.
#[derive(Clone, Default)]
pub(crate) struct LogCapture {
    buffer: Arc<Mutex<Vec<u8>>>,
}

struct CaptureWriter(Arc<Mutex<Vec<u8>>>);

impl io::Write for CaptureWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl LogCapture {
    pub(crate) fn new() -> LogCapture {
        LogCapture::default()
    }

    /// Runs `f` with this capture as the thread's subscriber.
    pub(crate) fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        let buffer = self.buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || CaptureWriter(buffer.clone()))
            .with_ansi(false)
            .with_max_level(tracing::Level::TRACE)
            .finish();
        tracing::subscriber::with_default(subscriber, f)
    }

    /// Everything logged so far.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.buffer.lock().unwrap()).into_owned()
    }

    /// How many lines contain `needle`.
    pub(crate) fn count(&self, needle: &str) -> usize {
        self.text()
            .lines()
            .filter(|line| line.contains(needle))
            .count()
    }
}
