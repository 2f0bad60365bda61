//! Values as JSON, for people and HTTP clients: reducer arguments in,
//! rows out. The schema's [`Type`] decides every conversion, so the JSON
//! carries no type tags.
//!
//! | type | JSON |
//! |------|------|
//! | integers | numbers (128-bit ones beyond ±2^53 also accepted and written as strings) |
//! | `f32`, `f64` | numbers (`NaN` and infinities as the strings `"NaN"`, `"inf"`, `"-inf"`) |
//! | `bool`, `String` | booleans, strings |
//! | `Bytes` | a string of hex digits |
//! | `Option` | `null` or the value |
//! | `Vec` | an array |
//! | `Struct` | an object by field name (an array by position is accepted too) |
//! | `Enum` | `"Variant"` for a unit variant, else `{"Variant": payload}` |
//! | `Unit` | `null` |

use interstice_abi::{StructType, Type, Value};
use serde_json::{Map, Number, Value as Json};

/// JSON that does not fit the expected type, with the place it was found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: expected {expected}, found {found}")]
pub struct JsonError {
    /// Where: `name`, `row.tags[2]`, ...
    pub path: String,
    /// The type expected there.
    pub expected: String,
    /// What was there.
    pub found: String,
}

fn describe(j: &Json) -> String {
    let s = j.to_string();
    if s.len() > 40 {
        format!("{}...", &s[..s.floor_char_boundary(40)])
    } else {
        s
    }
}

/// A value of type `ty` as JSON.
pub fn to_json(value: &Value, ty: &Type) -> Json {
    match (value, ty) {
        (Value::Unit, _) => Json::Null,
        (Value::Bool(b), _) => Json::Bool(*b),
        (Value::I8(v), _) => (*v).into(),
        (Value::I16(v), _) => (*v).into(),
        (Value::I32(v), _) => (*v).into(),
        (Value::I64(v), _) => (*v).into(),
        (Value::U8(v), _) => (*v).into(),
        (Value::U16(v), _) => (*v).into(),
        (Value::U32(v), _) => (*v).into(),
        (Value::U64(v), _) => (*v).into(),
        (Value::I128(v), _) => match i64::try_from(*v) {
            Ok(small) => small.into(),
            Err(_) => Json::String(v.to_string()),
        },
        (Value::U128(v), _) => match u64::try_from(*v) {
            Ok(small) => small.into(),
            Err(_) => Json::String(v.to_string()),
        },
        (Value::F32(v), _) => float(*v as f64),
        (Value::F64(v), _) => float(*v),
        (Value::String(s), _) => Json::String(s.clone()),
        (Value::Bytes(b), _) => Json::String(b.iter().map(|x| format!("{x:02x}")).collect()),
        (Value::Option(None), _) => Json::Null,
        (Value::Option(Some(v)), Type::Option(t)) => to_json(v, t),
        (Value::Vec(items), Type::Vec(t)) => {
            Json::Array(items.iter().map(|v| to_json(v, t)).collect())
        }
        (Value::Struct(fields), Type::Struct(s)) => Json::Object(
            s.fields
                .iter()
                .zip(fields)
                .map(|(f, v)| (f.name.clone(), to_json(v, &f.ty)))
                .collect(),
        ),
        (Value::Enum(i, payload), Type::Enum(e)) => match e.variants.get(*i as usize) {
            Some(v) if v.ty == Type::Unit => Json::String(v.name.clone()),
            Some(v) => {
                let mut m = Map::new();
                m.insert(v.name.clone(), to_json(payload, &v.ty));
                Json::Object(m)
            }
            None => Json::Null,
        },
        // A value that does not match its type: show it untyped.
        (other, _) => Json::String(other.to_string()),
    }
}

fn float(v: f64) -> Json {
    match Number::from_f64(v) {
        Some(n) => Json::Number(n),
        None if v.is_nan() => Json::String("NaN".into()),
        None if v > 0.0 => Json::String("inf".into()),
        None => Json::String("-inf".into()),
    }
}

/// A row as a JSON object by column name (the columns and the row's
/// values in the same order).
pub fn row_object(columns: &[interstice_abi::ColumnSchema], row: &[Value]) -> Json {
    columns
        .iter()
        .zip(row)
        .map(|(c, v)| (c.name.clone(), to_json(v, &c.ty)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// The value of type `ty` that `json` describes; `path` names it in errors.
pub fn from_json(json: &Json, ty: &Type, path: &str) -> Result<Value, JsonError> {
    let err = || JsonError {
        path: path.to_owned(),
        expected: ty.to_string(),
        found: describe(json),
    };
    macro_rules! int {
        ($variant:ident, $t:ty) => {{
            let v: Option<$t> = match json {
                Json::Number(n) => n
                    .as_i64()
                    .and_then(|v| <$t>::try_from(v).ok())
                    .or_else(|| n.as_u64().and_then(|v| <$t>::try_from(v).ok())),
                Json::String(s) => s.trim().parse().ok(),
                _ => None,
            };
            Value::$variant(v.ok_or_else(err)?)
        }};
    }
    Ok(match ty {
        Type::Unit => match json {
            Json::Null => Value::Unit,
            _ => return Err(err()),
        },
        Type::Bool => Value::Bool(json.as_bool().ok_or_else(err)?),
        Type::I8 => int!(I8, i8),
        Type::I16 => int!(I16, i16),
        Type::I32 => int!(I32, i32),
        Type::I64 => int!(I64, i64),
        Type::I128 => int!(I128, i128),
        Type::U8 => int!(U8, u8),
        Type::U16 => int!(U16, u16),
        Type::U32 => int!(U32, u32),
        Type::U64 => int!(U64, u64),
        Type::U128 => int!(U128, u128),
        Type::F32 => Value::F32(json_float(json).ok_or_else(err)? as f32),
        Type::F64 => Value::F64(json_float(json).ok_or_else(err)?),
        Type::String => Value::String(json.as_str().ok_or_else(err)?.to_owned()),
        Type::Bytes => Value::Bytes(hex(json.as_str().ok_or_else(err)?).ok_or_else(err)?),
        Type::Option(t) => match json {
            Json::Null => Value::Option(None),
            j => Value::Option(Some(Box::new(from_json(j, t, path)?))),
        },
        Type::Vec(t) => {
            let items = json.as_array().ok_or_else(err)?;
            Value::Vec(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, j)| from_json(j, t, &format!("{path}[{i}]")))
                    .collect::<Result<_, _>>()?,
            )
        }
        Type::Struct(s) => {
            Value::Struct(struct_fields(json, s, path).map_err(|e| e.unwrap_or_else(err))?)
        }
        Type::Enum(e) => {
            let (name, payload) = match json {
                Json::String(name) => (name.as_str(), &Json::Null),
                Json::Object(m) if m.len() == 1 => {
                    let (k, v) = m.iter().next().expect("one entry");
                    (k.as_str(), v)
                }
                _ => return Err(err()),
            };
            let Some(i) = e.variants.iter().position(|v| v.name == name) else {
                let names: Vec<_> = e.variants.iter().map(|v| v.name.as_str()).collect();
                return Err(JsonError {
                    path: path.to_owned(),
                    expected: format!("one of {}", names.join(", ")),
                    found: describe(json),
                });
            };
            let v = &e.variants[i];
            Value::Enum(
                i as u32,
                Box::new(from_json(payload, &v.ty, &format!("{path}.{name}"))?),
            )
        }
    })
}

fn json_float(j: &Json) -> Option<f64> {
    match j {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "inf" => Some(f64::INFINITY),
            "-inf" => Some(f64::NEG_INFINITY),
            s => s.parse().ok(),
        },
        _ => None,
    }
}

fn hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A struct's fields from an object (by name; every field required,
/// except `Option`s, which default to none; unknown names are errors) or
/// an array (by position). `Err(None)`: neither an object nor an array.
fn struct_fields(json: &Json, s: &StructType, path: &str) -> Result<Vec<Value>, Option<JsonError>> {
    let at = |name: &str| {
        if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    match json {
        Json::Object(m) => {
            if let Some(unknown) = m.keys().find(|k| !s.fields.iter().any(|f| &f.name == *k)) {
                let names: Vec<_> = s.fields.iter().map(|f| f.name.as_str()).collect();
                return Err(Some(JsonError {
                    path: at(unknown),
                    expected: format!("one of the fields {}", names.join(", ")),
                    found: "an unknown field".into(),
                }));
            }
            s.fields
                .iter()
                .map(|f| match m.get(&f.name) {
                    Some(j) => from_json(j, &f.ty, &at(&f.name)),
                    None if matches!(f.ty, Type::Option(_)) => Ok(Value::Option(None)),
                    None => Err(JsonError {
                        path: at(&f.name),
                        expected: f.ty.to_string(),
                        found: "nothing (missing)".into(),
                    }),
                })
                .collect::<Result<_, _>>()
                .map_err(Some)
        }
        Json::Array(items) => {
            if items.len() != s.fields.len() {
                return Err(Some(JsonError {
                    path: if path.is_empty() {
                        "arguments".into()
                    } else {
                        path.to_owned()
                    },
                    expected: format!(
                        "{} values ({})",
                        s.fields.len(),
                        s.fields
                            .iter()
                            .map(|f| format!("{}: {}", f.name, f.ty))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    found: format!("{} values", items.len()),
                }));
            }
            s.fields
                .iter()
                .zip(items)
                .map(|(f, j)| from_json(j, &f.ty, &at(&f.name)))
                .collect::<Result<_, _>>()
                .map_err(Some)
        }
        _ => Err(None),
    }
}
