//! [`Decimal`]: Twisted's `amp.Decimal`, a decimal number kept as its
//! text, so that no digit or trailing zero is lost on the way.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::AmpError;

/// A decimal number in the text form of the General Decimal Arithmetic
/// specification, which Python's `decimal.Decimal` reads and writes and
/// Twisted sends: `1.50`, `-7`, `1E+2`, `Infinity`, `-Infinity`, `NaN`,
/// `sNaN`. The text is checked, not computed with: two decimals are
/// equal when their text is (`1.0` and `1.00` differ, as their precision
/// does). Use a decimal arithmetic crate on [`as_str`](Self::as_str) to
/// compute.
///
/// ```
/// use torsion_amp::Decimal;
///
/// let price: Decimal = "19.90".parse()?;
/// assert_eq!(price.as_str(), "19.90");
/// assert!("-Infinity".parse::<Decimal>().is_ok());
/// assert!("1.2.3".parse::<Decimal>().is_err());
/// assert_eq!(Decimal::from(42).as_str(), "42");
/// # Ok::<(), torsion_amp::AmpError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Decimal(String);

impl Decimal {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True for `NaN`, `sNaN`, `Infinity` and their negatives.
    pub fn is_special(&self) -> bool {
        self.0
            .trim_start_matches(['+', '-'])
            .starts_with(|c: char| c.is_ascii_alphabetic())
    }
}

/// Whether `text` is a numeric string of the specification (its
/// keywords in any case, as Python reads them).
fn is_numeric_string(text: &str) -> bool {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let lower = unsigned.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" {
        return true;
    }
    for nan in ["snan", "nan"] {
        if let Some(payload) = lower.strip_prefix(nan) {
            return payload.bytes().all(|b| b.is_ascii_digit());
        }
    }
    let (mantissa, exponent) = match lower.split_once('e') {
        Some((mantissa, exponent)) => (mantissa, Some(exponent)),
        None => (lower.as_str(), None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((whole, fraction)) => {
            (digits(whole) && (fraction.is_empty() || digits(fraction)))
                || (whole.is_empty() && digits(fraction))
        }
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

impl FromStr for Decimal {
    type Err = AmpError;

    /// Checks `text` (surrounding whitespace removed, as Python does).
    fn from_str(text: &str) -> Result<Decimal, AmpError> {
        let trimmed = text.trim();
        if is_numeric_string(trimmed) {
            Ok(Decimal(trimmed.to_owned()))
        } else {
            Err(AmpError::BadArgument {
                key: String::new(),
                reason: format!("{text:?} is not a decimal number"),
            })
        }
    }
}

macro_rules! from_integer {
    ($($integer:ty),*) => {
        $(impl From<$integer> for Decimal {
            fn from(value: $integer) -> Decimal {
                Decimal(value.to_string())
            }
        })*
    };
}

from_integer!(i8, i16, i32, i64, i128, u8, u16, u32, u64, u128);

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Decimal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Decimal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specifications_forms_are_accepted() {
        for text in [
            "0",
            "-1",
            "1.0",
            "1.",
            ".5",
            "1E+2",
            "1e-1",
            "1.5E+2",
            "+7",
            "Infinity",
            "-Infinity",
            "Inf",
            "NaN",
            "-NaN",
            "sNaN",
            "-sNaN",
            "NaN123",
            "0E-1000",
        ] {
            assert!(text.parse::<Decimal>().is_ok(), "{text}");
        }
    }

    #[test]
    fn other_text_is_refused() {
        for text in [
            "", ".", "1.2.3", "E5", "1E", "1e+", "0x10", "1,5", "NaNx", "--1", "Infinit",
        ] {
            assert!(text.parse::<Decimal>().is_err(), "{text}");
        }
    }

    #[test]
    fn specials_are_told_apart() {
        assert!("-Infinity".parse::<Decimal>().unwrap().is_special());
        assert!(!"-1E+2".parse::<Decimal>().unwrap().is_special());
    }
}
