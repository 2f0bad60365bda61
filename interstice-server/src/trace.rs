//! `GET /v1/trace`: the call chains of a range of the log, as a Chrome
//! trace-event file or as JSON (what `interstice trace` writes).

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use interstice_core::trace::{DEFAULT_COMMITS, TraceFilter, to_chrome, to_json};

use crate::error::ApiError;
use crate::routes::{Shared, json_response, serving};

/// `from`, `to` (offsets, `to` included), `module`, `reducer`, `format`
/// (`chrome`, the default, or `json`).
pub(crate) async fn trace(State(s): Shared, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    serving(&s)?;
    let bad = |m: String| ApiError::bad_request("bad_query", m);
    let (mut from, mut to, mut chrome) = (None, None, true);
    let mut filter = TraceFilter::default();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| bad(format!("bad query string: {e}")))?;
    for (key, value) in pairs {
        let offset = || {
            value
                .parse::<u64>()
                .map_err(|_| bad(format!("{key}={value}: expected an offset")))
        };
        match key.as_str() {
            "from" => from = Some(offset()?),
            "to" => to = Some(offset()?),
            "module" => filter.module = Some(value),
            "reducer" => filter.reducer = Some(value),
            "format" => {
                chrome = match value.as_str() {
                    "chrome" => true,
                    "json" => false,
                    other => return Err(bad(format!("format={other}: expected chrome or json"))),
                }
            }
            other => {
                return Err(bad(format!(
                    "unknown parameter `{other}`: from, to, module, reducer, format"
                )));
            }
        }
    }
    let durable = s.runtime.log_stats().durable_upto;
    let from = from.unwrap_or_else(|| durable.saturating_sub(DEFAULT_COMMITS));
    let end = to.map_or(durable, |t| t.saturating_add(1));
    let chains = s.runtime.trace(from..end, &filter).await.map_err(|e| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            e.to_string(),
        )
    })?;
    let body = if chrome {
        to_chrome(&chains, "interstice node")
    } else {
        to_json(&chains)
    };
    Ok(json_response(StatusCode::OK, &body))
}
