//! Calls under load and what the log must hold afterwards, shared by the
//! load tests of the runtime (disk, slow store) and of the S3 backend.
//! The module is `counter` without its subscription: `add(n)` inserts one
//! row, one commit per call.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use interstice_abi::{Value, encode_value};
use interstice_core::{Runtime, RuntimeConfig};
use interstice_log::{LogStore, LogStoreExt};

pub fn arg(n: u64) -> Vec<u8> {
    encode_value(&Value::Struct(vec![Value::U64(n)])).unwrap()
}

/// `callers` tasks each making up to `calls` calls with keys of their own,
/// each stopping at its first error (a store failure stops the runtime);
/// the keys acknowledged, with the offsets they got, and the most calls
/// seen pending at once meanwhile.
pub async fn load(rt: &Runtime, callers: u64, calls: u64) -> (BTreeMap<u64, u64>, u64) {
    let done = Arc::new(AtomicBool::new(false));
    let most = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (rt, done, most) = (rt.clone(), done.clone(), most.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                most.fetch_max(rt.log_stats().pending, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
        })
    };
    let tasks: Vec<_> = (0..callers)
        .map(|c| {
            let rt = rt.clone();
            tokio::spawn(async move {
                let mut acked = Vec::new();
                for i in 0..calls {
                    let key = c * 1_000_000 + i;
                    match rt.call("counter", "add", &arg(key)).await {
                        Ok(receipt) => acked.push((key, receipt.offset.expect("a commit"))),
                        Err(_) => break,
                    }
                }
                acked
            })
        })
        .collect();
    let mut acked = BTreeMap::new();
    for t in tasks {
        for (key, offset) in t.await.unwrap() {
            assert!(acked.insert(key, offset).is_none());
        }
    }
    done.store(true, Ordering::Relaxed);
    sampler.await.unwrap();
    (acked, most.load(Ordering::Relaxed))
}

/// The log holds dense offsets and each acknowledged call once, at the
/// offset it was given. `unacked` calls (whose outcome the caller never
/// heard) may be there too, each at most once.
pub async fn check_log(store: Arc<dyn LogStore>, acked: &BTreeMap<u64, u64>, unacked: usize) {
    let log = store.read_all(0).await.unwrap();
    for (i, c) in log.iter().enumerate() {
        assert_eq!(c.offset, i as u64, "offsets are dense");
    }
    let by_offset: BTreeMap<u64, u64> = acked.iter().map(|(k, o)| (*o, *k)).collect();
    assert_eq!(by_offset.len(), acked.len(), "no offset given twice");
    let calls: Vec<_> = log
        .iter()
        .filter(|c| c.invocation.reducer == "add")
        .collect();
    assert!(
        calls.len() >= acked.len() && calls.len() <= acked.len() + unacked,
        "{} commits for {} acknowledged calls and {unacked} unanswered",
        calls.len(),
        acked.len()
    );
    let mut seen = std::collections::BTreeSet::new();
    for c in &calls {
        assert!(
            seen.insert(c.invocation.args.clone()),
            "a call logged twice at {}",
            c.offset
        );
        if let Some(key) = by_offset.get(&c.offset) {
            assert_eq!(c.invocation.args, arg(*key), "offset {}", c.offset);
        }
    }
    for (key, offset) in acked {
        assert!(
            seen.contains(&arg(*key)[..]),
            "acknowledged call {key} (offset {offset}) lost"
        );
    }
    // Replaying gives one row per call.
    let (rt, _) = Runtime::open(store, RuntimeConfig::default())
        .await
        .unwrap();
    let rows = rt
        .read(|db| {
            let m = db.module_by_name("counter").unwrap();
            m.table_by_name("counters").unwrap().1.len()
        })
        .await
        .unwrap();
    assert_eq!(rows, calls.len());
}
