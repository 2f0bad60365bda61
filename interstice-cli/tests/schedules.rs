//! Scheduled reducers in a node (`interstice serve`), with
//! `modules/reminders`:
//!
//! - a node killed with SIGKILL before, during and after the reminders'
//!   due times, and started again each time, runs each reminder exactly
//!   once, and its interval never twice for one tick (disk log);
//! - on S3 (Garage) the writer runs them and a follower never does, and a
//!   writer taking the log over after a kill goes on where the log says;
//! - `interstice schedules` lists what waits and `--run` runs what is due,
//!   for a log no node serves; `call` says when calls are due.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{OnS3, Serving, interstice, s3_log_name, text, wasm};
use interstice_testkit::s3::GARAGE;
use serde_json::{Value, json};

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

async fn call(url: &str, reducer: &str, args: Value) {
    let response = reqwest::Client::new()
        .post(format!("{url}/v1/modules/reminders/reducers/{reducer}"))
        .json(&args)
        .send()
        .await
        .unwrap();
    let status = response.status();
    assert!(
        status.is_success(),
        "{reducer}: {status} {}",
        response.text().await.unwrap()
    );
}

async fn rows(url: &str, table: &str) -> Vec<Value> {
    let body: Value = reqwest::Client::new()
        .get(format!(
            "{url}/v1/modules/reminders/tables/{table}?limit=100000"
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

/// Waits (up to 30 s) until the node's `fired` rows satisfy `done`.
async fn fired_until(url: &str, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let fired = rows(url, "fired").await;
        if done(&fired) {
            return fired;
        }
        assert!(
            Instant::now() < deadline,
            "waited 30 s for {what}: {fired:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn u(v: &Value, field: &str) -> u64 {
    v[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} in {v}"))
}

/// Every one-shot reminder `1..=ones` fired exactly once, at or after its
/// time; the interval (reminder `interval`) never ran twice for a tick.
fn exactly_once(fired: &[Value], ones: u64, interval: u64) {
    let mut runs: BTreeMap<u64, Vec<&Value>> = BTreeMap::new();
    for f in fired {
        runs.entry(u(f, "reminder")).or_default().push(f);
        assert!(u(f, "ran") >= u(f, "due"), "ran before it was due: {f}");
    }
    for id in 1..=ones {
        let n = runs.get(&id).map_or(0, Vec::len);
        assert_eq!(n, 1, "reminder {id} fired {n} times: {:?}", runs.get(&id));
    }
    let ticks: Vec<u64> = runs
        .get(&interval)
        .map(|v| v.iter().map(|f| u(f, "due")).collect())
        .unwrap_or_default();
    assert!(
        ticks.windows(2).all(|w| w[0] < w[1]),
        "a tick ran twice or out of order: {ticks:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_before_during_and_after_due_times_runs_each_call_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log").display().to_string();
    let out = interstice(&["publish", &log, &wasm("reminders")], None);
    assert!(out.status.success(), "{}", text(&out));
    let mut node = Serving::start(&log, &[], None);

    // 40 reminders due 20 ms apart from 600 ms on, and a 150 ms interval.
    const ONES: u64 = 40;
    let first = now_micros() + 600_000;
    for i in 0..ONES {
        let at = first + i * 20_000;
        call(&node.url, "remind_at", json!([format!("r{i}"), at])).await;
    }
    call(&node.url, "every", json!(["tick", 150_000])).await;
    let last = first + (ONES - 1) * 20_000;

    // Kills every 120-400 ms (a fixed pattern, so a failure replays), from
    // before the first due time to well after the last.
    let pauses = [150u64, 380, 120, 260, 200, 330, 140, 400, 250];
    let mut kills = 0;
    for pause in pauses {
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let stderr = tokio::task::spawn_blocking(move || node.kill())
            .await
            .unwrap();
        assert!(!stderr.contains("panicked"), "{stderr}");
        kills += 1;
        node = tokio::task::spawn_blocking({
            let log = log.clone();
            move || Serving::start(&log, &[], None)
        })
        .await
        .unwrap();
    }
    assert!(now_micros() > last, "the kills outlast the due times");

    // The last node catches up on what the kills left due.
    let fired = fired_until(&node.url, "every reminder", |f| {
        f.iter().filter(|f| u(f, "reminder") <= ONES).count() as u64 >= ONES
    })
    .await;
    exactly_once(&fired, ONES, ONES + 1);
    let left: Vec<u64> = rows(&node.url, "reminders")
        .await
        .iter()
        .map(|r| u(r, "id"))
        .collect();
    assert_eq!(left, [ONES + 1], "only the interval row stays");

    // And the node says what it ran.
    let metrics = reqwest::get(format!("{}/metrics", node.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .contains("interstice_scheduled_calls_total{module=\"reminders\",table=\"reminders\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("interstice_scheduled_rows{module=\"reminders\",table=\"reminders\"} 1"),
        "{metrics}"
    );
    let (ok, stderr) = tokio::task::spawn_blocking(move || node.terminate())
        .await
        .unwrap();
    assert!(ok, "{stderr}");
    eprintln!("{kills} kills");

    let check = interstice(&["replay-check", &log], None);
    assert!(check.status.success(), "{}", text(&check));
    // The log says each run's due time and when it ran.
    let inspect = text(&interstice(&["log-inspect", &log], None));
    assert!(
        inspect.contains("(scheduled by reminders: due "),
        "{inspect}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_garage_the_writer_runs_schedules_and_followers_never_do() {
    let s3 = OnS3::server(GARAGE);
    let log = s3_log_name("schedules");
    let out = s3.cli(&["publish", &log, &wasm("reminders")]).await;
    assert!(out.status.success(), "{}", text(&out));
    let writer = s3.serve(&log, &[]).await;
    let follower = s3
        .serve(&log, &["--follow", "--follow-every", "50ms"])
        .await;

    call(&writer.url, "remind_in", json!(["once", 300_000])).await;
    call(&writer.url, "every", json!(["tick", 100_000])).await;
    let fired = fired_until(&writer.url, "the reminder and two ticks", |f| f.len() >= 3).await;
    exactly_once(&fired, 1, 2);

    // The follower sees the writer's runs and makes none of its own.
    let deadline = Instant::now() + Duration::from_secs(30);
    while rows(&follower.url, "fired").await.len() < 3 {
        assert!(Instant::now() < deadline, "the follower never caught up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let metrics = reqwest::get(format!("{}/metrics", follower.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // It knows what waits (the interval row), and ran nothing.
    let runs = "interstice_scheduled_calls_total{module=\"reminders\",table=\"reminders\"} 0\n";
    assert!(
        metrics.contains(runs),
        "a follower ran a scheduled call: {metrics}"
    );
    let waiting = "interstice_scheduled_rows{module=\"reminders\",table=\"reminders\"} 1\n";
    assert!(metrics.contains(waiting), "{metrics}");

    // The writer dies; one taking the log over goes on from the log: the
    // one-shot is not run again, the interval keeps its ticks.
    let before = rows(&writer.url, "fired").await.len();
    tokio::task::spawn_blocking(move || writer.kill())
        .await
        .unwrap();
    let promoted = s3.serve(&log, &["--take-over"]).await;
    let fired = fired_until(&promoted.url, "more ticks", |f| f.len() >= before + 3).await;
    exactly_once(&fired, 1, 2);
    for node in [promoted, follower] {
        tokio::task::spawn_blocking(move || node.terminate())
            .await
            .unwrap();
    }
}

#[test]
fn the_cli_lists_schedules_runs_what_is_due_and_says_when_calls_wait() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log").display().to_string();
    let run = |args: &[&str]| {
        let out = interstice(args, None);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        text(&out)
    };
    run(&["publish", &log, &wasm("reminders")]);
    run(&["call", &log, "reminders.remind_in", "[\"soon\", 1]"]);
    run(&[
        "call",
        &log,
        "reminders.remind_in",
        "[\"later\", 3600000000]",
    ]);
    // The call that finds one due says so, and runs nothing.
    let said = run(&["call", &log, "reminders.every", "[\"tick\", 60000000]"]);
    assert!(said.contains("note: 1 scheduled call is due"), "{said}");
    let listed = run(&["schedules", &log, "--format", "json"]);
    let rows: Vec<Value> = listed
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3, "{listed}");
    assert_eq!(rows[0]["key"], "1", "due first first: {listed}");
    assert_eq!(rows[2]["every_us"], Value::Null);
    assert_eq!(rows[1]["every_us"], 60_000_000);

    let ran = run(&["schedules", &log, "--run"]);
    assert!(ran.contains("ran 1 scheduled calls"), "{ran}");
    assert!(ran.contains("2 rows scheduled, 0 due"), "{ran}");
    let fired = run(&["query", &log, "reminders.fired", "--format", "json"]);
    assert_eq!(
        fired.lines().filter(|l| l.starts_with('{')).count(),
        1,
        "{fired}"
    );
    assert!(fired.contains("\"soon\""), "{fired}");
    let ran_again = run(&["schedules", &log, "--run"]);
    assert!(ran_again.contains("ran 0 scheduled calls"), "{ran_again}");
}
