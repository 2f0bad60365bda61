//! The runtime on S3 under load, and S3 faults in the middle of it: 64
//! callers on Garage; the server going down mid-load and coming back; the
//! answers to PUTs lost mid-load; a second writer starting on the same
//! prefix. In every case each acknowledged call is in the log exactly once,
//! offsets are dense, no offset is written twice, and a restarted runtime
//! works again.

use interstice_testkit::calls;
use interstice_testkit::s3;
use interstice_testkit::wasm_modules;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use calls::{arg, check_log, load};
use interstice_backend_s3::{S3Config, S3LogStore};
use interstice_core::{Runtime, RuntimeConfig};
use interstice_log::{CommitBatch, LogOptions, LogStore, LogStoreExt};
use s3::{DOWN, GARAGE, LOSE_ANSWERS, MOTO, PASS, Proxy};

async fn open(config: S3Config) -> Arc<S3LogStore> {
    let opts = LogOptions::default().create(true);
    Arc::new(S3LogStore::open(config, opts).await.unwrap())
}

async fn runtime(store: Arc<S3LogStore>) -> Runtime {
    let (rt, _) = Runtime::open(store, RuntimeConfig::default())
        .await
        .unwrap();
    rt
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_callers_on_garage() {
    let config = GARAGE.config("load-64").single_writer(true);
    let rt = runtime(open(config.clone()).await).await;
    rt.publish(&wasm_modules::counter_alone()).await.unwrap();
    let (acked, most) = load(&rt, 64, 25).await;
    assert_eq!(acked.len(), 64 * 25);
    let line = format!(
        "64 callers on Garage: {} calls in {} objects, each once at dense offsets; at most {most} pending",
        acked.len(),
        rt.log_stats().appends
    );
    interstice_log::conformance::report_counts(env!("CARGO_TARGET_TMPDIR"), "load-s3", &line);
    rt.shutdown().await;
    check_log(open(config).await, &acked, 0).await;
}

/// Load on moto behind a proxy; `fault` is applied once some calls are
/// acknowledged, then lifted. The runtime stops at the first failed
/// append; a new one on the same log must hold every acknowledged call
/// once and accept calls again.
async fn fault_mid_load(test: &str, fault: u8) {
    let proxy = Proxy::start(MOTO).await;
    let config = proxy.config(MOTO, test);
    let rt = runtime(open(config.clone()).await).await;
    rt.publish(&wasm_modules::counter_alone()).await.unwrap();
    let callers = 16;
    let running = {
        let rt = rt.clone();
        tokio::spawn(async move { load(&rt, callers, 1000).await })
    };
    while rt.log_stats().commits < 40 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    proxy.set(fault);
    let (acked, _) = running.await.unwrap();
    assert!(
        acked.len() < callers as usize * 1000,
        "the fault stopped the load"
    );
    assert!(rt.stopped().is_some(), "a failed append stops the runtime");
    proxy.set(PASS);
    drop(rt);

    // Each caller had at most one call unanswered when it stopped.
    let store = open(config.clone()).await;
    check_log(store.clone(), &acked, callers as usize).await;
    let rt = runtime(store).await;
    assert!(rt.call("counter", "add", &arg(u64::MAX)).await.is_ok());
    rt.shutdown().await;
    let line = format!(
        "16 callers on moto, then {}: {} calls acknowledged before it, each kept once; the restarted runtime commits",
        if fault == DOWN {
            "the server down"
        } else {
            "every answer lost"
        },
        acked.len()
    );
    interstice_log::conformance::report_counts(env!("CARGO_TARGET_TMPDIR"), test, &line);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_going_down_mid_load() {
    fault_mid_load("load-down", DOWN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_lost_after_the_put_mid_load() {
    fault_mid_load("load-lost", LOSE_ANSWERS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_writer_mid_load_fences_the_first() {
    // The first writer reaches moto through a proxy that will slow it
    // down, so the second can find the end of the log before it moves.
    let proxy = Proxy::start(MOTO).await;
    let first = proxy.config(MOTO, "load-fence");
    let mut config = first.clone();
    config.endpoint = Some(MOTO.endpoint.to_owned());
    let rt = runtime(open(first).await).await;
    rt.publish(&wasm_modules::counter_alone()).await.unwrap();
    let running = {
        let rt = rt.clone();
        tokio::spawn(async move { load(&rt, 16, 300).await })
    };
    while rt.log_stats().commits < 40 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    proxy.delay(Duration::from_millis(300));
    // A second writer takes over: it appends at the end it sees. When the
    // first wrote there in between, the second is fenced; try again with a
    // new one. Once the second has an offset, the first is fenced.
    let mut taken = None;
    for _ in 0..20 {
        let second = open(config.clone()).await;
        let next = second.next_offset().await.unwrap();
        let mut commit = interstice_log::conformance::sample_commit(next, "second");
        commit.invocation.reducer = "second".into();
        commit.mutations.clear();
        commit.cause = None;
        let mut batch = CommitBatch::new(next);
        batch.push(&commit).unwrap();
        if second.append(&batch).await.is_ok() {
            taken = Some(next);
            break;
        }
    }
    assert!(taken.is_some(), "the second writer never got an offset");
    finish_fence(&config, rt, running, taken).await;
}

async fn finish_fence(
    config: &S3Config,
    rt: Runtime,
    running: tokio::task::JoinHandle<(BTreeMap<u64, u64>, u64)>,
    second_took: Option<u64>,
) {
    let (acked, _) = running.await.unwrap();
    if second_took.is_some() {
        assert!(rt.stopped().is_some(), "the first writer is fenced");
    }
    drop(rt);
    let store = open(config.clone()).await;
    // No offset was written twice: the log reads back dense, each
    // acknowledged call once, the second writer's commit at its offset.
    let log = store.read_all(0).await.unwrap();
    if let Some(at) = second_took {
        assert_eq!(log[at as usize].invocation.reducer, "second");
        assert!(
            acked.values().all(|&o| o != at),
            "offset {at} acknowledged twice"
        );
    }
    check_log(store, &acked, 16).await;
    let line = format!(
        "16 callers on moto, then a second writer: it took offset {second_took:?}, the first was fenced; \
         {} calls acknowledged, each kept once, no offset written twice",
        acked.len()
    );
    interstice_log::conformance::report_counts(
        env!("CARGO_TARGET_TMPDIR"),
        "s3-second-writer",
        &line,
    );
}
