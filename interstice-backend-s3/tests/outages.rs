//! The server going away: appends fail clearly, nothing unstored is
//! acknowledged, an append whose answer was lost is settled by reading its
//! key back, and the store works again when the server returns.

use interstice_testkit::s3;

use interstice_backend_s3::S3LogStore;
use interstice_log::conformance::{append_samples, sample_commit};
use interstice_log::{CommitBatch, Error, LogOptions, LogStore, LogStoreExt};
use s3::{DOWN, LOSE_ANSWERS, MOTO, PASS, Proxy};

fn batch(offset: u64, tag: &str) -> CommitBatch {
    let mut b = CommitBatch::new(offset);
    b.push(&sample_commit(offset, tag)).unwrap();
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_down_server_fails_appends_and_they_work_again_when_it_returns() {
    let proxy = Proxy::start(MOTO).await;
    let config = proxy.config(MOTO, "down");
    let store = S3LogStore::open(config.clone(), LogOptions::default().create(true))
        .await
        .unwrap();
    let mut expected = append_samples(&store, 2, 1).await;

    proxy.set(DOWN);
    let err = store.append(&batch(2, "x")).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("cannot append to s3://"), "{msg}");
    assert!(msg.contains("not known yet"), "{msg}");

    proxy.set(PASS);
    // The failed append was not stored: the same offset goes through now.
    store.append(&batch(2, "x")).await.unwrap();
    expected.push(sample_commit(2, "x"));
    assert_eq!(store.read_all(0).await.unwrap(), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_append_whose_answer_was_lost_is_settled_by_reading_it_back() {
    let proxy = Proxy::start(MOTO).await;
    let config = proxy.config(MOTO, "lost");
    let store = S3LogStore::open(config.clone(), LogOptions::default().create(true))
        .await
        .unwrap();
    let mut expected = append_samples(&store, 2, 1).await;

    // The PUT is stored, but neither its answer nor the read-back's
    // arrives: the caller hears "not known", never "committed".
    proxy.set(LOSE_ANSWERS);
    let err = store.append(&batch(2, "lost")).await.unwrap_err();
    assert!(err.to_string().contains("not known yet"), "{err}");

    proxy.set(PASS);
    // Before anything else the store reads the key back: the commit is
    // there, once, and offset 2 is taken.
    let err = store.append(&batch(2, "again")).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::OffsetConflict {
                expected: 3,
                found: 2
            }
        ),
        "{err}"
    );
    expected.push(sample_commit(2, "lost"));
    expected.extend(append_samples(&store, 1, 1).await);
    assert_eq!(store.read_all(0).await.unwrap(), expected);
    drop(store);
    let reopened = S3LogStore::open(config, LogOptions::default().read_only(true))
        .await
        .unwrap();
    assert_eq!(reopened.read_all(0).await.unwrap(), expected);
}
