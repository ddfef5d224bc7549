//! A job handed to a thread runs inside the span of the code that queued
//! it, so what it logs on the worker is attributed to the request that
//! caused it. Its own binary: the worker logs through the process-wide
//! subscriber, which only one test may install.

use std::io;
use std::sync::{Arc, Mutex};

use torsion::Reactor;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_thread_job_logs_inside_the_span_that_queued_it() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .init();

    let reactor = Reactor::new().unwrap();
    let r = reactor.clone();
    let queued = tracing::info_span!("request", id = 42).in_scope(|| {
        reactor
            .defer_to_thread(|| tracing::info!(worker = ?std::thread::current().name(), "hashing"))
    });
    let done = queued.map(move |()| r.stop().unwrap());
    reactor.run().unwrap();
    drop(done);

    let text = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    let line = text
        .lines()
        .find(|line| line.contains("hashing"))
        .unwrap_or_else(|| panic!("the worker's event was not logged: {text}"));
    assert!(
        line.contains("request{id=42}") && line.contains("torsion-pool"),
        "the worker's event is outside the queuing span: {line}"
    );
}
