//! The types of columns and reducer parameters.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The type of a column, a reducer parameter, or a part of one.
///
/// Types are written out in full inside a schema (no references), so a
/// schema alone is enough to decode any row or argument list.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Type {
    /// No data (a unit enum variant).
    Unit,
    /// `bool`.
    Bool,
    /// `i8`.
    I8,
    /// `i16`.
    I16,
    /// `i32`.
    I32,
    /// `i64`.
    I64,
    /// `i128`.
    I128,
    /// `u8`.
    U8,
    /// `u16`.
    U16,
    /// `u32`.
    U32,
    /// `u64`.
    U64,
    /// `u128`.
    U128,
    /// `f32`.
    F32,
    /// `f64`.
    F64,
    /// UTF-8 text.
    String,
    /// A byte string (`Vec<u8>`).
    Bytes,
    /// An optional value.
    Option(Box<Type>),
    /// A sequence of values of one type.
    Vec(Box<Type>),
    /// Named fields, in order.
    Struct(StructType),
    /// One of several named variants.
    Enum(EnumType),
}

/// A struct type: a name and ordered, named fields.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StructType {
    /// The Rust name of the struct (for display and diffs).
    pub name: String,
    /// Its fields, in declaration order (the encoding order).
    pub fields: Vec<Field>,
}

/// A struct field.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Field {
    /// Field name.
    pub name: String,
    /// Field type.
    pub ty: Type,
}

/// An enum type: a name and its variants, in declaration order.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EnumType {
    /// The Rust name of the enum.
    pub name: String,
    /// Its variants; a variant's index is its position here.
    pub variants: Vec<Variant>,
}

/// An enum variant: a name and its payload type ([`Type::Unit`] for none;
/// a [`Type::Struct`] for tuple and struct variants).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Variant {
    /// Variant name.
    pub name: String,
    /// Payload type.
    pub ty: Type,
}

impl Type {
    /// True for the integer types (the ones an auto-increment key may have).
    pub fn is_integer(&self) -> bool {
        matches!(
            self,
            Self::I8
                | Self::I16
                | Self::I32
                | Self::I64
                | Self::I128
                | Self::U8
                | Self::U16
                | Self::U32
                | Self::U64
                | Self::U128
        )
    }

    /// How deeply types nest inside this one (1 for a primitive).
    pub fn depth(&self) -> usize {
        1 + match self {
            Self::Option(t) | Self::Vec(t) => t.depth(),
            Self::Struct(s) => s.fields.iter().map(|f| f.ty.depth()).max().unwrap_or(0),
            Self::Enum(e) => e.variants.iter().map(|v| v.ty.depth()).max().unwrap_or(0),
            _ => 0,
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unit => f.write_str("()"),
            Self::Bool => f.write_str("bool"),
            Self::I8 => f.write_str("i8"),
            Self::I16 => f.write_str("i16"),
            Self::I32 => f.write_str("i32"),
            Self::I64 => f.write_str("i64"),
            Self::I128 => f.write_str("i128"),
            Self::U8 => f.write_str("u8"),
            Self::U16 => f.write_str("u16"),
            Self::U32 => f.write_str("u32"),
            Self::U64 => f.write_str("u64"),
            Self::U128 => f.write_str("u128"),
            Self::F32 => f.write_str("f32"),
            Self::F64 => f.write_str("f64"),
            Self::String => f.write_str("String"),
            Self::Bytes => f.write_str("Vec<u8>"),
            Self::Option(t) => write!(f, "Option<{t}>"),
            Self::Vec(t) => write!(f, "Vec<{t}>"),
            Self::Struct(s) => f.write_str(&s.name),
            Self::Enum(e) => f.write_str(&e.name),
        }
    }
}
