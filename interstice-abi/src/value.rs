//! Dynamically typed values: how the host sees rows and arguments.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use crate::ty::Type;

/// A value of some [`Type`]. The host works with these; guests work with
/// their own Rust types, which encode to the same bytes.
///
/// Values are totally ordered (floats by `total_cmp`), so any column can be
/// a primary key or an index key; values of different types order by type.
#[derive(Clone, Debug)]
pub enum Value {
    /// [`Type::Unit`].
    Unit,
    /// [`Type::Bool`].
    Bool(bool),
    /// [`Type::I8`].
    I8(i8),
    /// [`Type::I16`].
    I16(i16),
    /// [`Type::I32`].
    I32(i32),
    /// [`Type::I64`].
    I64(i64),
    /// [`Type::I128`].
    I128(i128),
    /// [`Type::U8`].
    U8(u8),
    /// [`Type::U16`].
    U16(u16),
    /// [`Type::U32`].
    U32(u32),
    /// [`Type::U64`].
    U64(u64),
    /// [`Type::U128`].
    U128(u128),
    /// [`Type::F32`].
    F32(f32),
    /// [`Type::F64`].
    F64(f64),
    /// [`Type::String`].
    String(String),
    /// [`Type::Bytes`].
    Bytes(Vec<u8>),
    /// [`Type::Option`].
    Option(Option<Box<Value>>),
    /// [`Type::Vec`].
    Vec(Vec<Value>),
    /// [`Type::Struct`]: field values in declaration order.
    Struct(Vec<Value>),
    /// [`Type::Enum`]: variant index and payload.
    Enum(u32, Box<Value>),
}

impl Value {
    fn rank(&self) -> u8 {
        match self {
            Self::Unit => 0,
            Self::Bool(_) => 1,
            Self::I8(_) => 2,
            Self::I16(_) => 3,
            Self::I32(_) => 4,
            Self::I64(_) => 5,
            Self::I128(_) => 6,
            Self::U8(_) => 7,
            Self::U16(_) => 8,
            Self::U32(_) => 9,
            Self::U64(_) => 10,
            Self::U128(_) => 11,
            Self::F32(_) => 12,
            Self::F64(_) => 13,
            Self::String(_) => 14,
            Self::Bytes(_) => 15,
            Self::Option(_) => 16,
            Self::Vec(_) => 17,
            Self::Struct(_) => 18,
            Self::Enum(..) => 19,
        }
    }

    /// The value as a `u128`, for any non-negative integer (auto-increment).
    pub fn as_u128(&self) -> Option<u128> {
        Some(match *self {
            Self::I8(v) => u128::try_from(v).ok()?,
            Self::I16(v) => u128::try_from(v).ok()?,
            Self::I32(v) => u128::try_from(v).ok()?,
            Self::I64(v) => u128::try_from(v).ok()?,
            Self::I128(v) => u128::try_from(v).ok()?,
            Self::U8(v) => v.into(),
            Self::U16(v) => v.into(),
            Self::U32(v) => v.into(),
            Self::U64(v) => v.into(),
            Self::U128(v) => v,
            _ => return None,
        })
    }

    /// An integer of type `ty` holding `n`, if `ty` is an integer type wide
    /// enough.
    pub fn integer(ty: &Type, n: u128) -> Option<Self> {
        Some(match ty {
            Type::I8 => Self::I8(n.try_into().ok()?),
            Type::I16 => Self::I16(n.try_into().ok()?),
            Type::I32 => Self::I32(n.try_into().ok()?),
            Type::I64 => Self::I64(n.try_into().ok()?),
            Type::I128 => Self::I128(n.try_into().ok()?),
            Type::U8 => Self::U8(n.try_into().ok()?),
            Type::U16 => Self::U16(n.try_into().ok()?),
            Type::U32 => Self::U32(n.try_into().ok()?),
            Type::U64 => Self::U64(n.try_into().ok()?),
            Type::U128 => Self::U128(n),
            _ => return None,
        })
    }

    /// Checks that the value has type `ty`; the error names the first place
    /// where it does not (`path` is the name of the value being checked).
    pub fn check(&self, ty: &Type, path: &str) -> Result<(), TypeMismatch> {
        let mismatch = || TypeMismatch {
            path: path.to_owned(),
            expected: ty.to_string(),
            found: self.kind(),
        };
        match (self, ty) {
            (Self::Unit, Type::Unit)
            | (Self::Bool(_), Type::Bool)
            | (Self::I8(_), Type::I8)
            | (Self::I16(_), Type::I16)
            | (Self::I32(_), Type::I32)
            | (Self::I64(_), Type::I64)
            | (Self::I128(_), Type::I128)
            | (Self::U8(_), Type::U8)
            | (Self::U16(_), Type::U16)
            | (Self::U32(_), Type::U32)
            | (Self::U64(_), Type::U64)
            | (Self::U128(_), Type::U128)
            | (Self::F32(_), Type::F32)
            | (Self::F64(_), Type::F64)
            | (Self::String(_), Type::String)
            | (Self::Bytes(_), Type::Bytes) => Ok(()),
            (Self::Option(None), Type::Option(_)) => Ok(()),
            (Self::Option(Some(v)), Type::Option(t)) => v.check(t, path),
            (Self::Vec(items), Type::Vec(t)) => items
                .iter()
                .enumerate()
                .try_for_each(|(i, v)| v.check(t, &format!("{path}[{i}]"))),
            (Self::Struct(values), Type::Struct(s)) if values.len() == s.fields.len() => values
                .iter()
                .zip(&s.fields)
                .try_for_each(|(v, f)| v.check(&f.ty, &format!("{path}.{}", f.name))),
            (Self::Enum(i, payload), Type::Enum(e)) => match e.variants.get(*i as usize) {
                Some(var) => payload.check(&var.ty, &format!("{path}::{}", var.name)),
                None => Err(mismatch()),
            },
            _ => Err(mismatch()),
        }
    }

    /// A short name of the value's shape, for error messages.
    pub fn kind(&self) -> String {
        match self {
            Self::Unit => "()".into(),
            Self::Bool(_) => "bool".into(),
            Self::I8(_) => "i8".into(),
            Self::I16(_) => "i16".into(),
            Self::I32(_) => "i32".into(),
            Self::I64(_) => "i64".into(),
            Self::I128(_) => "i128".into(),
            Self::U8(_) => "u8".into(),
            Self::U16(_) => "u16".into(),
            Self::U32(_) => "u32".into(),
            Self::U64(_) => "u64".into(),
            Self::U128(_) => "u128".into(),
            Self::F32(_) => "f32".into(),
            Self::F64(_) => "f64".into(),
            Self::String(_) => "String".into(),
            Self::Bytes(_) => "Vec<u8>".into(),
            Self::Option(_) => "Option".into(),
            Self::Vec(_) => "Vec".into(),
            Self::Struct(v) => format!("struct of {} fields", v.len()),
            Self::Enum(i, _) => format!("enum variant {i}"),
        }
    }
}

/// A value that does not have the type it should.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: expected {expected}, found {found}")]
pub struct TypeMismatch {
    /// Where in the value (e.g. `row.address.city`).
    pub path: String,
    /// The type expected there.
    pub expected: String,
    /// What was found.
    pub found: String,
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Value {}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Self) -> Ordering {
        use Value::*;
        match (self, other) {
            (Unit, Unit) => Ordering::Equal,
            (Bool(a), Bool(b)) => a.cmp(b),
            (I8(a), I8(b)) => a.cmp(b),
            (I16(a), I16(b)) => a.cmp(b),
            (I32(a), I32(b)) => a.cmp(b),
            (I64(a), I64(b)) => a.cmp(b),
            (I128(a), I128(b)) => a.cmp(b),
            (U8(a), U8(b)) => a.cmp(b),
            (U16(a), U16(b)) => a.cmp(b),
            (U32(a), U32(b)) => a.cmp(b),
            (U64(a), U64(b)) => a.cmp(b),
            (U128(a), U128(b)) => a.cmp(b),
            (F32(a), F32(b)) => a.total_cmp(b),
            (F64(a), F64(b)) => a.total_cmp(b),
            (String(a), String(b)) => a.cmp(b),
            (Bytes(a), Bytes(b)) => a.cmp(b),
            (Option(a), Option(b)) => a.cmp(b),
            (Vec(a), Vec(b)) | (Struct(a), Struct(b)) => a.cmp(b),
            (Enum(i, a), Enum(j, b)) => i.cmp(j).then_with(|| a.cmp(b)),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        use Value::*;
        self.rank().hash(state);
        match self {
            Unit => {}
            Bool(v) => v.hash(state),
            I8(v) => v.hash(state),
            I16(v) => v.hash(state),
            I32(v) => v.hash(state),
            I64(v) => v.hash(state),
            I128(v) => v.hash(state),
            U8(v) => v.hash(state),
            U16(v) => v.hash(state),
            U32(v) => v.hash(state),
            U64(v) => v.hash(state),
            U128(v) => v.hash(state),
            // Equal under total_cmp means equal bits.
            F32(v) => v.to_bits().hash(state),
            F64(v) => v.to_bits().hash(state),
            String(v) => v.hash(state),
            Bytes(v) => v.hash(state),
            Option(v) => v.hash(state),
            Vec(v) | Struct(v) => v.hash(state),
            Enum(i, v) => {
                i.hash(state);
                v.hash(state);
            }
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Value::*;
        match self {
            Unit => f.write_str("()"),
            Bool(v) => write!(f, "{v}"),
            I8(v) => write!(f, "{v}"),
            I16(v) => write!(f, "{v}"),
            I32(v) => write!(f, "{v}"),
            I64(v) => write!(f, "{v}"),
            I128(v) => write!(f, "{v}"),
            U8(v) => write!(f, "{v}"),
            U16(v) => write!(f, "{v}"),
            U32(v) => write!(f, "{v}"),
            U64(v) => write!(f, "{v}"),
            U128(v) => write!(f, "{v}"),
            F32(v) => write!(f, "{v}"),
            F64(v) => write!(f, "{v}"),
            String(v) => write!(f, "{v:?}"),
            Bytes(v) => {
                f.write_str("0x")?;
                v.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
            Option(None) => f.write_str("None"),
            Option(Some(v)) => write!(f, "Some({v})"),
            Vec(items) | Struct(items) => {
                f.write_str(if matches!(self, Vec(_)) { "[" } else { "(" })?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str(if matches!(self, Vec(_)) { "]" } else { ")" })
            }
            Enum(i, v) => write!(f, "#{i}{v}"),
        }
    }
}

macro_rules! from_primitive {
    ($($t:ty => $v:ident),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from(x: $t) -> Self {
                Value::$v(x)
            }
        }
    )*};
}

from_primitive!(
    bool => Bool, i8 => I8, i16 => I16, i32 => I32, i64 => I64, i128 => I128,
    u8 => U8, u16 => U16, u32 => U32, u64 => U64, u128 => U128, f32 => F32, f64 => F64,
    String => String, Vec<u8> => Bytes,
);

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}
