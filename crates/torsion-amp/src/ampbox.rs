//! [`AmpBox`]: one AMP message, a map from byte keys to byte values, and
//! its serialized form.
//!
//! ```text
//!  key length   key        value length  value       ...  terminator
//!  00 04        "_ask"     00 01         "1"         ...  00 00
//!  (16-bit big-endian lengths; keys sorted; a zero-length key ends the box)
//! ```

use std::collections::BTreeMap;
use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use crate::AmpError;

/// The longest key, in bytes (Twisted's `MAX_KEY_LENGTH`).
pub const MAX_KEY_LENGTH: usize = 0xff;

/// The longest value, in bytes (Twisted's `MAX_VALUE_LENGTH`): what a
/// 16-bit length can say.
pub const MAX_VALUE_LENGTH: usize = 0xffff;

/// One AMP box: byte keys to byte values (Twisted's `AmpBox`). Kept
/// sorted by key, which is the order Twisted serializes in, so a box
/// serializes to the same bytes in both.
///
/// ```
/// use torsion_amp::AmpBox;
///
/// let mut amp_box = AmpBox::new();
/// amp_box.insert("_command", "Sum");
/// amp_box.insert("a", "13");
/// assert_eq!(
///     amp_box.serialize()?,
///     b"\x00\x08_command\x00\x03Sum\x00\x01a\x00\x0213\x00\x00"
/// );
/// # Ok::<(), torsion_amp::AmpError>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct AmpBox {
    entries: BTreeMap<Bytes, Bytes>,
}

impl AmpBox {
    /// An empty box.
    pub fn new() -> AmpBox {
        AmpBox::default()
    }

    /// Sets `key` to `value`, returning the value it replaces.
    pub fn insert(&mut self, key: impl Into<Bytes>, value: impl Into<Bytes>) -> Option<Bytes> {
        self.entries.insert(key.into(), value.into())
    }

    /// The value of `key`.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Option<&Bytes> {
        self.entries.get(key.as_ref())
    }

    /// Takes `key` out, returning its value.
    pub fn remove(&mut self, key: impl AsRef<[u8]>) -> Option<Bytes> {
        self.entries.remove(key.as_ref())
    }

    /// Whether `key` is set.
    pub fn contains_key(&self, key: impl AsRef<[u8]>) -> bool {
        self.entries.contains_key(key.as_ref())
    }

    /// How many keys are set.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no key is set.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The keys and values, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, &Bytes)> {
        self.entries.iter()
    }

    /// The box on the wire, terminator included.
    ///
    /// # Errors
    ///
    /// [`AmpError::TooLong`] for a key over [`MAX_KEY_LENGTH`] or a value
    /// over [`MAX_VALUE_LENGTH`], [`AmpError::EmptyKey`] for an empty key.
    pub fn serialize(&self) -> Result<Vec<u8>, AmpError> {
        let mut out = BytesMut::new();
        self.encode_into(&mut out)?;
        Ok(out.to_vec())
    }

    /// Appends the box on the wire to `dst`; on an error nothing is
    /// appended.
    ///
    /// # Errors
    ///
    /// As [`serialize`](Self::serialize).
    pub fn encode_into(&self, dst: &mut BytesMut) -> Result<(), AmpError> {
        let mut size = 2;
        for (key, value) in &self.entries {
            check_key(key)?;
            if value.len() > MAX_VALUE_LENGTH {
                return Err(AmpError::TooLong {
                    is_key: false,
                    key: shown(key),
                    length: value.len(),
                });
            }
            size += 4 + key.len() + value.len();
        }
        dst.reserve(size);
        for (key, value) in &self.entries {
            // Both fit in 16 bits: checked above.
            dst.put_u16(key.len() as u16);
            dst.put_slice(key);
            dst.put_u16(value.len() as u16);
            dst.put_slice(value);
        }
        dst.put_u16(0);
        Ok(())
    }
}

fn check_key(key: &[u8]) -> Result<(), AmpError> {
    if key.is_empty() {
        return Err(AmpError::EmptyKey);
    }
    if key.len() > MAX_KEY_LENGTH {
        return Err(AmpError::TooLong {
            is_key: true,
            key: shown(&key[..32]),
            length: key.len(),
        });
    }
    Ok(())
}

/// A key as text for an error message.
fn shown(key: &[u8]) -> String {
    format!("{:?}", Bytes::copy_from_slice(key))
}

impl<K: Into<Bytes>, V: Into<Bytes>> FromIterator<(K, V)> for AmpBox {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> AmpBox {
        AmpBox {
            entries: iter
                .into_iter()
                .map(|(key, value)| (key.into(), value.into()))
                .collect(),
        }
    }
}

impl fmt::Debug for AmpBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AmpBox")?;
        f.debug_map().entries(self.entries.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_serialized_sorted_with_a_terminator() {
        let amp_box: AmpBox = [("b", "2"), ("a", "1")].into_iter().collect();
        assert_eq!(
            amp_box.serialize().unwrap(),
            b"\x00\x01a\x00\x011\x00\x01b\x00\x012\x00\x00"
        );
    }

    #[test]
    fn an_empty_box_is_only_the_terminator() {
        assert_eq!(AmpBox::new().serialize().unwrap(), b"\x00\x00");
    }

    #[test]
    fn a_value_of_65535_bytes_is_sent_and_one_more_is_too_long() {
        let mut amp_box = AmpBox::new();
        amp_box.insert("v", vec![b'x'; MAX_VALUE_LENGTH]);
        assert_eq!(amp_box.serialize().unwrap().len(), 2 + 1 + 2 + 65535 + 2);
        amp_box.insert("v", vec![b'x'; MAX_VALUE_LENGTH + 1]);
        let error = amp_box.serialize().unwrap_err();
        assert!(
            matches!(
                error,
                AmpError::TooLong {
                    is_key: false,
                    length: 65536,
                    ..
                }
            ),
            "{error:?}"
        );
    }

    #[test]
    fn a_key_of_256_bytes_is_too_long_and_nothing_is_written() {
        let mut amp_box = AmpBox::new();
        amp_box.insert("a", "1");
        amp_box.insert(vec![b'k'; 256], "v");
        let mut out = BytesMut::new();
        let error = amp_box.encode_into(&mut out).unwrap_err();
        assert!(
            matches!(error, AmpError::TooLong { is_key: true, .. }),
            "{error:?}"
        );
        assert!(out.is_empty());
    }

    #[test]
    fn an_empty_key_cannot_be_sent() {
        let mut amp_box = AmpBox::new();
        amp_box.insert("", "v");
        assert!(matches!(amp_box.serialize(), Err(AmpError::EmptyKey)));
    }
}
