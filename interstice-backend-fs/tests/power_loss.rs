//! Power loss on the disk backend, simulated: the store runs on
//! [`SimFs`], which keeps what was synced apart from what was only written
//! (file data and directory entries). The power goes after a random number
//! of file operations (in the middle of an append, a segment rotation, a
//! directory sync...), everything not synced is thrown away (or, in half
//! the trials, kept sector by sector at random, as a disk may), and the log
//! is reopened:
//!
//! - at `sync`, every acknowledged commit is there;
//! - at `batch:<ms>`, every commit acknowledged before the last sync is
//!   there (only the window may be lost);
//! - at every level, the log opens, and what it holds is a prefix of what
//!   was written: nothing altered, nothing out of order.
//!
//! Segments are small (600 bytes, so most trials cross several rotations,
//! or 4 KiB, so unsynced writes span several sectors to tear). `INTERSTICE_POWER_TRIALS` sets the number of trials (default
//! 400).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use interstice_backend_fs::FsLogStore;
use interstice_backend_fs::sim::SimFs;
use interstice_log::conformance::sample_commit;
use interstice_log::{Commit, CommitBatch, Durability, LogOptions, LogStore, LogStoreExt};

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Small segments (600 bytes: most trials cross several rotations) or
/// larger ones (4 KiB: unsynced writes span several sectors to tear).
fn opts(durability: Durability) -> LogOptions {
    sized(durability, 600)
}

fn sized(durability: Durability, segment_size: u64) -> LogOptions {
    LogOptions::default()
        .create(true)
        .durability(durability)
        .segment_size(segment_size)
}

const DIR: &str = "/sim/log";

/// Appends batches of 1 to 3 commits until the power goes or `max`
/// commits are in. Returns what was written (attempted) and acknowledged.
async fn write(store: &FsLogStore, rng: &mut Rng, max: u64) -> (Vec<Commit>, usize) {
    let mut written = Vec::new();
    let mut acked = 0;
    let mut next = store.next_offset().await.unwrap_or(0);
    while written.len() < max as usize {
        let n = 1 + rng.below(3);
        let mut batch = CommitBatch::new(next);
        for o in next..next + n {
            let c = sample_commit(o, "p");
            batch.push(&c).unwrap();
            written.push(c);
        }
        match store.append(&batch).await {
            Ok(()) => {
                acked = written.len();
                next += n;
            }
            Err(_) => break,
        }
    }
    (written, acked)
}

/// Reopens after the power came back; the commits the log holds.
async fn recovered(fs: &SimFs, opts: LogOptions, what: &str) -> Vec<Commit> {
    let store = FsLogStore::open_on(Arc::new(fs.clone()), DIR, opts)
        .unwrap_or_else(|e| panic!("{what}: the log does not open after the power loss: {e}"));
    let got = store
        .read_all(0)
        .await
        .unwrap_or_else(|e| panic!("{what}: reading after the power loss: {e}"));
    assert!(
        store.verify().await.unwrap().is_clean(),
        "{what}: damage left"
    );
    got
}

#[tokio::test]
async fn power_loss_at_any_operation_keeps_every_synced_commit() {
    let trials: u64 = std::env::var("INTERSTICE_POWER_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(400);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    println!("power loss: {trials} trials, seed {seed}");
    let mut rng = Rng(seed);
    let mut died_at: BTreeMap<&str, u64> = BTreeMap::new();
    let (mut lost_unacked, mut rotations) = (0usize, 0u64);
    for trial in 0..trials {
        let fs = SimFs::new();
        let durability = if trial % 4 == 3 {
            Durability::None
        } else {
            Durability::Sync
        };
        let size = if rng.below(2) == 0 { 600 } else { 4096 };
        // Some trials start from a log that already holds commits.
        let mut before = Vec::new();
        if trial % 3 == 0 {
            let store =
                FsLogStore::open_on(Arc::new(fs.clone()), DIR, sized(Durability::Sync, size))
                    .unwrap();
            let n = 1 + rng.below(12);
            before = write(&store, &mut rng, n).await.0;
        }
        fs.cut_power_after(rng.below(120));
        let torn = (rng.below(2) == 0).then(|| rng.below(u64::MAX));
        let opened = FsLogStore::open_on(Arc::new(fs.clone()), DIR, sized(durability, size));
        let (written, acked) = match opened {
            Ok(store) => write(&store, &mut rng, 40).await,
            // The power went while opening.
            Err(_) => (Vec::new(), 0),
        };
        *died_at
            .entry(fs.died_at().unwrap_or("(after the last)"))
            .or_default() += 1;
        rotations += fs.ops().get("rename").copied().unwrap_or(0);
        fs.power_loss(torn);

        let what = format!("trial {trial} ({durability}, {size}-byte segments, torn {torn:?})");
        let got = recovered(&fs, sized(durability, size), &what).await;
        let all: Vec<Commit> = before.iter().chain(&written).cloned().collect();
        assert!(got.len() <= all.len(), "{what}: more commits than written");
        assert!(got[..] == all[..got.len()], "{what}: a commit changed");
        if durability == Durability::Sync {
            let must = before.len() + acked;
            assert!(
                got.len() >= must,
                "{what}: {} commits survived, {must} were acknowledged",
                got.len()
            );
            lost_unacked += all.len() - got.len();
        } else {
            assert!(got.len() >= before.len(), "{what}: synced commits lost");
        }
    }
    let line = format!(
        "{trials} power losses (half torn by sector); the power went during: {died_at:?}; \
         {rotations} segment creations; every acknowledged commit kept at sync, \
         {lost_unacked} unacknowledged ones lost; every log reopened with a prefix of what was written"
    );
    interstice_log::conformance::report_counts(env!("CARGO_TARGET_TMPDIR"), "power-loss", &line);
    assert!(
        died_at.get("rename").is_some_and(|&n| n > 0),
        "no trial cut a rotation"
    );
    assert!(
        died_at.get("sync_dir").is_some_and(|&n| n > 0),
        "no trial cut a directory sync"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_batch_durability_only_the_window_is_lost() {
    let window = Duration::from_millis(5);
    for trial in 0..12u64 {
        let fs = SimFs::new();
        let mut rng = Rng(0x9e37_79b9 + trial * 7919);
        let store = FsLogStore::open_on(Arc::new(fs.clone()), DIR, opts(Durability::Batch(window)))
            .unwrap();
        let (mut written, _) = write(&store, &mut rng, 10 + trial).await;
        // The background sync runs within the window.
        tokio::time::sleep(window * 4).await;
        let safe = written.len();
        fs.cut_power_after(rng.below(30));
        let (more, _) = write(&store, &mut rng, 30).await;
        written.extend(more);
        drop(store);
        fs.power_loss((trial % 2 == 0).then_some(trial + 1));
        let what = format!("batch trial {trial}");
        let got = recovered(&fs, opts(Durability::Batch(window)), &what).await;
        assert!(got[..] == written[..got.len()], "{what}: a commit changed");
        assert!(
            got.len() >= safe,
            "{what}: {} commits survived, {safe} were older than the window",
            got.len()
        );
    }
}

#[tokio::test]
async fn a_rotation_cut_at_each_step_loses_no_synced_commit() {
    // Fill one segment to the brim, then cut the power at every operation
    // of the rotation that the next append makes.
    let probe = SimFs::new();
    let store = FsLogStore::open_on(Arc::new(probe.clone()), DIR, opts(Durability::Sync)).unwrap();
    let mut rng = Rng(42);
    let (first, _) = write(&store, &mut rng, 8).await;
    let before = probe.ops().values().sum::<u64>();
    let mut o = first.len() as u64;
    let segments = |fs: &SimFs| {
        use interstice_backend_fs::vfs::Vfs;
        fs.list(Path::new(DIR))
            .unwrap()
            .iter()
            .filter(|n| n.ends_with(".log"))
            .count()
    };
    let start_segments = segments(&probe);
    while segments(&probe) == start_segments {
        let mut b = CommitBatch::new(o);
        b.push(&sample_commit(o, "p")).unwrap();
        store.append(&b).await.unwrap();
        o += 1;
    }
    let rotation_ops = probe.ops().values().sum::<u64>() - before;
    drop(store);

    for cut in 0..rotation_ops {
        let fs = SimFs::new();
        let store = FsLogStore::open_on(Arc::new(fs.clone()), DIR, opts(Durability::Sync)).unwrap();
        let mut rng = Rng(42);
        let (mut written, _) = write(&store, &mut rng, 8).await;
        fs.cut_power_after(cut);
        let mut acked = written.len();
        for o in written.len() as u64..o {
            let mut b = CommitBatch::new(o);
            let c = sample_commit(o, "p");
            b.push(&c).unwrap();
            written.push(c);
            if store.append(&b).await.is_err() {
                break;
            }
            acked = written.len();
        }
        let step = fs.died_at().unwrap_or("(none)");
        drop(store);
        fs.power_loss(None);
        let what = format!("power cut at operation {cut} ({step}) of the rotating append");
        let got = recovered(&fs, opts(Durability::Sync), &what).await;
        assert!(
            got.len() >= acked,
            "{what}: {} of {acked} acknowledged kept",
            got.len()
        );
        assert!(got[..] == written[..got.len()], "{what}: a commit changed");
    }
    let line = format!(
        "power cut at each of the {rotation_ops} operations of a rotating append: \
         no acknowledged commit lost"
    );
    interstice_log::conformance::report_counts(
        env!("CARGO_TARGET_TMPDIR"),
        "power-loss-rotation",
        &line,
    );
}
