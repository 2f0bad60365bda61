//! The ReplayEngine against mocked log stores.

use bytes::Bytes;
use futures::StreamExt;
use interstice_core::db::Database;
use interstice_core::{ReplayEngine, ReplayError};
use interstice_log::mock::MockLogStore;
use interstice_log::{BadFrame, Commit, Damage, Error, Invocation, Mutation};
use interstice_testkit::schemas::{dump, person, town};

fn commit(offset: u64, cause: Option<u64>, reducer: &str, mutations: Vec<Mutation>) -> Commit {
    Commit {
        offset,
        timestamp: offset,
        cause,
        invocation: Invocation {
            module: "town".into(),
            reducer: reducer.into(),
            args: Bytes::new(),
            request_id: None,
            timing: None,
            scheduled: None,
        },
        mutations,
    }
}

/// A log: publish `town`, insert three people (each triggers `welcome`),
/// update one, delete one. Returns the commits and the live state.
fn history() -> (Vec<Commit>, Database) {
    let mut db = Database::new();
    let mut commits = Vec::new();
    let mut txn = db.begin();
    let schema = town();
    txn.install_module(
        1,
        schema.clone(),
        interstice_abi::encode_schema(&schema).unwrap().into(),
        Bytes::from_static(b"\0asm"),
    )
    .unwrap();
    commits.push(commit(0, None, "publish", txn.commit()));
    for (i, e) in ["a@x", "b@x", "c@x"].into_iter().enumerate() {
        let mut txn = db.begin();
        txn.insert(1, 1, person(0, e, 20 + i as u8, "Oslo"))
            .unwrap();
        commits.push(commit(commits.len() as u64, None, "add", txn.commit()));
    }
    let mut txn = db.begin();
    txn.update(1, 1, person(2, "b2@x", 99, "Rome")).unwrap();
    txn.delete(1, 1, &interstice_abi::Value::U64(3)).unwrap();
    commits.push(commit(commits.len() as u64, None, "edit", txn.commit()));
    (commits, db)
}

fn store_serving(items: Vec<Result<Commit, Error>>) -> MockLogStore {
    let mut store = MockLogStore::new();
    store
        .expect_read_from()
        .withf(|from| *from == 0)
        .times(1)
        .return_once(move |_| Ok(futures::stream::iter(items).boxed()));
    store.expect_first_offset().returning(|| Ok(0));
    store
}

#[tokio::test]
async fn replay_rebuilds_every_table_from_the_log() {
    let (commits, live) = history();
    let store = store_serving(commits.into_iter().map(Ok).collect());
    let replayed = ReplayEngine::replay(&store, 0, None).await.unwrap();
    assert_eq!(dump(&replayed.db), dump(&live));
    assert_eq!(replayed.report.commits, 5);
    assert_eq!(replayed.report.mutations, 1 + 3 + 2);
    assert_eq!(replayed.report.last_offset, Some(4));
    assert!(replayed.report.rows_per_sec() > 0.0);
    // The logged module is back, code and schema, without running it.
    let m = replayed.db.module_by_name("town").unwrap();
    assert_eq!((m.id, &m.wasm[..]), (1, &b"\0asm"[..]));
}

#[tokio::test]
async fn replay_to_an_offset_gives_point_in_time_state() {
    let (commits, _) = history();
    let store = store_serving(commits.into_iter().map(Ok).collect());
    let replayed = ReplayEngine::replay(&store, 0, Some(2)).await.unwrap();
    assert_eq!(replayed.db.table(1, 1).unwrap().len(), 2);
    assert_eq!(replayed.report.last_offset, Some(2));
}

#[tokio::test]
async fn a_corrupt_frame_mid_log_stops_replay_and_names_it() {
    let (commits, _) = history();
    let bad = BadFrame {
        segment: "00000000000000000000.log".into(),
        position: 812,
        offset: Some(2),
        len: 40,
        damage: Damage::Frame(interstice_log::codec::FrameError::ChecksumMismatch {
            expected: 1,
            found: 2,
        }),
    };
    let mut items: Vec<Result<Commit, Error>> = commits.into_iter().take(2).map(Ok).collect();
    items.push(Err(Error::Corrupt(Box::new(bad))));
    let store = store_serving(items);
    let err = ReplayEngine::replay(&store, 0, None).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ReplayError::Log(Error::Corrupt(_))), "{msg}");
    assert!(
        msg.contains("byte 812") && msg.contains("commit 2") && msg.contains("checksum mismatch"),
        "{msg}"
    );
}

#[tokio::test]
async fn a_mutation_whose_schema_hash_does_not_match_the_logged_schema_is_refused() {
    let (mut commits, _) = history();
    commits[2].mutations[0].schema_hash ^= 1;
    let store = store_serving(commits.into_iter().map(Ok).collect());
    let err = ReplayEngine::replay(&store, 0, None).await.unwrap_err();
    assert!(
        matches!(err, ReplayError::SchemaMismatch { offset: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("town.people"), "{err}");
}

#[tokio::test]
async fn a_module_record_with_a_wrong_hash_is_refused() {
    let (mut commits, _) = history();
    commits[0].mutations[0].schema_hash ^= 1;
    let store = store_serving(commits.into_iter().map(Ok).collect());
    let err = ReplayEngine::replay(&store, 0, None).await.unwrap_err();
    assert!(
        matches!(err, ReplayError::BadModuleRecord { offset: 0, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn a_commit_that_contradicts_the_state_names_its_offset() {
    let (mut commits, _) = history();
    // Offset 3 inserts a row whose key offset 1 already inserted.
    commits[3].mutations[0] = commits[1].mutations[0].clone();
    let store = store_serving(commits.into_iter().map(Ok).collect());
    let err = ReplayEngine::replay(&store, 0, None).await.unwrap_err();
    assert!(matches!(err, ReplayError::Apply { offset: 3, .. }), "{err}");
}

#[tokio::test]
async fn subscriptions_whose_follow_up_is_missing_are_pending_after_replay() {
    let (mut commits, _) = history();
    // The follow-ups of offsets 1 and 3 made it to the log; 2's did not.
    let next = commits.len() as u64;
    commits.push(commit(next, Some(1), "welcome", vec![]));
    commits.push(commit(next + 1, Some(3), "welcome", vec![]));
    let store = store_serving(commits.into_iter().map(Ok).collect());
    let replayed = ReplayEngine::replay(&store, 0, None).await.unwrap();
    let pending: Vec<(u64, &str)> = replayed
        .pending
        .iter()
        .map(|s| (s.cause, s.reducer.as_str()))
        .collect();
    assert_eq!(pending, [(2, "welcome")]);
    assert_eq!(
        replayed.pending[0].path,
        ["town.people.insert -> town.welcome"]
    );
}

/// Replays starting from snapshots, on an in-memory log and snapshot store.
mod from_snapshots {
    use std::sync::Arc;

    use interstice_core::snapshot::take;
    use interstice_core::{ReplayOptions, Replayed};
    use interstice_log::memory::{MemoryLogStore, MemorySnapshotStore};
    use interstice_log::snapshot::SnapshotStore;
    use interstice_log::{LogStore, LogStoreExt};

    use super::*;

    /// More history after [`history`]: two inserts.
    fn more(from: u64, stamp: u64) -> Vec<Commit> {
        let (_, mut db) = history();
        (0..2)
            .map(|i| {
                let mut txn = db.begin();
                txn.insert(1, 1, person(0, &format!("more{i}@x"), 5, "Lima"))
                    .unwrap();
                let mut c = commit(from + i, None, "add", txn.commit());
                c.timestamp = stamp + i;
                c
            })
            .collect()
    }

    async fn append(store: &MemoryLogStore, commits: &[Commit]) {
        for c in commits {
            store.append_commit(c).await.unwrap();
        }
    }

    fn opts(snapshots: &MemorySnapshotStore, to: Option<u64>, strict: bool) -> ReplayOptions {
        ReplayOptions {
            to,
            snapshots: Some(Arc::new(snapshots.clone())),
            strict,
            ..ReplayOptions::default()
        }
    }

    async fn with(
        store: &MemoryLogStore,
        snapshots: &MemorySnapshotStore,
        to: Option<u64>,
    ) -> Replayed {
        ReplayEngine::replay_with(store, &opts(snapshots, to, false))
            .await
            .unwrap()
    }

    /// The state as of `to`, from the log alone.
    async fn full(store: &MemoryLogStore, to: Option<u64>) -> Replayed {
        ReplayEngine::replay(store, 0, to).await.unwrap()
    }

    fn same(a: &Replayed, b: &Replayed) {
        assert_eq!(dump(&a.db), dump(&b.db));
        assert_eq!(a.pending, b.pending);
        assert_eq!(a.clock, b.clock);
        assert_eq!(a.report.last_offset, b.report.last_offset);
    }

    #[tokio::test]
    async fn a_replay_starts_from_the_newest_snapshot() {
        let (store, snapshots) = (MemoryLogStore::new(), MemorySnapshotStore::new());
        append(&store, &history().0).await;
        let taken = take(&store, Arc::new(snapshots.clone()))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((taken.offset, taken.base, taken.rows), (4, None, 2));
        // Nothing new: no second snapshot.
        assert_eq!(
            take(&store, Arc::new(snapshots.clone())).await.unwrap(),
            None
        );
        append(&store, &more(5, 5)).await;

        let replayed = with(&store, &snapshots, None).await;
        assert_eq!(replayed.report.snapshot, Some(4));
        assert_eq!(replayed.report.commits, 2, "only the commits after it");
        same(&replayed, &full(&store, None).await);
        assert!(!replayed.pending.is_empty(), "the welcomes are still due");

        // The next snapshot builds on this one.
        let next = take(&store, Arc::new(snapshots.clone()))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((next.offset, next.base, next.commits), (6, Some(4), 2));
    }

    #[tokio::test]
    async fn to_offset_uses_the_newest_snapshot_at_or_before_it() {
        let (store, snapshots) = (MemoryLogStore::new(), MemorySnapshotStore::new());
        let (commits, _) = history();
        append(&store, &commits[..3]).await;
        take(&store, Arc::new(snapshots.clone())).await.unwrap();
        append(&store, &commits[3..]).await;
        take(&store, Arc::new(snapshots.clone())).await.unwrap();
        assert_eq!(snapshots.list().await.unwrap(), vec![2, 4]);
        for to in 0..=4 {
            let replayed = with(&store, &snapshots, Some(to)).await;
            let expected = if to >= 4 {
                Some(4)
            } else if to >= 2 {
                Some(2)
            } else {
                None
            };
            assert_eq!(replayed.report.snapshot, expected, "to {to}");
            same(&replayed, &full(&store, Some(to)).await);
        }
    }

    #[tokio::test]
    async fn a_damaged_snapshot_is_passed_over_unless_strict() {
        let (store, snapshots) = (MemoryLogStore::new(), MemorySnapshotStore::new());
        let (commits, _) = history();
        append(&store, &commits[..3]).await;
        take(&store, Arc::new(snapshots.clone())).await.unwrap();
        append(&store, &commits[3..]).await;
        take(&store, Arc::new(snapshots.clone())).await.unwrap();
        let good = snapshots.get(4).await.unwrap();
        let mut bad = good.to_vec();
        let at = bad.len() / 2;
        bad[at] ^= 1;
        snapshots.put(4, bad.into()).await.unwrap();

        let replayed = with(&store, &snapshots, None).await;
        assert_eq!(replayed.report.snapshot, Some(2));
        assert_eq!(replayed.report.skipped.len(), 1);
        assert_eq!(replayed.report.skipped[0].offset, 4);
        assert!(
            replayed.report.skipped[0].reason.contains("checksum"),
            "{}",
            replayed.report.skipped[0]
        );
        same(&replayed, &full(&store, None).await);

        let err = ReplayEngine::replay_with(&store, &opts(&snapshots, None, true))
            .await
            .unwrap_err();
        assert!(
            matches!(err, ReplayError::BadSnapshot(ref s) if s.offset == 4),
            "{err}"
        );

        // Damage everywhere: down to a full replay.
        snapshots.put(2, Bytes::from_static(b"junk")).await.unwrap();
        let replayed = with(&store, &snapshots, None).await;
        assert_eq!(replayed.report.snapshot, None);
        assert_eq!(replayed.report.skipped.len(), 2);
        same(&replayed, &full(&store, None).await);
    }

    #[tokio::test]
    async fn a_snapshot_of_commits_the_log_no_longer_holds_is_not_used() {
        let (store, snapshots) = (MemoryLogStore::new(), MemorySnapshotStore::new());
        append(&store, &history().0).await;
        take(&store, Arc::new(snapshots.clone())).await.unwrap();
        // Repair cuts the log after commit 2...
        store.truncate(3).await.unwrap();
        let replayed = with(&store, &snapshots, None).await;
        assert_eq!(replayed.report.snapshot, None);
        assert!(replayed.report.skipped[0].reason.contains("cut"));
        same(&replayed, &full(&store, None).await);
        // ...and other commits take offsets 3 and 4.
        append(&store, &more(3, 1000)).await;
        let replayed = with(&store, &snapshots, None).await;
        assert_eq!(replayed.report.snapshot, None);
        assert!(
            replayed.report.skipped[0].reason.contains("written again"),
            "{}",
            replayed.report.skipped[0]
        );
        same(&replayed, &full(&store, None).await);
        assert_eq!(store.last_offset().await.unwrap(), Some(4));
    }

    /// A snapshot store where a retention pass runs (as another process
    /// would) right when the open reads the snapshot at `at`: the snapshot
    /// at `newer` is put, the log before it removed, and, with
    /// `before_get`, the snapshot at `at` removed before it is read.
    #[derive(Debug)]
    struct Overtaking {
        inner: MemorySnapshotStore,
        store: MemoryLogStore,
        at: u64,
        newer: std::sync::Mutex<Option<(u64, Bytes)>>,
        before_get: bool,
    }

    impl Overtaking {
        async fn retain(&self) {
            let Some((offset, bytes)) = self.newer.lock().unwrap().take() else {
                return;
            };
            self.inner.put(offset, bytes).await.unwrap();
            self.store.remove_before(offset).await.unwrap();
            if self.before_get {
                self.inner.remove(self.at).await.unwrap();
            }
        }
    }

    #[async_trait::async_trait]
    impl SnapshotStore for Overtaking {
        async fn put(&self, offset: u64, bytes: Bytes) -> Result<(), interstice_log::Error> {
            self.inner.put(offset, bytes).await
        }
        async fn list(&self) -> Result<Vec<u64>, interstice_log::Error> {
            self.inner.list().await
        }
        async fn get(&self, offset: u64) -> Result<Bytes, interstice_log::Error> {
            if offset == self.at {
                if self.before_get {
                    self.retain().await;
                    return self.inner.get(offset).await;
                }
                let bytes = self.inner.get(offset).await;
                self.retain().await;
                return bytes;
            }
            self.inner.get(offset).await
        }
        async fn remove(&self, offset: u64) -> Result<(), interstice_log::Error> {
            self.inner.remove(offset).await
        }
        fn location(&self) -> String {
            "overtaking".into()
        }
    }

    #[tokio::test]
    async fn an_open_that_retention_overtakes_uses_the_newer_snapshot() {
        for before_get in [false, true] {
            let (store, snapshots) = (MemoryLogStore::new(), MemorySnapshotStore::new());
            append(&store, &history().0).await;
            take(&store, Arc::new(snapshots.clone())).await.unwrap();
            append(&store, &more(5, 5)).await;
            // The newer snapshot, made aside, for the retention pass to put.
            let aside = MemorySnapshotStore::new();
            aside.put(4, snapshots.get(4).await.unwrap()).await.unwrap();
            take(&store, Arc::new(aside.clone())).await.unwrap();
            let newer = (6, aside.get(6).await.unwrap());
            let expected = full(&store, None).await;

            let overtaking = Overtaking {
                inner: snapshots.clone(),
                store: store.clone(),
                at: 4,
                newer: std::sync::Mutex::new(Some(newer)),
                before_get,
            };
            let opts = ReplayOptions {
                snapshots: Some(Arc::new(overtaking)),
                ..ReplayOptions::default()
            };
            let replayed = ReplayEngine::replay_with(&store, &opts).await.unwrap();
            assert_eq!(replayed.report.snapshot, Some(6), "before_get {before_get}");
            assert!(
                replayed.report.skipped.is_empty(),
                "{:?}",
                replayed.report.skipped
            );
            same(&replayed, &expected);
        }
    }
}
