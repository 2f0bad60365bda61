//! The example module of `docs/abi.md`, run as the document shows it: it
//! is written in WAT by hand (no SDK), so if the doc and the host disagree
//! on a byte of the schema, a type of an import or export, or a status
//! code, this fails.

use std::sync::Arc;

use interstice_abi::wasm::LogLevel;
use interstice_abi::{
    ABI_VERSION, ColumnSchema, ModuleSchema, ParamSchema, ReducerSchema, TableSchema, Type, Value,
    Version, Visibility, encode_value,
};
use interstice_core::{CallError, CallErrorKind, Runtime, RuntimeConfig};
use interstice_log::memory::MemoryLogStore;

const DOC: &str = include_str!("../../docs/abi.md");

/// The doc's one ```wat block.
fn example_wat() -> &'static str {
    let start = DOC
        .find("```wat\n")
        .expect("docs/abi.md has a ```wat block")
        + "```wat\n".len();
    let len = DOC[start..].find("```").expect("the block ends");
    &DOC[start..start + len]
}

fn text(s: &str) -> Vec<u8> {
    encode_value(&Value::Struct(vec![Value::String(s.into())])).unwrap()
}

/// The schema the doc spells out byte by byte.
fn expected_schema() -> ModuleSchema {
    let text_param = || ParamSchema {
        name: "text".into(),
        ty: Type::String,
    };
    ModuleSchema {
        name: "wat".into(),
        version: Version {
            major: 1,
            minor: 0,
            patch: 0,
        },
        abi_version: ABI_VERSION,
        tables: vec![TableSchema {
            name: "notes".into(),
            columns: vec![ColumnSchema::new("text", Type::String)],
            primary_key: 0,
            auto_inc: false,
            indexes: vec![],
            visibility: Visibility::Public,
            version: 1,
            renamed_from: None,
            schedule: None,
        }],
        reducers: vec![
            ReducerSchema {
                name: "add".into(),
                params: vec![text_param()],
                visibility: Visibility::Public,
                read_only: false,
            },
            ReducerSchema {
                name: "check".into(),
                params: vec![text_param()],
                visibility: Visibility::Public,
                read_only: true,
            },
        ],
        subscriptions: vec![],
        dependencies: vec![],
        migrations: vec![],
        dropped_tables: vec![],
    }
}

#[tokio::test]
async fn the_documented_wat_module_publishes_and_runs() {
    let wasm = wat::parse_str(example_wat()).expect("the doc's WAT parses");
    let store = MemoryLogStore::new();
    let (rt, _) = Runtime::open(Arc::new(store), RuntimeConfig::default())
        .await
        .unwrap();
    rt.publish(&wasm).await.expect("the doc's module publishes");
    let schema = rt
        .read(|db| db.module_by_name("wat").unwrap().schema.clone())
        .await
        .unwrap();
    assert_eq!(schema, expected_schema(), "the doc's schema bytes");

    let receipt = rt.call("wat", "add", &text("hello")).await.unwrap();
    assert!(receipt.offset.is_some(), "add commits");
    assert_eq!(receipt.logs, [(LogLevel::Info, "stored".to_owned())]);

    rt.call("wat", "check", &text("hello")).await.unwrap();
    match rt.call("wat", "check", &text("nope")).await {
        Err(CallError {
            kind: CallErrorKind::Failed { message },
            ..
        }) => assert_eq!(message, "no such note"),
        other => panic!("check of a missing note: {other:?}"),
    }
    // A second `add` of the same text breaks the primary key: the host's
    // error aborts the transaction.
    let err = rt.call("wat", "add", &text("hello")).await.unwrap_err();
    assert!(err.to_string().contains("hello"), "{err}");

    let rows = rt
        .read(|db| {
            let m = db.module_by_name("wat").unwrap();
            let (_, t) = m.table_by_name("notes").unwrap();
            t.iter().map(|r| r.values().to_vec()).collect::<Vec<_>>()
        })
        .await
        .unwrap();
    assert_eq!(rows, [vec![Value::String("hello".into())]]);
    rt.shutdown().await;
}
