//! Reading the node's history: `GET /v1/log` (the commits of a range, as
//! the debugger lists them) and `GET /v1/diff` (the rows that changed
//! between two offsets). Both replay the log beside the live state; the
//! web console's timeline is built on them.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use interstice_core::ReplayError;
use interstice_core::history::RowDiff;
use interstice_core::json::row_object;
use serde_json::{Value as Json, json};

use crate::error::ApiError;
use crate::routes::{Shared, json_response, serving};

/// The most commits one `GET /v1/log` returns.
const MAX_COMMITS: usize = 1000;

/// `GET /v1/log?from=N&limit=M`: up to M (default 50) durable commits from
/// offset N (default: the last M).
pub(crate) async fn log(State(s): Shared, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    serving(&s)?;
    let q = Query::parse(raw, &["from", "limit"])?;
    let limit = q.number("limit")?.map_or(50, |n| n as usize);
    if limit > MAX_COMMITS {
        return Err(bad(format!("limit={limit}: at most {MAX_COMMITS}")));
    }
    let durable = s.runtime.log_stats().durable_upto;
    let from = q
        .number("from")?
        .unwrap_or_else(|| durable.saturating_sub(limit as u64));
    let steps = s
        .runtime
        .timeline(from, limit)
        .await
        .map_err(history_error)?;
    let commits: Vec<Json> = steps
        .iter()
        .map(|c| {
            let t = std::time::UNIX_EPOCH + std::time::Duration::from_micros(c.timestamp);
            json!({
                "offset": c.offset,
                "time": humantime::format_rfc3339_micros(t).to_string(),
                "timestamp": c.timestamp,
                "module": c.module,
                "reducer": c.reducer,
                "cause": c.cause,
                "scheduled": c.scheduled.as_ref().map(|(table, due)| json!({"table": table, "due": due})),
                "rows": c.rows,
                "args": if c.args.is_empty() {
                    Json::Null
                } else {
                    serde_json::from_str(&c.args).unwrap_or(Json::String(c.args.clone()))
                },
            })
        })
        .collect();
    let body = json!({"from": from, "durable_upto": durable, "commits": commits});
    Ok(json_response(StatusCode::OK, &body))
}

/// `GET /v1/diff?from=A&to=B&table=M.T`: the rows the commits after A up
/// to and including B changed (B defaults to the last durable commit).
pub(crate) async fn diff(State(s): Shared, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    serving(&s)?;
    let q = Query::parse(raw, &["from", "to", "table"])?;
    let from = q
        .number("from")?
        .ok_or_else(|| bad("`from` is required: the offset to compare from".into()))?;
    let durable = s.runtime.log_stats().durable_upto;
    let to = q.number("to")?.unwrap_or(durable.saturating_sub(1));
    let tables = s
        .runtime
        .diff(from, to, q.text("table"))
        .await
        .map_err(history_error)?;
    let tables: Vec<Json> = tables
        .iter()
        .map(|t| {
            let object = |row: &[interstice_abi::Value]| row_object(&t.columns, row);
            let rows: Vec<Json> = t
                .rows
                .iter()
                .map(|r| match r {
                    RowDiff::Inserted(row) => json!({"change": "insert", "row": object(row)}),
                    RowDiff::Deleted(row) => json!({"change": "delete", "row": object(row)}),
                    RowDiff::Updated { old, new } => {
                        json!({"change": "update", "old": object(old), "row": object(new)})
                    }
                })
                .collect();
            let columns: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
            json!({"table": t.table, "columns": columns, "rows": rows})
        })
        .collect();
    Ok(json_response(StatusCode::OK, &json!({"tables": tables})))
}

fn bad(message: String) -> ApiError {
    ApiError::bad_request("bad_query", message)
}

/// A replay's error as an answer: an offset the log does not hold is the
/// client's, anything else the store's.
pub(crate) fn history_error(e: ReplayError) -> ApiError {
    match e {
        ReplayError::Beyond { .. } => ApiError::not_found("no_such_offset", e.to_string()),
        ReplayError::BadRange { .. } => bad(e.to_string()),
        e => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            e.to_string(),
        ),
    }
}

/// A query string's parameters, each checked against the ones allowed.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(raw: Option<String>, allowed: &[&str]) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
            .map_err(|e| bad(format!("bad query string: {e}")))?;
        if let Some((key, _)) = pairs.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
            return Err(bad(format!(
                "unknown parameter `{key}`: expected {}",
                allowed.join(", ")
            )));
        }
        Ok(Self(pairs))
    }

    fn text(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn number(&self, key: &str) -> Result<Option<u64>, ApiError> {
        self.text(key)
            .map(|v| {
                v.parse()
                    .map_err(|_| bad(format!("{key}={v}: expected a number")))
            })
            .transpose()
    }
}
