//! Typed values in the Interstice encoding, without serde.
//!
//! [`IntersticeType`] is what a column or a reducer parameter must be: it
//! names its schema [`Type`] and writes and reads itself in the encoding of
//! `docs/abi.md`. The host encodes with `interstice_abi` (bincode); this is
//! the same byte format written out by hand, so a module carries no serde
//! machinery. A property test checks the two agree byte for byte.
//! `#[derive(IntersticeType)]` implements it for structs and enums.

use std::fmt;

use interstice_abi::{Field, StructType, Type};

/// A value that can be a column, a reducer parameter or part of one.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a column or a reducer parameter",
    label = "not an Interstice type",
    note = "use bool, an integer, f32/f64, String, Vec<T>, Option<T>, a tuple (index keys), or a struct or enum with #[derive(IntersticeType)]"
)]
pub trait IntersticeType: Sized {
    /// Its type in a schema.
    fn ty() -> Type;
    /// Appends its encoding to `out`.
    fn encode(&self, out: &mut Vec<u8>);
    /// Reads one value from the front of `input`, advancing it.
    fn decode(input: &mut &[u8]) -> Result<Self, DecodeError>;
}

/// Bytes that are not a value of the expected type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot decode: {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

/// Encodes one value.
pub fn to_bytes<T: IntersticeType>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    value.encode(&mut out);
    out
}

/// Decodes one value that must fill `bytes` exactly.
pub fn from_bytes<T: IntersticeType>(mut bytes: &[u8]) -> Result<T, DecodeError> {
    let value = T::decode(&mut bytes)?;
    if !bytes.is_empty() {
        return Err(DecodeError(format!("{} bytes left over", bytes.len())));
    }
    Ok(value)
}

/// Takes `n` bytes off the front of `input`.
pub fn take<'a>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8], DecodeError> {
    if input.len() < n {
        return Err(DecodeError(format!(
            "needed {n} bytes, {} left",
            input.len()
        )));
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Ok(head)
}

fn byte(input: &mut &[u8]) -> Result<u8, DecodeError> {
    Ok(take(input, 1)?[0])
}

/// Writes an unsigned varint: below 251 one byte, else a marker (251: u16,
/// 252: u32, 253: u64, 254: u128) and the value little-endian.
pub fn write_varint(out: &mut Vec<u8>, v: u128) {
    if v < 251 {
        out.push(v as u8);
    } else if v <= u16::MAX as u128 {
        out.push(251);
        out.extend_from_slice(&(v as u16).to_le_bytes());
    } else if v <= u32::MAX as u128 {
        out.push(252);
        out.extend_from_slice(&(v as u32).to_le_bytes());
    } else if v <= u64::MAX as u128 {
        out.push(253);
        out.extend_from_slice(&(v as u64).to_le_bytes());
    } else {
        out.push(254);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// Reads an unsigned varint that must fit in `bits` bits.
pub fn read_varint(input: &mut &[u8], bits: u32) -> Result<u128, DecodeError> {
    let (width, v) = match byte(input)? {
        b @ 0..=250 => return Ok(b as u128),
        251 => (16, u16::from_le_bytes(fixed(input)?) as u128),
        252 => (32, u32::from_le_bytes(fixed(input)?) as u128),
        253 => (64, u64::from_le_bytes(fixed(input)?) as u128),
        254 => (128, u128::from_le_bytes(fixed(input)?)),
        b => return Err(DecodeError(format!("invalid integer marker {b}"))),
    };
    if width > bits {
        return Err(DecodeError(format!(
            "a {width}-bit integer where {bits} bits were expected"
        )));
    }
    Ok(v)
}

fn fixed<const N: usize>(input: &mut &[u8]) -> Result<[u8; N], DecodeError> {
    Ok(take(input, N)?.try_into().expect("took N bytes"))
}

/// Reads a length (u64 varint) that cannot exceed the bytes left, given
/// that each element takes at least `min_size` bytes.
pub fn read_len(input: &mut &[u8], min_size: usize) -> Result<usize, DecodeError> {
    let n = read_varint(input, 64)?;
    let n = usize::try_from(n).map_err(|_| DecodeError(format!("length {n} too large")))?;
    if n.saturating_mul(min_size) > input.len() {
        return Err(DecodeError(format!(
            "length {n} but only {} bytes left",
            input.len()
        )));
    }
    Ok(n)
}

macro_rules! unsigned {
    ($($t:ty => $ty:ident, $bits:expr;)*) => {$(
        impl IntersticeType for $t {
            fn ty() -> Type { Type::$ty }
            fn encode(&self, out: &mut Vec<u8>) { write_varint(out, *self as u128) }
            fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
                Ok(read_varint(input, $bits)? as $t)
            }
        }
    )*};
}

unsigned! {
    u16 => U16, 16;
    u32 => U32, 32;
    u64 => U64, 64;
    u128 => U128, 128;
}

macro_rules! signed {
    ($($t:ty, $u:ty => $ty:ident, $bits:expr;)*) => {$(
        impl IntersticeType for $t {
            fn ty() -> Type { Type::$ty }
            fn encode(&self, out: &mut Vec<u8>) {
                // Zigzag: 0, -1, 1, -2, ... become 0, 1, 2, 3, ...
                let z = ((*self << 1) ^ (*self >> ($bits - 1))) as $u;
                write_varint(out, z as u128)
            }
            fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
                let z = read_varint(input, $bits)? as $u;
                Ok(((z >> 1) as $t) ^ -((z & 1) as $t))
            }
        }
    )*};
}

signed! {
    i16, u16 => I16, 16;
    i32, u32 => I32, 32;
    i64, u64 => I64, 64;
    i128, u128 => I128, 128;
}

impl IntersticeType for u8 {
    fn ty() -> Type {
        Type::U8
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(*self)
    }
    fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
        byte(input)
    }
}

impl IntersticeType for i8 {
    fn ty() -> Type {
        Type::I8
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(*self as u8)
    }
    fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
        Ok(byte(input)? as i8)
    }
}

impl IntersticeType for bool {
    fn ty() -> Type {
        Type::Bool
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(*self as u8)
    }
    fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
        match byte(input)? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(DecodeError(format!("invalid bool {b}"))),
        }
    }
}

impl IntersticeType for f32 {
    fn ty() -> Type {
        Type::F32
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes())
    }
    fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
        Ok(f32::from_le_bytes(fixed(input)?))
    }
}

impl IntersticeType for f64 {
    fn ty() -> Type {
        Type::F64
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes())
    }
    fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
        Ok(f64::from_le_bytes(fixed(input)?))
    }
}

impl IntersticeType for () {
    fn ty() -> Type {
        Type::Unit
    }
    fn encode(&self, _: &mut Vec<u8>) {}
    fn decode(_: &mut &[u8]) -> Result<Self, DecodeError> {
        Ok(())
    }
}

impl IntersticeType for String {
    fn ty() -> Type {
        Type::String
    }
    fn encode(&self, out: &mut Vec<u8>) {
        write_varint(out, self.len() as u128);
        out.extend_from_slice(self.as_bytes());
    }
    fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
        let n = read_len(input, 1)?;
        let bytes = take(input, n)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| DecodeError("a string that is not UTF-8".into()))
    }
}

impl<T: IntersticeType> IntersticeType for Option<T> {
    fn ty() -> Type {
        Type::Option(Box::new(T::ty()))
    }
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                v.encode(out);
            }
        }
    }
    fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
        match byte(input)? {
            0 => Ok(None),
            1 => Ok(Some(T::decode(input)?)),
            b => Err(DecodeError(format!("invalid option tag {b}"))),
        }
    }
}

impl<T: IntersticeType> IntersticeType for Vec<T> {
    fn ty() -> Type {
        Type::Vec(Box::new(T::ty()))
    }
    fn encode(&self, out: &mut Vec<u8>) {
        write_varint(out, self.len() as u128);
        for v in self {
            v.encode(out);
        }
    }
    fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
        // Every element takes at least one byte, except those of a type
        // that encodes to nothing, whose count is bounded as the host
        // bounds it.
        let zero_sized = is_zero_sized(&T::ty());
        let n = read_len(input, usize::from(!zero_sized))?;
        if zero_sized && n > interstice_abi::encoding::MAX_ZERO_SIZED_ELEMENTS {
            return Err(DecodeError(format!("{n} elements of a type with no bytes")));
        }
        let mut v = Vec::with_capacity(n.min(input.len()));
        for _ in 0..n {
            v.push(T::decode(input)?);
        }
        Ok(v)
    }
}

fn is_zero_sized(ty: &Type) -> bool {
    match ty {
        Type::Unit => true,
        Type::Struct(s) => s.fields.iter().all(|f| is_zero_sized(&f.ty)),
        _ => false,
    }
}

impl<T: IntersticeType> IntersticeType for Box<T> {
    fn ty() -> Type {
        T::ty()
    }
    fn encode(&self, out: &mut Vec<u8>) {
        (**self).encode(out)
    }
    fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
        T::decode(input).map(Box::new)
    }
}

macro_rules! tuple {
    ($($n:tt $t:ident),*) => {
        /// Tuples are the keys of composite indexes: a struct of the
        /// indexed columns.
        impl<$($t: IntersticeType),*> IntersticeType for ($($t,)*) {
            fn ty() -> Type {
                Type::Struct(StructType {
                    name: String::new(),
                    fields: vec![$(Field { name: stringify!($n).into(), ty: $t::ty() }),*],
                })
            }
            fn encode(&self, out: &mut Vec<u8>) {
                $(self.$n.encode(out);)*
            }
            fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
                Ok(($($t::decode(input)?,)*))
            }
        }
    };
}

tuple!(0 A, 1 B);
tuple!(0 A, 1 B, 2 C);
tuple!(0 A, 1 B, 2 C, 3 D);

/// A point in time: microseconds since the Unix epoch. [`crate::Context::now`]
/// gives the transaction's time, recorded in its commit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// Microseconds since the Unix epoch.
    pub fn micros(self) -> u64 {
        self.0
    }
}

impl IntersticeType for Timestamp {
    fn ty() -> Type {
        Type::U64
    }
    fn encode(&self, out: &mut Vec<u8>) {
        self.0.encode(out)
    }
    fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
        u64::decode(input).map(Timestamp)
    }
}

/// When a schedule table's row asks for its call: at a point in time, or
/// every interval (the first run one interval after the row is written).
/// Its schema type is [`interstice_abi::schedule_at_type`]: an enum of two
/// `u64` payloads, both in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScheduleAt {
    /// Once, at this time.
    Time(Timestamp),
    /// Repeatedly, this far apart, until the row is deleted.
    Interval(std::time::Duration),
}

impl IntersticeType for ScheduleAt {
    fn ty() -> Type {
        interstice_abi::schedule_at_type()
    }
    fn encode(&self, out: &mut Vec<u8>) {
        let (index, micros) = match self {
            ScheduleAt::Time(t) => (0, t.0),
            ScheduleAt::Interval(d) => (1, u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
        };
        write_varint(out, index);
        micros.encode(out);
    }
    fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
        let index = read_varint(input, 32)?;
        let micros = u64::decode(input)?;
        match index {
            0 => Ok(ScheduleAt::Time(Timestamp(micros))),
            1 => Ok(ScheduleAt::Interval(std::time::Duration::from_micros(
                micros,
            ))),
            i => Err(DecodeError(format!("no variant {i} in enum ScheduleAt"))),
        }
    }
}
