//! Client subscriptions: a table's changes as Server-Sent Events.
//!
//! A subscription starts with a `snapshot` of the matching rows, taken at
//! one point of the log and sent once everything before that point is
//! durable, then streams an `insert`, `update` or `delete` event for each
//! change from that point on, each once its commit is durable. With
//! `where` filters, a row that starts matching arrives as an `insert` and
//! one that stops matching as a `delete`, so the client's copy always
//! equals the query. A client too slow to keep up gets an `error` event
//! (`lagged`) and the stream ends; a node shutting down sends `close`.

use std::collections::{BTreeSet, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use interstice_abi::{TableSchema, Type, Value, decode_value};
use interstice_core::DurableCommits;
use interstice_core::query::{Filter, select};
use interstice_core::table::Row;
use interstice_log::MutationKind;
use serde_json::{Value as Json, json};
use tokio::sync::{broadcast, watch};

use crate::NodeState;
use crate::error::ApiError;
use crate::routes::{filters, module, params, row_json, segments, serving, table};

/// What one subscription watches.
struct Watch {
    module_id: u32,
    table_id: u32,
    schema: TableSchema,
    row_type: Type,
    filters: Vec<Filter>,
    /// Primary keys of the rows the client has, when filters make that a
    /// subset of the table.
    matching: Option<BTreeSet<Value>>,
}

/// `GET /v1/modules/{module}/tables/{table}/events?where=...`
pub(crate) async fn subscribe(
    State(s): State<Arc<NodeState>>,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (module_name, table_name) = segments(path)?;
    let params = params(raw)?;
    serving(&s)?;
    if params.at.is_some() {
        return Err(ApiError::bad_request(
            "bad_query",
            "`at` does not apply to subscriptions (they start now; read a past state with GET .../tables/{table}?at=N)",
        ));
    }
    if params.limit.is_some() {
        return Err(ApiError::bad_request(
            "bad_query",
            "`limit` does not apply to subscriptions (the snapshot holds every matching row)",
        ));
    }
    let follow = s
        .runtime
        .follow(|db| -> Result<(Watch, Vec<Row>), ApiError> {
            let m = module(db, &module_name)?;
            let (table_id, table) = table(m, &table_name)?;
            let filters = filters(table, &params.filters)?;
            // Shared rows under the lock; rendered after it is released.
            let rows = select(table, &filters, usize::MAX);
            let pk = table.schema().primary_key as usize;
            let matching = (!filters.is_empty())
                .then(|| rows.iter().map(|r| r.values()[pk].clone()).collect());
            let watch = Watch {
                module_id: m.id,
                table_id,
                schema: table.schema().clone(),
                row_type: table.schema().row_type(),
                filters,
                matching,
            };
            Ok((watch, rows))
        })
        .await?;
    // `follow` returned once every commit in the snapshot was durable.
    let (watch, rows) = follow.value?;
    let seat = Seat::take(&s, (watch.module_id, watch.table_id))?;
    let snapshot: Vec<Json> = rows
        .iter()
        .map(|r| row_json(&watch.schema, r.values()))
        .collect();
    let first = Event::default()
        .event("snapshot")
        .data(json!({"next_offset": follow.from, "rows": snapshot}).to_string());
    s.metrics.subscribers.inc();
    let stream = Follower {
        pending: VecDeque::from([first]),
        from: follow.from,
        commits: follow.commits,
        closing: s.closing.clone(),
        watch,
        state: s.clone(),
        ended: false,
        _seat: seat,
    };
    Ok(Sse::new(stream.into_stream())
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// A subscription's state between events.
struct Follower {
    pending: VecDeque<Event>,
    /// Commits before this offset are in the snapshot.
    from: u64,
    commits: broadcast::Receiver<DurableCommits>,
    closing: watch::Receiver<bool>,
    watch: Watch,
    state: Arc<NodeState>,
    ended: bool,
    _seat: Seat,
}

/// A subscription's place among those open, counted per table and in all,
/// and given back when it ends.
struct Seat {
    state: Arc<NodeState>,
    table: (u32, u32),
}

impl Seat {
    /// A seat at `table`, or `503 too_many_subscribers` naming the limit.
    fn take(state: &Arc<NodeState>, table: (u32, u32)) -> Result<Self, ApiError> {
        let mut open = state.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        let total: usize = open.values().sum();
        let here = open.get(&table).copied().unwrap_or(0);
        let (per_table, all) = (
            state.config.max_subscribers_per_table,
            state.config.max_subscribers,
        );
        if here >= per_table || total >= all {
            let which = if here >= per_table {
                format!("{per_table} on this table")
            } else {
                format!("{all} in all")
            };
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too_many_subscribers",
                format!("the node serves at most {which}; try again later"),
            ));
        }
        *open.entry(table).or_default() += 1;
        Ok(Self {
            state: state.clone(),
            table,
        })
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        let mut open = self
            .state
            .subscribers
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.table) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.table);
            }
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.state.metrics.subscribers.dec();
    }
}

impl Follower {
    fn into_stream(self) -> impl Stream<Item = Result<Event, Infallible>> {
        futures::stream::unfold(self, |mut f| async move {
            let event = f.next().await?;
            Some((Ok(event), f))
        })
    }

    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Some(e);
            }
            if self.ended {
                return None;
            }
            let next = tokio::select! {
                biased;
                _ = self.closing.wait_for(|c| *c) => None,
                batch = self.commits.recv() => Some(batch),
            };
            match next {
                None => self.end("close", "the node is shutting down"),
                Some(Ok(batch)) => self.changes(&batch),
                Some(Err(broadcast::error::RecvError::Lagged(n))) => self.end(
                    "error",
                    &format!("lagged: this client fell {n} appends behind; subscribe again"),
                ),
                Some(Err(broadcast::error::RecvError::Closed)) => {
                    self.end("close", "the node stopped")
                }
            }
        }
    }

    fn end(&mut self, event: &str, message: &str) {
        let data = json!({"message": message}).to_string();
        self.pending
            .push_back(Event::default().event(event).data(data));
        self.ended = true;
    }

    /// Queues the events `batch` makes for this subscription.
    fn changes(&mut self, batch: &DurableCommits) {
        let w = &mut self.watch;
        for commit in batch.iter().filter(|c| c.offset >= self.from) {
            if let Some(why) = republished(w, commit) {
                let message = format!("{why} at offset {}; subscribe again", commit.offset);
                self.end("close", &message);
                return;
            }
            for m in &commit.mutations {
                if m.module_id != w.module_id || m.table_id != w.table_id {
                    continue;
                }
                let row = match decode_value(&w.row_type, &m.row) {
                    Ok(Value::Struct(values)) => values,
                    // The module was republished with another row type.
                    _ => {
                        self.end("close", "the table's schema changed; subscribe again");
                        return;
                    }
                };
                let Some(kind) = classify(w, m.kind, &row) else {
                    continue;
                };
                let data = json!({"offset": commit.offset, "row": row_json(&w.schema, &row)});
                self.pending.push_back(
                    Event::default()
                        .event(kind)
                        .id(commit.offset.to_string())
                        .data(data.to_string()),
                );
            }
        }
    }
}

/// Why the client's copy of `w` ends at `commit`, if it does: the commit
/// unpublishes the module, or publishes a version whose table is not the
/// one the client holds rows of (another schema, or rows its migration
/// rewrote, inserted again in the same commit).
fn republished(w: &Watch, commit: &interstice_log::Commit) -> Option<&'static str> {
    let record = commit
        .mutations
        .iter()
        .find(|m| m.kind == MutationKind::Module && m.module_id == w.module_id)?;
    let record = interstice_log::ModuleRecord::decode(&record.row).ok();
    if record.as_ref().is_some_and(|r| r.is_removal()) {
        return Some("module unpublished");
    }
    let same_table = record
        .and_then(|r| interstice_abi::decode_schema(&r.schema).ok())
        .and_then(|schema| schema.tables.get(w.table_id as usize - 1).cloned())
        .is_some_and(|t| t == w.schema);
    let rewritten = commit
        .mutations
        .iter()
        .any(|m| m.module_id == w.module_id && m.table_id == w.table_id);
    (!same_table || rewritten)
        .then_some("module republished with this table changed or rewritten by a migration")
}

/// What a change to `row` is for a client watching `w` (and updates the
/// keys it holds), or `None` when the client does not see it.
fn classify(w: &mut Watch, kind: MutationKind, row: &[Value]) -> Option<&'static str> {
    let pk = &row[w.schema.primary_key as usize];
    let matches = w.filters.iter().all(|f| f.matches(row));
    let Some(held) = &mut w.matching else {
        return (kind != MutationKind::Module).then_some(kind.as_str());
    };
    let had = held.contains(pk);
    match (kind, had, matches) {
        (MutationKind::Insert | MutationKind::Update, false, true) => {
            held.insert(pk.clone());
            Some(MutationKind::Insert.as_str())
        }
        (MutationKind::Update, true, true) => Some(MutationKind::Update.as_str()),
        (MutationKind::Update | MutationKind::Delete, true, _) => {
            held.remove(pk);
            Some(MutationKind::Delete.as_str())
        }
        _ => None,
    }
}
