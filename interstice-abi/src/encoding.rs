//! The one canonical binary encoding of Interstice: rows, arguments and
//! schemas, in the host and in modules alike.
//!
//! It is bincode 2 (`serde` integration) with the fixed configuration of
//! `config`: little-endian, variable-length integers, at most
//! [`MAX_ENCODED_LEN`] bytes. `docs/abi.md` specifies the bytes, so the
//! implementation can be replaced without changing the format. Nothing
//! outside this module names bincode.
//!
//! Schemas are serde types and go through [`encode`] and [`decode`].
//! Rows and arguments do not: in a module, the SDK's `IntersticeType`
//! (derived by `#[derive(IntersticeType)]` and `#[table]`) writes the same
//! bytes by hand, without serde, to keep modules small; the host decodes
//! them into [`Value`]s driven by the schema's [`Type`] ([`decode_value`])
//! and encodes values back ([`encode_value`]) to the same bytes.

use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, SeqAccess, VariantAccess, Visitor,
};
use serde::ser::{SerializeTuple, Serializer};
use serde::{Deserialize, Serialize};

use crate::ty::{EnumType, StructType, Type};
use crate::value::Value;

/// The largest encoded value accepted (64 MiB): lengths inside an encoding
/// are checked against it before anything is allocated.
pub const MAX_ENCODED_LEN: usize = 64 << 20;

/// The bincode configuration. Part of the format: never change it.
fn config() -> impl bincode::config::Config {
    bincode::config::standard()
        .with_little_endian()
        .with_variable_int_encoding()
        .with_limit::<MAX_ENCODED_LEN>()
}

/// Encoding or decoding failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodingError {
    /// The bytes are not a valid encoding of the expected type.
    #[error("cannot decode {what}: {reason}")]
    Decode {
        /// What was being decoded.
        what: String,
        /// Why it failed.
        reason: String,
    },
    /// Bytes were left over after a whole value was decoded.
    #[error("cannot decode {what}: {extra} bytes after the end of the value")]
    TrailingBytes {
        /// What was being decoded.
        what: String,
        /// How many bytes were left.
        extra: usize,
    },
    /// The value cannot be encoded (too large, or a serializer error).
    #[error("cannot encode {what}: {reason}")]
    Encode {
        /// What was being encoded.
        what: String,
        /// Why it failed.
        reason: String,
    },
}

/// Encodes any serializable value (a schema, a guest's row or arguments).
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, EncodingError> {
    bincode::serde::encode_to_vec(value, config()).map_err(|e| EncodingError::Encode {
        what: std::any::type_name::<T>().to_owned(),
        reason: e.to_string(),
    })
}

/// Decodes a `T` that must fill `bytes` exactly.
pub fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, EncodingError> {
    let decoded = bincode::serde::borrow_decode_from_slice(bytes, config());
    whole(decoded, bytes.len(), || {
        std::any::type_name::<T>().to_owned()
    })
}

/// Decodes a [`crate::ModuleSchema`] in any layout
/// (version 1, 2 or 3, `docs/abi.md`); when the bytes do not decode, the error says
/// where, in a module author's terms: the record and field being read (as
/// `reducers[8].name`) and, when the bytes ran out, at which byte. A
/// failure decodes twice (the second time to find the place).
pub fn decode_schema(bytes: &[u8]) -> Result<crate::ModuleSchema, EncodingError> {
    crate::evolution::decode_either(bytes).map_err(|e| {
        let EncodingError::Decode { what, reason } = e else {
            return e;
        };
        let Some((layout, body)) = crate::evolution::body(bytes) else {
            return EncodingError::Decode { what, reason };
        };
        let located = match layout {
            crate::evolution::Layout::V1 => locate::<crate::evolution::ModuleV1>(body),
            crate::evolution::Layout::V2 => locate::<crate::evolution::ModuleV2>(body),
            crate::evolution::Layout::V3 => locate::<crate::evolution::ModuleV3>(body),
        };
        let Some(located) = located else {
            return EncodingError::Decode {
                what,
                reason: "it decoded on a second try".into(),
            };
        };
        // Structs are encoded as tuples: the path is field positions.
        let positions: Vec<usize> = located
            .path()
            .iter()
            .filter_map(|s| match s {
                serde_path_to_error::Segment::Seq { index } => Some(*index),
                _ => None,
            })
            .collect();
        let reason = match located.inner() {
            bincode::error::DecodeError::UnexpectedEnd { additional } => format!(
                "the {} bytes end at byte {} with {additional} more needed",
                bytes.len(),
                bytes.len()
            ),
            other => other.to_string(),
        };
        EncodingError::Decode {
            what: "the module schema".into(),
            reason: format!(
                "reading `{}`: {reason}",
                crate::schema::field_path(&positions)
            ),
        }
    })
}

/// Where decoding `bytes` as a `T` fails, if it does.
fn locate<T: for<'de> Deserialize<'de>>(
    bytes: &[u8],
) -> Option<serde_path_to_error::Error<bincode::error::DecodeError>> {
    let mut decoder = bincode::serde::BorrowedSerdeDecoder::from_slice(bytes, config(), ());
    serde_path_to_error::deserialize::<_, T>(decoder.as_deserializer()).err()
}

/// Turns a bincode result into ours, refusing bytes left after the value.
fn whole<T>(
    decoded: Result<(T, usize), bincode::error::DecodeError>,
    len: usize,
    what: impl Fn() -> String,
) -> Result<T, EncodingError> {
    let (value, read) = decoded.map_err(|e| EncodingError::Decode {
        what: what(),
        reason: e.to_string(),
    })?;
    if read != len {
        return Err(EncodingError::TrailingBytes {
            what: what(),
            extra: len - read,
        });
    }
    Ok(value)
}

/// Encodes a [`Value`] exactly as the Rust type it stands for would be.
pub fn encode_value(value: &Value) -> Result<Vec<u8>, EncodingError> {
    encode(value)
}

/// Decodes bytes holding exactly one value of type `ty`.
pub fn decode_value(ty: &Type, bytes: &[u8]) -> Result<Value, EncodingError> {
    let decoded = bincode::serde::seed_decode_from_slice(Seed(ty), bytes, config());
    whole(decoded, bytes.len(), || ty.to_string())
}

/// Encodes field values as the struct they make up (a row, an argument
/// list), without first wrapping them in a [`Value::Struct`].
pub fn encode_fields(fields: &[Value]) -> Result<Vec<u8>, EncodingError> {
    encode(&Fields(fields))
}

/// Serializes like `Value::Struct`: each field in order.
struct Fields<'a>(&'a [Value]);

impl Serialize for Fields<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(self.0.len())?;
        for f in self.0 {
            t.serialize_element(f)?;
        }
        t.end()
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Unit => s.serialize_unit(),
            Value::Bool(v) => s.serialize_bool(*v),
            Value::I8(v) => s.serialize_i8(*v),
            Value::I16(v) => s.serialize_i16(*v),
            Value::I32(v) => s.serialize_i32(*v),
            Value::I64(v) => s.serialize_i64(*v),
            Value::I128(v) => s.serialize_i128(*v),
            Value::U8(v) => s.serialize_u8(*v),
            Value::U16(v) => s.serialize_u16(*v),
            Value::U32(v) => s.serialize_u32(*v),
            Value::U64(v) => s.serialize_u64(*v),
            Value::U128(v) => s.serialize_u128(*v),
            Value::F32(v) => s.serialize_f32(*v),
            Value::F64(v) => s.serialize_f64(*v),
            Value::String(v) => s.serialize_str(v),
            Value::Bytes(v) => s.serialize_bytes(v),
            Value::Option(None) => s.serialize_none(),
            Value::Option(Some(v)) => s.serialize_some(v.as_ref()),
            Value::Vec(items) => s.collect_seq(items),
            Value::Struct(fields) => Fields(fields).serialize(s),
            Value::Enum(index, payload) => {
                s.serialize_newtype_variant("", *index, "", payload.as_ref())
            }
        }
    }
}

/// Decodes one value of the type it holds.
struct Seed<'a>(&'a Type);

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Ok(match self.0 {
            Type::Unit => {
                <()>::deserialize(d)?;
                Value::Unit
            }
            Type::Bool => Value::Bool(bool::deserialize(d)?),
            Type::I8 => Value::I8(i8::deserialize(d)?),
            Type::I16 => Value::I16(i16::deserialize(d)?),
            Type::I32 => Value::I32(i32::deserialize(d)?),
            Type::I64 => Value::I64(i64::deserialize(d)?),
            Type::I128 => Value::I128(i128::deserialize(d)?),
            Type::U8 => Value::U8(u8::deserialize(d)?),
            Type::U16 => Value::U16(u16::deserialize(d)?),
            Type::U32 => Value::U32(u32::deserialize(d)?),
            Type::U64 => Value::U64(u64::deserialize(d)?),
            Type::U128 => Value::U128(u128::deserialize(d)?),
            Type::F32 => Value::F32(f32::deserialize(d)?),
            Type::F64 => Value::F64(f64::deserialize(d)?),
            Type::String => Value::String(d.deserialize_str(StrVisitor)?),
            Type::Bytes => Value::Bytes(d.deserialize_bytes(BytesVisitor)?),
            Type::Option(t) => Value::Option(d.deserialize_option(OptionVisitor(t))?),
            Type::Vec(t) => Value::Vec(d.deserialize_seq(SeqVisitor(t))?),
            Type::Struct(s) => {
                Value::Struct(d.deserialize_tuple(s.fields.len(), StructVisitor(s))?)
            }
            Type::Enum(e) => d.deserialize_enum("", &[], EnumVisitor(e))?,
        })
    }
}

struct StrVisitor;

impl<'de> Visitor<'de> for StrVisitor {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a UTF-8 string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }
}

struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Vec<u8>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("bytes")
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
        Ok(v.to_vec())
    }
}

struct OptionVisitor<'a>(&'a Type);

impl<'de> Visitor<'de> for OptionVisitor<'_> {
    type Value = Option<Box<Value>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Option<{}>", self.0)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Seed(self.0).deserialize(d).map(|v| Some(Box::new(v)))
    }
}

/// Most elements a `Vec` of a type that encodes to no bytes may hold.
pub const MAX_ZERO_SIZED_ELEMENTS: usize = 1 << 16;

/// Whether values of `ty` encode to no bytes at all.
fn is_zero_sized(ty: &Type) -> bool {
    match ty {
        Type::Unit => true,
        Type::Struct(s) => s.fields.iter().all(|f| is_zero_sized(&f.ty)),
        _ => false,
    }
}

struct SeqVisitor<'a>(&'a Type);

impl<'de> Visitor<'de> for SeqVisitor<'_> {
    type Value = Vec<Value>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Vec<{}>", self.0)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        // Elements of zero bytes (units) cost nothing to claim: a few bytes
        // could ask for 2^64 of them. Bound their count outright.
        let claimed = seq.size_hint().unwrap_or(0);
        if claimed > MAX_ZERO_SIZED_ELEMENTS && is_zero_sized(self.0) {
            return Err(de::Error::custom(format_args!(
                "a Vec<{}> of {claimed} elements (at most {MAX_ZERO_SIZED_ELEMENTS} of a type that encodes to no bytes)",
                self.0
            )));
        }
        // Never trust a claimed length for the allocation.
        let mut out = Vec::with_capacity(claimed.min(1024));
        while let Some(v) = seq.next_element_seed(Seed(self.0))? {
            out.push(v);
        }
        Ok(out)
    }
}

struct StructVisitor<'a>(&'a StructType);

impl<'de> Visitor<'de> for StructVisitor<'_> {
    type Value = Vec<Value>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "struct {}", self.0.name)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(self.0.fields.len());
        for (i, field) in self.0.fields.iter().enumerate() {
            let v = seq
                .next_element_seed(Seed(&field.ty))?
                .ok_or_else(|| de::Error::invalid_length(i, &self))?;
            out.push(v);
        }
        Ok(out)
    }
}

struct EnumVisitor<'a>(&'a EnumType);

impl<'de> Visitor<'de> for EnumVisitor<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "enum {}", self.0.name)
    }
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        let (index, variant) = data.variant::<u32>()?;
        let Some(var) = self.0.variants.get(index as usize) else {
            return Err(de::Error::custom(format_args!(
                "variant index {index} out of range for enum {} ({} variants)",
                self.0.name,
                self.0.variants.len()
            )));
        };
        let payload = variant.newtype_variant_seed(Seed(&var.ty))?;
        Ok(Value::Enum(index, Box::new(payload)))
    }
}
