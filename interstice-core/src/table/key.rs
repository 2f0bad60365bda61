//! Order-preserving byte keys: the encoding the table engine keys its
//! B-trees with, so that lookups and inserts compare bytes instead of
//! trees of [`Value`]s. Two values of one type compare as their keys
//! compare (`memcmp`), the order of [`Value`]'s `Ord`; a key of a struct's
//! first fields is a byte prefix of the key of the whole struct.
//!
//! | type | key |
//! |---|---|
//! | `Unit` | nothing |
//! | `Bool`, `U8` | one byte |
//! | `U16`…`U128` | big-endian |
//! | `I8`…`I128` | big-endian with the sign bit flipped |
//! | `F32`, `F64` | IEEE bits, all flipped when negative, else the sign bit flipped (`total_cmp` order) |
//! | `String`, `Bytes` | the bytes, each `00` written `00 FF`, then `00 00` |
//! | `Option` | `00`, or `01` and the value |
//! | `Vec` | `01` and the element, for each, then `00` |
//! | `Struct` | the fields' keys, in order |
//! | `Enum` | the variant index as a big-endian `u32`, then the payload |
//!
//! [`transcode`] reads a value in the canonical encoding (`docs/abi.md`)
//! and writes its key without building a [`Value`]: what replay and inserts
//! use. Keys are never decoded back.

use interstice_abi::{Type, Value};
use smallvec::SmallVec;

/// A key: inline up to 16 bytes (every integer key, and most short ones),
/// so most B-tree entries need no allocation of their own.
pub(crate) type Key = SmallVec<[u8; 16]>;

/// Writes the key of `v`.
pub(crate) fn value_key(v: &Value, out: &mut Key) {
    match v {
        Value::Unit => {}
        Value::Bool(b) => out.push(u8::from(*b)),
        Value::U8(n) => out.push(*n),
        Value::U16(n) => out.extend_from_slice(&n.to_be_bytes()),
        Value::U32(n) => out.extend_from_slice(&n.to_be_bytes()),
        Value::U64(n) => out.extend_from_slice(&n.to_be_bytes()),
        Value::U128(n) => out.extend_from_slice(&n.to_be_bytes()),
        Value::I8(n) => out.push((*n as u8) ^ 0x80),
        Value::I16(n) => out.extend_from_slice(&((*n as u16) ^ (1 << 15)).to_be_bytes()),
        Value::I32(n) => out.extend_from_slice(&((*n as u32) ^ (1 << 31)).to_be_bytes()),
        Value::I64(n) => out.extend_from_slice(&((*n as u64) ^ (1 << 63)).to_be_bytes()),
        Value::I128(n) => out.extend_from_slice(&((*n as u128) ^ (1 << 127)).to_be_bytes()),
        Value::F32(f) => out.extend_from_slice(&f32_key(f.to_bits()).to_be_bytes()),
        Value::F64(f) => out.extend_from_slice(&f64_key(f.to_bits()).to_be_bytes()),
        Value::String(s) => bytes_key(s.as_bytes(), out),
        Value::Bytes(b) => bytes_key(b, out),
        Value::Option(None) => out.push(0),
        Value::Option(Some(v)) => {
            out.push(1);
            value_key(v, out);
        }
        Value::Vec(items) => {
            for item in items {
                out.push(1);
                value_key(item, out);
            }
            out.push(0);
        }
        Value::Struct(fields) => fields.iter().for_each(|f| value_key(f, out)),
        Value::Enum(i, payload) => {
            out.extend_from_slice(&i.to_be_bytes());
            value_key(payload, out);
        }
    }
}

/// The key of a list of values (an index key, or a prefix of one).
pub(crate) fn values_key(values: &[Value]) -> Key {
    let mut key = Key::new();
    values.iter().for_each(|v| value_key(v, &mut key));
    key
}

fn f32_key(bits: u32) -> u32 {
    if bits >> 31 == 1 {
        !bits
    } else {
        bits ^ (1 << 31)
    }
}

fn f64_key(bits: u64) -> u64 {
    if bits >> 63 == 1 {
        !bits
    } else {
        bits ^ (1 << 63)
    }
}

fn bytes_key(bytes: &[u8], out: &mut Key) {
    for &b in bytes {
        out.push(b);
        if b == 0 {
            out.push(0xff);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

/// Byte order (what `memcmp` gives), eight bytes at a time as big-endian
/// integers: keys are short, and this saves a call per comparison in the
/// B-trees.
pub(crate) fn cmp_keys(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n {
        let x = u64::from_be_bytes(a[i..i + 8].try_into().expect("8 bytes"));
        let y = u64::from_be_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        if x != y {
            return x.cmp(&y);
        }
        i += 8;
    }
    while i < n {
        if a[i] != b[i] {
            return a[i].cmp(&b[i]);
        }
        i += 1;
    }
    a.len().cmp(&b.len())
}

/// The smallest key greater than every key that starts with `prefix`
/// (`None` when there is none: the prefix is all `FF`).
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Key> {
    let mut end = Key::from_slice(prefix);
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// The integer an integer key holds, if it is not negative (what
/// [`Value::as_u128`] gives for the value).
pub(crate) fn integer_of_key(ty: &Type, key: &[u8]) -> Option<u128> {
    let be = |bytes: &[u8]| {
        let mut buf = [0u8; 16];
        buf[16 - bytes.len()..].copy_from_slice(bytes);
        u128::from_be_bytes(buf)
    };
    let (width, signed) = match ty {
        Type::U8 => (1, false),
        Type::U16 => (2, false),
        Type::U32 => (4, false),
        Type::U64 => (8, false),
        Type::U128 => (16, false),
        Type::I8 => (1, true),
        Type::I16 => (2, true),
        Type::I32 => (4, true),
        Type::I64 => (8, true),
        Type::I128 => (16, true),
        _ => return None,
    };
    let n = be(key.get(..width)?);
    if !signed {
        return Some(n);
    }
    // The sign bit was flipped: set means not negative.
    let sign = 1u128 << (width * 8 - 1);
    (n & sign != 0).then_some(n & !sign)
}

/// Why bytes are not a value of the type expected.
#[derive(Debug)]
pub(crate) struct Malformed(pub &'static str);

/// Reads one value of type `ty` in the canonical encoding from the front
/// of `input` (advancing it), checking it as the decoder does, and writes
/// its key to `out` when given.
pub(crate) fn transcode(
    ty: &Type,
    input: &mut &[u8],
    mut out: Option<&mut Key>,
) -> Result<(), Malformed> {
    // Reads (always) and writes the key (when asked).
    macro_rules! put {
        ($bytes:expr) => {{
            let bytes = $bytes;
            if let Some(out) = out.as_deref_mut() {
                out.extend_from_slice(&bytes);
            }
        }};
    }
    match ty {
        Type::Unit => {}
        Type::Bool => match take(input, 1)?[0] {
            b @ (0 | 1) => put!([b]),
            _ => return Err(Malformed("a bool is 0 or 1")),
        },
        Type::U8 => put!(take(input, 1)?),
        Type::I8 => put!([take(input, 1)?[0] ^ 0x80]),
        Type::U16 => put!(fits::<u16>(varint(input)?)?.to_be_bytes()),
        Type::U32 => put!(fits::<u32>(varint(input)?)?.to_be_bytes()),
        Type::U64 => put!(fits::<u64>(varint(input)?)?.to_be_bytes()),
        Type::U128 => put!(varint(input)?.to_be_bytes()),
        Type::I16 => {
            let n = unzigzag(fits::<u16>(varint(input)?)?.into()) as u16;
            put!((n ^ (1 << 15)).to_be_bytes())
        }
        Type::I32 => {
            let n = unzigzag(fits::<u32>(varint(input)?)?.into()) as u32;
            put!((n ^ (1 << 31)).to_be_bytes())
        }
        Type::I64 => {
            let n = unzigzag(fits::<u64>(varint(input)?)?.into()) as u64;
            put!((n ^ (1 << 63)).to_be_bytes())
        }
        Type::I128 => {
            let n = unzigzag(varint(input)?);
            put!((n ^ (1 << 127)).to_be_bytes())
        }
        Type::F32 => {
            let bits = u32::from_le_bytes(take(input, 4)?.try_into().expect("4 bytes"));
            put!(f32_key(bits).to_be_bytes())
        }
        Type::F64 => {
            let bits = u64::from_le_bytes(take(input, 8)?.try_into().expect("8 bytes"));
            put!(f64_key(bits).to_be_bytes())
        }
        Type::String | Type::Bytes => {
            let len = usize::try_from(fits::<u64>(varint(input)?)?)
                .map_err(|_| Malformed("a length beyond memory"))?;
            let bytes = take(input, len)?;
            if matches!(ty, Type::String) && std::str::from_utf8(bytes).is_err() {
                return Err(Malformed("a string that is not UTF-8"));
            }
            if let Some(out) = out {
                bytes_key(bytes, out);
            }
        }
        Type::Option(inner) => match take(input, 1)?[0] {
            0 => put!([0]),
            1 => {
                put!([1]);
                transcode(inner, input, out)?;
            }
            _ => return Err(Malformed("an option tag is 0 or 1")),
        },
        Type::Vec(inner) => {
            let n = fits::<u64>(varint(input)?)?;
            // Each element takes at least one byte unless it is empty.
            if n > input.len() as u64
                && n > interstice_abi::encoding::MAX_ZERO_SIZED_ELEMENTS as u64
            {
                return Err(Malformed("a length beyond the bytes present"));
            }
            for _ in 0..n {
                put!([1]);
                transcode(inner, input, out.as_deref_mut())?;
            }
            put!([0]);
        }
        Type::Struct(s) => {
            for f in &s.fields {
                transcode(&f.ty, input, out.as_deref_mut())?;
            }
        }
        Type::Enum(e) => {
            let i = fits::<u32>(varint(input)?)?;
            let variant = e
                .variants
                .get(i as usize)
                .ok_or(Malformed("no such enum variant"))?;
            put!(i.to_be_bytes());
            transcode(&variant.ty, input, out)?;
        }
    }
    Ok(())
}

fn take<'a>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8], Malformed> {
    if input.len() < n {
        return Err(Malformed("the bytes end inside a value"));
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Ok(head)
}

/// A variable-length integer (`docs/abi.md`): one byte below 251, else a
/// marker and 2, 4, 8 or 16 little-endian bytes.
fn varint(input: &mut &[u8]) -> Result<u128, Malformed> {
    let first = take(input, 1)?[0];
    let le = |bytes: &[u8]| {
        let mut buf = [0u8; 16];
        buf[..bytes.len()].copy_from_slice(bytes);
        u128::from_le_bytes(buf)
    };
    Ok(match first {
        0..=250 => u128::from(first),
        251 => le(take(input, 2)?),
        252 => le(take(input, 4)?),
        253 => le(take(input, 8)?),
        254 => le(take(input, 16)?),
        _ => return Err(Malformed("an invalid integer marker")),
    })
}

fn fits<T: TryFrom<u128>>(n: u128) -> Result<T, Malformed> {
    T::try_from(n).map_err(|_| Malformed("an integer beyond its type"))
}

fn unzigzag(n: u128) -> u128 {
    (n >> 1) ^ (n & 1).wrapping_neg()
}

#[cfg(test)]
mod tests {
    use super::*;
    use interstice_abi::encode_value;
    use proptest::prelude::*;

    fn key(v: &Value) -> Key {
        let mut k = Key::new();
        value_key(v, &mut k);
        k
    }

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<bool>().prop_map(Value::Bool),
            any::<i8>().prop_map(Value::I8),
            any::<i32>().prop_map(Value::I32),
            any::<i64>().prop_map(Value::I64),
            any::<u16>().prop_map(Value::U16),
            any::<u64>().prop_map(Value::U64),
            any::<i128>().prop_map(Value::I128),
            any::<f64>().prop_map(Value::F64),
            "[a\\x00b]{0,4}".prop_map(Value::String),
        ]
    }

    /// Pairs of values of one type: same-shaped structs of leaves, with
    /// options and vectors.
    fn pair() -> impl Strategy<Value = (Value, Value)> {
        let field = prop_oneof![
            (any::<u64>(), any::<u64>()).prop_map(|(a, b)| (Value::U64(a), Value::U64(b))),
            (any::<i32>(), any::<i32>()).prop_map(|(a, b)| (Value::I32(a), Value::I32(b))),
            (any::<f32>(), any::<f32>()).prop_map(|(a, b)| (Value::F32(a), Value::F32(b))),
            ("[\\x00ab]{0,3}", "[\\x00ab]{0,3}")
                .prop_map(|(a, b)| (Value::String(a), Value::String(b))),
            (
                proptest::option::of(any::<u8>()),
                proptest::option::of(any::<u8>())
            )
                .prop_map(|(a, b)| {
                    let o = |x: Option<u8>| Value::Option(x.map(|n| Box::new(Value::U8(n))));
                    (o(a), o(b))
                }),
            (
                proptest::collection::vec(any::<u8>(), 0..3),
                proptest::collection::vec(any::<u8>(), 0..3)
            )
                .prop_map(|(a, b)| {
                    let v = |x: Vec<u8>| Value::Vec(x.into_iter().map(Value::U8).collect());
                    (v(a), v(b))
                }),
        ];
        proptest::collection::vec(field, 1..4).prop_map(|fields| {
            let (a, b): (Vec<_>, Vec<_>) = fields.into_iter().unzip();
            (Value::Struct(a), Value::Struct(b))
        })
    }

    fn type_of(v: &Value) -> Type {
        match v {
            Value::Bool(_) => Type::Bool,
            Value::I8(_) => Type::I8,
            Value::I32(_) => Type::I32,
            Value::I64(_) => Type::I64,
            Value::U8(_) => Type::U8,
            Value::U16(_) => Type::U16,
            Value::U64(_) => Type::U64,
            Value::I128(_) => Type::I128,
            Value::F32(_) => Type::F32,
            Value::F64(_) => Type::F64,
            Value::String(_) => Type::String,
            other => unreachable!("not generated: {other:?}"),
        }
    }

    proptest! {
        #[test]
        fn keys_order_as_values_do((a, b) in pair()) {
            prop_assert_eq!(key(&a).cmp(&key(&b)), a.cmp(&b), "{:?} {:?}", a, b);
        }

        #[test]
        fn transcoding_the_encoding_gives_the_key(v in leaf()) {
            let ty = type_of(&v);
            let bytes = encode_value(&v).unwrap();
            let mut input = bytes.as_slice();
            let mut k = Key::new();
            transcode(&ty, &mut input, Some(&mut k)).unwrap();
            prop_assert!(input.is_empty());
            prop_assert_eq!(k, key(&v));
        }
    }

    proptest! {
        #[test]
        fn skipping_a_value_consumes_exactly_its_bytes(v in leaf()) {
            let ty = type_of(&v);
            let mut bytes = encode_value(&v).unwrap();
            bytes.push(0x5a);
            let mut input = bytes.as_slice();
            transcode(&ty, &mut input, None).unwrap();
            prop_assert_eq!(input, &[0x5a][..]);
        }
    }

    proptest! {
        #[test]
        fn key_comparison_is_byte_order(a in proptest::collection::vec(0u8..4, 0..24),
                                        b in proptest::collection::vec(0u8..4, 0..24)) {
            prop_assert_eq!(cmp_keys(&a, &b), a.cmp(&b));
        }
    }

    #[test]
    fn integer_keys_give_back_their_integer() {
        for v in [Value::U64(7), Value::I32(5), Value::I64(0), Value::U8(255)] {
            let ty = type_of(&v);
            assert_eq!(integer_of_key(&ty, &key(&v)), v.as_u128(), "{v:?}");
        }
        assert_eq!(integer_of_key(&Type::I32, &key(&Value::I32(-3))), None);
    }

    #[test]
    fn a_prefix_key_is_a_byte_prefix_and_prefix_end_bounds_it() {
        let whole = values_key(&[Value::U32(7), Value::String("x".into())]);
        let prefix = values_key(&[Value::U32(7)]);
        assert!(whole.starts_with(&prefix));
        let end = prefix_end(&prefix).unwrap();
        assert!(whole.as_slice() < end.as_slice());
        assert!(values_key(&[Value::U32(8)]).as_slice() >= end.as_slice());
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
    }
}
