//! AMP, Twisted's Asynchronous Messaging Protocol, on torsion: commands
//! with typed arguments and responses over any torsion transport,
//! wire-compatible with Twisted's `twisted.protocols.amp`.
//!
//! A message is an [`AmpBox`] (byte keys to byte values, 16-bit lengths,
//! an empty key ending it), cut from the stream by [`BoxCodec`] on the
//! core's framing layer. A [`Command`] names a command and its argument,
//! response and error types; arguments and responses are serde structs
//! encoded field by field as Twisted's argument types (see
//! [`arguments`]). An [`Amp`] handle calls the peer
//! ([`call_remote`](Amp::call_remote) returns a [`Deferred`](torsion::Deferred)
//! of the response) while [`Responders`] answer the peer's calls, with a
//! plain function, a Deferred or an async function; both directions run
//! on one connection, with any number of calls in flight.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use torsion::endpoints::{client_from_string, server_from_string};
//! use torsion::{Failure, Reactor};
//! use torsion_amp::{Amp, CommandError, Responders};
//!
//! #[derive(Serialize, Deserialize)]
//! pub struct Fraction { numerator: i64, denominator: i64 }
//! #[derive(Serialize, Deserialize, Debug)]
//! pub struct Quotient { quotient: f64 }
//!
//! torsion_amp::command_errors! {
//!     /// What can go wrong dividing.
//!     pub enum DivideError {
//!         /// The denominator was zero.
//!         ZeroDivision = "ZERO_DIVISION",
//!     }
//! }
//!
//! torsion_amp::command! {
//!     /// Twisted's `class Divide(amp.Command)` with
//!     /// `errors = {ZeroDivisionError: b"ZERO_DIVISION"}`.
//!     pub struct Divide = "Divide" {
//!         arguments: Fraction,
//!         response: Quotient,
//!         errors: DivideError,
//!     }
//! }
//!
//! let reactor = Reactor::new()?;
//! let r = reactor.clone();
//! let done = reactor.spawn(async move {
//!     let responders = Responders::new().respond::<Divide>(|_, f| match f.denominator {
//!         0 => Err(DivideError::ZeroDivision("divided by zero".into())),
//!         d => Ok(Quotient { quotient: f.numerator as f64 / d as f64 }),
//!     });
//!     let port = server_from_string(&r, "tcp:0:interface=127.0.0.1")?
//!         .listen(Amp::factory(responders))
//!         .await?;
//!     let address = format!("tcp:host=127.0.0.1:port={}", port.tcp_address().unwrap().port());
//!     let (amp, protocol) = Amp::new(Responders::new());
//!     client_from_string(&r, &address)?.connect(protocol).await?;
//!
//!     let half = amp.call_remote::<Divide>(Fraction { numerator: 1, denominator: 2 }).await?;
//!     assert_eq!(half.quotient, 0.5);
//!     let failure = amp
//!         .call_remote::<Divide>(Fraction { numerator: 1, denominator: 0 })
//!         .await
//!         .unwrap_err();
//!     assert_eq!(failure.downcast_ref::<DivideError>().unwrap().code(), "ZERO_DIVISION");
//!     r.stop()?;
//!     Ok::<(), Failure>(())
//! });
//! reactor.run()?;
//! # assert!(done.is_fired());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! What happens to a command, as in Twisted: a response is answered; a
//! declared error is answered with its code and the connection stays up
//! (unless the error is fatal); a command without a responder is answered
//! with `UNHANDLED`; any other failure is answered `UNKNOWN`, logged, and
//! closes the connection. A malformed box closes that connection only.
//! When a connection ends, the calls waiting on it fail with
//! [`AmpError::ConnectionLost`]. The book's chapter is `docs/amp.md`.
#![deny(missing_docs, missing_debug_implementations, unsafe_code)]

mod ampbox;
pub mod arguments;
mod codec;
mod command;
mod connection;
mod error;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod pool;

pub use ampbox::{AmpBox, MAX_KEY_LENGTH, MAX_VALUE_LENGTH};
pub use arguments::{DateTime, Decimal, from_box, to_box};
pub use bytes::Bytes;
pub use codec::{BoxCodec, parse_boxes};
pub use command::{Command, CommandError, NoError};
pub use connection::{Amp, AmpProcessProtocol, AmpProtocol, Responders};
pub use error::AmpError;

/// The error code answered for a command the peer has no responder for
/// (Twisted's `UNHANDLED_ERROR_CODE`).
pub const UNHANDLED_ERROR_CODE: &[u8] = b"UNHANDLED";

/// The error code answered for a failure the command does not declare
/// (Twisted's `UNKNOWN_ERROR_CODE`).
pub const UNKNOWN_ERROR_CODE: &[u8] = b"UNKNOWN";

/// docs/amp.md, compiled as doctests.
#[doc = include_str!("../../../docs/amp.md")]
#[cfg(doctest)]
pub struct AmpDoctests;
