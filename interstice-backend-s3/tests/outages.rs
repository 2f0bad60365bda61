//! The server going away: an append whose answer never came is an unknown
//! outcome (never "not stored": its PUT may still land), nothing unstored
//! is acknowledged, the store settles the unknown append before its next
//! one (reading the key back, or putting the same bytes again), and works
//! again when the server returns.

use interstice_testkit::s3;

use interstice_backend_s3::S3LogStore;
use interstice_log::conformance::{append_samples, sample_commit};
use interstice_log::{CommitBatch, Error, LogOptions, LogStore, LogStoreExt};
use s3::{DOWN, LOSE_ANSWERS, MOTO, PASS, Proxy};

/// Asserts `err` says the outcome of the one-commit batch at `offset` is
/// unknown.
fn assert_unknown(err: &Error, offset: u64) {
    assert!(
        matches!(err, Error::OutcomeUnknown { first, last, .. } if (*first, *last) == (offset, offset)),
        "{err}"
    );
}

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
    // A client cannot tell a request that never left from one whose answer
    // was lost: the outcome is unknown, never "not stored".
    let err = store.append(&batch(2, "x")).await.unwrap_err();
    assert_unknown(&err, 2);
    let msg = err.to_string();
    assert!(msg.contains("cannot append to s3://"), "{msg}");

    proxy.set(PASS);
    // Before its next append the store settles it: the key held nothing,
    // so the same bytes were put again, and commit 2 is in the log.
    store.append(&batch(3, "y")).await.unwrap();
    expected.push(sample_commit(2, "x"));
    expected.push(sample_commit(3, "y"));
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
    assert_unknown(&err, 2);

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

/// A PUT can land after the client gave up on it, even when a read-back
/// made after the timeout found nothing: the append must say its outcome
/// is unknown, never that it failed (the commit does turn up).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_that_lands_after_the_append_gave_up_is_an_unknown_outcome() {
    let proxy = Proxy::start(MOTO).await;
    let config = proxy
        .config(MOTO, "late-put")
        .request_timeout(std::time::Duration::from_secs(1));
    let store = S3LogStore::open(config.clone(), LogOptions::default().create(true))
        .await
        .unwrap();
    let mut expected = append_samples(&store, 2, 1).await;

    proxy.hold_puts(std::time::Duration::from_secs(3));
    let err = store.append(&batch(2, "late")).await.unwrap_err();
    assert_unknown(&err, 2);
    proxy.set(PASS);

    // The held PUT reaches the server after all.
    expected.push(sample_commit(2, "late"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let reopened = S3LogStore::open(config.clone(), LogOptions::default().read_only(true))
            .await
            .unwrap();
        if reopened.next_offset().await.unwrap() == 3 {
            assert_eq!(reopened.read_all(0).await.unwrap(), expected);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the held PUT never landed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // The store that gave up learns it too, before its next append.
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
}
