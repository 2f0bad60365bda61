//! The writer lease: a holder keeps other writers out (not readers, not
//! compaction), a take-over fences it, and releasing it lets the next
//! writer in at once.

use std::time::{Duration, Instant};

use interstice_testkit::s3;

use interstice_backend_s3::{S3Config, S3LogStore, WriterLease};
use interstice_log::conformance::{append_samples, sample_commit};
use interstice_log::{CommitBatch, Error, LogOptions, LogStore, LogStoreExt, TAKE_OVER_INVOCATION};
use s3::MOTO;

/// A node's store on `config`'s log, answering at `node`: the first one
/// creates the log; `take_over` takes it from another.
async fn node(config: &S3Config, node: &str, take_over: bool) -> S3LogStore {
    let lease = WriterLease::Hold {
        node: Some(node.into()),
    };
    let config = config.clone().writer_lease(lease).take_over(take_over);
    S3LogStore::open(config, LogOptions::default().create(true))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_held_lease_keeps_other_writers_out_but_not_readers_or_compaction() {
    let config = MOTO.config("lease");
    let a = node(&config, "http://node-a", false).await;
    append_samples(&a, 3, 1).await;

    for opts in [LogOptions::default(), LogOptions::default().repair(true)] {
        let err = S3LogStore::open(config.clone(), opts).await.unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::InUse { .. }), "{msg}");
        assert!(msg.contains("http://node-a"), "{msg}");
    }
    let ro = S3LogStore::open(config.clone(), LogOptions::default().read_only(true))
        .await
        .unwrap();
    assert_eq!(ro.read_all(0).await.unwrap().len(), 3);
    let compactor = S3LogStore::open(
        config.clone().writer_lease(WriterLease::Ignore),
        LogOptions::default(),
    )
    .await
    .unwrap();
    compactor.compact(1 << 20).await.unwrap();
    // The holder writes on, undisturbed.
    append_samples(&a, 2, 1).await;

    // Released: the next writer gets in without waiting out the lease.
    a.release().await.unwrap();
    let started = Instant::now();
    let b = S3LogStore::open(config, LogOptions::default())
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(b.next_offset().await.unwrap(), 5);
}

#[tokio::test]
async fn a_take_over_fences_the_holder() {
    let config = MOTO.config("take-over");
    let a = node(&config, "http://node-a", false).await;
    let mut expected = append_samples(&a, 2, 1).await;

    let b = node(&config, "http://node-b", true).await;
    // B's first commit is the take-over record, at A's next offset...
    let all = b.read_all(0).await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[2].invocation.reducer, TAKE_OVER_INVOCATION);
    assert!(all[2].mutations.is_empty());
    // ...so A's next append finds it taken: fenced, for good.
    let mut batch = CommitBatch::new(2);
    batch.push(&sample_commit(2, "a")).unwrap();
    let err = a.append(&batch).await.unwrap_err();
    assert!(matches!(err, Error::Fenced { .. }), "{err}");

    expected.push(all[2].clone());
    expected.extend(append_samples(&b, 2, 1).await);
    let ro = S3LogStore::open(config, LogOptions::default().read_only(true))
        .await
        .unwrap();
    assert_eq!(ro.read_all(0).await.unwrap(), expected);
    assert!(ro.verify().await.unwrap().is_clean());
}

#[tokio::test]
async fn a_holder_whose_lease_was_taken_stops_writing() {
    let config = MOTO.config("lease-lost");
    let a = node(&config, "http://node-a", false).await;
    append_samples(&a, 1, 1).await;
    // Another process takes the lease without writing a commit (yet).
    let _b = node(&config, "http://node-b", true).await;
    // A's next heartbeat finds it gone; from then on it writes nothing,
    // whatever offset it would write.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut batch = CommitBatch::new(5);
    batch.push(&sample_commit(5, "a")).unwrap();
    let err = a.append(&batch).await.unwrap_err();
    assert!(
        matches!(&err, Error::Fenced { detail, .. } if detail.contains("writer lease was taken")),
        "{err}"
    );
}
