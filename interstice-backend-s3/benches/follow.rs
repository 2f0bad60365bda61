//! Read replicas on Garage over loopback: one writer under 64 callers and
//! two followers (`RuntimeConfig::follow`, looking every 50 ms). Prints
//! each follower's lag (from a commit's timestamp to the follower applying
//! it: p50, p99, max), then reads per second (a 10-row `select` of the
//! counters table, as `GET .../rows?limit=10` runs it) served by the writer
//! alone beside the writer and two followers.
//!
//! Needs the test servers: `scripts/s3-servers.sh start`, then
//! `cargo bench -p interstice-backend-s3 --bench follow`.
//! `INTERSTICE_BENCH_SECS` sets the seconds per phase (default 5),
//! `INTERSTICE_BENCH_CALLERS` the writer's callers (default 64).

use std::sync::Arc;
use std::time::{Duration, Instant};

use interstice_abi::{Value, encode_value};
use interstice_backend_s3::{S3Config, S3LogStore};
use interstice_core::{Runtime, RuntimeConfig};
use interstice_log::LogOptions;
use interstice_testkit::measure::{self, percentile};
use interstice_testkit::{s3, wasm_modules};

async fn runtime(config: &S3Config, follow: bool) -> Runtime {
    let opts = LogOptions::default().create(!follow).read_only(follow);
    let store = S3LogStore::open(config.clone(), opts).await.unwrap();
    let rt_config = RuntimeConfig {
        follow: follow.then_some(Duration::from_millis(50)),
        ..RuntimeConfig::default()
    };
    Runtime::open(Arc::new(store), rt_config).await.unwrap().0
}

/// `callers` adding to the counter for `secs`; the calls made.
async fn load(rt: &Runtime, callers: u64, secs: Duration) -> u64 {
    let start = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|c| {
            let rt = rt.clone();
            tokio::spawn(async move {
                let mut n = 0u64;
                while start.elapsed() < secs {
                    let args =
                        encode_value(&Value::Struct(vec![Value::U64(c * 1_000_000 + n)])).unwrap();
                    rt.call("counter", "add", &args).await.unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut calls = 0;
    for t in tasks {
        calls += t.await.unwrap();
    }
    calls
}

/// Every commit's lag as `rt` (a follower) applies them, until `until`.
async fn lags(rt: Runtime, until: Instant) -> Vec<Duration> {
    let mut follow = rt.follow(|_| ()).await.unwrap();
    let mut lags = Vec::new();
    while Instant::now() < until {
        let wait = until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(wait, follow.commits.recv()).await {
            Ok(Ok(commits)) => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_micros() as u64;
                for c in commits.iter() {
                    lags.push(Duration::from_micros(now.saturating_sub(c.timestamp)));
                }
            }
            Ok(Err(_)) | Err(_) => break,
        }
    }
    lags
}

/// Reads per second: 8 readers per node on `nodes`, each a 10-row select
/// of the counters table, for `secs`.
async fn reads(nodes: &[Runtime], secs: Duration) -> f64 {
    let start = Instant::now();
    let tasks: Vec<_> = nodes
        .iter()
        .flat_map(|rt| (0..8).map(move |_| rt.clone()))
        .map(|rt| {
            tokio::spawn(async move {
                let mut n = 0u64;
                while start.elapsed() < secs {
                    let rows = rt
                        .read(|db| {
                            let m = db.module_by_name("counter").unwrap();
                            let (_, table) = m.table_by_name("counters").unwrap();
                            interstice_core::query::select(table, &[], 10).len()
                        })
                        .await
                        .unwrap();
                    assert!(rows > 0);
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

fn main() {
    let secs = measure::secs(5.0);
    let callers = std::env::var("INTERSTICE_BENCH_CALLERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64);
    s3::GARAGE.require();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let config = s3::GARAGE.config("bench-follow").single_writer(true);
        let writer = runtime(&config, false).await;
        writer
            .publish(&wasm_modules::counter_alone())
            .await
            .unwrap();
        let followers = [runtime(&config, true).await, runtime(&config, true).await];

        let until = Instant::now() + secs + Duration::from_secs(1);
        let watching: Vec<_> = followers
            .iter()
            .map(|f| tokio::spawn(lags(f.clone(), until)))
            .collect();
        let calls = load(&writer, callers, secs).await;
        println!(
            "Followers on Garage (127.0.0.1:3900), {callers} callers for {secs:?}: {calls} calls"
        );
        println!();
        println!("| follower | commits seen | lag p50 | lag p99 | lag max |");
        println!("|---|---:|---:|---:|---:|");
        for (i, w) in watching.into_iter().enumerate() {
            let lags = w.await.unwrap();
            let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
            let max = lags.iter().max().copied().unwrap_or_default();
            println!(
                "| {} | {} | {} | {} | {} |",
                i + 1,
                lags.len(),
                ms(percentile(&lags, 0.50)),
                ms(percentile(&lags, 0.99)),
                ms(max)
            );
        }
        let alone = reads(std::slice::from_ref(&writer), secs).await;
        let all = [writer.clone(), followers[0].clone(), followers[1].clone()];
        let spread = reads(&all, secs).await;
        println!();
        println!("| reads served by | reads/s | vs writer alone |");
        println!("|---|---:|---:|");
        println!("| the writer alone (8 readers) | {alone:.0} | 1.0x |");
        println!(
            "| writer + 2 followers (8 readers each) | {spread:.0} | {:.1}x |",
            spread / alone
        );
    });
}
