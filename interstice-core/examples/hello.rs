//! The main demo: the `hello` module on a log on local disk.
//!
//! Opens (or creates) the log, replays it, publishes `modules/hello` if the
//! log does not have it yet, calls `hello(NAME)`, waits for the
//! subscription, prints the greetings, and shuts down. Run it twice: the
//! second run replays the first run's greetings (without running any
//! WebAssembly) and adds one.
//!
//! `cargo run -p interstice-core --example hello -- [LOG_DIR] [NAME]`
//! (defaults `./demo-log` and `world`); build the module first with
//! `scripts/build-modules.sh` (`scripts/demo.sh` does both).

use std::error::Error;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use interstice_abi::{Value, encode_value};
use interstice_backend_fs::FsLogStore;
use interstice_core::{Runtime, RuntimeConfig};
use interstice_log::LogOptions;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_target(false)
        .init();
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "demo-log".into());
    let name = args.next().unwrap_or_else(|| "world".into());
    let wasm_path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../modules/target/wasm32-unknown-unknown/release/hello.wasm");

    let started = Instant::now();
    let store = FsLogStore::open(&dir, LogOptions::default().create(true))?;
    let (rt, report) = Runtime::open(Arc::new(store), RuntimeConfig::default()).await?;
    println!(
        "opened {dir}: replayed {} commits ({} mutations) in {:.1} ms, running no WebAssembly",
        report.commits,
        report.mutations,
        started.elapsed().as_secs_f64() * 1e3
    );

    let published = rt
        .read(|db| db.module_by_name("hello").is_some())
        .await
        .unwrap();
    if !published {
        let wasm = std::fs::read(&wasm_path).map_err(|e| {
            format!(
                "{}: {e} (build it with scripts/build-modules.sh)",
                wasm_path.display()
            )
        })?;
        let p = rt.publish(&wasm).await?;
        println!(
            "published hello ({} bytes) at offset {}",
            wasm.len(),
            p.offset
        );
    }

    let args = encode_value(&Value::Struct(vec![Value::String(name.clone())]))?;
    let receipt = rt.call("hello", "hello", &args).await?;
    println!(
        "hello({name:?}) committed at offset {}, durable",
        receipt.offset.map_or("-".into(), |o| o.to_string())
    );
    rt.settle().await;

    let rows = rt
        .read(|db| {
            let m = db.module_by_name("hello").expect("published");
            let (_, greetings) = m.table_by_name("greetings").expect("declared");
            greetings
                .iter()
                .map(|r| r.values().to_vec())
                .collect::<Vec<_>>()
        })
        .await
        .unwrap();
    println!("greetings ({} rows):", rows.len());
    for row in rows {
        if let [Value::U64(id), Value::String(text)] = &row[..] {
            println!("  {id:>4}  {text}");
        }
    }
    rt.shutdown().await;
    println!("shut down cleanly; run again to see the state come back");
    Ok(())
}
