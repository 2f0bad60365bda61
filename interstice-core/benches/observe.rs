//! What observing calls costs: per-reducer metrics and call spans
//! ([`RuntimeConfig::observe_calls`]) on and off, under the log subscriber
//! the CLI installs (JSON lines, here into nothing) at its default level
//! (`warn`, where call spans are off), and with call spans shown
//! (`interstice::call=debug`).
//!
//! Rows: a no-op reducer call (1 caller, durability `none`) and 1-row
//! inserts from 64 callers with durability `sync` on the disk backend.
//! These machines are shared and a row's rate moves by more than the
//! difference measured, so the variants of a row run interleaved, `ROUNDS`
//! times, and the table gives each variant's median. Run with
//! `cargo bench -p interstice-core --bench observe`;
//! `INTERSTICE_BENCH_SECS` sets seconds per run (default 1).

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use interstice_abi::{Value, encode_value};
use interstice_backend_fs::FsLogStore;
use interstice_core::{Runtime, RuntimeConfig};
use interstice_log::{Durability, LogOptions};
use interstice_testkit::{measure, wasm_modules};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::reload;

const ROUNDS: usize = 5;

/// The next value `add` inserts: unique across every run.
static NEXT_KEY: AtomicU64 = AtomicU64::new(0);

async fn runtime(dir: &std::path::Path, durability: Durability, observe: bool) -> Runtime {
    let store = FsLogStore::open(
        dir,
        LogOptions::default().create(true).durability(durability),
    )
    .unwrap();
    let config = RuntimeConfig {
        observe_calls: observe,
        ..RuntimeConfig::default()
    };
    let (rt, _) = Runtime::open(Arc::new(store), config).await.unwrap();
    rt.publish(&wasm_modules::counter_alone()).await.unwrap();
    rt
}

/// Calls/s of `reducer` from `callers` tasks for `secs`.
async fn rate(rt: &Runtime, reducer: &'static str, callers: u64, secs: Duration) -> f64 {
    let start = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let rt = rt.clone();
            tokio::spawn(async move {
                let mut n = 0u64;
                while start.elapsed() < secs {
                    let args = match reducer {
                        "add" => {
                            let key = NEXT_KEY.fetch_add(1, Ordering::Relaxed);
                            encode_value(&Value::Struct(vec![Value::U64(key)])).unwrap()
                        }
                        _ => Vec::new(),
                    };
                    rt.call("counter", reducer, &args).await.unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    total as f64 / start.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A variant of a row: whether calls are observed, and the log filter.
struct Variant {
    what: &'static str,
    observe: bool,
    filter: &'static str,
}

const VARIANTS: [Variant; 3] = [
    Variant {
        what: "not observed",
        observe: false,
        filter: "warn",
    },
    Variant {
        what: "observed, default level (warn)",
        observe: true,
        filter: "warn",
    },
    Variant {
        what: "observed, call spans on (JSON)",
        observe: true,
        filter: "warn,interstice::call=debug",
    },
];

fn main() {
    measure::no_transparent_huge_pages();
    let secs = measure::secs(1.0);
    // The CLI's subscriber (JSON lines, span closes), writing nowhere.
    let (filter, handle) = reload::Layer::new(EnvFilter::new("warn"));
    use tracing_subscriber::layer::SubscriberExt;
    let subscriber = tracing_subscriber::registry().with(filter).with(
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::sink)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE),
    );
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let rows: [(&str, &str, u64, Durability); 2] = [
        ("no-op reducer call, none", "noop", 1, Durability::None),
        ("1-row insert tx, sync", "add", 64, Durability::Sync),
    ];
    println!("observe bench: {ROUNDS} interleaved runs of {secs:?} per variant, medians");
    println!();
    println!(
        "| {:<26} | {:>7} | {:<32} | {:>10} | {:>8} | {:>10} |",
        "row", "callers", "variant", "calls/s", "us/call", "vs not"
    );
    println!(
        "|{:-<28}|{:->9}|{:-<34}|{:->12}|{:->10}|{:->12}|",
        "", "", "", "", "", ""
    );
    let mut verdicts = Vec::new();
    rt.block_on(async {
        for (i, (row, reducer, callers, durability)) in rows.into_iter().enumerate() {
            let mut runtimes = Vec::new();
            for (v, variant) in VARIANTS.iter().enumerate() {
                let dir = tmp.path().join(format!("{i}-{v}"));
                runtimes.push(runtime(&dir, durability, variant.observe).await);
            }
            let mut rates = vec![Vec::new(); VARIANTS.len()];
            for _ in 0..ROUNDS {
                for (v, variant) in VARIANTS.iter().enumerate() {
                    handle
                        .modify(|f| *f = EnvFilter::new(variant.filter))
                        .unwrap();
                    rates[v].push(rate(&runtimes[v], reducer, callers, secs).await);
                }
            }
            let medians: Vec<f64> = rates.into_iter().map(median).collect();
            for (v, variant) in VARIANTS.iter().enumerate() {
                println!(
                    "| {:<26} | {:>7} | {:<32} | {:>10.0} | {:>8.2} | {:>+9.1}% |",
                    row,
                    callers,
                    variant.what,
                    medians[v],
                    1e6 / medians[v] * callers as f64,
                    100.0 * (medians[v] / medians[0] - 1.0)
                );
            }
            verdicts.push((row, 1.0 - medians[1] / medians[0]));
            for r in runtimes {
                r.shutdown().await;
            }
        }
    });
    println!();
    for (row, slower) in verdicts {
        println!(
            "target: {row}: observed at the default level at most 5% slower: {:.1}% -> {}",
            100.0 * slower,
            if slower <= 0.05 { "met" } else { "MISSED" }
        );
    }
}
