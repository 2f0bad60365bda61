//! Migration reducers, with `modules/ledger` in its three versions (1.0.0;
//! 1.1.0 adds a defaulted, indexed column; 2.0.0 splits a column and
//! renames the table with the migration `split_owner`): the migration runs
//! once inside the publish's commit, a restart replays its writes without
//! WebAssembly, `replay_check` runs it again, a failing or trapping one
//! leaves everything as it was, and a hot swap under concurrent callers
//! runs each call on one version.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use interstice_abi::{MigrationSchema, Value, encode_value};
use interstice_core::replay_check::replay_check;
use interstice_core::{Limits, PublishError, ReplayEngine, Runtime, RuntimeConfig, WasmHost};
use interstice_log::memory::MemoryLogStore;
use interstice_testkit::bank::args;
use interstice_testkit::built::wasm;
use interstice_testkit::evolving::v1;
use interstice_testkit::schemas::dump;
use interstice_testkit::wasm_modules::{COUNTER_FUNCS, module};

async fn open(store: &MemoryLogStore) -> Runtime {
    Runtime::open(Arc::new(store.clone()), RuntimeConfig::default())
        .await
        .unwrap()
        .0
}

fn s(text: &str) -> Value {
    Value::String(text.into())
}

async fn state(rt: &Runtime) -> Vec<(String, Vec<Vec<Value>>)> {
    rt.read(dump).await.unwrap()
}

/// A runtime with ledger 1.0.0 and accounts for `owners`, 100 each.
async fn ledger_v1(store: &MemoryLogStore, owners: &[&str]) -> Runtime {
    let rt = open(store).await;
    rt.publish(&wasm("ledger_v1")).await.unwrap();
    for owner in owners {
        rt.call("ledger", "open", &args(vec![s(owner), Value::I64(100)]))
            .await
            .unwrap();
    }
    rt
}

/// The state after replaying `store` from scratch (no WebAssembly run).
async fn replayed(store: &MemoryLogStore) -> Vec<(String, Vec<Vec<Value>>)> {
    dump(&ReplayEngine::replay(store, 0, None).await.unwrap().db)
}

#[tokio::test]
async fn the_ledger_evolves_through_three_versions_and_every_restart_agrees() {
    let store = MemoryLogStore::new();
    let rt = ledger_v1(&store, &["Ada King Lovelace", "Grace Hopper"]).await;
    rt.call(
        "ledger",
        "deposit",
        &args(vec![Value::U64(1), Value::I64(5)]),
    )
    .await
    .unwrap();
    let v1_state = state(&rt).await;
    assert_eq!(
        v1_state,
        [(
            "ledger.accounts".to_owned(),
            vec![
                vec![Value::U64(1), s("Ada King Lovelace"), Value::I64(105)],
                vec![Value::U64(2), s("Grace Hopper"), Value::I64(100)],
            ]
        )]
    );
    rt.shutdown().await;
    assert_eq!(replayed(&store).await, v1_state, "restart after 1.0.0");

    // 1.1.0: a defaulted column and an index, no migration.
    let rt = open(&store).await;
    let published = rt.publish(&wasm("ledger_v2")).await.unwrap();
    assert!(published.migrations.is_empty());
    let changes = published.diff.to_string();
    for expected in [
        "column `currency: String` added, existing rows take its default \"EUR\"",
        "index `by_currency` added",
    ] {
        assert!(changes.contains(expected), "{changes}");
    }
    rt.call(
        "ledger",
        "set_currency",
        &args(vec![Value::U64(2), s("USD")]),
    )
    .await
    .unwrap();
    let counted = rt
        .call("ledger", "count_in", &args(vec![s("EUR")]))
        .await
        .unwrap();
    assert_eq!(counted.logs[0].1, "ledger 1.1.0: 1 accounts in EUR");
    let v2_state = state(&rt).await;
    assert_eq!(
        v2_state[0].1,
        vec![
            vec![
                Value::U64(1),
                s("Ada King Lovelace"),
                Value::I64(105),
                s("EUR")
            ],
            vec![Value::U64(2), s("Grace Hopper"), Value::I64(100), s("USD")],
        ]
    );
    rt.shutdown().await;
    assert_eq!(replayed(&store).await, v2_state, "restart after 1.1.0");

    // 2.0.0: `accounts` becomes `wallets`, `owner` splits; the migration
    // runs in the publish's commit.
    let rt = open(&store).await;
    let commits = store.commits().len();
    let published = rt.publish(&wasm("ledger_v3")).await.unwrap();
    assert_eq!(store.commits().len(), commits + 1, "one commit");
    let [run] = &published.migrations[..] else {
        panic!("{:?}", published.migrations)
    };
    assert_eq!(
        (run.reducer.as_str(), run.table.as_str(), run.from),
        ("split_owner", "wallets", 1)
    );
    assert_eq!((run.rows_before, run.mutations), (2, 2));
    let v3_state = state(&rt).await;
    let wallets = vec![
        vec![
            Value::U64(1),
            s("Ada"),
            s("King Lovelace"),
            Value::I64(105),
            s("EUR"),
        ],
        vec![
            Value::U64(2),
            s("Grace"),
            s("Hopper"),
            Value::I64(100),
            s("USD"),
        ],
    ];
    assert_eq!(v3_state, [("ledger.wallets".to_owned(), wallets)]);
    // The module record, then the migration's inserts, in one commit.
    let commit = store.commits().last().unwrap().clone();
    assert_eq!(
        commit.invocation.reducer,
        interstice_core::PUBLISH_INVOCATION
    );
    assert_eq!(commit.mutations.len(), 3);
    // The auto-increment key goes on after the migrated rows; the index
    // holds them.
    rt.call(
        "ledger",
        "open",
        &args(vec![s("Edsger Dijkstra"), Value::I64(1)]),
    )
    .await
    .unwrap();
    let counted = rt
        .call("ledger", "count_in", &args(vec![s("EUR")]))
        .await
        .unwrap();
    assert_eq!(counted.logs[0].1, "ledger 2.0.0: 2 accounts in EUR");
    // Nobody calls a migration.
    let refused = rt.call("ledger", "split_owner", &[]).await.unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("is the migration of `wallets` from version 1"),
        "{refused}"
    );
    let final_state = state(&rt).await;
    assert_eq!(final_state[0].1[2][0], Value::U64(3));
    rt.shutdown().await;

    // A log holding all three versions replays to the same state, and a
    // runtime opened on it too.
    assert_eq!(replayed(&store).await, final_state, "restart after 2.0.0");
    let rt = open(&store).await;
    assert_eq!(state(&rt).await, final_state);
    rt.shutdown().await;

    // replay-check re-runs the migration (twice) with the logged context.
    let report = replay_check(&store, None, Limits::default()).await.unwrap();
    assert_eq!(report.divergence, None);
    let calls = store
        .commits()
        .iter()
        .filter(|c| !c.invocation.reducer.starts_with('@'))
        .count() as u64;
    assert_eq!(report.executed, calls + 1, "the calls and the migration");
}

#[tokio::test]
async fn replay_check_finds_a_migration_commit_that_its_migration_does_not_produce() {
    let store = MemoryLogStore::new();
    let rt = ledger_v1(&store, &["Ada Lovelace"]).await;
    rt.publish(&wasm("ledger_v2")).await.unwrap();
    rt.publish(&wasm("ledger_v3")).await.unwrap();
    rt.shutdown().await;
    // The same log, but the migrated row says something else.
    let db = ReplayEngine::replay(&store, 0, None).await.unwrap().db;
    let wallets = &db.module_by_name("ledger").unwrap().tables[0];
    let mut commits = store.commits();
    let last = commits.last_mut().unwrap();
    let mut row = wallets.decode_row(&last.mutations[1].row).unwrap();
    row[3] = Value::I64(1_000_000);
    last.mutations[1].row = encode_value(&Value::Struct(row)).unwrap().into();
    let forged = last.offset;
    let forged_store = MemoryLogStore::new();
    forged_store.set_commits(commits.clone());
    let report = replay_check(&forged_store, None, Limits::default())
        .await
        .unwrap();
    let divergence = report.divergence.expect("the forged row is found");
    assert_eq!(divergence.offset, forged);
    assert!(
        divergence.detail.contains("1000000"),
        "{}",
        divergence.detail
    );
}

#[tokio::test]
async fn a_failing_migration_leaves_everything_as_it_was() {
    let store = MemoryLogStore::new();
    // An account whose owner is blank: `split_owner` refuses it.
    let rt = ledger_v1(&store, &["Ada Lovelace", " "]).await;
    rt.publish(&wasm("ledger_v2")).await.unwrap();
    let before = state(&rt).await;
    let commits = store.commits().len();

    let err = rt.publish(&wasm("ledger_v3")).await.unwrap_err();
    assert!(matches!(err, PublishError::Migration(_)), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("migration `split_owner` of `wallets` from version 1 failed")
            && text.contains("account 2 has no owner to split"),
        "{text}"
    );
    assert_eq!(state(&rt).await, before, "nothing changed");
    assert_eq!(store.commits().len(), commits, "nothing logged");
    // 1.1.0 still serves calls.
    let receipt = rt
        .call(
            "ledger",
            "deposit",
            &args(vec![Value::U64(1), Value::I64(1)]),
        )
        .await
        .unwrap();
    assert_eq!(receipt.logs[0].1, "ledger 1.1.0: deposited 1 into 1");
    rt.shutdown().await;
    let after = replayed(&store).await;
    assert_eq!(after[0].0, "ledger.accounts");
    assert_eq!(after[0].1.len(), 2);

    // With the account mended, the same version publishes.
    let rt = open(&store).await;
    rt.call(
        "ledger",
        "deposit",
        &args(vec![Value::U64(2), Value::I64(0)]),
    )
    .await
    .unwrap();
    rt.shutdown().await;
}

/// `counter` at table version 2 with a migration from 1 by `upgrade`, a
/// reducer written in WAT (`body`).
fn counter_migrating(body: &str) -> Vec<u8> {
    let mut schema = v1();
    schema.version.minor = 1;
    schema.tables[0].version = 2;
    schema.reducers.push(interstice_abi::ReducerSchema {
        name: "upgrade".into(),
        params: vec![],
        visibility: interstice_abi::Visibility::Private,
        read_only: false,
    });
    schema.migrations.push(MigrationSchema {
        reducer: "upgrade".into(),
        table: "counters".into(),
        from: 1,
        old_columns: v1().tables[0].columns.clone(),
    });
    let funcs = format!(
        r#"{COUNTER_FUNCS}
  (data (i32.const 480) "counters@1")
  (func (export "__interstice_reducer__upgrade") (param $p i32) (param $l i32) (result i64)
    {body})"#
    );
    module(&schema, &funcs)
}

#[tokio::test]
async fn a_trapping_migration_or_one_that_writes_the_old_rows_is_refused() {
    let store = MemoryLogStore::new();
    let rt = open(&store).await;
    rt.publish(&module(&v1(), COUNTER_FUNCS)).await.unwrap();
    rt.call("counter", "add", &interstice_testkit::calls::arg(7))
        .await
        .unwrap();
    let before = state(&rt).await;
    let commits = store.commits().len();

    let trap = rt
        .publish(&counter_migrating("unreachable"))
        .await
        .unwrap_err();
    assert!(matches!(trap, PublishError::Migration(_)), "{trap}");
    assert!(trap.to_string().contains("trapped"), "{trap}");

    // Deleting key 1 from `counters@1`, the published rows.
    let write_old = counter_migrating(
        "(drop (call $delete (call $table (i32.const 0) (i32.const 0) (i32.const 480) (i32.const 10)) (i32.const 432) (i32.const 1)))
    (i64.const 0)",
    );
    let err = rt.publish(&write_old).await.unwrap_err();
    assert!(
        err.to_string().contains(
            "table `counters@1` holds the published rows a migration reads: it is read-only"
        ),
        "{err}"
    );
    assert_eq!(state(&rt).await, before, "nothing changed");
    assert_eq!(store.commits().len(), commits, "nothing logged");
    // Outside a migration, the old rows are nowhere.
    let reads = rt.call("counter", "scan_stats", &[]).await.unwrap();
    assert!(reads.offset.is_some());
    assert_eq!(
        rt.read(|db| db.module_by_name("counter").unwrap().tables.len())
            .await
            .unwrap(),
        2
    );
}

#[tokio::test]
async fn a_dry_run_runs_the_migration_on_a_copy() {
    let store = MemoryLogStore::new();
    let rt = ledger_v1(&store, &["Ada Lovelace", "Alan Turing", "Kurt"]).await;
    rt.publish(&wasm("ledger_v2")).await.unwrap();
    rt.shutdown().await;
    let commits = store.commits().len();
    let host = WasmHost::new(Limits::default());
    let mut db = ReplayEngine::replay(&store, 0, None).await.unwrap().db;
    let bytes = wasm("ledger_v3");
    let inspected = host.inspect(&bytes).unwrap();
    let plan = interstice_core::dry_run::publish(&host, &mut db, inspected, &bytes).unwrap();
    let [run] = &plan.migrations[..] else {
        panic!("{:?}", plan.migrations)
    };
    assert_eq!((run.rows_before, run.mutations), (3, 3));
    assert_eq!(plan.logs, ["ledger 2.0.0: split the owners of 3 accounts"]);
    assert_eq!(plan.tables, [("wallets".to_owned(), Some(3), 3)]);
    let kurt = dump(&db)[0].1[2].clone();
    assert_eq!(kurt[1..3], [s("Kurt"), s("")]);
    assert_eq!(store.commits().len(), commits, "nothing written");
}

/// Sixteen callers deposit without pause while 1.1.0 and then 2.0.0 are
/// published: no call is lost, and each ran entirely on one version, the
/// one the log had at its offset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_swap_under_sixteen_callers_runs_each_call_on_one_version() {
    const CALLERS: u64 = 16;
    let store = MemoryLogStore::new();
    let owners: Vec<String> = (1..=CALLERS).map(|i| format!("Caller {i}")).collect();
    let owner_refs: Vec<&str> = owners.iter().map(String::as_str).collect();
    let rt = Arc::new(ledger_v1(&store, &owner_refs).await);
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for id in 1..=CALLERS {
        let (rt, stop) = (rt.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut done = Vec::new();
            while !stop.load(Ordering::Relaxed) || done.len() < 3 {
                let receipt = rt
                    .call(
                        "ledger",
                        "deposit",
                        &args(vec![Value::U64(id), Value::I64(1)]),
                    )
                    .await
                    .unwrap_or_else(|e| panic!("caller {id}: {e}"));
                let versions: Vec<&str> = receipt
                    .logs
                    .iter()
                    .filter_map(|(_, m)| m.strip_prefix("ledger "))
                    .map(|m| m.split(':').next().unwrap())
                    .collect();
                assert_eq!(versions.len(), 1, "{:?}", receipt.logs);
                done.push((receipt.offset.unwrap(), versions[0].to_owned()));
            }
            done
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let v2 = rt.publish(&wasm("ledger_v2")).await.unwrap().offset;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let v3 = rt.publish(&wasm("ledger_v3")).await.unwrap().offset;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let mut per_version = BTreeMap::new();
    let mut deposits = Vec::new();
    for task in tasks {
        let done = task.await.unwrap();
        deposits.push(done.len() as i64);
        for (offset, version) in done {
            let expected = if offset < v2 {
                "1.0.0"
            } else if offset < v3 {
                "1.1.0"
            } else {
                "2.0.0"
            };
            assert_eq!(version, expected, "the call at offset {offset}");
            *per_version.entry(version).or_insert(0) += 1;
        }
    }
    assert_eq!(
        per_version.len(),
        3,
        "calls ran on every version: {per_version:?}"
    );
    // Every acknowledged deposit is in the balances, which the migration
    // carried over.
    let balances: Vec<i64> = rt
        .read(|db| {
            db.module_by_name("ledger").unwrap().tables[0]
                .iter()
                .map(|r| match r.values()[3] {
                    Value::I64(b) => b,
                    ref other => panic!("{other:?}"),
                })
                .collect()
        })
        .await
        .unwrap();
    let expected: Vec<i64> = deposits.iter().map(|n| 100 + n).collect();
    assert_eq!(balances, expected);
    rt.shutdown().await;
    let report = replay_check(&store, None, Limits::default()).await.unwrap();
    assert_eq!(report.divergence, None);
}
