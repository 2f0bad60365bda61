//! The replay debugger driven as its terminal front end drives it: the
//! timeline, stepping both ways, the state and the changes at each commit,
//! jumps, search, breakpoints, re-running a commit, and a log whose
//! beginning retention removed.

use std::sync::Arc;

use interstice_abi::{Value, encode_value};
use interstice_core::debugger::{Breakpoint, DebugError, Debugger};
use interstice_core::history::state_at;
use interstice_core::{Runtime, RuntimeConfig};
use interstice_log::memory::{MemoryLogStore, MemorySnapshotStore};
use interstice_log::snapshot::SnapshotStore;
use interstice_log::{LogStore, MutationKind};
use interstice_testkit::bank::{args, open, transfer};
use interstice_testkit::built::wasm;
use interstice_testkit::schemas::dump;

/// `test_persistence`: publish (0), open 1 ada 100 (1), open 2 bob 50
/// (2), transfer 30 from 1 to 2 (3), open 3 cy 0 (4), transfer 5 from 2
/// to 3 (5), close 3 (6).
async fn history() -> MemoryLogStore {
    let store = MemoryLogStore::new();
    let rt = Runtime::open(Arc::new(store.clone()), RuntimeConfig::default())
        .await
        .unwrap()
        .0;
    rt.publish(&wasm("test_persistence")).await.unwrap();
    let calls = [
        ("open", open(1, "ada", 100)),
        ("open", open(2, "bob", 50)),
        ("transfer", transfer(1, 2, 30)),
        ("open", open(3, "cy", 0)),
        ("transfer", transfer(2, 3, 5)),
        ("close", args(vec![Value::U64(3)])),
    ];
    for (reducer, a) in calls {
        rt.call("test_persistence", reducer, &a).await.unwrap();
    }
    rt.shutdown().await;
    assert_eq!(store.commits().len(), 7);
    store
}

fn balance_of(d: &Debugger, id: u64) -> Option<i64> {
    let (_, rows) = d
        .rows("test_persistence.accounts", Some(&format!("id={id}")))
        .unwrap();
    rows.first().map(|r| match r[2] {
        Value::I64(b) => b,
        ref other => panic!("{other:?}"),
    })
}

#[tokio::test]
async fn stepping_shows_the_state_and_the_changes_of_each_commit() {
    let store = history().await;
    let mut d = Debugger::open(&store, None).await.unwrap();
    let names: Vec<String> = d
        .steps()
        .iter()
        .map(|s| format!("{} {}.{}", s.offset, s.module, s.reducer))
        .collect();
    assert_eq!(names[0], "0 test_persistence.@publish");
    assert_eq!(names[3], "3 test_persistence.transfer");
    assert_eq!(d.steps()[3].args, r#"{"from":1,"to":2,"amount":30}"#);

    // Forward to the end, the state at each commit is the replay's.
    loop {
        let at = d.selected().offset;
        let expected = state_at(&store, None, at).await.unwrap();
        assert_eq!(dump(d.state()), dump(&expected), "at {at}");
        if !d.step_forward().unwrap() {
            break;
        }
    }
    assert_eq!(d.selected().offset, 6);
    // And back.
    while d.step_back().unwrap() {
        let at = d.selected().offset;
        let expected = state_at(&store, None, at).await.unwrap();
        assert_eq!(dump(d.state()), dump(&expected), "back at {at}");
    }
    assert_eq!(d.position(), 0);

    d.jump_to_offset(3).unwrap();
    let accounts: Vec<_> = d
        .changes()
        .iter()
        .filter(|c| c.table == "test_persistence.accounts")
        .map(|c| {
            (
                c.kind,
                c.key.clone(),
                c.old.as_ref().map(|r| r[2].clone()),
                c.new.as_ref().map(|r| r[2].clone()),
            )
        })
        .collect();
    assert_eq!(
        accounts,
        [
            (
                MutationKind::Update,
                Value::U64(1),
                Some(Value::I64(100)),
                Some(Value::I64(70))
            ),
            (
                MutationKind::Update,
                Value::U64(2),
                Some(Value::I64(50)),
                Some(Value::I64(80))
            ),
        ]
    );
    assert!(
        d.tables()
            .contains(&"test_persistence.transfers".to_owned())
    );
    assert_eq!(balance_of(&d, 1), Some(70));
    d.jump_to_offset(6).unwrap();
    let closed = &d.changes()[0];
    assert_eq!(
        (closed.kind, closed.new.clone()),
        (MutationKind::Delete, None)
    );
    assert_eq!(balance_of(&d, 3), None);

    let err = d.jump_to_offset(9).unwrap_err();
    assert!(matches!(
        err,
        DebugError::NoSuchOffset {
            offset: 9,
            first: 0,
            last: 6
        }
    ));
    let t4 = d.steps()[4].timestamp;
    d.jump_to_time(t4).unwrap();
    assert_eq!(d.selected().offset, 4);
    d.jump_to_time(0).unwrap();
    assert_eq!(d.selected().offset, 0);

    assert!(d.search("transfer", true).unwrap());
    assert_eq!(d.selected().offset, 3);
    assert!(d.search("transfer", true).unwrap());
    assert_eq!(d.selected().offset, 5);
    assert!(!d.search("transfer", true).unwrap());
    assert!(d.search("\"bob\"", false).unwrap());
    assert_eq!(d.selected().offset, 2);
}

#[tokio::test]
async fn breakpoints_stop_where_a_reducer_ran_a_table_or_a_row_changed() {
    let store = history().await;
    let mut d = Debugger::open(&store, None).await.unwrap();
    let row = d
        .parse_breakpoint("row test_persistence.accounts 2")
        .unwrap();
    assert_eq!(
        row,
        Breakpoint::Row {
            table: "test_persistence.accounts".into(),
            key: Value::U64(2)
        }
    );
    d.add_breakpoint(row.clone());
    // Account 2: opened at 2, credited at 3, debited at 5.
    let mut stops = Vec::new();
    while let Some(hit) = d.run(true).unwrap() {
        assert_eq!(hit, row);
        stops.push(d.selected().offset);
    }
    assert_eq!(stops, [2, 3, 5]);
    assert_eq!(d.selected().offset, 6, "the end, when nothing more hits");
    assert_eq!(d.run(false).unwrap(), Some(row.clone()));
    assert_eq!(d.selected().offset, 5);

    d.remove_breakpoint(0);
    d.add_breakpoint(
        d.parse_breakpoint("reducer test_persistence.close")
            .unwrap(),
    );
    d.jump_to_offset(0).unwrap();
    assert!(d.run(true).unwrap().is_some());
    assert_eq!(d.selected().offset, 6);
    d.remove_breakpoint(0);
    d.add_breakpoint(
        d.parse_breakpoint("table test_persistence.transfers")
            .unwrap(),
    );
    d.jump_to_offset(0).unwrap();
    d.run(true).unwrap();
    assert_eq!(d.selected().offset, 3);

    for bad in [
        "row test_persistence.accounts ada",
        "table nope.t",
        "stop here",
    ] {
        assert!(d.parse_breakpoint(bad).is_err(), "{bad}");
    }
    assert_eq!(
        d.parse_breakpoint("stop here").unwrap_err().to_string(),
        "`stop here`: expected `reducer MODULE.REDUCER`, `table MODULE.TABLE` or `row MODULE.TABLE KEY`"
    );
}

#[tokio::test]
async fn the_selected_commit_is_re_run_and_a_forged_one_is_caught() {
    let store = history().await;
    let mut d = Debugger::open(&store, None).await.unwrap();
    d.jump_to_offset(3).unwrap();
    assert_eq!(d.check_selected().unwrap(), None);

    // The same log with the transfer's amount changed in its row.
    let mut commits = store.commits();
    let state = state_at(&store, None, 3).await.unwrap();
    let m = &mut commits[3].mutations[0];
    let table = state.table(m.module_id, m.table_id).unwrap();
    let mut row = table.decode_row(&m.row).unwrap();
    row[2] = Value::I64(71);
    m.row = encode_value(&Value::Struct(row)).unwrap().into();
    let forged = MemoryLogStore::new();
    forged.set_commits(commits[..4].to_vec());
    let mut d = Debugger::open(&forged, None).await.unwrap();
    d.jump_to_offset(3).unwrap();
    let found = d.check_selected().unwrap().expect("a divergence");
    assert!(found.contains("71"), "{found}");
}

#[tokio::test]
async fn a_log_whose_beginning_was_removed_starts_at_its_oldest_snapshot() {
    let store = history().await;
    let snapshots = MemorySnapshotStore::new();
    let shared: Arc<dyn SnapshotStore> = Arc::new(snapshots.clone());
    let early = MemoryLogStore::new();
    early.set_commits(store.commits()[..4].to_vec());
    interstice_core::snapshot::take(&early, shared.clone())
        .await
        .unwrap();
    let cut = MemoryLogStore::new();
    cut.set_commits(store.commits());
    cut.remove_before(3).await.unwrap();
    assert_eq!(cut.first_offset().await.unwrap(), 3);

    let err = Debugger::open(&cut, None).await.err().unwrap();
    assert!(
        matches!(
            err,
            DebugError::Replay(interstice_core::ReplayError::NoStart { first: 3, .. })
        ),
        "{err}"
    );
    let mut d = Debugger::open(&cut, Some(shared)).await.unwrap();
    assert_eq!(
        d.selected().offset,
        4,
        "the first commit after the snapshot"
    );
    assert_eq!(balance_of(&d, 1), Some(70));
    d.jump_to_offset(6).unwrap();
    let expected = state_at(&store, None, 6).await.unwrap();
    assert_eq!(dump(d.state()), dump(&expected));
    assert!(d.jump_to_offset(2).is_err());
}
