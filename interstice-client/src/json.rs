//! Values as the node writes and reads them in JSON (`docs/cli.md`,
//! "Values as JSON"): the [`Json`] trait, implemented here for the
//! primitive types and by generated code for rows and custom types.
//!
//! | schema type | Rust | JSON |
//! |-------------|------|------|
//! | integers | `i8` ... `u128` | numbers; 128-bit ones beyond the 64-bit range are strings |
//! | `f32`, `f64` | `f32`, `f64` | numbers; `"NaN"`, `"inf"`, `"-inf"` |
//! | `bool`, `String` | `bool`, `String` | booleans, strings |
//! | `Bytes` | [`Bytes`] | a string of hex digits |
//! | `Option<T>` | `Option<T>` | `null` or the value |
//! | `Vec<T>` | `Vec<T>` | an array |
//! | struct | a struct | an object by field name |
//! | enum | an enum | `"Variant"` (no payload) or `{"Variant": payload}` |
//! | `()` | `()` | `null` |
//!
//! Reading is lenient where the node's schema may have grown: fields an
//! object has beyond the type's are ignored (a column added later), and a
//! missing `Option` field is `None`.

use serde_json::{Map, Number, Value};

/// JSON that does not fit the expected type, and where it was found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: expected {expected}, found {found}")]
pub struct DecodeError {
    /// Where: `row.tags[2]`, `event.Transfer.from`, ...
    pub path: String,
    /// What was expected there.
    pub expected: String,
    /// What was there (shortened).
    pub found: String,
}

impl DecodeError {
    /// `expected` at `path`, where `found` was.
    pub fn new(path: &str, expected: impl Into<String>, found: &Value) -> Self {
        let mut text = found.to_string();
        if text.len() > 40 {
            let mut end = 40;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
            text.push_str("...");
        }
        Self {
            path: path.to_owned(),
            expected: expected.into(),
            found: text,
        }
    }
}

/// A value with the node's JSON mapping, both ways.
pub trait Json: Sized {
    /// The value as the node reads it.
    fn to_json(&self) -> Value;

    /// The value from what the node wrote; `path` names it in errors.
    fn from_json(json: &Value, path: &str) -> Result<Self, DecodeError>;

    /// The value of a field an object lacks: `None` for an `Option`,
    /// otherwise none (the field is required).
    fn missing() -> Option<Self> {
        None
    }
}

/// A byte string (the schema's `Bytes`), written as hex digits.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bytes(pub Vec<u8>);

impl From<Vec<u8>> for Bytes {
    fn from(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
}

impl Json for Bytes {
    fn to_json(&self) -> Value {
        Value::String(self.0.iter().map(|b| format!("{b:02x}")).collect())
    }

    fn from_json(json: &Value, path: &str) -> Result<Self, DecodeError> {
        let err = || DecodeError::new(path, "hex digits", json);
        let text = json.as_str().ok_or_else(err)?;
        if !text.len().is_multiple_of(2) {
            return Err(err());
        }
        (0..text.len())
            .step_by(2)
            .map(|i| {
                text.get(i..i + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            })
            .collect::<Option<Vec<u8>>>()
            .map(Bytes)
            .ok_or_else(err)
    }
}

macro_rules! small_int {
    ($($t:ty),*) => {$(
        impl Json for $t {
            fn to_json(&self) -> Value {
                (*self).into()
            }

            fn from_json(json: &Value, path: &str) -> Result<Self, DecodeError> {
                let v = match json {
                    Value::Number(n) => n
                        .as_i64()
                        .and_then(|v| <$t>::try_from(v).ok())
                        .or_else(|| n.as_u64().and_then(|v| <$t>::try_from(v).ok())),
                    Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                };
                v.ok_or_else(|| DecodeError::new(path, stringify!($t), json))
            }
        }
    )*};
}

small_int!(i8, i16, i32, i64, u8, u16, u32, u64);

impl Json for i128 {
    fn to_json(&self) -> Value {
        match i64::try_from(*self) {
            Ok(small) => small.into(),
            Err(_) => Value::String(self.to_string()),
        }
    }

    fn from_json(json: &Value, path: &str) -> Result<Self, DecodeError> {
        let v = match json {
            Value::Number(n) => n.as_i64().map(i128::from).or(n.as_u64().map(i128::from)),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        v.ok_or_else(|| DecodeError::new(path, "i128", json))
    }
}

impl Json for u128 {
    fn to_json(&self) -> Value {
        match u64::try_from(*self) {
            Ok(small) => small.into(),
            Err(_) => Value::String(self.to_string()),
        }
    }

    fn from_json(json: &Value, path: &str) -> Result<Self, DecodeError> {
        let v = match json {
            Value::Number(n) => n.as_u64().map(u128::from),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        v.ok_or_else(|| DecodeError::new(path, "u128", json))
    }
}

fn float_to_json(v: f64) -> Value {
    match Number::from_f64(v) {
        Some(n) => Value::Number(n),
        None if v.is_nan() => Value::String("NaN".into()),
        None if v > 0.0 => Value::String("inf".into()),
        None => Value::String("-inf".into()),
    }
}

fn float_from_json(json: &Value) -> Option<f64> {
    match json {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "inf" => Some(f64::INFINITY),
            "-inf" => Some(f64::NEG_INFINITY),
            s => s.parse().ok(),
        },
        _ => None,
    }
}

impl Json for f64 {
    fn to_json(&self) -> Value {
        float_to_json(*self)
    }

    fn from_json(json: &Value, path: &str) -> Result<Self, DecodeError> {
        float_from_json(json).ok_or_else(|| DecodeError::new(path, "f64", json))
    }
}

impl Json for f32 {
    fn to_json(&self) -> Value {
        float_to_json(f64::from(*self))
    }

    fn from_json(json: &Value, path: &str) -> Result<Self, DecodeError> {
        float_from_json(json)
            .map(|v| v as f32)
            .ok_or_else(|| DecodeError::new(path, "f32", json))
    }
}

impl Json for bool {
    fn to_json(&self) -> Value {
        Value::Bool(*self)
    }

    fn from_json(json: &Value, path: &str) -> Result<Self, DecodeError> {
        json.as_bool()
            .ok_or_else(|| DecodeError::new(path, "bool", json))
    }
}

impl Json for String {
    fn to_json(&self) -> Value {
        Value::String(self.clone())
    }

    fn from_json(json: &Value, path: &str) -> Result<Self, DecodeError> {
        json.as_str()
            .map(str::to_owned)
            .ok_or_else(|| DecodeError::new(path, "a string", json))
    }
}

impl Json for () {
    fn to_json(&self) -> Value {
        Value::Null
    }

    fn from_json(json: &Value, path: &str) -> Result<Self, DecodeError> {
        match json {
            Value::Null => Ok(()),
            _ => Err(DecodeError::new(path, "null", json)),
        }
    }
}

impl<T: Json> Json for Option<T> {
    fn to_json(&self) -> Value {
        self.as_ref().map_or(Value::Null, T::to_json)
    }

    fn from_json(json: &Value, path: &str) -> Result<Self, DecodeError> {
        match json {
            Value::Null => Ok(None),
            j => T::from_json(j, path).map(Some),
        }
    }

    fn missing() -> Option<Self> {
        Some(None)
    }
}

impl<T: Json> Json for Vec<T> {
    fn to_json(&self) -> Value {
        Value::Array(self.iter().map(T::to_json).collect())
    }

    fn from_json(json: &Value, path: &str) -> Result<Self, DecodeError> {
        let items = json
            .as_array()
            .ok_or_else(|| DecodeError::new(path, "an array", json))?;
        items
            .iter()
            .enumerate()
            .map(|(i, j)| T::from_json(j, &format!("{path}[{i}]")))
            .collect()
    }
}

macro_rules! tuple {
    ($($n:tt $t:ident),*) => {
        /// A tuple is the schema's struct without a name (a composite key):
        /// an object with the fields `"0"`, `"1"`, ...
        impl<$($t: Json),*> Json for ($($t,)*) {
            fn to_json(&self) -> Value {
                let mut m = Map::new();
                $(m.insert(stringify!($n).to_owned(), self.$n.to_json());)*
                Value::Object(m)
            }

            fn from_json(json: &Value, path: &str) -> Result<Self, DecodeError> {
                let o = object(json, path, "tuple")?;
                Ok(($(field::<$t>(o, stringify!($n), path)?,)*))
            }
        }
    };
}

tuple!(0 A);
tuple!(0 A, 1 B);
tuple!(0 A, 1 B, 2 C);
tuple!(0 A, 1 B, 2 C, 3 D);
tuple!(0 A, 1 B, 2 C, 3 D, 4 E);
tuple!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F);

/// The object a struct is read from (generated code's first step).
pub fn object<'a>(
    json: &'a Value,
    path: &str,
    ty: &str,
) -> Result<&'a Map<String, Value>, DecodeError> {
    json.as_object()
        .ok_or_else(|| DecodeError::new(path, format!("a {ty} object"), json))
}

/// Field `name` of an object: required unless its type is an `Option`.
pub fn field<T: Json>(
    object: &Map<String, Value>,
    name: &str,
    path: &str,
) -> Result<T, DecodeError> {
    let at = if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    };
    match object.get(name) {
        Some(j) => T::from_json(j, &at),
        None => T::missing().ok_or_else(|| DecodeError {
            path: at,
            expected: "a value".into(),
            found: "nothing (missing)".into(),
        }),
    }
}

/// The variant an enum value names and its payload (`null` for a unit
/// variant): `"Variant"` or `{"Variant": payload}`.
pub fn variant<'a>(
    json: &'a Value,
    path: &str,
    ty: &str,
) -> Result<(&'a str, &'a Value), DecodeError> {
    match json {
        Value::String(name) => Ok((name, &Value::Null)),
        Value::Object(m) if m.len() == 1 => {
            let (name, payload) = m.iter().next().expect("one entry");
            Ok((name, payload))
        }
        _ => Err(DecodeError::new(path, format!("a {ty} variant"), json)),
    }
}

/// The error for a variant name an enum does not have.
pub fn unknown_variant(json: &Value, path: &str, ty: &str, names: &[&str]) -> DecodeError {
    DecodeError::new(path, format!("a {ty} variant ({})", names.join(", ")), json)
}

/// `{"Variant": payload}`, as a variant with a payload is written.
pub fn tagged(name: &str, payload: Value) -> Value {
    let mut m = Map::new();
    m.insert(name.to_owned(), payload);
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip<T: Json + PartialEq + std::fmt::Debug>(v: T, expected: Value) {
        assert_eq!(v.to_json(), expected);
        assert_eq!(T::from_json(&expected, "v").unwrap(), v);
    }

    #[test]
    fn integers_keep_every_bit() {
        round_trip(u64::MAX, json!(18446744073709551615u64));
        round_trip(i64::MIN, json!(-9223372036854775808i64));
        round_trip(u128::MAX, json!("340282366920938463463374607431768211455"));
        round_trip(i128::MIN, json!("-170141183460469231731687303715884105728"));
        round_trip(7u128, json!(7));
        assert_eq!(u8::from_json(&json!(256), "n").unwrap_err().path, "n");
        assert!(u8::from_json(&json!(-1), "n").is_err());
    }

    #[test]
    fn floats_bytes_options_and_vecs() {
        round_trip(1.5f64, json!(1.5));
        assert_eq!(f64::INFINITY.to_json(), json!("inf"));
        assert!(f64::from_json(&json!("NaN"), "f").unwrap().is_nan());
        round_trip(Bytes(vec![0, 255, 16]), json!("00ff10"));
        assert!(Bytes::from_json(&json!("0g"), "b").is_err());
        round_trip(Some(3u8), json!(3));
        round_trip(None::<u8>, json!(null));
        round_trip(vec!["a".to_owned()], json!(["a"]));
        round_trip((1u8, "x".to_owned()), json!({"0": 1, "1": "x"}));
        let err = Vec::<u8>::from_json(&json!([1, "x"]), "tags").unwrap_err();
        assert_eq!(err.path, "tags[1]");
    }

    #[test]
    fn fields_may_be_missing_only_when_optional() {
        let m = json!({"a": 1});
        let m = m.as_object().unwrap();
        assert_eq!(field::<Option<u8>>(m, "b", "row").unwrap(), None);
        let err = field::<u8>(m, "b", "row").unwrap_err();
        assert_eq!(err.path, "row.b");
        assert_eq!(field::<u8>(m, "a", "").unwrap(), 1);
    }

    #[test]
    fn variants_are_names_or_single_entry_objects() {
        assert_eq!(
            variant(&json!("Online"), "p", "Presence").unwrap().0,
            "Online"
        );
        let v = json!({"Away": {"since": 1}});
        let (name, payload) = variant(&v, "p", "Presence").unwrap();
        assert_eq!((name, payload), ("Away", &json!({"since": 1})));
        assert!(variant(&json!({"a": 1, "b": 2}), "p", "Presence").is_err());
        assert_eq!(tagged("Churned", json!(3)), json!({"Churned": 3}));
    }
}
