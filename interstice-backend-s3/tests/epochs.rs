//! Writer epochs: every writable open takes a new epoch, every object it
//! writes carries it, and a commit from an older writer found where a newer
//! one had begun (a late PUT) is corruption, never part of the history.

use std::time::{Duration, Instant};

use interstice_testkit::s3;

use interstice_backend_s3::S3LogStore;
use interstice_log::conformance::{Harness, append_samples, sample_commit};
use interstice_log::{CommitBatch, Damage, Error, LogOptions, LogStore, LogStoreExt, codec};
use s3::{GARAGE, MOTO, PASS, Proxy, S3};

fn batch(offset: u64, tag: &str) -> CommitBatch {
    let mut b = CommitBatch::new(offset);
    b.push(&sample_commit(offset, tag)).unwrap();
    b
}

fn read_only() -> LogOptions {
    LogOptions::default().read_only(true)
}

/// Waits until segment object `name` holds `needle`.
async fn wait_for(h: &S3, name: &str, needle: &[u8]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let bytes = h.read_segment(name).await;
        if bytes.windows(needle.len()).any(|w| w == needle) {
            return;
        }
        assert!(Instant::now() < deadline, "the held PUT never landed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Garage ignores create-only puts, so under the single-writer promise a
/// PUT the previous (dead) writer sent but the server had not stored yet
/// lands over the next writer's commit. It must be found, not stitched
/// into the history as if it were the commit the second writer
/// acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_put_from_a_replaced_writer_is_refused_not_stitched_in() {
    let h = S3::new(GARAGE, "late-epoch");
    let proxy = Proxy::start(GARAGE).await;
    let mut through_proxy = proxy
        .config(GARAGE, "unused")
        .single_writer(true)
        .request_timeout(Duration::from_secs(1));
    through_proxy.prefix = h.config.prefix.clone();

    // Writer A appends two commits, then its third PUT is held back past
    // its timeout: A hears "outcome unknown" and dies.
    let a = S3LogStore::open(through_proxy, LogOptions::default().create(true))
        .await
        .unwrap();
    append_samples(&a, 2, 1).await;
    proxy.hold_puts(Duration::from_secs(3));
    let err = a.append(&batch(2, "late")).await.unwrap_err();
    assert!(matches!(err, Error::OutcomeUnknown { .. }), "{err}");
    drop(a);
    proxy.set(PASS);

    // Writer B opens before the held PUT lands and acknowledges commits 2
    // and 3.
    let b = S3LogStore::open(h.config.clone(), LogOptions::default())
        .await
        .unwrap();
    assert_eq!(b.next_offset().await.unwrap(), 2);
    b.append(&batch(2, "b")).await.unwrap();
    b.append(&batch(3, "b")).await.unwrap();
    drop(b);

    // Then A's PUT reaches the server and replaces B's commit 2.
    wait_for(&h, "00000000000000000002.seg", b"late").await;

    let reader = S3LogStore::open(h.config.clone(), read_only())
        .await
        .unwrap();
    let err = reader.read_all(0).await.unwrap_err();
    let Error::Corrupt(bad) = &err else {
        panic!("a late write was read as part of the log: {err}");
    };
    assert!(
        matches!(
            bad.damage,
            Damage::StaleEpoch {
                epoch: 1,
                required: 2,
                since: 2
            }
        ),
        "{err}"
    );
    assert_eq!(bad.offset, Some(2), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("epoch 1") && msg.contains("epoch 2"), "{msg}");

    let report = reader.verify().await.unwrap();
    assert_eq!(report.bad.len(), 1, "{report:?}");
    assert!(
        matches!(report.bad[0].damage, Damage::StaleEpoch { .. }),
        "{report:?}"
    );
}

/// The writer epochs stamped into the frames of segment object `name`.
async fn frame_epochs(h: &S3, name: &str) -> Vec<u64> {
    let bytes = bytes::Bytes::from(h.read_segment(name).await);
    let mut pos = codec::SEGMENT_HEADER_LEN;
    let mut epochs = Vec::new();
    while pos < bytes.len() {
        let (_, len) = codec::decode_frame(&bytes, pos, u64::MAX).unwrap();
        epochs.push(codec::epoch(&bytes[pos..pos + len]).unwrap());
        pos += len;
    }
    epochs
}

#[tokio::test]
async fn every_writer_takes_a_new_epoch_and_stamps_it_into_its_commits() {
    let h = S3::new(MOTO, "epochs");
    let a = S3LogStore::open(h.config.clone(), LogOptions::default().create(true))
        .await
        .unwrap();
    assert_eq!(a.epoch().await, Some(1));
    let mut expected = append_samples(&a, 3, 3).await;
    // B opens while A still runs (as a take-over would): a newer epoch.
    let b = S3LogStore::open(h.config.clone(), LogOptions::default())
        .await
        .unwrap();
    assert_eq!(b.epoch().await, Some(2));
    expected.extend(append_samples(&b, 2, 2).await);
    assert_eq!(
        frame_epochs(&h, "00000000000000000000.seg").await,
        [1, 1, 1]
    );
    assert_eq!(frame_epochs(&h, "00000000000000000003.seg").await, [2, 2]);

    let reader = S3LogStore::open(h.config.clone(), read_only())
        .await
        .unwrap();
    assert_eq!(reader.epoch().await, None, "a reader takes no epoch");
    assert_eq!(reader.read_all(0).await.unwrap(), expected);
    assert!(reader.verify().await.unwrap().is_clean());
    // The next writer carries on after both.
    let c = S3LogStore::open(h.config.clone(), LogOptions::default())
        .await
        .unwrap();
    assert_eq!(c.epoch().await, Some(3));
}

#[tokio::test]
async fn writers_opening_at_once_take_different_epochs() {
    let h = S3::new(MOTO, "epoch-race");
    S3LogStore::open(h.config.clone(), LogOptions::default().create(true))
        .await
        .unwrap();
    let opens = (0..4).map(|_| S3LogStore::open(h.config.clone(), LogOptions::default()));
    let stores = futures::future::try_join_all(opens).await.unwrap();
    let mut epochs = Vec::new();
    for s in &stores {
        epochs.push(s.epoch().await.unwrap());
    }
    epochs.sort_unstable();
    epochs.dedup();
    assert_eq!(epochs.len(), 4, "{epochs:?}");
}

/// A late write at the very end of the log is not a torn tail to cut: it
/// may have replaced an acknowledged commit. A writer refuses to open; a
/// reader opens, says so, and reads up to it.
#[tokio::test]
async fn a_stale_commit_at_the_tail_stops_a_writer_and_is_never_cut() {
    let h = S3::new(MOTO, "stale-tail");
    let a = S3LogStore::open(h.config.clone(), LogOptions::default().create(true))
        .await
        .unwrap();
    let expected = append_samples(&a, 2, 1).await;
    let b = S3LogStore::open(h.config.clone(), LogOptions::default())
        .await
        .unwrap();
    b.append(&batch(2, "b")).await.unwrap();
    // What a late PUT of A's would leave: offset 2 stamped with epoch 1.
    let name = "00000000000000000002.seg";
    let mut bytes = h.read_segment(name).await;
    codec::set_epoch(&mut bytes[codec::SEGMENT_HEADER_LEN..], 1);
    h.write_segment(name, bytes).await;

    let err = S3LogStore::open(h.config.clone(), LogOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Corrupt(bad) if matches!(bad.damage, Damage::StaleEpoch { epoch: 1, required: 2, .. })),
        "{err}"
    );
    // Nothing was cut.
    assert!(h.read_segment(name).await.len() > codec::SEGMENT_HEADER_LEN);
    let reader = S3LogStore::open(h.config.clone(), read_only())
        .await
        .unwrap();
    assert!(reader.recovery_report().corruption.is_some());
    let mut commits = reader.read_from(0).await.unwrap();
    use futures::TryStreamExt;
    assert_eq!(
        commits.try_next().await.unwrap().as_ref(),
        Some(&expected[0])
    );
    assert_eq!(
        commits.try_next().await.unwrap().as_ref(),
        Some(&expected[1])
    );
    assert!(commits.try_next().await.is_err());
}
