//! `/metrics` scraped from a running node after known calls: the
//! per-reducer and per-table series carry exact counts, and labels are
//! names only.

mod common;

use common::Served;
use serde_json::json;

/// The value of the series `name{labels}` in Prometheus text, if there.
fn series(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.strip_prefix(' '))
        .map(|v| v.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_counts_each_reducers_calls_errors_rows_and_tables() {
    let dir = tempfile::tempdir().unwrap();
    let node = Served::on_disk(dir.path()).await;
    node.publish("test_persistence").await;
    for (id, owner) in [(1, "ada"), (2, "bob"), (3, "cy")] {
        let (status, body) = node
            .call("test_persistence.open", json!([id, owner, 100]))
            .await;
        assert!(status.is_success(), "{body}");
    }
    let (status, _) = node
        .call("test_persistence.transfer", json!([1, 2, 10]))
        .await;
    assert!(status.is_success());
    // Short of money, and an account taken: two kinds of error.
    let (status, _) = node
        .call("test_persistence.transfer", json!([1, 2, 1000]))
        .await;
    assert!(status.is_client_error());
    let (status, _) = node
        .call("test_persistence.open", json!([1, "again", 1]))
        .await;
    assert!(status.is_client_error());

    let text = node.metrics().await;
    let get = |s: &str| series(&text, s).unwrap_or_else(|| panic!("no `{s}` in:\n{text}"));
    let open = r#"{module="test_persistence",reducer="open"}"#;
    let transfer = r#"{module="test_persistence",reducer="transfer"}"#;
    assert_eq!(get(&format!("interstice_reducer_calls_total{open}")), 4.0);
    assert_eq!(
        get(&format!("interstice_reducer_calls_total{transfer}")),
        2.0
    );
    assert_eq!(
        get(
            r#"interstice_reducer_errors_total{module="test_persistence",reducer="transfer",code="reducer_failed"}"#
        ),
        1.0
    );
    assert_eq!(
        get(
            r#"interstice_reducer_errors_total{module="test_persistence",reducer="open",code="table_constraint"}"#
        ),
        1.0
    );
    // Each open writes its account and an audit row; the transfer two
    // updates, a transfer row and an audit row.
    assert_eq!(
        get(&format!("interstice_reducer_rows_written_total{open}")),
        6.0
    );
    assert_eq!(
        get(&format!("interstice_reducer_rows_written_total{transfer}")),
        4.0
    );
    // Two accounts read by the transfer that went through, one by the other.
    assert_eq!(
        get(&format!("interstice_reducer_rows_read_total{transfer}")),
        3.0
    );
    assert_eq!(
        get(&format!(
            "interstice_reducer_duration_seconds_count{transfer}"
        )),
        2.0
    );
    assert!(get(&format!("interstice_reducer_fuel_total{transfer}")) > 0.0);
    assert!(get(&format!("interstice_reducer_commit_bytes_total{open}")) > 0.0);
    let accounts = r#"{module="test_persistence",table="accounts"}"#;
    assert_eq!(get(&format!("interstice_table_rows{accounts}")), 3.0);
    assert!(get(&format!("interstice_table_bytes{accounts}")) > 3.0 * 20.0);
    assert_eq!(
        get(r#"interstice_table_rows{module="test_persistence",table="transfers"}"#),
        1.0
    );
    assert_eq!(
        get("interstice_append_duration_seconds_count"),
        get("interstice_appends_total")
    );
    node.stop().await;
}
