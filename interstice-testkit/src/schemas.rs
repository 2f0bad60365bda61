//! Schemas, rows and whole-database helpers for tests of the table engine
//! and replay.

use bytes::Bytes;
use interstice_abi::{
    ABI_VERSION, ColumnSchema, IndexSchema, ModuleSchema, ParamSchema, ReducerSchema,
    SubscriptionSchema, TableEvent, TableSchema, Type, Value, Version, Visibility, encode_schema,
};
use interstice_core::db::Database;

/// `people(id u64 auto_inc pk, email String unique, age u8 indexed,
/// city String, (city, age) composite index)`.
pub fn people() -> TableSchema {
    TableSchema {
        name: "people".into(),
        columns: vec![
            ColumnSchema::new("id", Type::U64),
            ColumnSchema::new("email", Type::String),
            ColumnSchema::new("age", Type::U8),
            ColumnSchema::new("city", Type::String),
        ],
        primary_key: 0,
        auto_inc: true,
        indexes: vec![
            IndexSchema::new("by_email", vec![1], true),
            IndexSchema::new("by_age", vec![2], false),
            IndexSchema::new("by_city_age", vec![3, 2], false),
        ],
        visibility: Visibility::Public,
        version: 1,
        renamed_from: None,
        schedule: None,
    }
}

/// Module `town` with `people`, and a subscription on people inserts.
pub fn town() -> ModuleSchema {
    ModuleSchema {
        name: "town".into(),
        version: Version {
            major: 1,
            minor: 0,
            patch: 0,
        },
        abi_version: ABI_VERSION,
        tables: vec![people()],
        reducers: vec![
            ReducerSchema {
                name: "add".into(),
                params: vec![ParamSchema {
                    name: "email".into(),
                    ty: Type::String,
                }],
                visibility: Visibility::Public,
                read_only: false,
            },
            ReducerSchema {
                name: "welcome".into(),
                params: vec![ParamSchema {
                    name: "row".into(),
                    ty: people().row_type(),
                }],
                visibility: Visibility::Private,
                read_only: false,
            },
        ],
        subscriptions: vec![SubscriptionSchema {
            reducer: "welcome".into(),
            module: "town".into(),
            table: "people".into(),
            event: TableEvent::Insert,
        }],
        dependencies: vec![],
        migrations: vec![],
        dropped_tables: vec![],
    }
}

pub fn person(id: u64, email: &str, age: u8, city: &str) -> Vec<Value> {
    vec![Value::U64(id), email.into(), Value::U8(age), city.into()]
}

/// A database with module 1 = `town` installed.
pub fn town_db() -> Database {
    let mut db = Database::new();
    let schema = town();
    let bytes = Bytes::from(encode_schema(&schema).unwrap());
    let mut txn = db.begin();
    txn.install_module(1, schema, bytes, Bytes::from_static(b"\0asm"))
        .unwrap();
    txn.commit();
    db
}

/// Every row of every table, for comparing whole states.
pub fn dump(db: &Database) -> Vec<(String, Vec<Vec<Value>>)> {
    db.modules()
        .flat_map(|m| {
            m.tables.iter().map(move |t| {
                (
                    format!("{}.{}", m.schema.name, t.schema().name),
                    t.iter().map(|r| r.values().to_vec()).collect(),
                )
            })
        })
        .collect()
}

/// A log of module `town`: its publish (offset 0), then `n` commits that
/// each insert one person or, every third, update the previous one's age.
/// Timestamps are one second apart from 1,700,000,000 s.
pub fn town_history(n: u64) -> Vec<interstice_log::Commit> {
    let mut db = Database::new();
    let schema = town();
    let seal = |offset: u64, reducer: &str, mutations| interstice_log::Commit {
        offset,
        timestamp: 1_700_000_000_000_000 + offset * 1_000_000,
        cause: None,
        invocation: interstice_log::Invocation {
            module: "town".into(),
            reducer: reducer.into(),
            args: Bytes::new(),
            request_id: None,
            timing: None,
            scheduled: None,
        },
        mutations,
    };
    let mut txn = db.begin();
    let bytes = Bytes::from(encode_schema(&schema).unwrap());
    txn.install_module(1, schema, bytes, Bytes::from_static(b"\0asm"))
        .unwrap();
    let mut commits = vec![seal(0, "@publish", txn.commit())];
    for offset in 1..=n {
        let mut txn = db.begin();
        if offset % 3 == 0 {
            txn.update(
                1,
                1,
                person(
                    offset - 1,
                    &format!("p{}@x", offset - 1),
                    offset as u8,
                    "Rome",
                ),
            )
            .unwrap();
        } else {
            txn.insert(1, 1, person(offset, &format!("p{offset}@x"), 1, "Oslo"))
                .unwrap();
        }
        commits.push(seal(offset, "edit", txn.commit()));
    }
    commits
}

/// The commit that publishes `schema` (with `wasm`) as module `id` at
/// `offset`, built without the runtime's checks: how a log written before
/// a check existed holds a module it would now refuse.
pub fn unchecked_publish(
    offset: u64,
    id: u32,
    schema: ModuleSchema,
    wasm: Vec<u8>,
) -> interstice_log::Commit {
    let mut db = Database::new();
    let mut txn = db.begin();
    let name = schema.name.clone();
    let bytes = Bytes::from(encode_schema(&schema).unwrap());
    txn.install_module(id, schema, bytes, Bytes::from(wasm))
        .unwrap();
    interstice_log::Commit {
        offset,
        timestamp: 1_700_000_000_000_000 + offset,
        cause: None,
        invocation: interstice_log::Invocation {
            module: name,
            reducer: "@publish".into(),
            args: Bytes::new(),
            request_id: None,
            timing: None,
            scheduled: None,
        },
        mutations: txn.commit(),
    }
}
