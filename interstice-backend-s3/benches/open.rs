//! Opening a long-lived S3 log: a prefix of one-commit objects (10,000 by
//! default), on moto and on Garage, before and after compaction. Each row
//! is the median of a few runs of: listing the log's objects (the floor),
//! opening the log, and opening and reading every commit (a replay).
//! Target: opening costs no more than 2x the listing of what it needs.
//!
//! Needs the test servers: `scripts/s3-servers.sh start`, then
//! `cargo bench -p interstice-backend-s3 --bench open`.
//! `INTERSTICE_BENCH_OBJECTS` sets the number of objects.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream};
use interstice_backend_s3::{S3Config, S3LogStore, WriterLease};
use interstice_log::codec::SegmentHeader;
use interstice_log::conformance::sample_commit;
use interstice_log::{CommitBatch, LogOptions, LogStoreExt};
use interstice_testkit::s3::{self, Server};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

/// Runs of each measurement; the median is printed.
const RUNS: usize = 3;

/// Writes `n` one-commit objects the way a writer appending one call at a
/// time leaves them (many at once, to build the log quickly).
async fn fill(config: &S3Config, n: u64) {
    let store = S3LogStore::open(config.clone(), LogOptions::default().create(true))
        .await
        .unwrap();
    drop(store);
    let client = config.client().unwrap();
    stream::iter(0..n)
        .map(|o| {
            let client = client.clone();
            let key = Path::from(format!("{}/log/{o:020}.seg", config.prefix));
            async move {
                let mut batch = CommitBatch::new(o);
                batch.push(&sample_commit(o, "open-bench")).unwrap();
                let mut body = SegmentHeader::new(o, 32 << 20).encode().to_vec();
                body.extend_from_slice(batch.bytes());
                client
                    .put(&key, PutPayload::from(Bytes::from(body)))
                    .await
                    .unwrap();
            }
        })
        .buffer_unordered(64)
        .collect::<Vec<()>>()
        .await;
}

fn median(mut d: Vec<Duration>) -> Duration {
    d.sort();
    d[d.len() / 2]
}

async fn timed<F, Fut>(f: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut runs = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        f().await;
        runs.push(t.elapsed());
    }
    median(runs)
}

/// One row: listing, open, open + read all.
struct Row {
    what: String,
    objects: usize,
    list: Duration,
    open: Duration,
    replay: Duration,
}

async fn measure(config: &S3Config, what: &str, commits: u64) -> Row {
    let client = config.client().unwrap();
    let dir = Path::from(format!("{}/log", config.prefix));
    let objects = client
        .list(Some(&dir))
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .len();
    let list = timed(|| {
        let (client, dir) = (client.clone(), dir.clone());
        async move {
            client
                .list(Some(&dir))
                .try_collect::<Vec<_>>()
                .await
                .unwrap();
        }
    })
    .await;
    let ro = LogOptions::default().read_only(true);
    let open = timed(|| {
        let (config, ro) = (config.clone(), ro.clone());
        async move {
            S3LogStore::open(config, ro).await.unwrap();
        }
    })
    .await;
    let replay = timed(|| {
        let (config, ro) = (config.clone(), ro.clone());
        async move {
            let store = S3LogStore::open(config, ro).await.unwrap();
            assert_eq!(store.read_all(0).await.unwrap().len() as u64, commits);
        }
    })
    .await;
    Row {
        what: what.into(),
        objects,
        list,
        open,
        replay,
    }
}

async fn server_rows(server: Server, n: u64) -> Vec<Row> {
    let config = server
        .config("bench-open")
        .single_writer(!server.enforces_create_only);
    fill(&config, n).await;
    let mut rows = vec![measure(&config, &format!("{}: {n} objects", server.name), n).await];
    let writer = S3LogStore::open(
        config.clone().writer_lease(WriterLease::Ignore),
        LogOptions::default(),
    )
    .await
    .unwrap();
    writer.compact_with(8 << 20, Duration::ZERO).await.unwrap();
    rows.push(
        measure(
            &config,
            &format!("{}: compacted, stubs collected", server.name),
            n,
        )
        .await,
    );
    rows
}

fn main() {
    let n: u64 = std::env::var("INTERSTICE_BENCH_OBJECTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let rows = rt.block_on(async {
        let mut rows = Vec::new();
        for server in [s3::MOTO, s3::GARAGE] {
            server.require();
            rows.extend(server_rows(server, n).await);
        }
        rows
    });
    let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1e3);
    println!("Opening a log of {n} one-commit objects (median of {RUNS} runs)");
    println!();
    println!("| log | objects listed | list | open | open / list | open + read all |");
    println!("|---|---:|---:|---:|---:|---:|");
    let mut worst: f64 = 0.0;
    for r in &rows {
        let ratio = r.open.as_secs_f64() / r.list.as_secs_f64();
        worst = worst.max(ratio);
        println!(
            "| {} | {} | {} | {} | {ratio:.2}x | {} |",
            r.what,
            r.objects,
            ms(r.list),
            ms(r.open),
            ms(r.replay)
        );
    }
    println!();
    println!(
        "target: open <= 2x the listing: worst {worst:.2}x -> {}",
        if worst <= 2.0 { "met" } else { "MISSED" }
    );
}
