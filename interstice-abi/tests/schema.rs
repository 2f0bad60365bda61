//! Schema validation, hashing and compatibility.

use interstice_abi::compat::{Compatibility, diff};
use interstice_abi::{
    ABI_VERSION, ColumnSchema, Dependency, IndexSchema, MigrationSchema, ModuleSchema, ParamSchema,
    ReducerSchema, SubscriptionSchema, TableEvent, TableSchema, Type, Version, Visibility,
    decode_schema, encode, encode_schema,
};

fn users() -> TableSchema {
    TableSchema {
        name: "users".into(),
        columns: vec![
            ColumnSchema::new("id", Type::U64),
            ColumnSchema::new("email", Type::String),
            ColumnSchema::new("age", Type::U8),
        ],
        primary_key: 0,
        auto_inc: true,
        indexes: vec![
            IndexSchema::new("by_email", vec![1], true),
            IndexSchema::new("by_age", vec![2], false),
        ],
        visibility: Visibility::Public,
        version: 1,
        renamed_from: None,
        schedule: None,
    }
}

fn module() -> ModuleSchema {
    ModuleSchema {
        name: "accounts".into(),
        version: "1.2.3".parse().unwrap(),
        abi_version: ABI_VERSION,
        tables: vec![users()],
        reducers: vec![
            ReducerSchema {
                name: "add".into(),
                params: vec![
                    ParamSchema {
                        name: "email".into(),
                        ty: Type::String,
                    },
                    ParamSchema {
                        name: "age".into(),
                        ty: Type::U8,
                    },
                ],
                visibility: Visibility::Public,
                read_only: false,
            },
            ReducerSchema {
                name: "on_user".into(),
                params: vec![ParamSchema {
                    name: "row".into(),
                    ty: users().row_type(),
                }],
                visibility: Visibility::Private,
                read_only: false,
            },
        ],
        subscriptions: vec![SubscriptionSchema {
            reducer: "on_user".into(),
            module: "accounts".into(),
            table: "users".into(),
            event: TableEvent::Insert,
        }],
        dependencies: vec![Dependency {
            module: "mail".into(),
            min_version: Version::default(),
        }],
        migrations: vec![],
        dropped_tables: vec![],
    }
}

#[test]
fn a_good_schema_validates_and_round_trips() {
    let m = module();
    m.validate().unwrap();
    assert_eq!(decode_schema(&encode_schema(&m).unwrap()).unwrap(), m);
    assert_eq!(m.table("users").map(|(id, _)| id), Some(1));
}

#[test]
fn every_broken_rule_is_reported() {
    let mut m = module();
    m.abi_version = 99;
    m.tables.push(users());
    m.tables[0].primary_key = 9;
    m.tables[1].auto_inc = true;
    m.tables[1].primary_key = 1;
    m.tables[1]
        .indexes
        .push(IndexSchema::new("bad", vec![5], false));
    m.reducers.push(m.reducers[0].clone());
    m.subscriptions[0].reducer = "nope".into();
    let errors = m.validate().unwrap_err();
    let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    let expect = [
        "ABI version 99",
        "table `users`: declared twice",
        "primary key column 9 does not exist",
        "auto_inc primary key `email` must be an integer, not String",
        "index `bad` names column 5",
        "reducer `add`: declared twice",
        "reducer `nope` does not exist",
    ];
    for e in expect {
        assert!(
            text.iter().any(|t| t.contains(e)),
            "missing `{e}` in {text:#?}"
        );
    }
}

#[test]
fn the_hash_changes_exactly_when_the_schema_does() {
    let m = module();
    assert_eq!(m.hash(), module().hash());
    assert_eq!(users().hash(), users().hash());
    // Pinned: a change here means the encoding (and every logged hash) moved.
    assert_eq!(
        users().hash(),
        0x9918_3785_a133_4d01,
        "users hash {:#x}",
        users().hash()
    );
    let mut changed = users();
    changed.columns[2].ty = Type::U16;
    assert_ne!(changed.hash(), users().hash());
    let mut changed = users();
    changed.indexes[1].unique = true;
    assert_ne!(changed.hash(), users().hash());
    let mut changed = m.clone();
    changed.version.patch += 1;
    assert_ne!(changed.hash(), m.hash());
}

#[test]
fn compatible_changes_are_accepted() {
    let old = module();
    let mut new = module();
    new.version.minor += 1;
    new.tables[0].columns.push(ColumnSchema::new(
        "nick",
        Type::Option(Box::new(Type::String)),
    ));
    new.tables[0].indexes.remove(1);
    new.tables[0]
        .indexes
        .push(IndexSchema::new("by_nick", vec![3], false));
    new.tables.push(TableSchema {
        name: "audit".into(),
        ..users()
    });
    new.reducers.push(ReducerSchema {
        name: "ping".into(),
        params: vec![],
        visibility: Visibility::Private,
        read_only: true,
    });
    new.reducers[1].visibility = Visibility::Public;
    let d = diff(&old, &new);
    assert!(!d.is_breaking(), "{d}");
    assert_eq!(d.changes.len(), 7, "{d}");
    assert!(diff(&old, &old).changes.is_empty());
}

#[test]
fn breaking_changes_are_named() {
    let old = module();
    type Edit = Box<dyn Fn(&mut ModuleSchema)>;
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|m| {
                m.tables.clear();
            }),
            "table `users` removed",
        ),
        (
            Box::new(|m| {
                m.tables[0].columns.pop();
            }),
            "column `age` dropped (raise the table's version to drop it)",
        ),
        (
            Box::new(|m| m.tables[0].columns[2].ty = Type::U32),
            "column `age` type changed from u8 to u32",
        ),
        (
            Box::new(|m| m.tables[0].columns.push(ColumnSchema::new("x", Type::U8))),
            "added without a default or Option",
        ),
        (
            Box::new(|m| m.tables[0].primary_key = 1),
            "primary key changed",
        ),
        (
            Box::new(|m| {
                m.tables[0]
                    .indexes
                    .push(IndexSchema::new("u", vec![2], true))
            }),
            "unique index `u` added",
        ),
        (
            Box::new(|m| m.tables[0].visibility = Visibility::Private),
            "table `users` made private",
        ),
        (
            Box::new(|m| {
                m.reducers.remove(0);
            }),
            "reducer `add` removed",
        ),
        (
            Box::new(|m| m.reducers[0].params.pop().map(drop).unwrap()),
            "reducer `add` parameters changed from (email: String, age: u8) to (email: String)",
        ),
        (
            Box::new(|m| m.tables[0].columns[2].ty = Type::U32),
            "(needs a migration from version 1)",
        ),
        (
            Box::new(|m| {
                m.tables[0].version = 2;
                m.tables[0].columns[2].ty = Type::U32;
            }),
            "column `age` type changed from u8 to u32 (needs a migration from version 1)",
        ),
        (
            Box::new(|m| m.tables[0].version = 0),
            "version goes back from 1 to 0",
        ),
        (
            Box::new(|m| {
                m.tables[0].version = 2;
                let mut old_columns = users().columns;
                old_columns[2].ty = Type::U16;
                m.migrations.push(MigrationSchema {
                    reducer: "add".into(),
                    table: "users".into(),
                    from: 1,
                    old_columns,
                });
            }),
            "migration `add` reads version 1 rows as (id: u64, email: String, age: u16), but the published table's are (id: u64, email: String, age: u8)",
        ),
        (
            Box::new(|m| {
                m.tables[0].name = "people".into();
            }),
            "table `users` removed (to drop it, declare it dropped)",
        ),
        (
            Box::new(|m| {
                m.tables[0].renamed_from = Some("ghosts".into());
                m.tables[0].name = "people".into();
            }),
            "table `people` is renamed from `ghosts`, which the published version does not have",
        ),
    ];
    for (change, expected) in cases {
        let mut new = module();
        change(&mut new);
        let d = diff(&old, &new);
        assert!(d.is_breaking(), "{expected}: {d}");
        assert!(
            d.breaking()
                .any(|c| c.description.contains(expected)
                    && c.compatibility == Compatibility::Breaking),
            "expected `{expected}` in:\n{d}"
        );
    }
}

/// A schema that says nothing of evolution keeps the version 1 layout
/// (and so every hash logged before); one that does is version 2, and
/// both decode.
#[test]
fn evolution_moves_a_schema_to_the_version_2_layout_only_when_used() {
    let plain = module();
    let bytes = encode_schema(&plain).unwrap();
    assert_ne!(bytes[0], 0, "version 1 starts with the name's length");
    assert_eq!(decode_schema(&bytes).unwrap(), plain);

    let mut evolved = module();
    evolved.tables[0].version = 2;
    evolved.tables[0].columns[2].renamed_from = Some("years".into());
    evolved.tables[0].columns.push(ColumnSchema {
        default: Some(encode(&7u32).unwrap()),
        ..ColumnSchema::new("logins", Type::U32)
    });
    evolved.migrations.push(MigrationSchema {
        reducer: "add".into(),
        table: "users".into(),
        from: 1,
        old_columns: users().columns,
    });
    evolved.dropped_tables.push("sessions".into());
    let bytes = encode_schema(&evolved).unwrap();
    assert_eq!(&bytes[..2], &[0, 2]);
    assert_eq!(decode_schema(&bytes).unwrap(), evolved);
    assert_ne!(evolved.hash(), plain.hash());
    assert_ne!(evolved.tables[0].hash(), users().hash());
    // A table back at version 1 with nothing new hashes as it always did.
    let mut back = evolved.tables[0].clone();
    back.version = 1;
    back.columns = users().columns;
    assert_eq!(back.hash(), 0x9918_3785_a133_4d01);

    let err = decode_schema(&[0, 4, 1, 2]).unwrap_err().to_string();
    assert!(
        err.contains("schema encoding version 4: this host reads versions 1, 2 and 3"),
        "{err}"
    );
    let mut cut = bytes.clone();
    cut.truncate(bytes.len() - 3);
    let err = decode_schema(&cut).unwrap_err().to_string();
    assert!(err.contains("reading `dropped_tables"), "{err}");
}

#[test]
fn what_a_schema_says_of_its_evolution_is_checked() {
    let mut m = module();
    m.tables[0].version = 0;
    m.tables[0].columns[1].default = Some(vec![0xff]);
    m.tables[0].columns[2].renamed_from = Some("age".into());
    m.tables[0].renamed_from = Some("9lives".into());
    for (reducer, table, from) in [
        ("nope", "users", 1),
        ("add", "ghosts", 1),
        ("add", "users", 3),
    ] {
        m.migrations.push(MigrationSchema {
            reducer: reducer.into(),
            table: table.into(),
            from,
            old_columns: vec![],
        });
    }
    m.dropped_tables.push("users".into());
    let text: Vec<String> = m
        .validate()
        .unwrap_err()
        .iter()
        .map(|e| e.to_string())
        .collect();
    for e in [
        "version 0: table versions start at 1",
        "column `email`: its default is not a String",
        "column `age` is renamed from its own name",
        "renamed from an invalid name `9lives`",
        "migration `nope`: no such reducer",
        "migration `add`: a migration reducer writes and takes no parameters",
        "migration `add`: no table `ghosts`",
        "migrates `users` from version 3, but the table is at version 0",
        "dropped table `users`: the module still declares it",
    ] {
        assert!(
            text.iter().any(|t| t.contains(e)),
            "missing `{e}` in {text:#?}"
        );
    }
}

/// What a module says of its evolution makes changes compatible that
/// would break without it: defaults, renames, dropped columns at a new
/// table version, dropped tables, and anything with a migration.
#[test]
fn declared_evolution_is_compatible() {
    let old = module();
    type Case = (Box<dyn Fn(&mut ModuleSchema)>, &'static [&'static str]);
    let cases: Vec<Case> = vec![
        (
            Box::new(|m| {
                m.tables[0].columns.push(ColumnSchema {
                    default: Some(encode(&0u32).unwrap()),
                    ..ColumnSchema::new("logins", Type::U32)
                })
            }),
            &["column `logins: u32` added, existing rows take its default 0"],
        ),
        (
            Box::new(|m| {
                let c = &mut m.tables[0].columns[1];
                c.renamed_from = Some(c.name.clone());
                c.name = "mail".into();
            }),
            &["column `email` renamed to `mail`"],
        ),
        (
            Box::new(|m| {
                m.tables[0].version = 2;
                m.tables[0].columns.pop();
                m.tables[0].indexes.retain(|ix| ix.name != "by_age");
            }),
            &[
                "version 1 -> 2",
                "column `age` dropped",
                "index `by_age` removed",
            ],
        ),
        (
            Box::new(|m| {
                m.tables[0].renamed_from = Some("users".into());
                m.tables[0].name = "people".into();
            }),
            &["table `users` renamed to `people`"],
        ),
        (
            Box::new(|m| {
                m.tables.clear();
                m.dropped_tables.push("users".into());
            }),
            &["table `users` dropped (its rows go; the log keeps their history)"],
        ),
        (
            Box::new(|m| {
                m.tables[0].version = 2;
                m.tables[0].columns[2].ty = Type::U32;
                m.tables[0].primary_key = 2;
                m.migrations.push(MigrationSchema {
                    reducer: "add".into(),
                    table: "users".into(),
                    from: 1,
                    old_columns: users().columns,
                });
            }),
            &[
                "migration `add` rewrites the rows of `users` version 1",
                "column `age` type changed from u8 to u32",
                "primary key changed",
            ],
        ),
    ];
    for (change, expected) in cases {
        let mut new = module();
        change(&mut new);
        let d = diff(&old, &new);
        assert!(!d.is_breaking(), "{expected:?}: {d}");
        for e in expected {
            assert!(
                d.changes.iter().any(|c| c.description.contains(e)),
                "expected `{e}` in:\n{d}"
            );
        }
    }
}

/// A migration reducer ran when its version was published and is never
/// called: the next version may drop it (an ordinary reducer may not go).
#[test]
fn a_migration_reducer_may_go_in_the_next_version() {
    let mut old = module();
    old.tables[0].version = 2;
    old.reducers.push(ReducerSchema {
        name: "upgrade_users".into(),
        params: vec![],
        visibility: Visibility::Private,
        read_only: false,
    });
    old.migrations.push(MigrationSchema {
        reducer: "upgrade_users".into(),
        table: "users".into(),
        from: 1,
        old_columns: vec![],
    });
    let mut new = old.clone();
    new.reducers.pop();
    new.migrations.clear();
    let d = diff(&old, &new);
    assert!(!d.is_breaking(), "{d}");
    assert!(
        d.to_string()
            .contains("[compatible] migration reducer `upgrade_users` removed"),
        "{d}"
    );
}

/// A module at layout 2: a table at version 2, built only with what both
/// layouts have (to pin its bytes across the change that added layout 3).
fn layout_2_module() -> ModuleSchema {
    let mut m = module();
    m.tables[0].version = 2;
    m.tables[0].renamed_from = Some("people".into());
    m
}

/// Layout 2 stays byte for byte what it was before schedules existed (the
/// hash of every table and module logged with it), and a schedule table
/// moves the module to layout 3, which round-trips.
#[test]
fn a_schedule_table_is_layout_3_and_layout_2_is_unchanged() {
    let v2 = layout_2_module();
    let bytes = encode_schema(&v2).unwrap();
    assert_eq!(&bytes[..2], &[0, 2]);
    // Pinned: computed before layout 3 existed.
    assert_eq!(
        (v2.hash(), v2.tables[0].hash()),
        (LAYOUT_2_MODULE_HASH, LAYOUT_2_TABLE_HASH)
    );

    let mut scheduled = layout_2_module();
    let t = &mut scheduled.tables[0];
    t.columns.push(ColumnSchema::new(
        "when",
        interstice_abi::schedule_at_type(),
    ));
    t.schedule = Some(interstice_abi::ScheduleSchema {
        reducer: "on_user".into(),
        at: 3,
    });
    let row = t.row_type();
    scheduled.reducers[1].params[0].ty = row;
    let bytes = encode_schema(&scheduled).unwrap();
    assert_eq!(&bytes[..2], &[0, 3]);
    assert_eq!(decode_schema(&bytes).unwrap(), scheduled);
    assert_ne!(scheduled.tables[0].hash(), v2.tables[0].hash());
    assert!(scheduled.validate().is_ok(), "{:?}", scheduled.validate());

    // The rules: an auto_inc key, a ScheduleAt column, a reducer taking the row.
    let mut bad = scheduled.clone();
    bad.tables[0].auto_inc = false;
    bad.tables[0].schedule = Some(interstice_abi::ScheduleSchema {
        reducer: "add".into(),
        at: 1,
    });
    let problems: Vec<String> = bad
        .validate()
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    for expected in [
        "a schedule table has an auto_inc primary key",
        "its schedule's column `email` is a String, not a ScheduleAt",
        "its schedule calls `add`, which must write and take the table's row",
    ] {
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "missing `{expected}` in {problems:#?}"
        );
    }
}

/// [`layout_2_module`]'s hashes before layout 3 existed.
const LAYOUT_2_MODULE_HASH: u64 = 0x616229f002c853c0;
const LAYOUT_2_TABLE_HASH: u64 = 0xc3563f29d0c5c886;
