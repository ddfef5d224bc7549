//! A maildir (Twisted's `twisted.mail.maildir`): every message in a file
//! of its own, written under `tmp/` and renamed into `new/`, so a reader
//! never sees half a message and no lock is needed.
//!
//! [`Maildir`] is a [`Delivery`]: a server built on it stores every
//! accepted message, byte for byte as the client sent it (no header is
//! added). The files are written on the reactor's thread pool, so a slow
//! disk does not hold up other sessions, and the 250 goes out only once
//! the file is in `new/`.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use torsion::{Deferred, Failure, Reactor};

use crate::delivery::{Delivery, Message};

/// A maildir on disk.
///
/// ```
/// use torsion_smtp::Maildir;
///
/// let directory = tempfile::tempdir()?;
/// let maildir = Maildir::open(directory.path().join("inbox"))?;
/// let stored = maildir.store(b"Subject: hi\r\n\r\nhello\r\n")?;
/// assert_eq!(std::fs::read(&stored)?, b"Subject: hi\r\n\r\nhello\r\n");
/// assert_eq!(maildir.new_messages()?, vec![stored]);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Maildir {
    root: PathBuf,
}

/// Makes file names unique within this process.
static DELIVERIES: AtomicU64 = AtomicU64::new(0);

impl Maildir {
    /// Opens the maildir at `root`, creating it and its `tmp`, `new` and
    /// `cur` folders if needed.
    pub fn open(root: impl Into<PathBuf>) -> io::Result<Maildir> {
        let root = root.into();
        for folder in ["tmp", "new", "cur"] {
            fs::create_dir_all(root.join(folder))?;
        }
        Ok(Maildir { root })
    }

    /// The maildir's folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Writes `message` to a new file, synced to disk, then moves it into
    /// `new/`; returns its path there. Blocking: call it off the reactor
    /// thread (the [`Delivery`] does).
    pub fn store(&self, message: &[u8]) -> io::Result<PathBuf> {
        let name = unique_name();
        let temporary = self.root.join("tmp").join(&name);
        let mut file = fs::File::create_new(&temporary)?;
        let written = file.write_all(message).and_then(|()| file.sync_all());
        if let Err(error) = written {
            let _ = fs::remove_file(&temporary);
            return Err(error);
        }
        let delivered = self.root.join("new").join(&name);
        fs::rename(&temporary, &delivered)?;
        Ok(delivered)
    }

    /// The files in `new/`, sorted by name (the order of delivery within
    /// one second).
    pub fn new_messages(&self) -> io::Result<Vec<PathBuf>> {
        let mut paths = fs::read_dir(self.root.join("new"))?
            .map(|entry| entry.map(|entry| entry.path()))
            .collect::<io::Result<Vec<_>>>()?;
        paths.sort();
        Ok(paths)
    }
}

/// `seconds.Mmicros_Pprocess_Qcount.host`, after the maildir convention.
fn unique_name() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let count = DELIVERIES.fetch_add(1, Ordering::Relaxed);
    let host = fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().replace(['/', ':'], "_"))
        .unwrap_or_else(|_| "localhost".to_owned());
    format!(
        "{}.M{}P{}Q{count}.{host}",
        now.as_secs(),
        now.subsec_micros(),
        std::process::id()
    )
}

impl Delivery for Maildir {
    /// Stores the message on the reactor's thread pool.
    fn deliver(&self, message: Message) -> Deferred<()> {
        let Some(reactor) = Reactor::current() else {
            return Deferred::fail(Failure::msg("no reactor runs on this thread"));
        };
        let maildir = self.clone();
        let data = message.data;
        reactor.defer_to_thread_result(move || maildir.store(&data).map(drop))
    }
}
