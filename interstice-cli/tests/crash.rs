//! Kill -9 harness: a node (`interstice serve`, the production writer) on
//! the `test_persistence` module takes durable calls from 8 concurrent
//! callers as fast as it answers; at a random moment it is killed with
//! SIGKILL, and a new node is started on the same log. After every restart:
//!
//! - every call acknowledged as committed is there (the accounts opened,
//!   and at least as many transfers as were acknowledged), and nothing that
//!   was never attempted;
//! - no transaction is half applied: the balances sum to 100 per account,
//!   each balance equals 100 plus what the transfers table says came in
//!   minus what went out, and there is one audit row per account and per
//!   transfer;
//! - `check-log` finds every frame valid (a torn tail was cut by recovery).
//!
//! At the end `replay-check` re-executes every logged call and compares it
//! with the log. 50 cycles by default; `INTERSTICE_CRASH_CYCLES` sets more,
//! `INTERSTICE_CRASH_SEED` replays a run.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Serving, interstice, text, wasm};
use serde_json::{Value, json};

/// A small deterministic generator (xorshift64*), so a seed replays a run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What the callers sent and what the node acknowledged.
#[derive(Default)]
struct Ledger {
    attempted_opens: BTreeSet<u64>,
    acked_opens: BTreeSet<u64>,
    attempted_transfers: u64,
    acked_transfers: u64,
}

const CALLERS: u64 = 8;

/// One caller: opens accounts (ids of its own) and transfers 1 between
/// acknowledged accounts, until the node stops answering.
async fn caller(url: String, id: u64, seed: u64, ledger: Arc<Mutex<Ledger>>) {
    let client = reqwest::Client::new();
    let mut rng = Rng(seed | 1);
    loop {
        let accounts: Vec<u64> = ledger.lock().unwrap().acked_opens.iter().copied().collect();
        let (reducer, args, open) = if accounts.len() < 2 || rng.below(3) == 0 {
            let n = {
                let mut l = ledger.lock().unwrap();
                let n = 1 + id + CALLERS * l.attempted_opens.len() as u64;
                l.attempted_opens.insert(n);
                n
            };
            ("open", json!([n, format!("c{id}"), 100]), Some(n))
        } else {
            let from = accounts[rng.below(accounts.len() as u64) as usize];
            let to = accounts[rng.below(accounts.len() as u64) as usize];
            ledger.lock().unwrap().attempted_transfers += 1;
            ("transfer", json!([from, to, 1]), None)
        };
        let sent = client
            .post(format!(
                "{url}/v1/modules/test_persistence/reducers/{reducer}"
            ))
            .json(&args)
            .send()
            .await;
        let Ok(response) = sent else { return };
        let status = response.status();
        // A call whose answer was lost (the node died) is not acknowledged.
        let Ok(body) = response.json::<Value>().await else {
            return;
        };
        let mut l = ledger.lock().unwrap();
        match (status.as_u16(), open) {
            (200, Some(n)) => drop(l.acked_opens.insert(n)),
            (200, None) => l.acked_transfers += 1,
            // A transfer from an account with nothing left is refused.
            (422, None) => {}
            _ => panic!("{reducer} {args}: {status} {body}"),
        }
    }
}

async fn rows(client: &reqwest::Client, url: &str, table: &str) -> Vec<Value> {
    let body: Value = client
        .get(format!(
            "{url}/v1/modules/test_persistence/tables/{table}?limit=100000"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["more"], false);
    body["rows"].as_array().unwrap().clone()
}

/// Checks the node's state against the ledger; the number of accounts.
async fn check(url: &str, ledger: &Ledger, cycle: u32) -> usize {
    let client = reqwest::Client::new();
    let accounts = rows(&client, url, "accounts").await;
    let transfers = rows(&client, url, "transfers").await;
    let audit = rows(&client, url, "audit").await;

    let ids: BTreeSet<u64> = accounts.iter().map(|a| a["id"].as_u64().unwrap()).collect();
    let lost: Vec<_> = ledger.acked_opens.difference(&ids).collect();
    assert!(
        lost.is_empty(),
        "cycle {cycle}: acknowledged opens lost: {lost:?}"
    );
    let invented: Vec<_> = ids.difference(&ledger.attempted_opens).collect();
    assert!(
        invented.is_empty(),
        "cycle {cycle}: never sent: {invented:?}"
    );
    let n = transfers.len() as u64;
    assert!(
        n >= ledger.acked_transfers && n <= ledger.attempted_transfers,
        "cycle {cycle}: {n} transfers stored, {} acknowledged, {} attempted",
        ledger.acked_transfers,
        ledger.attempted_transfers
    );

    let mut expected: BTreeMap<u64, i64> = ids.iter().map(|&id| (id, 100)).collect();
    for t in &transfers {
        *expected.get_mut(&t["from"].as_u64().unwrap()).unwrap() -= 1;
        *expected.get_mut(&t["to"].as_u64().unwrap()).unwrap() += 1;
    }
    for a in &accounts {
        let id = a["id"].as_u64().unwrap();
        assert_eq!(
            a["balance"].as_i64().unwrap(),
            expected[&id],
            "cycle {cycle}: account {id} disagrees with the transfers table"
        );
    }
    assert_eq!(
        audit.len(),
        accounts.len() + transfers.len(),
        "cycle {cycle}: one audit row per open and per transfer"
    );
    accounts.len()
}

#[test]
fn kill_9_loses_no_acknowledged_commit() {
    harness("kill-9", &[], 50);
}

/// The same with snapshots every 30 commits, two kept, and small segments,
/// so that kills land while snapshots are written and segments removed.
#[test]
fn kill_9_with_snapshots_and_retention_loses_no_acknowledged_commit() {
    let flags = [
        "--snapshot-every-commits",
        "30",
        "--retain-snapshots",
        "2",
        "--segment-size",
        "8192",
    ];
    harness("kill-9-snapshots", &flags, 25);
}

/// Kills a node started with `flags` `cycles` times (or
/// `INTERSTICE_CRASH_CYCLES`), checking everything after each restart.
fn harness(name: &str, flags: &[&str], cycles: u32) {
    // One harness at a time: two at once starve each other's nodes of CPU
    // on a small machine, and few calls get in before each kill.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let cycles: u32 = std::env::var("INTERSTICE_CRASH_CYCLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(cycles);
    let seed: u64 = std::env::var("INTERSTICE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("{name} harness {flags:?}: {cycles} cycles, INTERSTICE_CRASH_SEED={seed}");
    let mut rng = Rng(seed | 1);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log").display().to_string();
    let out = interstice(&["publish", &log, &wasm("test_persistence")], None);
    assert!(out.status.success(), "{}", text(&out));

    let tokio = tokio::runtime::Runtime::new().unwrap();
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut torn_tails = 0;
    let mut last_accounts = 0;
    let mut node = Serving::start(&log, flags, None);
    for cycle in 0..cycles {
        let callers: Vec<_> = (0..CALLERS)
            .map(|c| {
                let url = node.url.clone();
                let seed = rng.next();
                tokio.spawn(caller(url, c, seed, ledger.clone()))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(20 + rng.below(150)));
        torn_tails += node.kill().matches("invalid tail").count();
        tokio.block_on(async {
            for c in callers {
                c.await.unwrap();
            }
        });

        node = Serving::start(&log, flags, None);
        let accounts = {
            let l = ledger.lock().unwrap();
            tokio.block_on(check(&node.url, &l, cycle))
        };
        // The node holds the writer lock; check-log reads alongside it.
        let out = interstice(&["check-log", &log], None);
        assert!(out.status.success(), "cycle {cycle}: {}", text(&out));
        if cycle + 1 == cycles {
            last_accounts = accounts;
        }
    }
    torn_tails += node.kill().matches("invalid tail").count();
    if flags.contains(&"--retain-snapshots") {
        // With a snapshot every 30 commits, two kept, and 8 KiB segments,
        // a few hundred commits are enough for retention to have cut.
        let out = text(&interstice(&["check-log", &log], None));
        let last: u64 = out
            .split("last offset ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(
            last < 400 || out.contains("it starts at offset"),
            "retention removed nothing: {out}"
        );
    }
    let out = interstice(&["replay-check", &log], None);
    assert!(out.status.success(), "{}", text(&out));
    let l = ledger.lock().unwrap();
    let snapshots =
        std::fs::read_dir(dir.path().join("log").join("snapshots")).map_or(0, |d| d.count());
    let line = format!(
        "{cycles} SIGKILLs of `interstice serve {}` under 8 callers ({snapshots} snapshots left): {} opens and {} transfers \
         acknowledged (of {} and {} sent), every one present; {last_accounts} accounts, \
         balances and audit consistent after every restart; {torn_tails} torn tails cut; \
         replay-check identical (seed {seed})",
        flags.join(" "),
        l.acked_opens.len(),
        l.acked_transfers,
        l.attempted_opens.len(),
        l.attempted_transfers
    );
    interstice_log::conformance::report_counts(env!("CARGO_TARGET_TMPDIR"), name, &line);
}
