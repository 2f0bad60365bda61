//! The HTTP routes (`docs/http-api.md`): each handler turns a request into
//! one runtime operation and its result into JSON.

use std::sync::Arc;
use std::time::Instant;

use axum::Extension;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use interstice_abi::{TableSchema, Visibility};
use interstice_core::db::{Database, ModuleState};
use interstice_core::query::{Filter, encode_args, select};
use interstice_core::table::Table;
use interstice_core::{INIT_REDUCER, Receipt};
use serde_json::{Value as Json, json};

use crate::NodeState;
use crate::auth::Role;
use crate::error::ApiError;
use crate::guard::content_type;

pub(crate) type Shared = State<Arc<NodeState>>;

pub(crate) fn router(state: Arc<NodeState>) -> Router {
    let module_limit = DefaultBodyLimit::max(state.config.max_module_bytes);
    // The console's files need no token (the page asks for it); every API
    // route does.
    let console = Router::new()
        .route("/", get(crate::console::index))
        .route("/console.js", get(crate::console::script))
        .route("/console.css", get(crate::console::style));
    let api = Router::new()
        .route("/v1/status", get(status))
        .route(
            "/v1/modules",
            get(list_modules).post(publish).layer(module_limit),
        )
        .route("/v1/modules/{module}", get(module_schema).delete(unpublish))
        .route(
            "/v1/modules/{module}/reducers/{reducer}",
            axum::routing::post(call),
        )
        .route("/v1/modules/{module}/tables/{table}", get(query))
        .route(
            "/v1/modules/{module}/tables/{table}/events",
            get(crate::events::subscribe),
        )
        .route("/v1/trace", get(crate::trace::trace))
        .route("/v1/log", get(crate::history::log))
        .route("/v1/diff", get(crate::history::diff))
        .route("/v1/graph", get(crate::console::graph))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.max_request_bytes))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::auth::require_token,
        ));
    console
        .merge(api)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::guard::same_site,
        ))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no_such_route", "no such route; see docs/http-api.md")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method; see docs/http-api.md",
    )
}

/// The body, or an error naming why it could not be read (413 when it is
/// larger than the route's limit).
pub(crate) fn body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|r| {
        let status = r.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(status, "body_too_large", r.body_text())
        } else {
            ApiError::new(status, "bad_body", r.body_text())
        }
    })
}

/// The path's segments, or an error naming the bad one.
pub(crate) fn segments<T>(path: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    path.map(|Path(p)| p)
        .map_err(|r| ApiError::bad_request("bad_path", r.body_text()))
}

/// Refuses reads once the runtime has stopped after a log failure: its
/// tables may then hold commits that never became durable.
pub(crate) fn serving(s: &NodeState) -> Result<(), ApiError> {
    match s.runtime.stopped() {
        None => Ok(()),
        Some(why) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            why,
        )),
    }
}

/// The module `name`, or 404 listing the modules there are.
pub(crate) fn module<'a>(db: &'a Database, name: &str) -> Result<&'a ModuleState, ApiError> {
    Ok(db.find_module(name)?)
}

/// The table `name` of `m` with its id, or 404 listing its tables.
pub(crate) fn table<'a>(m: &'a ModuleState, name: &str) -> Result<(u32, &'a Table), ApiError> {
    Ok(m.find_table(name)?)
}

/// The `where` filters, resolved against `table`.
pub(crate) fn filters(table: &Table, texts: &[String]) -> Result<Vec<Filter>, ApiError> {
    Ok(texts
        .iter()
        .map(|f| Filter::parse(table, f))
        .collect::<Result<Vec<_>, _>>()?)
}

/// The `where` filters and the `limit` of a query string.
pub(crate) struct Params {
    pub filters: Vec<String>,
    pub limit: Option<usize>,
    /// `at=N`: the table just after commit N.
    pub at: Option<u64>,
    /// `skip=N`: leave out the first N matching rows (paging).
    pub skip: usize,
}

pub(crate) fn params(query: Option<String>) -> Result<Params, ApiError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
            .map_err(|e| ApiError::bad_request("bad_query", format!("bad query string: {e}")))?;
    let mut out = Params {
        filters: Vec::new(),
        limit: None,
        at: None,
        skip: 0,
    };
    for (key, value) in pairs {
        match key.as_str() {
            "where" => out.filters.push(value),
            "limit" => {
                let n = value.parse().map_err(|_| {
                    ApiError::bad_request("bad_query", format!("limit={value}: expected a number"))
                })?;
                out.limit = Some(n);
            }
            "at" => {
                let n = value.parse().map_err(|_| {
                    ApiError::bad_request("bad_query", format!("at={value}: expected an offset"))
                })?;
                out.at = Some(n);
            }
            "skip" => {
                out.skip = value.parse().map_err(|_| {
                    ApiError::bad_request("bad_query", format!("skip={value}: expected a number"))
                })?;
            }
            other => {
                return Err(ApiError::bad_request(
                    "bad_query",
                    format!(
                        "unknown query parameter `{other}` (expected `where`, `limit`, `skip` or `at`)"
                    ),
                ));
            }
        }
    }
    Ok(out)
}

/// A row as a JSON object by column name.
pub(crate) fn row_json(schema: &TableSchema, row: &[interstice_abi::Value]) -> Json {
    interstice_core::json::row_object(&schema.columns, row)
}

pub(crate) fn json_response(status: StatusCode, body: &Json) -> Response {
    (
        status,
        [(CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn status(State(s): Shared) -> Response {
    let stats = s.runtime.log_stats();
    // Counters and the module catalog: nothing here waits for a call in
    // progress (a publish being synced may show already).
    let modules: Vec<Json> = s
        .runtime
        .modules()
        .into_iter()
        .map(|m| json!({"name": m.name, "id": m.id, "version": m.version.to_string()}))
        .collect();
    let stopped = s.runtime.stopped();
    let body = json!({
        "status": if stopped.is_some() { "stopped" } else { "serving" },
        "stopped_because": stopped,
        "backend": s.config.backend,
        "last_durable_offset": stats.durable_upto.checked_sub(1),
        "uptime_seconds": s.started.elapsed().as_secs_f64(),
        "replay": {
            "commits": s.config.replay.commits,
            "seconds": s.config.replay.duration.as_secs_f64(),
        },
        "modules": modules,
        "version": env!("CARGO_PKG_VERSION"),
        "role": if s.runtime.follow_lag().is_some() { "follower" } else { "writer" },
        "writer": s.config.writer.get(),
        "follow_lag_seconds": s.runtime.follow_lag().map(|l| l.as_secs_f64()),
    });
    json_response(StatusCode::OK, &body)
}

async fn list_modules(State(s): Shared) -> Result<Response, ApiError> {
    let schemas = s
        .runtime
        .read(|db| {
            db.modules()
                .map(|m| serde_json::to_value(m.schema.serializable()).unwrap_or(Json::Null))
                .collect::<Vec<_>>()
        })
        .await?;
    Ok(json_response(StatusCode::OK, &Json::Array(schemas)))
}

async fn module_schema(
    State(s): Shared,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let name = segments(path)?;
    let schema = s
        .runtime
        .read(|db| module(db, &name).map(|m| serde_json::to_value(m.schema.serializable())))
        .await??
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    Ok(json_response(StatusCode::OK, &schema))
}

/// `DELETE /v1/modules/{module}`: unpublishes it (admin token, like a
/// publish); 409 `module_in_use` while others depend on it.
async fn unpublish(
    State(s): Shared,
    Extension(role): Extension<Role>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    role.may_publish(&s)?;
    let name = segments(path)?;
    let removed = s
        .runtime
        .unpublish(&name)
        .await
        .map_err(|e| s.to_writer(e.into()))?;
    let tables: Vec<_> = removed
        .tables
        .iter()
        .map(|(table, rows)| json!({"table": table, "rows": rows}))
        .collect();
    let body = json!({
        "module": name,
        "module_id": removed.module_id,
        "offset": removed.offset,
        "tables": tables,
    });
    Ok(json_response(StatusCode::OK, &body))
}

async fn publish(
    State(s): Shared,
    Extension(role): Extension<Role>,
    headers: HeaderMap,
    wasm: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    role.may_publish(&s)?;
    content_type(&headers, &["application/wasm", "application/octet-stream"])?;
    let wasm = body(wasm)?;
    let (published, init) = s
        .runtime
        .publish_and_init(&wasm)
        .await
        .map_err(|e| s.to_writer(e.into()))?;
    let name = s.runtime.read_executed(|db| {
        db.module(published.module_id)
            .map(|m| m.schema.name.clone())
    })?;
    let init = match init {
        None => Json::Null,
        Some(Ok(receipt)) => receipt_json(&receipt),
        Some(Err(e)) => {
            let e = ApiError::from(e);
            json!({"error": {"code": e.code, "message": e.message}})
        }
    };
    let changes: Vec<_> = published
        .diff
        .changes
        .iter()
        .map(|c| c.to_string())
        .collect();
    let body = json!({
        "module": name,
        "module_id": published.module_id,
        "offset": published.offset,
        "first_version": published.first_version,
        "changes": changes,
        "migrations": published.migrations.iter().map(|m| json!({
            "reducer": m.reducer,
            "table": m.table,
            "from": m.from,
            "rows_before": m.rows_before,
            "mutations": m.mutations,
            "micros": m.micros,
        })).collect::<Vec<_>>(),
        INIT_REDUCER: init,
    });
    let status = if published.first_version {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_response(status, &body))
}

fn receipt_json(r: &Receipt) -> Json {
    let logs: Vec<_> = r
        .logs
        .iter()
        .map(|(level, message)| json!({"level": level.as_str(), "message": message}))
        .collect();
    json!({"offset": r.offset, "logs": logs, "replayed": r.replayed})
}

/// The `Idempotency-Key` header's value: the call's request id.
fn request_id(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let id = value.to_str().map_err(|_| {
        ApiError::bad_request(
            "bad_request_id",
            "the Idempotency-Key header is not visible ASCII",
        )
    })?;
    interstice_core::requests::check_id(id)
        .map_err(|reason| ApiError::bad_request("bad_request_id", reason))?;
    Ok(Some(id.to_owned()))
}

async fn call(
    State(s): Shared,
    Extension(role): Extension<Role>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    args: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let checked = content_type(&headers, &["application/json"]).and_then(|()| request_id(&headers));
    let result = match checked {
        Ok(id) => call_reducer(&s, role, path, args, id.as_deref()).await,
        Err(e) => Err(e),
    };
    let result = result.map_err(|e| s.to_writer(e));
    let outcome = match &result {
        Ok(r) if r.offset.is_some() => "committed",
        Ok(_) => "unchanged",
        Err(e) => e.code,
    };
    s.metrics.call(outcome, started.elapsed());
    match result {
        Ok(receipt) => {
            let mut response = json_response(StatusCode::OK, &receipt_json(&receipt));
            if receipt.replayed {
                response.headers_mut().insert(
                    "idempotent-replayed",
                    axum::http::HeaderValue::from_static("true"),
                );
            }
            response
        }
        Err(e) => e.into_response(),
    }
}

/// Decodes the JSON arguments against the reducer's parameters (as of the
/// executed schema) and calls it.
async fn call_reducer(
    s: &NodeState,
    role: Role,
    path: Result<Path<(String, String)>, PathRejection>,
    args: Result<Bytes, BytesRejection>,
    request_id: Option<&str>,
) -> Result<Receipt, ApiError> {
    let (module_name, reducer) = segments(path)?;
    let args = body(args)?;
    let json: Json = if args.iter().all(u8::is_ascii_whitespace) {
        Json::Array(Vec::new())
    } else {
        serde_json::from_slice(&args).map_err(|e| {
            ApiError::bad_request("malformed_json", format!("the body is not JSON: {e}"))
        })?
    };
    // The schema as executed: the call's commit follows the module's.
    let encoded = s
        .runtime
        .read_executed(|db| -> Result<Vec<u8>, ApiError> {
            let m = module(db, &module_name)?;
            let r = m.schema.find_reducer(&reducer)?;
            if r.visibility != Visibility::Public && role != Role::Admin {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "private_reducer",
                    format!(
                        "`{module_name}.{reducer}` is private: node clients call public reducers; the admin token calls any"
                    ),
                ));
            }
            Ok(encode_args(r, &json)?)
        })??;
    // On the runtime's executor thread: a long reducer does not hold up
    // the async worker this request came in on.
    Ok(s.runtime
        .call_queued(&module_name, &reducer, &encoded, request_id)
        .await?)
}

async fn query(
    State(s): Shared,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (module_name, table_name) = segments(path)?;
    let params = params(raw)?;
    serving(&s)?;
    let limit = params.limit.unwrap_or(s.config.default_rows);
    if limit > s.config.max_rows {
        return Err(ApiError::bad_request(
            "bad_query",
            format!("limit={limit} is above the node's {}", s.config.max_rows),
        ));
    }
    let pick = |db: &Database| -> Result<_, ApiError> {
        let (_, table) = table(module(db, &module_name)?, &table_name)?;
        let filters = filters(table, &params.filters)?;
        // One more than asked, to tell whether there are more.
        let mut rows = select(
            table,
            &filters,
            params.skip.saturating_add(limit).saturating_add(1),
        );
        rows.drain(..params.skip.min(rows.len()));
        Ok((table.schema().clone(), rows))
    };
    // Under the runtime's lock only the selection (shared rows); the
    // JSON is rendered after it is released. A past state is a replay of
    // its own.
    let (schema, rows) = match params.at {
        None => s.runtime.read(pick).await??,
        Some(at) => {
            let past = s.runtime.state_at(at).await.map_err(|e| match e {
                interstice_core::ReplayError::Beyond { .. } => {
                    ApiError::new(StatusCode::NOT_FOUND, "no_such_offset", e.to_string())
                }
                e => ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    e.to_string(),
                ),
            })?;
            pick(&past)?
        }
    };
    let more = rows.len() > limit;
    let rows: Vec<_> = rows
        .iter()
        .take(limit)
        .map(|r| row_json(&schema, r.values()))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({"rows": rows, "more": more}),
    ))
}

async fn metrics(State(s): Shared) -> Response {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        s.metrics.render(),
    )
        .into_response()
}
