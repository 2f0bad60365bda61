//! The runtime against `mockall` doubles of the log store: what callers
//! see when appends fail or are slow.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt;
use interstice_core::{CallErrorKind, Runtime, RuntimeConfig};
use interstice_log::Error;
use interstice_log::mock::MockLogStore;
use interstice_testkit::calls::arg;
use interstice_testkit::wasm_modules::counter;

/// A mock serving an empty log.
fn empty_log() -> MockLogStore {
    let mut store = MockLogStore::new();
    store
        .expect_read_from()
        .returning(|_| Ok(futures::stream::empty().boxed()));
    store.expect_last_offset().returning(|| Ok(None));
    store.expect_first_offset().returning(|| Ok(0));
    store
}

async fn counters(rt: &Runtime) -> usize {
    rt.read(|db| {
        db.module_by_name("counter")
            .map_or(0, |m| m.table_by_name("counters").unwrap().1.len())
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn when_append_fails_the_caller_gets_the_error_and_nobody_sees_the_write() {
    let mut store = empty_log();
    let appends = Arc::new(AtomicU64::new(0));
    let seen = appends.clone();
    store.expect_append().returning(move |batch| {
        // The publish succeeds; the first call's append fails.
        if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            assert_eq!(batch.first_offset(), 0);
            Ok(())
        } else {
            Err(Error::io(
                "fdatasync",
                "segment 0",
                std::io::Error::other("disk on fire"),
            ))
        }
    });
    let (rt, _) = Runtime::open(Arc::new(store), RuntimeConfig::default())
        .await
        .unwrap();
    rt.publish(&counter()).await.unwrap();
    let err = rt.call("counter", "add", &arg(1)).await.unwrap_err();
    assert!(matches!(err.kind, CallErrorKind::Log(_)), "{err}");
    assert!(err.to_string().contains("disk on fire"), "{err}");
    // Later calls are refused, so the undurable row is never observed.
    let err = rt.call("counter", "noop", &[]).await.unwrap_err();
    assert!(matches!(err.kind, CallErrorKind::Stopped { .. }), "{err}");
    assert_eq!(appends.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_an_append_is_slow_concurrent_callers_batch_into_one() {
    let mut store = empty_log();
    let batches = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = batches.clone();
    store.expect_append().returning(move |batch| {
        record.lock().unwrap().push(batch.len());
        // A slow sync (blocking, like fdatasync on a busy disk).
        std::thread::sleep(Duration::from_millis(30));
        Ok(())
    });
    let (rt, _) = Runtime::open(Arc::new(store), RuntimeConfig::default())
        .await
        .unwrap();
    rt.publish(&counter()).await.unwrap();
    let calls: Vec<_> = (0..16)
        .map(|i| {
            let rt = rt.clone();
            tokio::spawn(async move { rt.call("counter", "add", &arg(i)).await.map(|r| r.offset) })
        })
        .collect();
    for c in calls {
        assert!(c.await.unwrap().unwrap().is_some());
    }
    let sizes = batches.lock().unwrap().clone();
    assert!(
        sizes.iter().any(|&n| n > 1),
        "no batch held more than one commit: {sizes:?}"
    );
    assert!(sizes.len() < 17, "{sizes:?}");
    rt.settle().await;
    assert_eq!(counters(&rt).await, 16);
}

#[tokio::test]
async fn a_runtime_replaying_from_an_offset_continues_where_the_store_ends() {
    // A `skip-to:7` store: it serves commits from 7 on (none here) and
    // ends at 9, so the next commit must be 10.
    let mut store = MockLogStore::new();
    store
        .expect_read_from()
        .withf(|from| *from == 7)
        .returning(|_| Ok(futures::stream::empty().boxed()));
    store.expect_last_offset().returning(|| Ok(Some(9)));
    store.expect_first_offset().returning(|| Ok(7));
    store
        .expect_append()
        .withf(|batch| batch.first_offset() == 10)
        .returning(|_| Ok(()));
    let config = RuntimeConfig {
        replay_from: 7,
        ..RuntimeConfig::default()
    };
    let (rt, report) = Runtime::open(Arc::new(store), config).await.unwrap();
    assert_eq!(report.commits, 0);
    assert_eq!(rt.publish(&counter()).await.unwrap().offset, 10);
}
