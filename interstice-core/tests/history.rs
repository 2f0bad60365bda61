//! Reading the past: `history::state_at` equals a replay stopped at the
//! offset (from a snapshot before it, too), and `history::diff` gives the
//! net change of each row between two offsets.

use std::sync::Arc;

use interstice_abi::Value;
use interstice_core::history::{RowDiff, diff, state_at};
use interstice_core::{ReplayEngine, ReplayError, Runtime, RuntimeConfig};
use interstice_log::memory::{MemoryLogStore, MemorySnapshotStore};
use interstice_log::snapshot::SnapshotStore;
use interstice_testkit::bank::{args, open, transfer};
use interstice_testkit::built::wasm;
use interstice_testkit::schemas::dump;

/// `test_persistence` with accounts 1 (ada, 100) and 2 (bob, 50) at
/// offsets 1 and 2, a transfer of 30 at 3, account 3 opened at 4 and
/// closed at 5: offsets 0..=5.
async fn history() -> MemoryLogStore {
    let store = MemoryLogStore::new();
    let rt = Runtime::open(Arc::new(store.clone()), RuntimeConfig::default())
        .await
        .unwrap()
        .0;
    rt.publish(&wasm("test_persistence")).await.unwrap();
    rt.call("test_persistence", "open", &open(1, "ada", 100))
        .await
        .unwrap();
    rt.call("test_persistence", "open", &open(2, "bob", 50))
        .await
        .unwrap();
    rt.call("test_persistence", "transfer", &transfer(1, 2, 30))
        .await
        .unwrap();
    rt.call("test_persistence", "open", &open(3, "cy", 0))
        .await
        .unwrap();
    rt.call("test_persistence", "close", &args(vec![Value::U64(3)]))
        .await
        .unwrap();
    rt.shutdown().await;
    assert_eq!(store.commits().len(), 6);
    store
}

fn balances(db: &interstice_core::db::Database) -> Vec<(u64, i64)> {
    let m = db.module_by_name("test_persistence").unwrap();
    let (_, accounts) = m.table_by_name("accounts").unwrap();
    accounts
        .iter()
        .map(|r| match (&r.values()[0], &r.values()[2]) {
            (Value::U64(id), Value::I64(b)) => (*id, *b),
            other => panic!("{other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn the_state_at_an_offset_is_the_replay_stopped_there_with_or_without_a_snapshot() {
    let store = history().await;
    for at in 0..6 {
        let past = state_at(&store, None, at).await.unwrap();
        let replayed = ReplayEngine::replay(&store, 0, Some(at)).await.unwrap();
        assert_eq!(dump(&past), dump(&replayed.db), "at {at}");
    }
    assert_eq!(
        balances(&state_at(&store, None, 3).await.unwrap()),
        [(1, 70), (2, 80)]
    );
    // A snapshot taken at the end is no use for the past; one before it is.
    let snapshots = MemorySnapshotStore::new();
    let shared: Arc<dyn SnapshotStore> = Arc::new(snapshots.clone());
    let early = MemoryLogStore::new();
    early.set_commits(store.commits()[..3].to_vec());
    interstice_core::snapshot::take(&early, shared.clone())
        .await
        .unwrap();
    interstice_core::snapshot::take(&store, shared.clone())
        .await
        .unwrap();
    assert_eq!(snapshots.list().await.unwrap(), [2, 5]);
    for at in 0..6 {
        let past = state_at(&store, Some(shared.clone()), at).await.unwrap();
        let replayed = ReplayEngine::replay(&store, 0, Some(at)).await.unwrap();
        assert_eq!(dump(&past), dump(&replayed.db), "at {at} with snapshots");
    }

    let err = state_at(&store, None, 6).await.unwrap_err();
    assert!(matches!(
        err,
        ReplayError::Beyond {
            offset: 6,
            last: Some(5)
        }
    ));
    assert_eq!(
        err.to_string(),
        "no commit 6 in the log: its last commit is 5"
    );
}

#[tokio::test]
async fn a_diff_is_each_rows_net_change() {
    let store = history().await;
    let tables = diff(&store, None, 1, 5, Some("test_persistence.accounts"))
        .await
        .unwrap();
    let [accounts] = &tables[..] else {
        panic!("{tables:?}")
    };
    let tags = Value::Vec(vec![Value::String("new".into())]);
    let row = |id: u64, owner: &str, balance: i64| {
        vec![
            Value::U64(id),
            Value::String(owner.into()),
            Value::I64(balance),
            tags.clone(),
        ]
    };
    // Account 3 was opened and closed in between: no change.
    assert_eq!(
        accounts.rows,
        [
            RowDiff::Updated {
                old: row(1, "ada", 100),
                new: row(1, "ada", 70)
            },
            RowDiff::Inserted(row(2, "bob", 80)),
        ]
    );
    let names: Vec<&str> = accounts.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["id", "owner", "balance", "tags"]);

    // Every table, in name order; deletions show the row as it was.
    let all = diff(&store, None, 4, 5, None).await.unwrap();
    let names: Vec<&str> = all.iter().map(|t| t.table.as_str()).collect();
    assert_eq!(
        names,
        ["test_persistence.accounts", "test_persistence.audit"]
    );
    assert_eq!(all[0].rows, [RowDiff::Deleted(row(3, "cy", 0))]);
    assert!(diff(&store, None, 5, 5, None).await.unwrap().is_empty());
    let err = diff(&store, None, 4, 2, None).await.unwrap_err();
    assert_eq!(err.to_string(), "the range 4..2 ends before it starts");
}
