//! Arguments and responses: Rust structs into boxes and back, through
//! serde, with each field encoded as Twisted's argument types encode it.
//!
//! | Rust field type | Twisted argument | on the wire |
//! |---|---|---|
//! | `i8` … `i128`, `u8` … `u128` | `Integer` | decimal ASCII |
//! | `String`, `&str`, `char` | `Unicode` | UTF-8 |
//! | [`bytes::Bytes`] (or `serde_bytes`) | `String` | the bytes themselves |
//! | `f64`, `f32` | `Float` | Python's `repr`: `1.5`, `1e-05`, `nan`, `inf`, `-inf` |
//! | `bool` | `Boolean` | `True` / `False` |
//! | [`DateTime`] | `DateTime` | `2012-01-23T12:34:56.054321-05:00` |
//! | [`Decimal`] | `Decimal` | `1.50`, `-Infinity`, `NaN` |
//! | `Vec<T>` of the above | `ListOf(T)` | each element after its 16-bit length |
//! | `Vec<S>` of a struct | `AmpList` | each element as a box, one after another |
//! | `Option<T>` | `optional=True` | the key is left out for `None` |
//! | an enum of unit variants | `Unicode` | the variant's name |
//!
//! A field's name is its key (`#[serde(rename = "...")]` for a key that
//! is not a Rust identifier). `Vec<u8>` is a list of integers, as serde
//! sees it; raw bytes are [`bytes::Bytes`]. A missing key that is not an
//! `Option` is [`AmpError::MissingArgument`](crate::AmpError::MissingArgument);
//! a value that does not read as its type is
//! [`AmpError::BadArgument`](crate::AmpError::BadArgument), naming the key.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use torsion_amp::{from_box, to_box};
//!
//! #[derive(Serialize, Deserialize, Debug, PartialEq)]
//! struct Order {
//!     item: String,
//!     count: u32,
//!     express: Option<bool>,
//!     tags: Vec<String>,
//! }
//!
//! let order = Order { item: "tea".into(), count: 3, express: None, tags: vec!["green".into()] };
//! let amp_box = to_box(&order)?;
//! assert_eq!(amp_box.get("count").unwrap(), "3");
//! assert!(!amp_box.contains_key("express"));
//! assert_eq!(amp_box.get("tags").unwrap(), &b"\x00\x05green"[..]);
//! assert_eq!(from_box::<Order>(&amp_box)?, order);
//! # Ok::<(), torsion_amp::AmpError>(())
//! ```

mod datetime;
mod de;
mod decimal;
mod float;
mod ser;

pub use datetime::DateTime;
pub use de::from_box;
pub use decimal::Decimal;
pub use ser::to_box;

#[cfg(test)]
mod tests;
