//! The ReplayEngine against mocked log stores.

use bytes::Bytes;
use futures::StreamExt;
use interstice_abi::encode;
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
        encode(&schema).unwrap().into(),
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
