//! Lists: Twisted's `ListOf` (each element after a 16-bit length) and
//! `AmpList` (each element a box), told apart element by element by what
//! the element serializes as.

use bytes::{BufMut, BytesMut};
use serde::Serialize;
use serde::ser::{self, Impossible};

use super::{FieldsSerializer, Value, ValueSerializer, unencodable};
use crate::{AmpBox, AmpError, MAX_VALUE_LENGTH};

/// A list's elements, one after another: a struct element as a box
/// (Twisted's `AmpList`), anything else as a 16-bit length and its
/// encoding (Twisted's `ListOf`).
pub(crate) struct ListSerializer(BytesMut);

impl ListSerializer {
    pub(crate) fn new() -> ListSerializer {
        ListSerializer(BytesMut::new())
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), AmpError> {
        match value.serialize(ElementProbe)? {
            Element::Box(amp_box) => amp_box.encode_into(&mut self.0),
            Element::Value(encoded) => {
                if encoded.len() > MAX_VALUE_LENGTH {
                    return Err(AmpError::TooLong {
                        is_key: false,
                        key: "a list element".into(),
                        length: encoded.len(),
                    });
                }
                self.0.put_u16(encoded.len() as u16);
                self.0.put_slice(&encoded);
                Ok(())
            }
        }
    }
}

impl ser::SerializeSeq for ListSerializer {
    type Ok = Value;
    type Error = AmpError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), AmpError> {
        self.element(value)
    }

    fn end(self) -> Result<Value, AmpError> {
        Ok(Some(self.0.to_vec()))
    }
}

impl ser::SerializeTuple for ListSerializer {
    type Ok = Value;
    type Error = AmpError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), AmpError> {
        self.element(value)
    }

    fn end(self) -> Result<Value, AmpError> {
        Ok(Some(self.0.to_vec()))
    }
}

/// A list element, once its kind is known.
enum Element {
    Box(AmpBox),
    Value(Vec<u8>),
}

/// Serializes a list element: structs and maps as boxes, the rest as
/// values.
struct ElementProbe;

macro_rules! element_value {
    ($($method:ident($($arg:ident: $ty:ty),*)),* $(,)?) => {
        $(fn $method(self, $($arg: $ty),*) -> Result<Element, AmpError> {
            match ValueSerializer.$method($($arg),*)? {
                Some(encoded) => Ok(Element::Value(encoded)),
                None => Err(unencodable("None inside a list")),
            }
        })*
    };
}

/// Turns a value serializer's sequence into an element's.
struct ElementList(ListSerializer);

impl ser::SerializeSeq for ElementList {
    type Ok = Element;
    type Error = AmpError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), AmpError> {
        self.0.element(value)
    }

    fn end(self) -> Result<Element, AmpError> {
        Ok(Element::Value(self.0.0.to_vec()))
    }
}

impl ser::SerializeTuple for ElementList {
    type Ok = Element;
    type Error = AmpError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), AmpError> {
        self.0.element(value)
    }

    fn end(self) -> Result<Element, AmpError> {
        Ok(Element::Value(self.0.0.to_vec()))
    }
}

/// Turns the fields serializer's box into an element.
struct ElementBox(FieldsSerializer);

impl ser::SerializeStruct for ElementBox {
    type Ok = Element;
    type Error = AmpError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), AmpError> {
        ser::SerializeStruct::serialize_field(&mut self.0, key, value)
    }

    fn end(self) -> Result<Element, AmpError> {
        Ok(Element::Box(self.0.into_box()))
    }
}

impl ser::SerializeMap for ElementBox {
    type Ok = Element;
    type Error = AmpError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), AmpError> {
        ser::SerializeMap::serialize_key(&mut self.0, key)
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), AmpError> {
        ser::SerializeMap::serialize_value(&mut self.0, value)
    }

    fn end(self) -> Result<Element, AmpError> {
        Ok(Element::Box(self.0.into_box()))
    }
}

impl ser::Serializer for ElementProbe {
    type Ok = Element;
    type Error = AmpError;
    type SerializeSeq = ElementList;
    type SerializeTuple = ElementList;
    type SerializeTupleStruct = Impossible<Element, AmpError>;
    type SerializeTupleVariant = Impossible<Element, AmpError>;
    type SerializeMap = ElementBox;
    type SerializeStruct = ElementBox;
    type SerializeStructVariant = Impossible<Element, AmpError>;

    element_value!(
        serialize_bool(v: bool), serialize_i8(v: i8), serialize_i16(v: i16),
        serialize_i32(v: i32), serialize_i64(v: i64), serialize_i128(v: i128),
        serialize_u8(v: u8), serialize_u16(v: u16), serialize_u32(v: u32),
        serialize_u64(v: u64), serialize_u128(v: u128), serialize_f32(v: f32),
        serialize_f64(v: f64), serialize_char(v: char), serialize_str(v: &str),
        serialize_bytes(v: &[u8]), serialize_none(), serialize_unit(),
        serialize_unit_struct(name: &'static str),
        serialize_unit_variant(name: &'static str, index: u32, variant: &'static str),
    );

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Element, AmpError> {
        value.serialize(self)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<Element, AmpError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Element, AmpError> {
        Err(unencodable("an enum variant with data"))
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<ElementList, AmpError> {
        Ok(ElementList(ListSerializer::new()))
    }

    fn serialize_tuple(self, _: usize) -> Result<ElementList, AmpError> {
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

    fn serialize_map(self, _: Option<usize>) -> Result<ElementBox, AmpError> {
        Ok(ElementBox(FieldsSerializer::new()))
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<ElementBox, AmpError> {
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
