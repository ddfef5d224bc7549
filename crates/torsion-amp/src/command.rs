//! [`Command`]: what one AMP command is (Twisted's `amp.Command`): its
//! name, its arguments and response as serde types, the errors it
//! declares, and whether it wants an answer.

use std::error::Error;
use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// One AMP command, as a type (the command is never instantiated).
///
/// The arguments and the response are structs with serde's derives; see
/// [`arguments`](crate::arguments) for how each field type is encoded.
/// Implement it by hand or with [`command!`](crate::command).
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use torsion_amp::{Command, NoError};
///
/// #[derive(Serialize, Deserialize)]
/// struct SumArguments { a: i64, b: i64 }
///
/// #[derive(Serialize, Deserialize)]
/// struct Total { total: i64 }
///
/// /// Twisted's `class Sum(amp.Command)`.
/// struct Sum;
///
/// impl Command for Sum {
///     const NAME: &'static str = "Sum";
///     type Arguments = SumArguments;
///     type Response = Total;
///     type Error = NoError;
/// }
/// ```
pub trait Command: 'static {
    /// The command's name on the wire (`_command`); Twisted's default is
    /// the class name.
    const NAME: &'static str;

    /// Whether the caller waits for an answer (Twisted's
    /// `requiresAnswer`). When false, no `_ask` tag is sent, the peer
    /// sends nothing back, and
    /// [`call_remote_no_answer`](crate::Amp::call_remote_no_answer) is
    /// the way to call it.
    const REQUIRES_ANSWER: bool = true;

    /// The arguments, a struct whose fields are the keys sent.
    type Arguments: Serialize + DeserializeOwned + 'static;

    /// The response, a struct whose fields are the keys answered (`()`
    /// for none).
    type Response: Serialize + DeserializeOwned + 'static;

    /// The errors the command declares, each with its code (Twisted's
    /// `errors` and `fatalErrors`); [`NoError`] for none.
    type Error: CommandError;
}

/// A command's declared errors: each value has an error code on the wire
/// and is made again from that code and the description on the other
/// side (Twisted's `errors = {ExcType: b"CODE"}`).
///
/// [`command_errors!`](crate::command_errors) writes the usual enum of
/// them. The description sent is the error's `Display`.
pub trait CommandError: Error + Send + Sync + Sized + 'static {
    /// The code sent for this error.
    fn code(&self) -> &'static str;

    /// The error a received `code` stands for, with the peer's
    /// `description`; `None` when the command does not declare the code.
    fn from_code(code: &[u8], description: &str) -> Option<Self>;

    /// True for a fatal error (Twisted's `fatalErrors`): the connection
    /// is closed once the error has been sent.
    fn is_fatal(&self) -> bool {
        false
    }
}

/// The errors of a command that declares none: it has no values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoError {}

impl fmt::Display for NoError {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {}
    }
}

impl Error for NoError {}

impl CommandError for NoError {
    fn code(&self) -> &'static str {
        match *self {}
    }

    fn from_code(_: &[u8], _: &str) -> Option<NoError> {
        None
    }
}

/// Declares a command: a unit struct implementing [`Command`].
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use torsion_amp::{Command, NoError};
///
/// #[derive(Serialize, Deserialize)]
/// pub struct Line { text: String }
///
/// torsion_amp::command! {
///     /// Logs a line; no answer is wanted.
///     pub struct Log = "Log" {
///         arguments: Line,
///         response: (),
///         errors: NoError,
///         requires_answer: false,
///     }
/// }
///
/// assert_eq!(Log::NAME, "Log");
/// assert!(!Log::REQUIRES_ANSWER);
/// ```
#[macro_export]
macro_rules! command {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident = $wire:literal {
            arguments: $arguments:ty,
            response: $response:ty,
            errors: $errors:ty
            $(, requires_answer: $answer:expr)? $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy)]
        $vis struct $name;

        impl $crate::Command for $name {
            const NAME: &'static str = $wire;
            $(const REQUIRES_ANSWER: bool = $answer;)?
            type Arguments = $arguments;
            type Response = $response;
            type Error = $errors;
        }
    };
}

/// Declares a command's errors: an enum whose variants each hold a
/// description and have a code, implementing [`CommandError`]. A variant
/// marked `fatal` closes the connection once sent.
///
/// ```
/// use torsion_amp::CommandError;
///
/// torsion_amp::command_errors! {
///     /// What dividing can go wrong with.
///     pub enum DivideError {
///         /// Division by zero.
///         ZeroDivision = "ZERO_DIVISION",
///         /// The server gives up on this connection.
///         Overloaded = "OVERLOADED" fatal,
///     }
/// }
///
/// let error = DivideError::ZeroDivision("divided by zero".into());
/// assert_eq!(error.code(), "ZERO_DIVISION");
/// assert_eq!(error.to_string(), "divided by zero");
/// assert!(DivideError::Overloaded(String::new()).is_fatal());
/// assert!(matches!(
///     DivideError::from_code(b"ZERO_DIVISION", "x"),
///     Some(DivideError::ZeroDivision(d)) if d == "x"
/// ));
/// ```
#[macro_export]
macro_rules! command_errors {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident = $code:literal $($fatal:ident)?),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        $vis enum $name {
            $($(#[$variant_meta])* $variant(::std::string::String),)*
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                match self {
                    $($name::$variant(description) => f.write_str(description),)*
                }
            }
        }

        impl ::std::error::Error for $name {}

        impl $crate::CommandError for $name {
            fn code(&self) -> &'static str {
                match self {
                    $($name::$variant(_) => $code,)*
                }
            }

            fn from_code(code: &[u8], description: &str) -> ::std::option::Option<Self> {
                $(if code == $code.as_bytes() {
                    return ::std::option::Option::Some($name::$variant(description.into()));
                })*
                ::std::option::Option::None
            }

            fn is_fatal(&self) -> bool {
                match self {
                    $($name::$variant(_) => $crate::command_errors!(@fatal $($fatal)?),)*
                }
            }
        }
    };
    (@fatal fatal) => { true };
    (@fatal) => { false };
}
