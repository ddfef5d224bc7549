//! The tokio runtime russh runs on, beside the reactor (see the crate's
//! documentation for why beside rather than hosting the reactor): one
//! worker thread, `torsion-ssh`, made on first use and shared by every
//! server and client of the process, unless the program hands over a
//! runtime of its own.
//!
//! It lives as long as the process. A runtime is never dropped here: a
//! tokio runtime dropped inside another runtime's context panics, and a
//! reactor hosted by tokio (`torsion_tokio::block_on_reactor`) is such a
//! context.

use std::io;
use std::sync::{Mutex, OnceLock};

use tokio::runtime::{Builder, Handle, Runtime};

static RUNTIME: OnceLock<Runtime> = OnceLock::new();
static BUILDING: Mutex<()> = Mutex::new(());

/// The handle of the shared runtime, made now if it was not yet.
pub(crate) fn shared() -> io::Result<Handle> {
    if let Some(runtime) = RUNTIME.get() {
        return Ok(runtime.handle().clone());
    }
    // One builder at a time, so that no runtime is built twice (and the
    // loser dropped, see above).
    let _building = BUILDING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(runtime) = RUNTIME.get() {
        return Ok(runtime.handle().clone());
    }
    let runtime = Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("torsion-ssh")
        .enable_all()
        .build()?;
    Ok(RUNTIME.get_or_init(|| runtime).handle().clone())
}

/// `handle` if the program gave one, else the shared runtime's.
pub(crate) fn handle_or_shared(handle: Option<&Handle>) -> io::Result<Handle> {
    match handle {
        Some(handle) => Ok(handle.clone()),
        None => shared(),
    }
}
