//! Floats as Twisted writes them: Python's `repr` (`str` is the same for
//! floats), the shortest text that reads back as the same number.
//!
//! Python writes plain digits for exponents from -4 to 15 (`0.0001`,
//! `1000000000000000.0`, always with a fraction) and scientific notation
//! outside them, with a sign and at least two exponent digits (`1e-05`,
//! `1.5e+16`); `nan`, `inf` and `-inf` for the rest. Rust's `{:e}` gives
//! the same shortest digits, which are placed here the way Python does.

/// `value` as Python's `repr(float)` writes it.
pub(crate) fn python_repr(value: f64) -> String {
    if value.is_nan() {
        return "nan".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.into();
    }
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("`{:e}` always writes an exponent");
    let exponent: i32 = exponent.parse().expect("`{:e}` writes a decimal exponent");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if (-4..16).contains(&exponent) {
        let point = exponent + 1;
        let text = if point <= 0 {
            format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
        } else {
            let point = point as usize;
            if digits.len() <= point {
                format!("{digits}{}.0", "0".repeat(point - digits.len()))
            } else {
                format!("{}.{}", &digits[..point], &digits[point..])
            }
        };
        format!("{sign}{text}")
    } else {
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        let mantissa = if digits.len() > 1 {
            format!("{}.{}", &digits[..1], &digits[1..])
        } else {
            digits
        };
        format!(
            "{sign}{mantissa}e{exponent_sign}{:02}",
            exponent.unsigned_abs()
        )
    }
}

/// Reads a float as Python's `float()` reads one from bytes: surrounding
/// whitespace allowed, `nan`, `inf` and `infinity` in any case.
pub(crate) fn parse_python_float(text: &str) -> Option<f64> {
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_written_as_python_writes_them() {
        // Each pair checked against CPython 3's repr().
        let cases = [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (-2.5, "-2.5"),
            (0.1, "0.1"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (123.456, "123.456"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.2345678901234568e17, "1.2345678901234568e+17"),
            (1e100, "1e+100"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (1.0 / 3.0, "0.3333333333333333"),
            (f64::NAN, "nan"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (value, text) in cases {
            assert_eq!(python_repr(value), text, "{value:?}");
        }
    }

    #[test]
    fn python_float_text_reads_back() {
        assert_eq!(parse_python_float("1e-05"), Some(1e-5));
        assert_eq!(parse_python_float(" -inf "), Some(f64::NEG_INFINITY));
        assert_eq!(parse_python_float("Infinity"), Some(f64::INFINITY));
        assert!(parse_python_float("nan").unwrap().is_nan());
        assert_eq!(parse_python_float("1,5"), None);
    }
}
