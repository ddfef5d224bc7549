//! IRC on torsion (placeholder docs, completed below).
#![deny(missing_docs, missing_debug_implementations, unsafe_code)]

pub mod client;
mod codec;
pub mod ctcp;
mod error;
mod flood;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
mod message;
mod numeric;
pub mod server;

pub use client::{ClientConfig, ClientHandler, ClientProtocol, IrcClient};
pub use codec::{IrcCodec, MAX_LINE_LENGTH, MAX_TAGS_LENGTH};
pub use error::{IrcError, LinePart};
pub use flood::FloodControl;
pub use message::{Message, Prefix, Tag};
pub use numeric::Numeric;
pub use server::{IrcServer, ServerConfig, ServerProtocol};
