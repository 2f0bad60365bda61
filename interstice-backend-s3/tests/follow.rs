//! A read-only store following another process's writes: `refresh` learns
//! what was appended (through compactions, up to a gap), and reads serve it.

use interstice_testkit::s3;

use interstice_backend_s3::S3LogStore;
use interstice_log::codec::SegmentHeader;
use interstice_log::conformance::{Harness, append_samples, sample_commit};
use interstice_log::{CommitBatch, LogOptions, LogStore, LogStoreExt};
use s3::{MOTO, S3};

#[tokio::test]
async fn a_reader_refreshes_to_see_what_the_writer_appended() {
    let h = S3::new(MOTO, "follow");
    let w = S3LogStore::open(h.config.clone(), LogOptions::default().create(true))
        .await
        .unwrap();
    let mut all = append_samples(&w, 3, 1).await;
    let r = S3LogStore::open(h.config.clone(), LogOptions::default().read_only(true))
        .await
        .unwrap();
    assert_eq!(r.next_offset().await.unwrap(), 3);

    all.extend(append_samples(&w, 4, 2).await);
    // Not seen until it looks.
    assert_eq!(r.next_offset().await.unwrap(), 3);
    assert_eq!(r.refresh().await.unwrap(), 7);
    assert_eq!(r.read_all(3).await.unwrap(), all[3..]);
    // Nothing new: nothing changes.
    assert_eq!(r.refresh().await.unwrap(), 7);

    // A compaction meanwhile changes nothing a follower reads.
    w.compact(1 << 20).await.unwrap();
    all.extend(append_samples(&w, 2, 1).await);
    assert_eq!(r.refresh().await.unwrap(), 9);
    assert_eq!(r.read_all(0).await.unwrap(), all);

    // An object past a gap (an append still in flight) waits for it.
    let mut b = CommitBatch::new(10);
    b.push(&sample_commit(10, "later")).unwrap();
    let mut body = SegmentHeader::new(10, 1 << 20).encode().to_vec();
    body.extend_from_slice(b.bytes());
    h.write_segment("00000000000000000010.seg", body).await;
    assert_eq!(r.refresh().await.unwrap(), 9);
    // The writer's own store learns nothing from refreshing.
    assert_eq!(w.refresh().await.unwrap(), 9);
}

/// A follower runtime on the log a writer runtime writes: its subscribers
/// get the writer's commits, its reads converge, and it runs no call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_runtime_streams_the_writers_commits_and_runs_no_call() {
    use std::sync::Arc;
    use std::time::Duration;

    use interstice_abi::{Value, encode_value};
    use interstice_core::{CallErrorKind, Runtime, RuntimeConfig};
    use interstice_testkit::wasm_modules;

    let config = MOTO.config("follow-runtime");
    let store = S3LogStore::open(config.clone(), LogOptions::default().create(true))
        .await
        .unwrap();
    let (writer, _) = Runtime::open(Arc::new(store), RuntimeConfig::default())
        .await
        .unwrap();
    writer
        .publish(&wasm_modules::counter_alone())
        .await
        .unwrap();
    let ro = S3LogStore::open(config, LogOptions::default().read_only(true))
        .await
        .unwrap();
    let follow_config = RuntimeConfig {
        follow: Some(Duration::from_millis(20)),
        ..RuntimeConfig::default()
    };
    let (follower, _) = Runtime::open(Arc::new(ro), follow_config).await.unwrap();
    let mut sub = follower.follow(|_| ()).await.unwrap();

    let add = |n: u64| encode_value(&Value::Struct(vec![Value::U64(n)])).unwrap();
    let mut offsets = Vec::new();
    for n in 0..5 {
        offsets.push(
            writer
                .call("counter", "add", &add(n))
                .await
                .unwrap()
                .offset
                .unwrap(),
        );
    }
    let mut seen = Vec::new();
    while seen.len() < offsets.len() {
        let batch = tokio::time::timeout(Duration::from_secs(10), sub.commits.recv())
            .await
            .expect("the follower streams the writer's commits")
            .unwrap();
        seen.extend(batch.iter().map(|c| c.offset).filter(|o| *o >= sub.from));
    }
    assert_eq!(seen, offsets);
    let rows = |rt: Runtime| async move {
        rt.read(|db| {
            let m = db.module_by_name("counter").unwrap();
            m.table_by_name("counters").unwrap().1.len()
        })
        .await
        .unwrap()
    };
    assert_eq!(rows(follower.clone()).await, rows(writer.clone()).await);
    assert!(follower.follow_lag().is_some() && writer.follow_lag().is_none());

    let err = follower.call("counter", "add", &add(9)).await.unwrap_err();
    assert!(matches!(err.kind, CallErrorKind::Follower), "{err}");
    assert!(
        follower
            .publish(&wasm_modules::counter_alone())
            .await
            .is_err()
    );
    writer.shutdown().await;
    follower.shutdown().await;
}
