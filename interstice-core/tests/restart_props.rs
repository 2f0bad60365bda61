//! Property: any sequence of reducer calls, then a restart, gives the same
//! state, without re-running anything.

use std::sync::Arc;

use interstice_core::retention::Retention;
use interstice_core::{Runtime, RuntimeConfig, SnapshotPolicy};
use interstice_log::LogStoreExt;
use interstice_log::memory::{MemoryLogStore, MemorySnapshotStore};
use interstice_testkit::calls::arg;
use interstice_testkit::schemas::dump;
use interstice_testkit::wasm_modules::counter;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Call {
    Add(u64),
    Fail(u64),
    Trap(u64),
    Dup,
    Random,
    Noop,
    Update,
    Delete,
}

fn call() -> impl Strategy<Value = Call> {
    prop_oneof![
        4 => any::<u64>().prop_map(Call::Add),
        1 => any::<u64>().prop_map(Call::Fail),
        1 => any::<u64>().prop_map(Call::Trap),
        1 => Just(Call::Dup),
        2 => Just(Call::Random),
        1 => Just(Call::Noop),
        1 => Just(Call::Update),
        1 => Just(Call::Delete),
    ]
}

/// Runs `calls`, restarts on the same log (and snapshots, if any), and
/// checks the state came back without anything running again.
async fn restart_keeps_state(
    calls: &[Call],
    config: impl Fn() -> RuntimeConfig,
) -> Result<(), TestCaseError> {
    let store = MemoryLogStore::new();
    let (live, _) = Runtime::open(Arc::new(store.clone()), config())
        .await
        .unwrap();
    live.publish(&counter()).await.unwrap();
    for c in calls {
        let _ = match c {
            Call::Add(n) => live.call("counter", "add", &arg(*n)).await,
            Call::Fail(n) => live.call("counter", "fail_after_insert", &arg(*n)).await,
            Call::Trap(n) => live.call("counter", "trap_after_insert", &arg(*n)).await,
            Call::Dup => live.call("counter", "dup", &[]).await,
            Call::Random => live.call("counter", "add_random", &[]).await,
            Call::Noop => live.call("counter", "noop", &[]).await,
            Call::Update => live.call("counter", "set_first_to_42", &[]).await,
            Call::Delete => live.call("counter", "delete_first", &[]).await,
        };
    }
    live.settle().await;
    let before = live.read(dump).await.unwrap();
    let next = store.next_offset().await.unwrap();
    live.shutdown().await;

    let (restarted, report) = Runtime::open(Arc::new(store.clone()), config())
        .await
        .unwrap();
    restarted.settle().await;
    prop_assert_eq!(restarted.read(dump).await.unwrap(), before);
    // Replayed: the commits after the snapshot used, or all of them.
    let from = report.snapshot.map_or(0, |o| o + 1);
    prop_assert_eq!(report.commits, next - from);
    prop_assert_eq!(
        store.next_offset().await.unwrap(),
        next,
        "nothing ran again"
    );
    prop_assert_eq!(restarted.instantiations(), 0);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn state_after_restart_equals_state_before(calls in prop::collection::vec(call(), 0..25)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(restart_keeps_state(&calls, RuntimeConfig::default))?;
    }

    /// The same with a snapshot every two commits and only the newest
    /// kept, the log before it removed: the restart starts from it.
    #[test]
    fn state_after_restart_from_snapshots_equals_state_before(calls in prop::collection::vec(call(), 0..25)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let snapshots = MemorySnapshotStore::new();
        let config = || RuntimeConfig {
            snapshots: Some(Arc::new(snapshots.clone())),
            snapshot_policy: SnapshotPolicy { every_commits: Some(2), ..SnapshotPolicy::default() },
            retention: Retention { keep_snapshots: Some(1), history: None },
            ..RuntimeConfig::default()
        };
        rt.block_on(restart_keeps_state(&calls, config))?;
    }
}
