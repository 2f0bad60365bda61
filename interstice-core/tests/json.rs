//! Values to and from JSON, driven by the schema's types.

use interstice_abi::{EnumType, Field, StructType, Type, Value, Variant};
use interstice_core::json::{from_json, to_json};
use serde_json::json;

fn field(name: &str, ty: Type) -> Field {
    Field {
        name: name.into(),
        ty,
    }
}

fn shape() -> Type {
    Type::Enum(EnumType {
        name: "Shape".into(),
        variants: vec![
            Variant {
                name: "Empty".into(),
                ty: Type::Unit,
            },
            Variant {
                name: "Circle".into(),
                ty: Type::F64,
            },
            Variant {
                name: "Rect".into(),
                ty: Type::Struct(StructType {
                    name: "Rect".into(),
                    fields: vec![field("w", Type::U32), field("h", Type::U32)],
                }),
            },
        ],
    })
}

fn row_type() -> Type {
    Type::Struct(StructType {
        name: "Row".into(),
        fields: vec![
            field("id", Type::U64),
            field("delta", Type::I32),
            field("big", Type::U128),
            field("name", Type::String),
            field("blob", Type::Bytes),
            field("note", Type::Option(Box::new(Type::String))),
            field("tags", Type::Vec(Box::new(Type::String))),
            field("shape", shape()),
            field("ratio", Type::F64),
            field("ok", Type::Bool),
        ],
    })
}

fn row() -> Value {
    Value::Struct(vec![
        Value::U64(7),
        Value::I32(-3),
        Value::U128(u128::MAX),
        Value::String("ada".into()),
        Value::Bytes(vec![0xde, 0xad]),
        Value::Option(None),
        Value::Vec(vec![Value::String("x".into())]),
        Value::Enum(
            2,
            Box::new(Value::Struct(vec![Value::U32(2), Value::U32(3)])),
        ),
        Value::F64(f64::NAN),
        Value::Bool(true),
    ])
}

#[test]
fn rows_become_readable_json_and_come_back() {
    let j = to_json(&row(), &row_type());
    assert_eq!(
        j,
        json!({
            "id": 7, "delta": -3, "big": u128::MAX.to_string(), "name": "ada",
            "blob": "dead", "note": null, "tags": ["x"],
            "shape": {"Rect": {"w": 2, "h": 3}}, "ratio": "NaN", "ok": true
        })
    );
    let back = from_json(&j, &row_type(), "").unwrap();
    // NaN != NaN as a value; compare the encodings.
    assert_eq!(
        interstice_abi::encode_value(&back).unwrap(),
        interstice_abi::encode_value(&row()).unwrap()
    );
    assert_eq!(
        from_json(&json!("Empty"), &shape(), "s").unwrap(),
        Value::Enum(0, Box::new(Value::Unit))
    );
}

#[test]
fn arguments_by_position_or_by_name() {
    let params = Type::Struct(StructType {
        name: "args".into(),
        fields: vec![
            field("name", Type::String),
            field("times", Type::Option(Box::new(Type::U8))),
        ],
    });
    let expected = Value::Struct(vec![
        Value::String("ada".into()),
        Value::Option(Some(Box::new(Value::U8(2)))),
    ]);
    assert_eq!(
        from_json(&json!(["ada", 2]), &params, "").unwrap(),
        expected
    );
    assert_eq!(
        from_json(&json!({"times": 2, "name": "ada"}), &params, "").unwrap(),
        expected
    );
    // A missing Option is none; a missing anything else is an error.
    assert_eq!(
        from_json(&json!({"name": "ada"}), &params, "").unwrap(),
        Value::Struct(vec![Value::String("ada".into()), Value::Option(None)])
    );
    let err = from_json(&json!({"times": 1}), &params, "").unwrap_err();
    assert_eq!(
        err.to_string(),
        "name: expected String, found nothing (missing)"
    );
    let err = from_json(&json!(["ada"]), &params, "").unwrap_err();
    assert!(
        err.to_string()
            .contains("2 values (name: String, times: Option<u8>)"),
        "{err}"
    );
    let err = from_json(&json!({"name": "a", "tims": 1}), &params, "").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("tims: expected one of the fields name, times"),
        "{err}"
    );
}

#[test]
fn errors_name_the_place_and_the_type() {
    let err = from_json(&json!({"id": -1}), &row_type(), "row").unwrap_err();
    assert_eq!(err.path, "row.id");
    let j = json!({"id": 1, "delta": 0, "big": 0, "name": "n", "blob": "zz", "tags": [], "shape": "Empty", "ratio": 1.0, "ok": false});
    let err = from_json(&j, &row_type(), "row").unwrap_err();
    assert_eq!(err.path, "row.blob");
    let mut j2 = j.clone();
    j2["blob"] = json!("");
    j2["tags"] = json!(["a", 3]);
    let err = from_json(&j2, &row_type(), "row").unwrap_err();
    assert_eq!(
        (err.path.as_str(), err.found.as_str()),
        ("row.tags[1]", "3")
    );
    j2["tags"] = json!([]);
    j2["shape"] = json!("Square");
    let err = from_json(&j2, &row_type(), "row").unwrap_err();
    assert!(err.expected.contains("Empty, Circle, Rect"), "{err}");
}
