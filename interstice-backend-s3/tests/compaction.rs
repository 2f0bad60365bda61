//! Compaction on real servers: nothing lost, readers running at the same
//! time unaffected, fencing still working, truncation into a merged
//! segment.

use interstice_testkit::s3;

use futures::StreamExt;
use interstice_backend_s3::S3LogStore;
use interstice_log::conformance::{append_samples, sample_commit};
use interstice_log::{CommitBatch, Error, LogOptions, LogStore, LogStoreExt};
use s3::{GARAGE, MOTO, Server};

fn opts() -> LogOptions {
    LogOptions::default().create(true)
}

async fn writer(server: Server, test: &str) -> (interstice_backend_s3::S3Config, S3LogStore) {
    let config = server
        .config(test)
        .single_writer(!server.enforces_create_only);
    let store = S3LogStore::open(config.clone(), opts()).await.unwrap();
    (config, store)
}

#[tokio::test]
async fn compaction_keeps_every_commit_and_the_log_goes_on() {
    let (config, store) = writer(GARAGE, "compact").await;
    let mut all = append_samples(&store, 30, 1).await;
    all.extend(append_samples(&store, 30, 3).await);
    let report = store.compact(1024).await.unwrap();
    assert!(report.merged_objects >= 30, "{report:?}");
    assert!(report.written.len() >= 2, "{report:?}");
    assert!(
        (report.merged_objects..=60).contains(&report.commits),
        "{report:?}"
    );
    assert!(report.skipped.is_empty());
    assert_eq!(store.read_all(0).await.unwrap(), all);
    assert_eq!(store.read_all(17).await.unwrap(), all[17..]);
    assert!(store.verify().await.unwrap().is_clean());

    // Again: nothing left to merge but the newest objects.
    let again = store.compact(1024).await.unwrap();
    assert!(again.merged_objects < report.merged_objects);

    all.extend(append_samples(&store, 5, 2).await);
    drop(store);
    let store = S3LogStore::open(config.clone(), opts()).await.unwrap();
    assert_eq!(store.read_all(0).await.unwrap(), all);
    let ro = S3LogStore::open(config, LogOptions::default().read_only(true))
        .await
        .unwrap();
    assert_eq!(ro.read_all(0).await.unwrap(), all);
    let report = ro.verify().await.unwrap();
    assert!(report.is_clean(), "{:?}", report.bad);
    assert_eq!(report.commits, 65);
}

#[tokio::test]
async fn a_reader_running_during_compaction_reads_everything() {
    let (mut config, store) = writer(GARAGE, "compact-reader").await;
    let all = append_samples(&store, 40, 1).await;
    // A reader (another process) fetching one object at a time.
    config.fetch_concurrency = Some(1);
    let reader = S3LogStore::open(config.clone(), LogOptions::default().read_only(true))
        .await
        .unwrap();
    let mut stream = reader.read_from(0).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(stream.next().await.unwrap().unwrap());
    }
    // Meanwhile the writer merges everything the reader has yet to read.
    let report = store.compact(1 << 20).await.unwrap();
    assert_eq!(report.merged_objects, 39);
    while let Some(c) = stream.next().await {
        got.push(c.unwrap());
    }
    assert_eq!(got, all);
}

#[tokio::test]
async fn a_stale_writer_is_still_fenced_after_compaction() {
    let (config, a) = writer(MOTO, "compact-fence").await;
    append_samples(&a, 6, 1).await;
    // B takes over and writes offset 6; compaction merges 0..=6 (6 was
    // not the last segment once B writes 7).
    let b = S3LogStore::open(config.clone(), opts()).await.unwrap();
    append_samples(&b, 2, 1).await;
    let report = b.compact(1 << 20).await.unwrap();
    assert_eq!(report.merged_objects, 7);
    // A still thinks 6 is next: the stub at 6 refuses it.
    let mut batch = CommitBatch::new(6);
    batch.push(&sample_commit(6, "stale")).unwrap();
    let err = a.append(&batch).await.unwrap_err();
    assert!(matches!(err, Error::Fenced { .. }), "{err}");
    assert_eq!(b.read_all(6).await.unwrap()[0], sample_commit(6, "s"));
}

#[tokio::test]
async fn truncating_into_a_merged_segment_keeps_the_prefix() {
    let (config, store) = writer(GARAGE, "compact-truncate").await;
    let all = append_samples(&store, 20, 2).await;
    store.compact(1 << 20).await.unwrap();
    let report = store.truncate(7).await.unwrap();
    assert_eq!(report.removed, 13);
    assert_eq!(store.read_all(0).await.unwrap(), all[..7]);
    let mut expected = all[..7].to_vec();
    expected.extend(append_samples(&store, 4, 1).await);
    drop(store);
    let store = S3LogStore::open(config, opts()).await.unwrap();
    assert_eq!(store.read_all(0).await.unwrap(), expected);
    assert!(store.verify().await.unwrap().is_clean());
}

/// A merged segment that is lost leaves its stubs: the hole is one line,
/// `first..=last`, named by the segment after it, the same in `verify`
/// (what `check-log` prints) and in a read (issue 17, item 8).
#[tokio::test]
async fn a_lost_merged_segment_is_one_hole_named_alike_everywhere() {
    use futures::TryStreamExt;
    use interstice_log::Damage;
    use object_store::ObjectStoreExt;

    let (config, store) = writer(MOTO, "lost-merged").await;
    append_samples(&store, 40, 1).await;
    let report = store.compact(1 << 20).await.unwrap();
    assert!(report.merged_objects >= 30, "{report:?}");
    drop(store);
    let client = config.client().unwrap();
    let dir = object_store::path::Path::from(format!("{}/log", config.prefix));
    let merged: Vec<_> = client
        .list(Some(&dir))
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.location.filename().is_some_and(|n| n.contains('-')))
        .collect();
    assert_eq!(merged.len(), 1, "{merged:?}");
    client.delete(&merged[0].location).await.unwrap();

    let ro = S3LogStore::open(config, LogOptions::default().read_only(true))
        .await
        .unwrap();
    let verified = ro.verify().await.unwrap();
    let holes: Vec<_> = verified
        .bad
        .iter()
        .filter(|b| matches!(b.damage, Damage::Missing { .. }))
        .collect();
    assert_eq!(holes.len(), 1, "{:?}", verified.bad);
    let line = holes[0].to_string();
    assert!(line.contains("commits 0..="), "{line}");
    assert!(!line.contains("byte 0"), "{line}");
    let Err(Error::Corrupt(read)) = ro.read_all(0).await else {
        panic!("a read from 0 meets the hole");
    };
    assert_eq!(read.to_string(), line);
}

/// A hole in the log (a lost object) stops a run; the objects on either
/// side are merged, and the report names the hole as `check-log` does,
/// instead of skipping the whole run as "a frame did not check out".
#[tokio::test]
async fn compaction_merges_around_a_hole_and_names_it() {
    use object_store::ObjectStoreExt;

    let (config, store) = writer(MOTO, "compact-hole").await;
    append_samples(&store, 20, 1).await;
    let client = config.client().unwrap();
    let lost =
        object_store::path::Path::from(format!("{}/log/00000000000000000008.seg", config.prefix));
    client.delete(&lost).await.unwrap();
    let report = store.compact(1 << 20).await.unwrap();
    assert_eq!(
        report.written,
        [
            "00000000000000000000-00000000000000000007.seg",
            "00000000000000000009-00000000000000000018.seg"
        ],
        "{report:?}"
    );
    assert_eq!(report.merged_objects, 18);
    assert_eq!(
        report.skipped,
        ["a hole: commit 8 is missing (before segment 00000000000000000009.seg)"]
    );
}

/// What a compaction interrupted between writing its merged segment and
/// stubbing the objects it copied leaves is finished by the next one,
/// once each object is found to be a copy.
#[tokio::test]
async fn the_next_compaction_finishes_an_interrupted_one() {
    use interstice_log::codec::{SEGMENT_HEADER_LEN, SegmentHeader};
    use interstice_log::conformance::Harness;

    let h = s3::S3::new(MOTO, "compact-finish");
    let store = S3LogStore::open(h.config.clone(), opts()).await.unwrap();
    let all = append_samples(&store, 8, 1).await;
    let mut merged = SegmentHeader::new(0, 1 << 20).encode().to_vec();
    for o in 0..=4 {
        let name = format!("{o:020}.seg");
        merged.extend_from_slice(&h.read_segment(&name).await[SEGMENT_HEADER_LEN..]);
    }
    let merged_name = "00000000000000000000-00000000000000000004.seg";
    h.write_segment(merged_name, merged).await;

    let report = store.compact(1 << 20).await.unwrap();
    assert_eq!(report.finished, 5, "{report:?}");
    assert!(report.skipped.is_empty(), "{report:?}");
    for o in 0..=4 {
        let name = format!("{o:020}.seg");
        assert_eq!(h.read_segment(&name).await.len(), SEGMENT_HEADER_LEN);
    }
    // 5 and 6 were merged on their own (7 is the tail).
    assert_eq!(
        report.written,
        ["00000000000000000005-00000000000000000006.seg"]
    );
    assert_eq!(store.read_all(0).await.unwrap(), all);
    assert!(store.verify().await.unwrap().is_clean());
}

/// Compaction holds a lease: a second one while it is fresh is refused
/// and says who holds it; an expired one is taken over.
#[tokio::test]
async fn a_second_compaction_waits_for_the_lease() {
    use object_store::{ObjectStoreExt, PutPayload};

    let (config, store) = writer(MOTO, "compact-lease").await;
    let all = append_samples(&store, 6, 1).await;
    let client = config.client().unwrap();
    let lease = object_store::path::Path::from(format!("{}/leases/compaction", config.prefix));
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let body = format!(
        "holder=cron:42:1\nepoch=0\nexpires_ms={}\n",
        now_ms + 60_000
    );
    client.put(&lease, PutPayload::from(body)).await.unwrap();
    let err = store.compact(1 << 20).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::InUse { .. }), "{msg}");
    assert!(
        msg.contains("another compaction runs") && msg.contains("cron:42:1"),
        "{msg}"
    );

    let body = format!("holder=cron:42:1\nepoch=0\nexpires_ms={}\n", now_ms - 1);
    client.put(&lease, PutPayload::from(body)).await.unwrap();
    let report = store.compact(1 << 20).await.unwrap();
    assert_eq!(report.merged_objects, 5, "{report:?}");
    assert_eq!(store.read_all(0).await.unwrap(), all);
    // Released when done.
    assert!(client.head(&lease).await.is_err());
}

/// Stubs pile up (one per batch object ever merged) and every open lists
/// them; once older than the grace period they are deleted, and the log
/// reads the same.
#[tokio::test]
async fn stubs_older_than_the_grace_period_are_collected() {
    use futures::TryStreamExt;
    use std::time::Duration;

    let (config, store) = writer(MOTO, "collect-stubs").await;
    let mut all = append_samples(&store, 30, 1).await;
    let report = store.compact(1 << 20).await.unwrap();
    assert_eq!(report.merged_objects, 29);
    assert_eq!(report.stubs_collected, 0, "younger than the default grace");
    let report = store.compact_with(1 << 20, Duration::ZERO).await.unwrap();
    assert_eq!(report.stubs_collected, 28, "{report:?}");
    let client = config.client().unwrap();
    let dir = object_store::path::Path::from(format!("{}/log", config.prefix));
    let left = client
        .list(Some(&dir))
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    // The merged segment, the stub at its first offset, and the tail.
    assert_eq!(left.len(), 3, "{left:?}");
    all.extend(append_samples(&store, 2, 1).await);
    let ro = S3LogStore::open(config, LogOptions::default().read_only(true))
        .await
        .unwrap();
    assert_eq!(ro.read_all(0).await.unwrap(), all);
    assert_eq!(ro.read_all(12).await.unwrap(), all[12..]);
    assert!(ro.verify().await.unwrap().is_clean());
}
