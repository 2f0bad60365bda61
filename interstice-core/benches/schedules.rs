//! Scheduled calls draining while clients call: 10,000 rows of
//! `modules/reminders` come due at the same moment on a disk log
//! (durability `sync`), and 4 clients call as fast as they are answered
//! while the runtime runs them. Prints, in one run, the clients' calls
//! alone (the baseline) beside the same calls during the drain (p50 and
//! p99), and how fast the drain went. Run with
//! `cargo bench -p interstice-core --bench schedules`; needs the built
//! modules (`scripts/build-modules.sh`). `INTERSTICE_BENCH_SECS` sets the
//! baseline row's seconds (default 2); `INTERSTICE_BENCH_ROWS` the burst
//! (default 10,000).

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use interstice_abi::{Value, encode_value};
use interstice_backend_fs::FsLogStore;
use interstice_core::{Runtime, RuntimeConfig};
use interstice_log::{Durability, LogOptions};
use interstice_testkit::built::wasm;
use interstice_testkit::measure::{self, Measured};

const CLIENTS: usize = 4;

fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

fn args(values: Vec<Value>) -> Vec<u8> {
    encode_value(&Value::Struct(values)).unwrap()
}

/// A client's call: a reminder an hour away (it never comes due here).
fn client_call(client: usize, n: u64) -> Vec<u8> {
    let text = Value::String(format!("client {client} call {n}"));
    args(vec![text, Value::U64(3_600_000_000)])
}

/// `CLIENTS` callers calling one after another while `go` holds; every
/// call's latency.
async fn clients(rt: &Runtime, go: Arc<AtomicBool>) -> Vec<Duration> {
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (rt, go) = (rt.clone(), go.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut n = 0;
                while go.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    rt.call("reminders", "remind_in", &client_call(c, n))
                        .await
                        .unwrap();
                    latencies.push(started.elapsed());
                    n += 1;
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all
}

/// Rows of the schedule table waiting.
fn waiting(rt: &Runtime) -> usize {
    rt.schedule_metrics()
        .iter()
        .map(|s| s.waiting as usize)
        .sum()
}

async fn bench() {
    let secs = measure::secs(2.0);
    let rows: u32 = std::env::var("INTERSTICE_BENCH_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let store = FsLogStore::open(
        dir.path(),
        LogOptions::default()
            .create(true)
            .durability(Durability::Sync),
    )
    .unwrap();
    let (rt, _) = Runtime::open(Arc::new(store), RuntimeConfig::default())
        .await
        .unwrap();
    rt.publish(&wasm("reminders")).await.unwrap();

    // The baseline: the clients alone.
    let go = Arc::new(AtomicBool::new(true));
    let started = Instant::now();
    let calling = tokio::spawn({
        let (rt, go) = (rt.clone(), go.clone());
        async move { clients(&rt, go).await }
    });
    tokio::time::sleep(secs).await;
    go.store(false, Ordering::Relaxed);
    let latencies = calling.await.unwrap();
    let alone = Measured {
        what: "client calls alone".into(),
        callers: CLIENTS,
        ops: latencies.len() as u64,
        elapsed: started.elapsed(),
        latencies,
    };

    // The burst: `rows` reminders due at one moment, 1 s from now.
    let at = now_micros() + 1_000_000;
    let per_call = 1_000.min(rows);
    for _ in 0..rows / per_call {
        let burst = vec![
            Value::String("burst".into()),
            Value::U32(per_call),
            Value::U64(at),
        ];
        rt.call("reminders", "remind_many", &args(burst))
            .await
            .unwrap();
    }
    let base = rt.scheduled_rows().len();
    // The clients call from the moment the drain starts until it ends.
    while waiting(&rt) >= base {
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    let drain_started = Instant::now();
    let go = Arc::new(AtomicBool::new(true));
    let calling = tokio::spawn({
        let (rt, go) = (rt.clone(), go.clone());
        async move { clients(&rt, go).await }
    });
    let due = rows as usize;
    loop {
        let ran: u64 = rt.schedule_metrics().iter().map(|s| s.runs).sum();
        if ran as usize >= due {
            break;
        }
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
    let drained = drain_started.elapsed();
    go.store(false, Ordering::Relaxed);
    let latencies = calling.await.unwrap();
    let during = Measured {
        what: format!("client calls during a {rows}-row drain"),
        callers: CLIENTS,
        ops: latencies.len() as u64,
        elapsed: drained,
        latencies,
    };
    measure::print_latency_table(&[&alone, &during], "calls", "alone");
    let lateness = rt
        .schedule_metrics()
        .into_iter()
        .find(|s| s.table == "reminders")
        .map(|s| s.lateness)
        .unwrap_or_default();
    let late_ms = lateness.sum_micros as f64 / lateness.count().max(1) as f64 / 1e3;
    println!(
        "\ndrain: {rows} scheduled calls in {:.2} s ({:.0}/s), {:.0} ms late on average, {} client calls meanwhile",
        drained.as_secs_f64(),
        rows as f64 / drained.as_secs_f64(),
        late_ms,
        during.ops
    );
    rt.shutdown().await;
}

fn main() {
    measure::no_transparent_huge_pages();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(bench());
}
