//! Rust values into boxes: a struct's fields become keys, each value
//! encoded as Twisted's argument types encode theirs.

use bytes::Bytes;
use serde::Serialize;
use serde::ser::{self, Impossible};

use super::float::python_repr;
use crate::{AmpBox, AmpError};

mod list;

use list::ListSerializer;

/// The box holding `value`'s fields: a struct (or map with string keys)
/// becomes one key per field; `()` and unit structs are the empty box.
pub fn to_box<T: Serialize + ?Sized>(value: &T) -> Result<AmpBox, AmpError> {
    value.serialize(BoxSerializer)
}

pub(crate) fn unencodable(what: &str) -> AmpError {
    AmpError::Unencodable(format!(
        "{what} has no AMP encoding (a box is a struct of scalars, lists and lists of structs)"
    ))
}

/// Serializes the top level: a struct or a map into a box.
struct BoxSerializer;

/// Collects a struct's fields into a box.
pub(crate) struct FieldsSerializer {
    amp_box: AmpBox,
    /// A map's key, waiting for its value.
    key: Option<Bytes>,
}

impl FieldsSerializer {
    /// An empty box to fill.
    fn new() -> FieldsSerializer {
        FieldsSerializer {
            amp_box: AmpBox::new(),
            key: None,
        }
    }

    /// The box filled.
    fn into_box(self) -> AmpBox {
        self.amp_box
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: Bytes, value: &T) -> Result<(), AmpError> {
        // `None` (an optional argument not given) leaves the key out.
        if let Some(encoded) = value.serialize(ValueSerializer)? {
            self.amp_box.insert(key, encoded);
        }
        Ok(())
    }
}

macro_rules! not_a_box {
    ($($method:ident($($arg:ty),*)),* $(,)?) => {
        $(fn $method(self, $(_: $arg),*) -> Result<AmpBox, AmpError> {
            Err(unencodable(concat!("a top-level value of this kind (", stringify!($method), ")")))
        })*
    };
}

impl ser::Serializer for BoxSerializer {
    type Ok = AmpBox;
    type Error = AmpError;
    type SerializeSeq = Impossible<AmpBox, AmpError>;
    type SerializeTuple = Impossible<AmpBox, AmpError>;
    type SerializeTupleStruct = Impossible<AmpBox, AmpError>;
    type SerializeTupleVariant = Impossible<AmpBox, AmpError>;
    type SerializeMap = FieldsSerializer;
    type SerializeStruct = FieldsSerializer;
    type SerializeStructVariant = Impossible<AmpBox, AmpError>;

    not_a_box!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit_variant(&'static str, u32, &'static str),
    );

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<AmpBox, AmpError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<AmpBox, AmpError> {
        Ok(AmpBox::new())
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<AmpBox, AmpError> {
        Ok(AmpBox::new())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<AmpBox, AmpError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<AmpBox, AmpError> {
        Err(unencodable("an enum variant with data"))
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, AmpError> {
        Err(unencodable("a list at the top level"))
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, AmpError> {
        Err(unencodable("a tuple"))
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, AmpError> {
        Err(unencodable("a tuple struct"))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, AmpError> {
        Err(unencodable("an enum variant with data"))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<FieldsSerializer, AmpError> {
        Ok(FieldsSerializer::new())
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<FieldsSerializer, AmpError> {
        self.serialize_map(None)
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, AmpError> {
        Err(unencodable("an enum variant with data"))
    }
}

impl ser::SerializeStruct for FieldsSerializer {
    type Ok = AmpBox;
    type Error = AmpError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), AmpError> {
        self.field(Bytes::from_static(key.as_bytes()), value)
    }

    fn end(self) -> Result<AmpBox, AmpError> {
        Ok(self.amp_box)
    }
}

impl ser::SerializeMap for FieldsSerializer {
    type Ok = AmpBox;
    type Error = AmpError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), AmpError> {
        match key.serialize(ValueSerializer)? {
            Some(key) => {
                self.key = Some(key.into());
                Ok(())
            }
            None => Err(unencodable("a map key of None")),
        }
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), AmpError> {
        let key = self
            .key
            .take()
            .ok_or_else(|| AmpError::Unencodable("a map value without its key".into()))?;
        self.field(key, value)
    }

    fn end(self) -> Result<AmpBox, AmpError> {
        Ok(self.amp_box)
    }
}

/// Serializes one value as Twisted's argument types write it; `None`
/// for an absent optional value.
pub(crate) struct ValueSerializer;

pub(crate) type Value = Option<Vec<u8>>;

fn text(value: impl ToString) -> Result<Value, AmpError> {
    Ok(Some(value.to_string().into_bytes()))
}

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = AmpError;
    type SerializeSeq = ListSerializer;
    type SerializeTuple = ListSerializer;
    type SerializeTupleStruct = Impossible<Value, AmpError>;
    type SerializeTupleVariant = Impossible<Value, AmpError>;
    type SerializeMap = Impossible<Value, AmpError>;
    type SerializeStruct = Impossible<Value, AmpError>;
    type SerializeStructVariant = Impossible<Value, AmpError>;

    // Integer: decimal ASCII.
    fn serialize_i8(self, v: i8) -> Result<Value, AmpError> {
        text(v)
    }
    fn serialize_i16(self, v: i16) -> Result<Value, AmpError> {
        text(v)
    }
    fn serialize_i32(self, v: i32) -> Result<Value, AmpError> {
        text(v)
    }
    fn serialize_i64(self, v: i64) -> Result<Value, AmpError> {
        text(v)
    }
    fn serialize_i128(self, v: i128) -> Result<Value, AmpError> {
        text(v)
    }
    fn serialize_u8(self, v: u8) -> Result<Value, AmpError> {
        text(v)
    }
    fn serialize_u16(self, v: u16) -> Result<Value, AmpError> {
        text(v)
    }
    fn serialize_u32(self, v: u32) -> Result<Value, AmpError> {
        text(v)
    }
    fn serialize_u64(self, v: u64) -> Result<Value, AmpError> {
        text(v)
    }
    fn serialize_u128(self, v: u128) -> Result<Value, AmpError> {
        text(v)
    }

    // Float: Python's repr.
    fn serialize_f32(self, v: f32) -> Result<Value, AmpError> {
        text(python_repr(f64::from(v)))
    }
    fn serialize_f64(self, v: f64) -> Result<Value, AmpError> {
        text(python_repr(v))
    }

    // Boolean: True / False.
    fn serialize_bool(self, v: bool) -> Result<Value, AmpError> {
        Ok(Some(if v {
            b"True".to_vec()
        } else {
            b"False".to_vec()
        }))
    }

    // Unicode: UTF-8; String: the bytes themselves.
    fn serialize_char(self, v: char) -> Result<Value, AmpError> {
        text(v)
    }
    fn serialize_str(self, v: &str) -> Result<Value, AmpError> {
        Ok(Some(v.as_bytes().to_vec()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value, AmpError> {
        Ok(Some(v.to_vec()))
    }

    // Optional arguments: absent when `None`.
    fn serialize_none(self) -> Result<Value, AmpError> {
        Ok(None)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, AmpError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<Value, AmpError> {
        Ok(Some(Vec::new()))
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Value, AmpError> {
        Ok(Some(Vec::new()))
    }
    // An enum of unit variants travels as the variant's name.
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<Value, AmpError> {
        self.serialize_str(variant)
    }

    // DateTime and Decimal are newtypes over their text.
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<Value, AmpError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Value, AmpError> {
        Err(unencodable("an enum variant with data"))
    }

    // ListOf / AmpList, decided element by element.
    fn serialize_seq(self, _: Option<usize>) -> Result<ListSerializer, AmpError> {
        Ok(ListSerializer::new())
    }
    fn serialize_tuple(self, _: usize) -> Result<ListSerializer, AmpError> {
        self.serialize_seq(None)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, AmpError> {
        Err(unencodable("a tuple struct"))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, AmpError> {
        Err(unencodable("an enum variant with data"))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, AmpError> {
        Err(unencodable(
            "a map inside a box (a list of structs is an AmpList)",
        ))
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, AmpError> {
        Err(unencodable(
            "a struct as a single value (a list of structs is an AmpList)",
        ))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, AmpError> {
        Err(unencodable("an enum variant with data"))
    }
}
