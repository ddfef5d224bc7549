//! Boxes into Rust values: each key read as the type of the field it
//! names, as Twisted's argument types read theirs.

use bytes::{Buf, Bytes};
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};

use super::float::parse_python_float;
use crate::{AmpBox, AmpError, MAX_KEY_LENGTH};

/// The keys the protocol itself uses, which are not arguments.
const PROTOCOL_KEYS: [&[u8]; 6] = [
    b"_command",
    b"_ask",
    b"_answer",
    b"_error",
    b"_error_code",
    b"_error_description",
];

/// Reads a `T` from `amp_box`'s keys (a struct's fields, or a map);
/// keys the type does not name are ignored, as Twisted ignores them.
pub fn from_box<T: DeserializeOwned>(amp_box: &AmpBox) -> Result<T, AmpError> {
    T::deserialize(BoxDeserializer { amp_box })
}

fn bad(reason: impl Into<String>) -> AmpError {
    AmpError::BadArgument {
        key: String::new(),
        reason: reason.into(),
    }
}

struct BoxDeserializer<'a> {
    amp_box: &'a AmpBox,
}

impl<'de> de::Deserializer<'de> for BoxDeserializer<'_> {
    type Error = AmpError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, AmpError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, AmpError> {
        visitor.visit_map(Fields {
            entries: Box::new(
                self.amp_box
                    .iter()
                    .filter(|(key, _)| !PROTOCOL_KEYS.contains(&key.as_ref())),
            ),
            value: None,
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, AmpError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, AmpError> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, AmpError> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, AmpError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, AmpError> {
        visitor.visit_some(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf seq tuple tuple_struct enum identifier ignored_any
    }
}

type Entries<'a> = Box<dyn Iterator<Item = (&'a Bytes, &'a Bytes)> + 'a>;

/// A box's keys and values, for a struct's fields.
struct Fields<'a> {
    entries: Entries<'a>,
    value: Option<(&'a Bytes, &'a Bytes)>,
}

impl<'de> de::MapAccess<'de> for Fields<'_> {
    type Error = AmpError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, AmpError> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some((key, value));
        let key = match std::str::from_utf8(key) {
            Ok(text) => seed.deserialize(text.into_deserializer()),
            Err(_) => seed.deserialize(de::value::BytesDeserializer::<AmpError>::new(key)),
        };
        key.map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, AmpError> {
        let (key, value) = self
            .value
            .take()
            .expect("serde asks for a value after its key");
        seed.deserialize(ValueDeserializer { value })
            .map_err(|error| error.for_key(key))
    }
}

/// One value, read as the type asked for.
struct ValueDeserializer<'a> {
    value: &'a Bytes,
}

impl ValueDeserializer<'_> {
    fn text(&self) -> Result<&str, AmpError> {
        std::str::from_utf8(self.value).map_err(|_| bad("not UTF-8 text"))
    }

    /// Integer: decimal ASCII, as Python's `int()` reads it (surrounding
    /// whitespace and a `+` allowed).
    fn integer<T: std::str::FromStr>(&self) -> Result<T, AmpError> {
        let text = self.text()?;
        text.trim()
            .parse()
            .map_err(|_| bad(format!("{text:?} is not an integer of this size")))
    }
}

macro_rules! integers {
    ($($method:ident => $visit:ident),* $(,)?) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, AmpError> {
            visitor.$visit(self.integer()?)
        })*
    };
}

impl<'de> de::Deserializer<'de> for ValueDeserializer<'_> {
    type Error = AmpError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, AmpError> {
        visitor.visit_bytes(self.value)
    }

    integers!(
        deserialize_i8 => visit_i8, deserialize_i16 => visit_i16,
        deserialize_i32 => visit_i32, deserialize_i64 => visit_i64,
        deserialize_i128 => visit_i128, deserialize_u8 => visit_u8,
        deserialize_u16 => visit_u16, deserialize_u32 => visit_u32,
        deserialize_u64 => visit_u64, deserialize_u128 => visit_u128,
    );

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, AmpError> {
        match &self.value[..] {
            b"True" => visitor.visit_bool(true),
            b"False" => visitor.visit_bool(false),
            other => Err(bad(format!(
                "{:?} is not a boolean (True or False)",
                Bytes::copy_from_slice(other)
            ))),
        }
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, AmpError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, AmpError> {
        let text = self.text()?;
        match parse_python_float(text) {
            Some(value) => visitor.visit_f64(value),
            None => Err(bad(format!("{text:?} is not a float"))),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, AmpError> {
        visitor.visit_str(self.text()?)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, AmpError> {
        visitor.visit_str(self.text()?)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, AmpError> {
        visitor.visit_str(self.text()?)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, AmpError> {
        visitor.visit_bytes(self.value)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, AmpError> {
        visitor.visit_byte_buf(self.value.to_vec())
    }

    /// A value that is present is `Some`: absence is `None`.
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, AmpError> {
        visitor.visit_some(self)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, AmpError> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, AmpError> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, AmpError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, AmpError> {
        let mut list = List {
            rest: self.value.clone(),
        };
        let value = visitor.visit_seq(&mut list)?;
        if list.rest.is_empty() {
            Ok(value)
        } else {
            Err(bad("more list elements than the type holds"))
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, AmpError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, AmpError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, _: V) -> Result<V::Value, AmpError> {
        Err(bad("a single value cannot be read as a map"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, AmpError> {
        Err(bad(
            "a single value cannot be read as a struct (a list of structs is an AmpList)",
        ))
    }

    /// An enum of unit variants, by the variant's name.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, AmpError> {
        visitor.visit_enum(self.text()?.into_deserializer())
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, AmpError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, AmpError> {
        visitor.visit_unit()
    }
}

/// The elements of a list value, read one at a time as the element type
/// asks: a box for a struct, a 16-bit-length-prefixed value otherwise.
struct List {
    rest: Bytes,
}

impl<'de> de::SeqAccess<'de> for &mut List {
    type Error = AmpError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, AmpError> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        seed.deserialize(ElementDeserializer {
            rest: &mut self.rest,
        })
        .map(Some)
    }
}

/// Takes `length` bytes off the front of `rest`.
fn take(rest: &mut Bytes, length: usize) -> Result<Bytes, AmpError> {
    if rest.len() < length {
        return Err(AmpError::Truncated);
    }
    Ok(rest.split_to(length))
}

/// Takes a 16-bit length and that many bytes off the front of `rest`.
fn take_string(rest: &mut Bytes) -> Result<Bytes, AmpError> {
    let header = take(rest, 2)?;
    take(rest, usize::from(header.clone().get_u16()))
}

/// Takes one box off the front of `rest`.
fn take_box(rest: &mut Bytes) -> Result<AmpBox, AmpError> {
    let mut amp_box = AmpBox::new();
    loop {
        let key = take_string(rest)?;
        if key.is_empty() {
            return Ok(amp_box);
        }
        if key.len() > MAX_KEY_LENGTH {
            return Err(AmpError::KeyTooLong { length: key.len() });
        }
        let value = take_string(rest)?;
        amp_box.insert(key, value);
    }
}

struct ElementDeserializer<'r> {
    rest: &'r mut Bytes,
}

macro_rules! element_value {
    ($($method:ident),* $(,)?) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, AmpError> {
            let element = take_string(self.rest)?;
            ValueDeserializer { value: &element }.$method(visitor)
        })*
    };
}

impl<'de> de::Deserializer<'de> for ElementDeserializer<'_> {
    type Error = AmpError;

    element_value!(
        deserialize_any,
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_unit,
        deserialize_seq,
        deserialize_identifier,
        deserialize_ignored_any,
    );

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, AmpError> {
        visitor.visit_some(self)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, AmpError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, AmpError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, AmpError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, AmpError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, AmpError> {
        let amp_box = take_box(self.rest)?;
        BoxDeserializer { amp_box: &amp_box }.deserialize_map(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, AmpError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, AmpError> {
        let element = take_string(self.rest)?;
        ValueDeserializer { value: &element }.deserialize_enum(name, variants, visitor)
    }
}
