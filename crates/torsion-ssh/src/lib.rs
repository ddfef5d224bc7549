//! An SSH door into a running torsion process, in the manner of Twisted's
//! manhole over conch, and an SSH client whose results are Deferreds.
//!
//! - **The server** ([`SshServer`]) lets the holders of the keys in an
//!   `authorized_keys` file log in with any SSH client and look at the
//!   reactor's live figures ([`Reactor::snapshot`](torsion::Reactor::snapshot),
//!   the same ones as torsion-web's live view): `ssh -p 2222 operator@127.0.0.1
//!   connections` runs one command and exits with its status; `ssh -p 2222
//!   operator@127.0.0.1` opens a shell with a prompt. Its host key is
//!   loaded from a file, or generated and written there on first start.
//! - **The client** ([`SshClient`], [`run_command`]) connects with a key,
//!   checks the server's host key against the one it was given, runs one
//!   command and fires a [`Deferred`](torsion::Deferred) with its
//!   standard output, standard error and exit status.
//!
//! Commands: `help`, `connections`, `ports`, `timers`, `pools`, `status`,
//! `exit [N]`. An unknown command prints a message naming the known ones
//! on standard error and exits with status 127.
//!
//! SSH runs on [russh](https://docs.rs/russh), which runs on tokio. Both
//! the server and the client run on a tokio runtime **beside** the
//! reactor (one worker thread, `torsion-ssh`, started on first use), and
//! cross to the reactor through `torsion-tokio`: a command that shows
//! figures asks for a snapshot with a `TorsionHandle` (taken on the
//! reactor's thread, where its `!Send` tables are, and handed back as
//! plain data), and the client's result comes back as a Deferred through
//! `from_future_on`. So the door can be added to any torsion program
//! however it runs its reactor, and key exchanges, signatures and a
//! misbehaving client cost the reactor's thread nothing.
//!
//! ```no_run
//! use torsion::Reactor;
//! use torsion_ssh::{AuthorizedKeys, HostKey, ServerConfig, SshServer};
//!
//! let reactor = Reactor::new()?;
//! // ... the program's own servers and timers ...
//! let config = ServerConfig::new(
//!     HostKey::load_or_generate("ssh_host_ed25519_key")?,
//!     AuthorizedKeys::file("authorized_keys"),
//! );
//! let door = SshServer::listen(&reactor, "tcp:2222:interface=127.0.0.1", config)?;
//! println!("ssh -p {} operator@127.0.0.1 connections", door.address().port());
//! reactor.run()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The whole round trip in one program: a door on a free port, and
//! torsion's client logging in to it with a key the door authorizes,
//! pinning the door's host key, and getting a command's output as a
//! Deferred.
//!
//! ```
//! use std::cell::RefCell;
//! use std::rc::Rc;
//! use torsion::Reactor;
//! use torsion_ssh::{AuthorizedKeys, HostKey, ServerConfig, SshClient, SshServer};
//!
//! let dir = tempfile::tempdir()?;
//! let operator = torsion_ssh::generate_private_key()?;
//! let authorized = dir.path().join("authorized_keys");
//! std::fs::write(&authorized, operator.public_key().to_openssh()?)?;
//!
//! let reactor = Reactor::new()?;
//! let config = ServerConfig::new(HostKey::generate()?, AuthorizedKeys::file(authorized));
//! let door = SshServer::listen(&reactor, "tcp:0:interface=127.0.0.1", config)?;
//! let _call = reactor.call_later(std::time::Duration::from_secs(60), || {});
//!
//! let client = SshClient::new(
//!     "127.0.0.1",
//!     door.address().port(),
//!     "operator",
//!     operator,
//!     door.host_key().public_key().clone(),
//! );
//! let seen = Rc::new(RefCell::new(None));
//! let (s, r) = (seen.clone(), reactor.clone());
//! drop(client.run("timers").both(move |output| {
//!     *s.borrow_mut() = Some(output);
//!     r.stop()
//! }));
//! reactor.run()?;
//! let output = seen.take().unwrap().map_err(|failure| failure.to_string())?;
//! assert_eq!(output.exit_status, Some(0));
//! assert!(output.stdout_text().starts_with("1 pending timer\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The chapter `docs/ssh.md` says more: the shell's keys, exit statuses,
//! how the client checks host keys, and the example to try.
#![deny(missing_docs, missing_debug_implementations, unsafe_code)]

mod client;
pub mod commands;
mod error;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
mod keys;
mod line_editor;
mod runtime;
mod server;
mod session;

pub use client::{CommandOutput, SshClient, run_command};
pub use error::{ClientError, KeyError, ServerError};
pub use keys::{
    AuthorizedKeys, HostKey, fingerprint, generate_private_key, load_private_key, load_public_key,
    parse_authorized_keys, parse_public_key,
};
pub use server::{ServerConfig, SshServer};

/// The key types of russh's, as this crate's API takes them.
pub use russh::keys::{PrivateKey, PublicKey};

/// docs/ssh.md, compiled as doctests.
#[doc = include_str!("../../../docs/ssh.md")]
#[cfg(doctest)]
pub struct SshDoctests;
