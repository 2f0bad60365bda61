//! The generated Rust client (tests/bindings, written by `interstice
//! generate --lang rust` from modules/chat and modules/test_persistence;
//! interstice-cli's clients test checks it is what the command writes)
//! against a real node serving those modules on a disk log.

mod bindings;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bindings::chat::{ChannelsRow, Chat, MessagesRow, Presence, UsersRow};
use bindings::test_persistence::{AccountsRow, TestPersistence};
use interstice_backend_fs::FsLogStore;
use interstice_client::{Change, Client, Error, ErrorCode, Status};
use interstice_core::{Runtime, RuntimeConfig};
use interstice_log::LogOptions;
use interstice_server::{Node, NodeConfig};
use interstice_testkit::built::wasm;
use tokio::sync::oneshot;

/// A node serving the log in `dir` on `listener`'s port.
struct Served {
    stop: oneshot::Sender<()>,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Served {
    async fn start(dir: &Path, listener: tokio::net::TcpListener, publish: bool) -> Self {
        Self::with_config(dir, listener, publish, NodeConfig::default()).await
    }

    async fn with_config(
        dir: &Path,
        listener: tokio::net::TcpListener,
        publish: bool,
        config: NodeConfig,
    ) -> Self {
        let store = FsLogStore::open(dir, LogOptions::default().create(true)).unwrap();
        let (runtime, _) = Runtime::open(Arc::new(store), RuntimeConfig::default())
            .await
            .unwrap();
        if publish {
            runtime.publish_and_init(&wasm("chat")).await.unwrap();
            runtime.publish(&wasm("test_persistence")).await.unwrap();
        }
        let (stop, stopped) = oneshot::channel::<()>();
        let done = tokio::spawn(Node::new(runtime, config).serve(listener, async {
            let _ = stopped.await;
        }));
        Self { stop, done }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.done.await.unwrap().unwrap();
    }
}

async fn listener(port: u16) -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap()
}

async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// Waits (within the same bound) until `done` holds, looking every 10 ms:
/// for what callbacks record, which runs just after the copy changes.
async fn until(what: &str, done: impl Fn() -> bool) {
    within(what, async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_calls_and_a_subscription_cache_over_a_real_node() {
    let tmp = tempfile::tempdir().unwrap();
    let l = listener(0).await;
    let url = format!("http://{}", l.local_addr().unwrap());
    let node = Served::start(tmp.path(), l, true).await;
    let chat = Chat::new(Client::new(&url).unwrap());

    let messages = chat.subscribe_messages().start().await.unwrap();
    assert_eq!(messages.rows(), []);
    let ada = chat.register("ada".into()).await.unwrap();
    assert!(ada.offset.is_some(), "{ada:?}");
    chat.register("bob".into()).await.unwrap();
    let sent = chat
        .send("ada".into(), "general".into(), "hello @bob".into())
        .await
        .unwrap();

    within(
        "the message in the cache",
        messages.wait_until(|rows| rows.len() == 1),
    )
    .await;
    let m: MessagesRow = messages.rows().remove(0);
    assert_eq!(m.text, "hello @bob");
    assert_eq!(messages.get(&m.id), Some(m.clone()));
    assert!(messages.with_rows(|r| r.next_offset()) > sent.offset.unwrap());

    // Reads are typed, filtered, and decode the enum.
    let users: Vec<UsersRow> = chat
        .read_users()
        .filter("name", "ada".to_owned())
        .await
        .unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].presence, Presence::Online);
    assert_eq!(m.author, users[0].id);

    // A reducer's error is the node's typed error.
    let err = chat.register("ada".into()).await.unwrap_err();
    assert_eq!(err.code(), Some(&ErrorCode::ReducerFailed), "{err}");
    assert!(err.to_string().contains("`ada` is taken"), "{err}");
    let err = chat
        .send("nobody".into(), "general".into(), "x".into())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(&ErrorCode::ReducerFailed), "{err}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_transfer_is_a_typed_error_and_idempotent_calls_run_once() {
    let tmp = tempfile::tempdir().unwrap();
    let l = listener(0).await;
    let url = format!("http://{}", l.local_addr().unwrap());
    let node = Served::start(tmp.path(), l, true).await;
    let bank = TestPersistence::new(Client::new(&url).unwrap());

    bank.open(1, "ada".into(), 100).await.unwrap();
    bank.open(2, "bob".into(), 0).await.unwrap();
    let accounts = bank
        .subscribe_accounts()
        .filter("owner", "bob".to_owned())
        .start()
        .await
        .unwrap();
    assert_eq!(accounts.rows().len(), 1);

    let err = bank.transfer(1, 2, 1000).await.unwrap_err();
    match &err {
        Error::Node(e) => {
            assert_eq!(e.code, ErrorCode::ReducerFailed);
            assert_eq!(e.status, 422);
            assert!(e.message.contains("account 1 has less than 1000"), "{e}");
        }
        other => panic!("expected the node's error, got {other}"),
    }
    let first = bank
        .transfer(1, 2, 30)
        .idempotency_key("t-1")
        .await
        .unwrap();
    let again = bank
        .transfer(1, 2, 30)
        .idempotency_key("t-1")
        .await
        .unwrap();
    assert!(again.replayed && !first.replayed);
    assert_eq!(again.offset, first.offset);
    within(
        "bob's balance",
        accounts.wait_until(|r| r.get(&2u64).is_some_and(|a| a.balance == 30)),
    )
    .await;
    let ada: Vec<AccountsRow> = bank.read_accounts().filter("id", 1u64).await.unwrap();
    assert_eq!(ada[0].balance, 70);

    // A bad filter and an unreachable node are clear errors.
    let err = bank
        .subscribe_accounts()
        .filter("colour", 1u8)
        .start()
        .await
        .err()
        .unwrap();
    assert_eq!(err.code(), Some(&ErrorCode::BadFilter), "{err}");
    node.stop().await;
    let err = bank.open(3, "cy".into(), 1).await.unwrap_err();
    assert!(matches!(err, Error::Unreachable { .. }), "{err}");
    assert!(err.to_string().contains(&url), "{err}");
}

/// Every change a callback saw, applied in order to an empty copy, gives
/// the subscription's copy: nothing missed, nothing twice, across a node
/// restart during which other commits were made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_is_resynchronised_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let l = listener(0).await;
    let port = l.local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let node = Served::start(tmp.path(), l, true).await;
    let bank = TestPersistence::new(Client::new(&url).unwrap());
    for (id, owner) in [(1, "ada"), (2, "bob"), (3, "cy")] {
        bank.open(id, owner.into(), 100).await.unwrap();
    }

    let seen: Arc<Mutex<Vec<Change<AccountsRow>>>> = Arc::default();
    let log = seen.clone();
    let accounts = bank
        .subscribe_accounts()
        .on_change(move |c, _| log.lock().unwrap().push(c.clone()))
        .start()
        .await
        .unwrap();
    bank.transfer(1, 2, 10).await.unwrap();
    within(
        "the transfer",
        accounts.wait_until(|r| r.get(&2u64).is_some_and(|a| a.balance == 110)),
    )
    .await;

    node.stop().await;
    until("the break noticed", || accounts.status() != Status::Live).await;
    // While the node is down the subscription retries; the log changes
    // under it: an account closed, one changed, one opened.
    {
        let store = FsLogStore::open(tmp.path(), LogOptions::default()).unwrap();
        let (rt, _) = Runtime::open(Arc::new(store), RuntimeConfig::default())
            .await
            .unwrap();
        let close = interstice_testkit::bank::args(vec![interstice_abi::Value::U64(3)]);
        rt.call("test_persistence", "close", &close).await.unwrap();
        rt.call(
            "test_persistence",
            "transfer",
            &interstice_testkit::bank::transfer(1, 2, 5),
        )
        .await
        .unwrap();
        rt.call(
            "test_persistence",
            "open",
            &interstice_testkit::bank::open(4, "dee", 7),
        )
        .await
        .unwrap();
        rt.shutdown().await;
    }
    let node = Served::start(tmp.path(), listener(port).await, false).await;
    within(
        "the resync",
        accounts.wait_until(|r| r.len() == 3 && r.get(&4u64).is_some()),
    )
    .await;
    bank.transfer(4, 1, 7).await.unwrap();
    // Callbacks run just after the copy changes: wait for the callback of
    // the commit's last change (account 1: 100 - 10 - 5 + 7).
    let last = |c: &Change<AccountsRow>| matches!(c, Change::Update { new, offset: Some(_), .. } if new.id == 1 && new.balance == 92);
    until("the event after", || seen.lock().unwrap().iter().any(last)).await;
    assert_eq!(accounts.status(), Status::Live);

    let seen = seen.lock().unwrap().clone();
    let mut replica = std::collections::BTreeMap::new();
    for c in &seen {
        match c {
            Change::Insert { row, .. } | Change::Update { new: row, .. } => {
                replica.insert(row.id, row.clone());
            }
            Change::Delete { row, .. } => assert!(replica.remove(&row.id).is_some(), "{c:?}"),
            Change::Synced { .. } | Change::Disconnected { .. } => {}
        }
    }
    let mut rows = accounts.rows();
    rows.sort_by_key(|r| r.id);
    assert_eq!(replica.into_values().collect::<Vec<_>>(), rows);
    let resynced = seen
        .iter()
        .position(|c| matches!(c, Change::Synced { resynced: true, .. }))
        .expect("a resync announced");
    assert!(
        seen[..resynced]
            .iter()
            .any(|c| matches!(c, Change::Disconnected { .. })),
        "{seen:?}"
    );
    // The changes made while the node was down come without an offset,
    // before the resync; the ones after it with theirs.
    let between: Vec<_> = seen[..resynced]
        .iter()
        .rev()
        .take_while(|c| !matches!(c, Change::Disconnected { .. }))
        .collect();
    // Account 3 closed, 1 and 2 changed, 4 opened.
    assert_eq!(between.len(), 4, "{between:?}");
    assert!(
        between.iter().all(|c| matches!(
            c,
            Change::Insert { offset: None, .. }
                | Change::Update { offset: None, .. }
                | Change::Delete { offset: None, .. }
        )),
        "{between:?}"
    );
    assert!(
        matches!(
            seen.last(),
            Some(Change::Update {
                offset: Some(_),
                ..
            })
        ),
        "{seen:?}"
    );
    node.stop().await;
}

/// A client generated from chat 0.1.0 keeps working when the node moves to
/// 0.2.0, which adds an optional column to `channels`: calls and reads go
/// on, and its subscription, ended by the node because the table changed,
/// resynchronises and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_of_the_old_schema_keeps_working_after_a_compatible_change() {
    let tmp = tempfile::tempdir().unwrap();
    let l = listener(0).await;
    let url = format!("http://{}", l.local_addr().unwrap());
    let node = Served::start(tmp.path(), l, true).await;
    let chat = Chat::new(Client::new(&url).unwrap());
    let seen: Arc<Mutex<Vec<Change<ChannelsRow>>>> = Arc::default();
    let log = seen.clone();
    let channels = chat
        .subscribe_channels()
        .on_change(move |c, _| log.lock().unwrap().push(c.clone()))
        .start()
        .await
        .unwrap();
    assert_eq!(channels.rows().len(), 1, "#general");

    let upgrade = reqwest::Client::new()
        .post(format!("{url}/v1/modules"))
        .header("Content-Type", "application/wasm")
        .body(wasm("chat_next"))
        .send()
        .await
        .unwrap();
    assert_eq!(upgrade.status(), 200, "{:?}", upgrade.text().await);

    chat.register("ada".into()).await.unwrap();
    chat.create_channel("random".into(), None).await.unwrap();
    let rows = chat.read_channels().await.unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().any(|c| c.name == "random" && c.topic.is_none()));
    // The copy reaches two rows before the callback hears of the resync.
    let resynced = |seen: &[Change<ChannelsRow>]| {
        seen.iter()
            .any(|c| matches!(c, Change::Synced { resynced: true, .. }))
    };
    until("the old client's copy resynchronised", || {
        resynced(&seen.lock().unwrap())
    })
    .await;
    within(
        "the new channel in the old client's copy",
        channels.wait_until(|r| r.len() == 2),
    )
    .await;
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter()
            .any(|c| matches!(c, Change::Disconnected { reason } if reason.contains("close"))),
        "{seen:?}"
    );
    node.stop().await;
}

/// The token comes from configuration: the node refuses a client without
/// it with the typed `unauthorized` error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_is_sent_when_configured() {
    let tmp = tempfile::tempdir().unwrap();
    let l = listener(0).await;
    let url = format!("http://{}", l.local_addr().unwrap());
    let config = NodeConfig {
        token: Some("s3cret".into()),
        ..NodeConfig::default()
    };
    let node = Served::with_config(tmp.path(), l, true, config).await;
    let without = Chat::new(Client::new(&url).unwrap());
    let err = without.register("ada".into()).await.unwrap_err();
    assert_eq!(err.code(), Some(&ErrorCode::Unauthorized), "{err}");
    let err = without.subscribe_users().start().await.err().unwrap();
    assert_eq!(err.code(), Some(&ErrorCode::Unauthorized), "{err}");
    let with = Chat::new(Client::new(&url).unwrap().with_token("s3cret"));
    with.register("ada".into()).await.unwrap();
    let users = with.subscribe_users().start().await.unwrap();
    assert_eq!(users.rows().len(), 1);
    node.stop().await;
}
