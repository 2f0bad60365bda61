//! Snapshots and retention on S3 when the server goes away or answers get
//! lost: a snapshot is there whole or not at all, a prefix removal that
//! fails leaves a log that opens, and both work when the server returns.

use interstice_testkit::s3;

use bytes::Bytes;
use interstice_backend_s3::{S3LogStore, S3SnapshotStore};
use interstice_log::conformance::append_samples;
use interstice_log::snapshot::SnapshotStore;
use interstice_log::{LogOptions, LogStore, LogStoreExt};
use s3::{DOWN, LOSE_ANSWERS, MOTO, PASS, Proxy};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_put_is_whole_or_absent_whatever_the_network_does() {
    let proxy = Proxy::start(MOTO).await;
    let config = proxy.config(MOTO, "snap-outage").max_retries(0);
    let snapshots = S3SnapshotStore::new(&config).unwrap();
    let big = Bytes::from(vec![7u8; 3 << 20]);

    proxy.set(DOWN);
    assert!(snapshots.put(1, big.clone()).await.is_err());
    proxy.set(PASS);
    assert_eq!(snapshots.list().await.unwrap(), Vec::<u64>::new());

    // Stored, but the answer is lost: an error, and then the whole object.
    proxy.set(LOSE_ANSWERS);
    assert!(snapshots.put(2, big.clone()).await.is_err());
    proxy.set(PASS);
    assert_eq!(snapshots.list().await.unwrap(), vec![2]);
    assert_eq!(snapshots.get(2).await.unwrap(), big);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_removal_cut_short_leaves_a_log_that_opens() {
    let proxy = Proxy::start(MOTO).await;
    let config = proxy.config(MOTO, "prefix-outage").max_retries(0);
    let opts = LogOptions::default().create(true);
    let store = S3LogStore::open(config.clone(), opts.clone())
        .await
        .unwrap();
    let all = append_samples(&store, 12, 1).await;

    for mode in [DOWN, LOSE_ANSWERS] {
        proxy.set(mode);
        assert!(store.remove_before(6).await.is_err());
        proxy.set(PASS);
        // Whatever got through, a new open serves a suffix of the log
        // intact, starting at 0 or at 6.
        let reopened = S3LogStore::open(config.clone(), opts.clone())
            .await
            .unwrap();
        let first = reopened.first_offset().await.unwrap();
        assert!(first == 0 || first == 6, "starts at {first}");
        assert_eq!(
            reopened.read_all(first).await.unwrap(),
            all[first as usize..]
        );
    }
    let reopened = S3LogStore::open(config.clone(), opts).await.unwrap();
    let report = reopened.remove_before(6).await.unwrap();
    assert_eq!(report.first_offset, 6);
    assert_eq!(reopened.read_all(6).await.unwrap(), all[6..]);
    assert_eq!(reopened.next_offset().await.unwrap(), 12);
}
