//! Subscription cycles and write declarations: publishing refuses a
//! module whose subscriptions can trigger each other without end, naming
//! the path; a reducer is held to what it declares it writes; and the
//! runtime's depth cut still stops a cycle a log holds from before.

use std::sync::Arc;

use interstice_abi::{
    ABI_VERSION, ColumnSchema, Dependency, ModuleSchema, ParamSchema, ReducerSchema,
    SubscriptionSchema, TableEvent, TableSchema, Type, Version, Visibility,
};
use interstice_core::{CallErrorKind, PublishError, Runtime, RuntimeConfig};
use interstice_log::LogStoreExt;
use interstice_log::memory::MemoryLogStore;
use interstice_testkit::calls::arg;
use interstice_testkit::wasm_modules::{
    self as wat_modules, COUNTER_FUNCS, COUNTER_WRITES, Writes, counter_schema,
};

async fn runtime(store: &MemoryLogStore, config: RuntimeConfig) -> Runtime {
    Runtime::open(Arc::new(store.clone()), config)
        .await
        .unwrap()
        .0
}

/// `counter` renamed `looper`, whose subscription inserts the row it sees
/// again: it triggers itself.
fn looper() -> (ModuleSchema, String) {
    let mut schema = counter_schema();
    schema.name = "looper".into();
    schema.subscriptions[0].module = "looper".into();
    let funcs = COUNTER_FUNCS.replace(
        r#"(func (export "__interstice_reducer__on_counter") (param $p i32) (param $l i32) (result i64)"#,
        r#"(func (export "__interstice_reducer__on_counter") (param $p i32) (param $l i32) (result i64)
    (drop (call $ins_counter (i32.const 0) (i32.const 0) (i32.add (local.get $p) (i32.const 1)) (i32.sub (local.get $l) (i32.const 1))))
    (i64.const 0))
  (func $unused_old_on_counter (param $p i32) (param $l i32) (result i64)"#,
    );
    (schema, funcs)
}

#[tokio::test]
async fn a_cycle_is_refused_at_publish_with_its_path() {
    let store = MemoryLogStore::new();
    let rt = runtime(&store, RuntimeConfig::default()).await;
    let (schema, funcs) = looper();
    let err = rt
        .publish(&wat_modules::module(&schema, &funcs))
        .await
        .unwrap_err();
    assert!(matches!(err, PublishError::SubscriptionCycle(_)), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("looper.counters.insert → looper.on_counter → looper.counters.insert"),
        "{text}"
    );
    assert!(text.contains("#[reducer(writes(...))]"), "{text}");
    assert!(store.commits().is_empty(), "nothing logged");
    // Declaring that the subscription writes only `seen` ends the cycle.
    rt.publish(&wat_modules::module_declaring(
        &schema,
        COUNTER_WRITES,
        &funcs,
    ))
    .await
    .unwrap();
}

/// A table of one `u64` key, public.
fn table(name: &str) -> TableSchema {
    TableSchema {
        visibility: Visibility::Public,
        ..TableSchema::new(name, vec![ColumnSchema::new("id", Type::U64)], 0)
    }
}

fn reducer(name: &str, params: usize, public: bool) -> ReducerSchema {
    ReducerSchema {
        name: name.into(),
        params: (0..params)
            .map(|i| ParamSchema {
                name: format!("p{i}"),
                ty: table("t").row_type(),
            })
            .collect(),
        visibility: if public {
            Visibility::Public
        } else {
            Visibility::Private
        },
        read_only: false,
    }
}

fn on(reducer: &str, module: &str, table: &str, event: TableEvent) -> SubscriptionSchema {
    SubscriptionSchema {
        reducer: reducer.into(),
        module: module.into(),
        table: table.into(),
        event,
    }
}

fn schema(
    name: &str,
    minor: u64,
    tables: Vec<TableSchema>,
    reducers: Vec<ReducerSchema>,
    subscriptions: Vec<SubscriptionSchema>,
    dependencies: &[&str],
) -> ModuleSchema {
    ModuleSchema {
        name: name.into(),
        version: Version {
            major: 1,
            minor,
            patch: 0,
        },
        abi_version: ABI_VERSION,
        tables,
        reducers,
        subscriptions,
        dependencies: dependencies
            .iter()
            .map(|d| Dependency {
                module: (*d).into(),
                min_version: Version {
                    major: 1,
                    minor: 0,
                    patch: 0,
                },
            })
            .collect(),
        migrations: vec![],
        dropped_tables: vec![],
    }
}

/// `schema` as a module whose reducers do nothing, declaring `writes`.
fn module(schema: &ModuleSchema, writes: &[Writes<'_>]) -> Vec<u8> {
    let funcs: String = schema
        .reducers
        .iter()
        .map(|r| {
            format!(
                "  (func (export \"__interstice_reducer__{}\") (param i32 i32) (result i64) (i64.const 0))\n",
                r.name
            )
        })
        .collect();
    wat_modules::module_declaring(schema, writes, &funcs)
}

/// Three modules where `a`'s second version closes a cycle through a
/// cross-module call: a ping runs `b.on_ping`, which may call `c.bump`
/// (undeclared: it may write `c.counts`), whose update `a.on_count`
/// answers with a ping.
#[tokio::test]
async fn a_cycle_through_a_call_is_refused_with_every_step() {
    let store = MemoryLogStore::new();
    let rt = runtime(&store, RuntimeConfig::default()).await;
    let c = schema(
        "c",
        0,
        vec![table("counts")],
        vec![reducer("bump", 0, true)],
        vec![],
        &[],
    );
    let a1 = schema(
        "a",
        0,
        vec![table("pings")],
        vec![reducer("ping", 0, true)],
        vec![],
        &[],
    );
    let b = schema(
        "b",
        0,
        vec![table("notes")],
        vec![reducer("on_ping", 1, false)],
        vec![on("on_ping", "a", "pings", TableEvent::Insert)],
        &["c"],
    );
    rt.publish(&module(&c, &[])).await.unwrap();
    rt.publish(&module(&a1, &[])).await.unwrap();
    rt.publish(&module(&b, &[("on_ping", &[])])).await.unwrap();

    let mut a2 = a1.clone();
    a2.version.minor = 1;
    a2.reducers.push(reducer("on_count", 1, false));
    a2.subscriptions
        .push(on("on_count", "c", "counts", TableEvent::Update));
    let declared: &[Writes<'_>] = &[("on_count", &[("pings", TableEvent::Insert)])];
    let err = rt.publish(&module(&a2, declared)).await.unwrap_err();
    assert_eq!(
        match &err {
            PublishError::SubscriptionCycle(cycle) => cycle.to_string(),
            other => panic!("{other}"),
        },
        "a.pings.insert → b.on_ping → c.bump → c.counts.update → a.on_count → a.pings.insert"
    );
    // `c.bump` declaring what it writes breaks the cycle there: a new `c`
    // whose bump only inserts, then the same `a` is accepted.
    let mut c2 = c.clone();
    c2.version.minor = 1;
    rt.publish(&module(&c2, &[("bump", &[("counts", TableEvent::Insert)])]))
        .await
        .unwrap();
    rt.publish(&module(&a2, declared)).await.unwrap();
    // And `c` cannot take its declaration back now: that closes the cycle.
    let mut c3 = c2.clone();
    c3.version.minor = 2;
    let err = rt.publish(&module(&c3, &[])).await.unwrap_err();
    assert!(matches!(err, PublishError::SubscriptionCycle(_)), "{err}");
}

/// A reducer writing outside what it declares is refused the write: a
/// capability violation that names the table, and the call commits
/// nothing.
#[tokio::test]
async fn a_write_outside_the_declaration_is_a_capability_violation() {
    let store = MemoryLogStore::new();
    let rt = runtime(&store, RuntimeConfig::default()).await;
    let declared: &[Writes<'_>] = &[
        ("on_counter", &[("seen", TableEvent::Insert)]),
        ("add", &[("counters", TableEvent::Insert)]),
        // It updates `counters`; it declares it inserts.
        ("set_first_to_42", &[("counters", TableEvent::Insert)]),
        ("delete_first", &[("seen", TableEvent::Delete)]),
    ];
    rt.publish(&wat_modules::module_declaring(
        &counter_schema(),
        declared,
        COUNTER_FUNCS,
    ))
    .await
    .unwrap();
    rt.call("counter", "add", &arg(7)).await.unwrap();
    rt.settle().await;
    let before = store.commits().len();
    for (reducer, what) in [
        ("set_first_to_42", "may not update table `counters`"),
        ("delete_first", "may not delete from table `counters`"),
    ] {
        let err = rt.call("counter", reducer, &[]).await.unwrap_err();
        assert!(
            matches!(err.kind, CallErrorKind::Capability { .. }),
            "{reducer}: {err}"
        );
        assert!(err.to_string().contains(what), "{reducer}: {err}");
        assert!(
            err.to_string().contains("declares it writes"),
            "{reducer}: {err}"
        );
    }
    rt.settle().await;
    assert_eq!(
        store.commits().len(),
        before,
        "the refused calls logged nothing"
    );
}

/// Declarations are checked like the schema: a table the module lacks, or
/// a read-only reducer that says it writes, refuses the publish.
#[tokio::test]
async fn a_declaration_that_does_not_fit_the_schema_is_refused() {
    let store = MemoryLogStore::new();
    let rt = runtime(&store, RuntimeConfig::default()).await;
    for (declared, expected) in [
        (
            &[("add", &[("nope", TableEvent::Insert)][..])][..],
            "no table `nope` in module `counter`",
        ),
        (
            &[("sneaky_write", &[("seen", TableEvent::Insert)][..])][..],
            "a read-only reducer writes nothing",
        ),
        (&[("gone", &[][..])][..], "no such reducer"),
    ] {
        let err = rt
            .publish(&wat_modules::module_declaring(
                &counter_schema(),
                declared,
                COUNTER_FUNCS,
            ))
            .await
            .unwrap_err();
        assert!(matches!(err, PublishError::InvalidSchema(_)), "{err}");
        assert!(err.to_string().contains(expected), "{err}");
        assert!(err.to_string().contains("interstice.writes"), "{err}");
    }
}

/// The depth cut is the last guard: a log written before publishing
/// checked for cycles may hold a module that loops, and its chain of
/// subscription calls still stops at the configured depth.
#[tokio::test]
async fn a_cycle_a_log_holds_from_before_is_cut_at_the_configured_depth() {
    let (schema, funcs) = looper();
    let store = MemoryLogStore::new();
    let wasm = wat_modules::module(&schema, &funcs);
    store
        .append_commit(&interstice_testkit::schemas::unchecked_publish(
            0, 1, schema, wasm,
        ))
        .await
        .unwrap();
    let config = || RuntimeConfig {
        max_subscription_depth: 5,
        ..RuntimeConfig::default()
    };
    let rt = runtime(&store, config()).await;
    rt.call("looper", "add", &arg(9)).await.unwrap();
    rt.settle().await;
    let count = rt
        .read(|db| {
            db.module_by_name("looper")
                .unwrap()
                .table_by_name("counters")
                .unwrap()
                .1
                .len()
        })
        .await
        .unwrap();
    assert_eq!(count, 1 + 5, "the chain stops after 5 subscription steps");
    let causes: Vec<Option<u64>> = store.commits().iter().map(|c| c.cause).collect();
    assert_eq!(
        causes,
        [None, None, Some(1), Some(2), Some(3), Some(4), Some(5)]
    );
    drop(rt);
    // After a restart the cut chain stays cut.
    let rt = runtime(&store, config()).await;
    rt.settle().await;
    assert_eq!(store.commits().len(), 7);
}
