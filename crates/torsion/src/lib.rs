//! torsion: an event-driven networking engine in Twisted's model.
#![deny(missing_docs, missing_debug_implementations, unsafe_code)]

pub mod defer;
pub mod error;
mod failure;
pub mod reactor;
mod sync;
pub mod task;
pub mod testing;
pub mod time;

pub use defer::Deferred;
pub use failure::Failure;
pub use reactor::{Reactor, ReactorHandle};
