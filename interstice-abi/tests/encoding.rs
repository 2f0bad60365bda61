//! The host's dynamic view (Value + Type) and a guest's Rust types must
//! produce and accept exactly the same bytes.

use interstice_abi::{
    EncodingError, EnumType, Field, StructType, Type, Value, Variant, decode, decode_value, encode,
    encode_value,
};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, PartialEq)]
enum Shape {
    Point,
    Circle(f64),
    Rect { w: u32, h: u32 },
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Row {
    id: u64,
    small: i8,
    wide: i128,
    huge: u128,
    neg: i32,
    flag: bool,
    ratio: f32,
    name: String,
    blob: Vec<u8>,
    nick: Option<String>,
    tags: Vec<String>,
    shapes: Vec<Shape>,
    nested: Option<Vec<Option<u16>>>,
}

fn shape_type() -> Type {
    Type::Enum(EnumType {
        name: "Shape".into(),
        variants: vec![
            Variant {
                name: "Point".into(),
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
                    fields: vec![
                        Field {
                            name: "w".into(),
                            ty: Type::U32,
                        },
                        Field {
                            name: "h".into(),
                            ty: Type::U32,
                        },
                    ],
                }),
            },
        ],
    })
}

fn row_type() -> Type {
    let f = |name: &str, ty| Field {
        name: name.into(),
        ty,
    };
    Type::Struct(StructType {
        name: "Row".into(),
        fields: vec![
            f("id", Type::U64),
            f("small", Type::I8),
            f("wide", Type::I128),
            f("huge", Type::U128),
            f("neg", Type::I32),
            f("flag", Type::Bool),
            f("ratio", Type::F32),
            f("name", Type::String),
            f("blob", Type::Bytes),
            f("nick", Type::Option(Box::new(Type::String))),
            f("tags", Type::Vec(Box::new(Type::String))),
            f("shapes", Type::Vec(Box::new(shape_type()))),
            f(
                "nested",
                Type::Option(Box::new(Type::Vec(Box::new(Type::Option(Box::new(
                    Type::U16,
                )))))),
            ),
        ],
    })
}

fn sample() -> (Row, Value) {
    let row = Row {
        id: 300,
        small: -3,
        wide: -(1 << 100),
        huge: u128::MAX,
        neg: -70000,
        flag: true,
        ratio: 1.5,
        name: "Ada".into(),
        blob: vec![0, 255, 7],
        nick: None,
        tags: vec!["a".into(), "bc".into()],
        shapes: vec![Shape::Point, Shape::Circle(2.0), Shape::Rect { w: 3, h: 4 }],
        nested: Some(vec![Some(9), None]),
    };
    let value = Value::Struct(vec![
        Value::U64(300),
        Value::I8(-3),
        Value::I128(-(1 << 100)),
        Value::U128(u128::MAX),
        Value::I32(-70000),
        Value::Bool(true),
        Value::F32(1.5),
        Value::String("Ada".into()),
        Value::Bytes(vec![0, 255, 7]),
        Value::Option(None),
        Value::Vec(vec!["a".into(), "bc".into()]),
        Value::Vec(vec![
            Value::Enum(0, Box::new(Value::Unit)),
            Value::Enum(1, Box::new(Value::F64(2.0))),
            Value::Enum(
                2,
                Box::new(Value::Struct(vec![Value::U32(3), Value::U32(4)])),
            ),
        ]),
        Value::Option(Some(Box::new(Value::Vec(vec![
            Value::Option(Some(Box::new(Value::U16(9)))),
            Value::Option(None),
        ])))),
    ]);
    (row, value)
}

#[test]
fn guest_types_and_host_values_encode_identically() {
    let (row, value) = sample();
    let guest = encode(&row).unwrap();
    assert_eq!(encode_value(&value).unwrap(), guest);
    assert_eq!(decode_value(&row_type(), &guest).unwrap(), value);
    assert_eq!(decode::<Row>(&encode_value(&value).unwrap()).unwrap(), row);
    value.check(&row_type(), "row").unwrap();
}

#[test]
fn the_wire_format_is_pinned() {
    // docs/abi.md: varint integers (zigzag for signed), u64 varint lengths,
    // u32 varint variant indexes, 1-byte Option tags, fixed-width floats.
    let v = Value::Struct(vec![
        Value::U64(300),
        Value::I32(-2),
        Value::String("hi".into()),
        Value::Option(Some(Box::new(Value::Bool(true)))),
        Value::Enum(2, Box::new(Value::F32(1.0))),
    ]);
    assert_eq!(
        encode_value(&v).unwrap(),
        [251, 44, 1, 3, 2, b'h', b'i', 1, 1, 2, 0, 0, 128, 63]
    );
}

/// The type encodings `docs/abi.md` gives as examples, and the variant
/// numbers of its table.
#[test]
fn the_documented_type_bytes_are_pinned() {
    let opt = Type::Option(Box::new(Type::Bytes));
    assert_eq!(encode(&opt).unwrap(), [0x10, 0x0f]);
    let p = Type::Struct(StructType {
        name: "P".into(),
        fields: vec![Field {
            name: "x".into(),
            ty: Type::I32,
        }],
    });
    assert_eq!(
        encode(&p).unwrap(),
        [0x12, 0x01, 0x50, 0x01, 0x01, 0x78, 0x04]
    );
    let numbered = [
        (Type::Unit, 0u8),
        (Type::U64, 10),
        (Type::String, 14),
        (Type::Bytes, 15),
    ];
    for (ty, index) in numbered {
        assert_eq!(encode(&ty).unwrap(), [index], "{ty:?}");
    }
    let e = Type::Enum(EnumType {
        name: String::new(),
        variants: vec![],
    });
    assert_eq!(encode(&e).unwrap()[0], 19);
}

#[test]
fn trailing_bytes_and_bad_variants_are_errors() {
    let mut bytes = encode_value(&Value::U32(5)).unwrap();
    bytes.push(0);
    let err = decode_value(&Type::U32, &bytes).unwrap_err();
    assert!(
        matches!(err, EncodingError::TrailingBytes { extra: 1, .. }),
        "{err}"
    );

    let bytes = encode_value(&Value::Enum(7, Box::new(Value::Unit))).unwrap();
    let err = decode_value(&shape_type(), &bytes).unwrap_err().to_string();
    assert!(
        err.contains("variant index 7 out of range for enum Shape"),
        "{err}"
    );

    let err = decode_value(&Type::String, &[2, 0xff, 0xfe]).unwrap_err();
    assert!(matches!(err, EncodingError::Decode { .. }), "{err}");
}

#[test]
fn a_huge_claimed_length_does_not_allocate() {
    // A Vec claiming 2^62 elements in 10 bytes fails cleanly.
    let mut bytes = vec![253];
    bytes.extend_from_slice(&(1u64 << 62).to_le_bytes());
    bytes.push(0);
    for ty in [Type::Vec(Box::new(Type::U64)), Type::String, Type::Bytes] {
        assert!(decode_value(&ty, &bytes).is_err(), "{ty}");
    }
    // Units take no bytes, so no byte count can refuse them: their count
    // is bounded instead (a proptest once found this eating 24 GiB).
    let empty = Type::Struct(interstice_abi::StructType {
        name: "Empty".into(),
        fields: vec![],
    });
    for ty in [Type::Unit, empty] {
        let err = decode_value(&Type::Vec(Box::new(ty.clone())), &bytes[..9]).unwrap_err();
        assert!(err.to_string().contains("at most 65536"), "{ty}: {err}");
    }
    let mut ok = vec![251];
    ok.extend_from_slice(&1000u16.to_le_bytes());
    let units = decode_value(&Type::Vec(Box::new(Type::Unit)), &ok).unwrap();
    assert!(matches!(units, interstice_abi::Value::Vec(v) if v.len() == 1000));
}

#[test]
fn type_mismatches_name_the_path() {
    let (_, mut value) = sample();
    if let Value::Struct(fields) = &mut value {
        fields[10] = Value::Vec(vec![Value::String("ok".into()), Value::U8(1)]);
    }
    let err = value.check(&row_type(), "row").unwrap_err();
    assert_eq!(err.to_string(), "row.tags[1]: expected String, found u8");
}

#[test]
fn values_order_totally_even_with_nan() {
    let mut v = [
        Value::F64(f64::NAN),
        Value::F64(1.0),
        Value::F64(-0.0),
        Value::F64(0.0),
    ];
    v.sort();
    assert_eq!(v[0], Value::F64(-0.0));
    assert!(matches!(v[3], Value::F64(x) if x.is_nan()));
    assert!(Value::U8(1) < Value::String(String::new()));
}

fn leaf_type() -> impl Strategy<Value = Type> {
    prop_oneof![
        Just(Type::Unit),
        Just(Type::Bool),
        Just(Type::I8),
        Just(Type::I16),
        Just(Type::I32),
        Just(Type::I64),
        Just(Type::I128),
        Just(Type::U8),
        Just(Type::U16),
        Just(Type::U32),
        Just(Type::U64),
        Just(Type::U128),
        Just(Type::F32),
        Just(Type::F64),
        Just(Type::String),
        Just(Type::Bytes),
    ]
}

fn any_type() -> impl Strategy<Value = Type> {
    leaf_type().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|t| Type::Option(Box::new(t))),
            inner.clone().prop_map(|t| Type::Vec(Box::new(t))),
            prop::collection::vec(inner.clone(), 0..4).prop_map(|tys| Type::Struct(StructType {
                name: "S".into(),
                fields: tys
                    .into_iter()
                    .enumerate()
                    .map(|(i, ty)| Field {
                        name: format!("f{i}"),
                        ty
                    })
                    .collect(),
            })),
            prop::collection::vec(inner, 1..4).prop_map(|tys| Type::Enum(EnumType {
                name: "E".into(),
                variants: tys
                    .into_iter()
                    .enumerate()
                    .map(|(i, ty)| Variant {
                        name: format!("V{i}"),
                        ty
                    })
                    .collect(),
            })),
        ]
    })
}

fn value_of(ty: &Type) -> BoxedStrategy<Value> {
    match ty {
        Type::Unit => Just(Value::Unit).boxed(),
        Type::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Type::I8 => any::<i8>().prop_map(Value::I8).boxed(),
        Type::I16 => any::<i16>().prop_map(Value::I16).boxed(),
        Type::I32 => any::<i32>().prop_map(Value::I32).boxed(),
        Type::I64 => any::<i64>().prop_map(Value::I64).boxed(),
        Type::I128 => any::<i128>().prop_map(Value::I128).boxed(),
        Type::U8 => any::<u8>().prop_map(Value::U8).boxed(),
        Type::U16 => any::<u16>().prop_map(Value::U16).boxed(),
        Type::U32 => any::<u32>().prop_map(Value::U32).boxed(),
        Type::U64 => any::<u64>().prop_map(Value::U64).boxed(),
        Type::U128 => any::<u128>().prop_map(Value::U128).boxed(),
        Type::F32 => any::<f32>().prop_map(Value::F32).boxed(),
        Type::F64 => any::<f64>().prop_map(Value::F64).boxed(),
        Type::String => ".{0,8}".prop_map(Value::String).boxed(),
        Type::Bytes => prop::collection::vec(any::<u8>(), 0..8)
            .prop_map(Value::Bytes)
            .boxed(),
        Type::Option(t) => prop::option::of(value_of(t))
            .prop_map(|v| Value::Option(v.map(Box::new)))
            .boxed(),
        Type::Vec(t) => prop::collection::vec(value_of(t), 0..4)
            .prop_map(Value::Vec)
            .boxed(),
        Type::Struct(s) => s
            .fields
            .iter()
            .map(|f| value_of(&f.ty))
            .collect::<Vec<_>>()
            .prop_map(Value::Struct)
            .boxed(),
        Type::Enum(e) => {
            let variants: Vec<BoxedStrategy<Value>> = e
                .variants
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    value_of(&v.ty)
                        .prop_map(move |p| Value::Enum(i as u32, Box::new(p)))
                        .boxed()
                })
                .collect();
            prop::strategy::Union::new(variants).boxed()
        }
    }
}

fn typed_value() -> impl Strategy<Value = (Type, Value)> {
    any_type().prop_flat_map(|ty| value_of(&ty).prop_map(move |v| (ty.clone(), v)))
}

proptest! {
    #[test]
    fn every_value_round_trips((ty, value) in typed_value()) {
        value.check(&ty, "v").unwrap();
        let bytes = encode_value(&value).unwrap();
        prop_assert_eq!(decode_value(&ty, &bytes).unwrap(), value);
    }

    #[test]
    fn arbitrary_bytes_never_panic(ty in any_type(), bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = decode_value(&ty, &bytes);
    }
}
