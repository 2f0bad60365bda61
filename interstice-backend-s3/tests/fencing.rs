//! Two writers on one log, and the create-only probe, on both test
//! servers: moto enforces create-only puts, Garage does not.

use interstice_testkit::s3;

use interstice_backend_s3::S3LogStore;
use interstice_log::conformance::{append_samples, sample_commit};
use interstice_log::{CommitBatch, Error, LogOptions, LogStore, LogStoreExt};
use s3::{GARAGE, MOTO, Server};

fn opts() -> LogOptions {
    LogOptions::default().create(true)
}

fn batch(offset: u64, tag: &str) -> CommitBatch {
    let mut b = CommitBatch::new(offset);
    b.push(&sample_commit(offset, tag)).unwrap();
    b
}

#[tokio::test]
async fn the_probe_tells_the_servers_apart() {
    // moto enforces create-only puts: a writable open just works.
    let config = MOTO.config("probe");
    S3LogStore::open(config, opts()).await.unwrap();

    // Garage ignores them: refused for writing, with the reason...
    let config = GARAGE.config("probe");
    let err = S3LogStore::open(config.clone(), opts()).await.unwrap_err();
    assert!(
        matches!(&err, Error::InvalidOptions(m) if m.contains("ignores create-only puts") && m.contains("single-writer")),
        "{err}"
    );
    // ...unless the operator vouches for a single writer.
    let store = S3LogStore::open(config.clone().single_writer(true), opts())
        .await
        .unwrap();
    append_samples(&store, 3, 2).await;
    drop(store);
    // Reading needs no probe.
    let ro = S3LogStore::open(config, LogOptions::default().read_only(true))
        .await
        .unwrap();
    assert_eq!(ro.read_all(0).await.unwrap().len(), 3);
}

async fn second_writer_fences_the_first(server: Server) {
    let config = server.config("fencing");
    let a = S3LogStore::open(config.clone(), opts()).await.unwrap();
    let mut expected = append_samples(&a, 4, 2).await;
    // B opens the same log (another process, as far as A can tell) and
    // writes offset 4 first.
    let b = S3LogStore::open(config.clone(), opts()).await.unwrap();
    assert_eq!(b.next_offset().await.unwrap(), 4);
    b.append(&batch(4, "b")).await.unwrap();
    expected.push(sample_commit(4, "b"));

    // A, still believing offset 4 is next, loses: fenced, for good.
    let err = a.append(&batch(4, "a")).await.unwrap_err();
    assert!(
        matches!(&err, Error::Fenced { detail, .. } if detail.contains("offset 4")),
        "{}: {err}",
        server.name
    );
    let err = a.append(&batch(5, "a")).await.unwrap_err();
    assert!(
        matches!(err, Error::Fenced { .. }),
        "{}: {err}",
        server.name
    );

    // B goes on; nothing of A's lost append is stored.
    expected.extend(append_samples(&b, 2, 1).await);
    let reader = S3LogStore::open(config, LogOptions::default().read_only(true))
        .await
        .unwrap();
    assert_eq!(reader.read_all(0).await.unwrap(), expected);
}

#[tokio::test]
async fn a_second_writer_fences_the_first_on_moto() {
    second_writer_fences_the_first(MOTO).await;
}

#[tokio::test]
async fn without_create_only_puts_the_second_writer_overwrites_so_open_refuses() {
    // What the probe protects against: on Garage, the same race silently
    // replaces a stored commit.
    let config = GARAGE.config("overwrite").single_writer(true);
    let a = S3LogStore::open(config.clone(), opts()).await.unwrap();
    append_samples(&a, 2, 1).await;
    let b = S3LogStore::open(config.clone(), opts()).await.unwrap();
    a.append(&batch(2, "a")).await.unwrap();
    b.append(&batch(2, "b")).await.unwrap();
    let reader = S3LogStore::open(config, LogOptions::default().read_only(true))
        .await
        .unwrap();
    let all = reader.read_all(0).await.unwrap();
    assert_eq!(
        all[2],
        sample_commit(2, "b"),
        "A's acknowledged commit is gone"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_a_clear_error() {
    let config = interstice_backend_s3::S3Config::new("b", "p")
        .endpoint("http://127.0.0.1:9")
        .region("us-east-1")
        .credentials("k", "s")
        .max_retries(0);
    let err = S3LogStore::open(config, opts()).await.unwrap_err();
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(msg.contains("cannot reach s3://b/p"), "{msg}");
}
