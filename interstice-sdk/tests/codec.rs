//! The SDK's hand-written encoder against the host's (`interstice_abi`,
//! bincode): for random values of every kind of type, the same bytes, the
//! same schema type, and a lossless round trip.

use interstice_abi::{Type, Value, decode_value, encode_value};
use interstice_sdk::IntersticeType;
use interstice_sdk::codec::{from_bytes, to_bytes};
use proptest::prelude::*;

#[derive(IntersticeType, Clone, Debug, PartialEq)]
enum Shape {
    Empty,
    Circle(f64),
    Rect(u32, u32),
    Named { label: String, sides: Option<u8> },
}

#[derive(IntersticeType, Clone, Debug, PartialEq)]
struct Inner(i16, bool);

#[derive(IntersticeType, Clone, Debug, PartialEq)]
struct Everything {
    b: bool,
    i8: i8,
    i16: i16,
    i32: i32,
    i64: i64,
    i128: i128,
    u8: u8,
    u16: u16,
    u32: u32,
    u64: u64,
    u128: u128,
    f32: f32,
    f64: f64,
    s: String,
    opt: Option<Vec<String>>,
    nested: Vec<Option<Inner>>,
    shape: Shape,
    unit: (),
}

fn shape_value(s: &Shape) -> Value {
    match s {
        Shape::Empty => Value::Enum(0, Box::new(Value::Unit)),
        Shape::Circle(r) => Value::Enum(1, Box::new(Value::F64(*r))),
        Shape::Rect(w, h) => Value::Enum(
            2,
            Box::new(Value::Struct(vec![Value::U32(*w), Value::U32(*h)])),
        ),
        Shape::Named { label, sides } => Value::Enum(
            3,
            Box::new(Value::Struct(vec![
                Value::String(label.clone()),
                Value::Option(sides.map(|n| Box::new(Value::U8(n)))),
            ])),
        ),
    }
}

/// The host's view of the same value.
fn value(e: &Everything) -> Value {
    Value::Struct(vec![
        Value::Bool(e.b),
        Value::I8(e.i8),
        Value::I16(e.i16),
        Value::I32(e.i32),
        Value::I64(e.i64),
        Value::I128(e.i128),
        Value::U8(e.u8),
        Value::U16(e.u16),
        Value::U32(e.u32),
        Value::U64(e.u64),
        Value::U128(e.u128),
        Value::F32(e.f32),
        Value::F64(e.f64),
        Value::String(e.s.clone()),
        Value::Option(e.opt.as_ref().map(|v| {
            Box::new(Value::Vec(
                v.iter().map(|s| Value::String(s.clone())).collect(),
            ))
        })),
        Value::Vec(
            e.nested
                .iter()
                .map(|o| {
                    Value::Option(o.as_ref().map(|Inner(a, b)| {
                        Box::new(Value::Struct(vec![Value::I16(*a), Value::Bool(*b)]))
                    }))
                })
                .collect(),
        ),
        shape_value(&e.shape),
        Value::Unit,
    ])
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        Just(Shape::Empty),
        any::<f64>().prop_map(Shape::Circle),
        (any::<u32>(), any::<u32>()).prop_map(|(w, h)| Shape::Rect(w, h)),
        (".{0,12}", any::<Option<u8>>()).prop_map(|(label, sides)| Shape::Named { label, sides }),
    ]
}

prop_compose! {
    fn everything()(
        ints in (any::<bool>(), any::<i8>(), any::<i16>(), any::<i32>(), any::<i64>(), any::<i128>()),
        uints in (any::<u8>(), any::<u16>(), any::<u32>(), any::<u64>(), any::<u128>()),
        floats in (any::<f32>(), any::<f64>()),
        s in ".{0,40}",
        opt in proptest::option::of(proptest::collection::vec(".{0,8}", 0..4)),
        nested in proptest::collection::vec(proptest::option::of((any::<i16>(), any::<bool>())), 0..5),
        shape in shape(),
    ) -> Everything {
        Everything {
            b: ints.0, i8: ints.1, i16: ints.2, i32: ints.3, i64: ints.4, i128: ints.5,
            u8: uints.0, u16: uints.1, u32: uints.2, u64: uints.3, u128: uints.4,
            f32: floats.0, f64: floats.1, s, opt,
            nested: nested.into_iter().map(|o| o.map(|(a, b)| Inner(a, b))).collect(),
            shape, unit: (),
        }
    }
}

/// Floats compare by bits (NaN included).
fn same(a: &Everything, b: &Everything) -> bool {
    to_bytes(a) == to_bytes(b)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn guest_and_host_write_the_same_bytes(e in everything()) {
        let host = encode_value(&value(&e)).unwrap();
        prop_assert_eq!(&to_bytes(&e), &host);
        let back: Everything = from_bytes(&host).unwrap();
        prop_assert!(same(&back, &e));
        // And the host reads the guest's bytes with the guest's type.
        let decoded = decode_value(&Everything::ty(), &to_bytes(&e)).unwrap();
        prop_assert_eq!(encode_value(&decoded).unwrap(), host);
    }

    #[test]
    fn integers_at_every_varint_boundary(v in prop_oneof![
        Just(0u64), Just(250), Just(251), Just(u16::MAX as u64), Just(u16::MAX as u64 + 1),
        Just(u32::MAX as u64), Just(u32::MAX as u64 + 1), Just(u64::MAX), any::<u64>()
    ]) {
        prop_assert_eq!(to_bytes(&v), encode_value(&Value::U64(v)).unwrap());
        let neg = -(v as i64 / 2) - 1;
        prop_assert_eq!(to_bytes(&neg), encode_value(&Value::I64(neg)).unwrap());
    }

    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = from_bytes::<Everything>(&bytes);
    }
}

#[test]
fn derived_types_name_their_fields_and_variants() {
    let Type::Enum(e) = Shape::ty() else {
        panic!("an enum")
    };
    let names: Vec<_> = e.variants.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["Empty", "Circle", "Rect", "Named"]);
    assert_eq!(e.variants[1].ty, Type::F64);
    let Type::Struct(s) = Everything::ty() else {
        panic!("a struct")
    };
    assert_eq!(s.name, "Everything");
    assert_eq!(s.fields[14].name, "opt");
}

#[test]
fn bad_bytes_are_errors_that_say_why() {
    assert!(
        from_bytes::<bool>(&[2])
            .unwrap_err()
            .0
            .contains("invalid bool")
    );
    assert!(
        from_bytes::<u16>(&[252, 0, 0, 1, 0])
            .unwrap_err()
            .0
            .contains("32-bit")
    );
    // A length larger than the input is refused before allocating.
    assert!(
        from_bytes::<String>(&[253, 0, 0, 0, 0, 0, 0, 0, 1])
            .unwrap_err()
            .0
            .contains("length")
    );
    assert!(
        from_bytes::<Shape>(&[9])
            .unwrap_err()
            .0
            .contains("no variant 9")
    );
    assert!(
        from_bytes::<u8>(&[1, 2])
            .unwrap_err()
            .0
            .contains("left over")
    );
}
