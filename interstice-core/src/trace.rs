//! Call chains from the log, for people and for trace viewers: each
//! commit's reducer call with the cross-module calls inside it (from the
//! commit's timing, format version 4), and the subscription calls it
//! triggered (commits whose `cause` it is), and theirs.
//!
//! [`chains`] builds them from commits in log order; [`to_json`] writes
//! them as nested JSON and [`to_chrome`] as a Chrome trace-event file that
//! Perfetto and `chrome://tracing` open: one slice per call on one track
//! (the runtime runs calls one at a time), cross-module calls nested in
//! their caller's slice, and a flow arrow from each call to the
//! subscriptions it triggered.

use std::collections::HashMap;
use std::ops::Range;

use futures::TryStreamExt;
use interstice_log::{Commit, LogStore, LogStoreExt, NestedCall};
use serde_json::{Value, json};

use crate::PUBLISH_INVOCATION;

/// One call of a chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TracedCall {
    /// The module called.
    pub module: String,
    /// The reducer called (`@publish` for a module's publication).
    pub reducer: String,
    /// `client`, `reducer` (a cross-module call), `subscription`,
    /// `schedule` (a schedule row came due), or `publish`.
    pub caller: &'static str,
    /// The commit (calls that made one).
    pub offset: Option<u64>,
    /// The commit that triggered it (subscription calls).
    pub cause: Option<u64>,
    /// When it started, wall-clock microseconds since the Unix epoch.
    pub started: u64,
    /// How long it ran, in microseconds.
    pub micros: u64,
    /// Whether the log recorded its timing: commits before format version
    /// 4 (and publishes) did not, and show their logical time and no
    /// duration.
    pub timed: bool,
    /// Whether it failed (a cross-module call whose caller went on).
    pub failed: bool,
    /// Rows its commit wrote (calls that made one).
    pub rows_written: u64,
    /// The cross-module calls it made, in the order they started.
    pub calls: Vec<TracedCall>,
    /// Cross-module calls made but not recorded (a frame keeps about
    /// 2,000).
    pub omitted: u32,
    /// The subscription calls its commit triggered, in log order.
    pub triggered: Vec<TracedCall>,
}

/// Commits traced when a range gives no start: the last ones.
pub const DEFAULT_COMMITS: u64 = 10_000;

/// The chains of the commits `range` of `store` (clamped to what it
/// holds, and to `end` when given: a runtime passes how far the log is
/// durable), kept by `filter`.
pub async fn read_chains(
    store: &dyn LogStore,
    range: Range<u64>,
    end: Option<u64>,
    filter: &TraceFilter,
) -> Result<Vec<TracedCall>, interstice_log::Error> {
    let first = store.first_offset().await?;
    let next = match end {
        Some(end) => end,
        None => store.next_offset().await?,
    };
    let from = range.start.max(first);
    let to = range.end.min(next);
    if from >= to {
        return Ok(Vec::new());
    }
    let commits: Vec<Commit> = store
        .read_from(from)
        .await?
        .try_take_while(|c| std::future::ready(Ok(c.offset < to)))
        .try_collect()
        .await?;
    Ok(chains(commits, filter))
}

/// Why a runtime could not trace ([`crate::Runtime::trace`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TraceError {
    /// The runtime was shut down or stopped.
    #[error(transparent)]
    Stopped(#[from] crate::Stopped),
    /// The log could not be read.
    #[error("cannot read the log: {0}")]
    Log(#[from] interstice_log::Error),
}

/// Which chains to keep: those with a call of `module` (and `reducer`).
#[derive(Clone, Debug, Default)]
pub struct TraceFilter {
    /// Keep chains that call this module.
    pub module: Option<String>,
    /// Keep chains that call this reducer (of `module`, if given).
    pub reducer: Option<String>,
}

impl TraceFilter {
    fn matches(&self, c: &TracedCall) -> bool {
        self.module.as_ref().is_none_or(|m| *m == c.module)
            && self.reducer.as_ref().is_none_or(|r| *r == c.reducer)
    }

    fn any(&self, c: &TracedCall) -> bool {
        self.matches(c)
            || c.calls.iter().any(|n| self.any(n))
            || c.triggered.iter().any(|t| self.any(t))
    }
}

/// The call chains of `commits` (consecutive, in log order): one per
/// commit that no earlier commit of them caused, with what it triggered
/// nested under it. A commit whose cause is before the first one given
/// starts a chain of its own (its `cause` says where it came from).
pub fn chains(commits: impl IntoIterator<Item = Commit>, filter: &TraceFilter) -> Vec<TracedCall> {
    let mut nodes: Vec<(TracedCall, Vec<usize>)> = Vec::new();
    let mut at: HashMap<u64, usize> = HashMap::new();
    let mut roots = Vec::new();
    for commit in commits {
        let i = nodes.len();
        at.insert(commit.offset, i);
        match commit.cause.and_then(|c| at.get(&c)) {
            Some(&parent) => nodes[parent].1.push(i),
            None => roots.push(i),
        }
        nodes.push((top_call(&commit), Vec::new()));
    }
    // Children come after their parents: build the trees from the end.
    let mut built: Vec<Option<TracedCall>> = vec![None; nodes.len()];
    for i in (0..nodes.len()).rev() {
        let (mut call, children) = std::mem::take(&mut nodes[i]);
        call.triggered = children
            .into_iter()
            .filter_map(|c| built[c].take())
            .collect();
        built[i] = Some(call);
    }
    roots
        .into_iter()
        .filter_map(|r| built[r].take())
        .filter(|c| filter.any(c))
        .collect()
}

impl Default for TracedCall {
    fn default() -> Self {
        Self {
            module: String::new(),
            reducer: String::new(),
            caller: "client",
            offset: None,
            cause: None,
            started: 0,
            micros: 0,
            timed: false,
            failed: false,
            rows_written: 0,
            calls: Vec::new(),
            omitted: 0,
            triggered: Vec::new(),
        }
    }
}

/// The call a commit records, with its cross-module calls.
fn top_call(c: &Commit) -> TracedCall {
    let inv = &c.invocation;
    let caller = if inv.reducer == PUBLISH_INVOCATION {
        "publish"
    } else if c.cause.is_some() {
        "subscription"
    } else if inv.scheduled.is_some() {
        "schedule"
    } else {
        "client"
    };
    let mut call = TracedCall {
        module: inv.module.clone(),
        reducer: inv.reducer.clone(),
        caller,
        offset: Some(c.offset),
        cause: c.cause,
        started: c.timestamp,
        rows_written: c.mutations.len() as u64,
        ..TracedCall::default()
    };
    if let Some(t) = &inv.timing {
        call.started = t.started;
        call.micros = t.micros.into();
        call.timed = true;
        call.omitted = t.omitted;
        call.calls = nest(&t.calls, t.started, None);
    }
    call
}

/// The calls of `calls` made by `parent` (an index, or the commit's own
/// reducer), each with the ones it made.
fn nest(calls: &[NestedCall], started: u64, parent: Option<u16>) -> Vec<TracedCall> {
    calls
        .iter()
        .enumerate()
        .filter(|(_, c)| c.parent == parent)
        .map(|(i, c)| TracedCall {
            module: c.module.clone(),
            reducer: c.reducer.clone(),
            caller: "reducer",
            started: started + u64::from(c.start),
            micros: c.micros.into(),
            timed: true,
            failed: c.failed,
            calls: nest(calls, started, Some(i as u16)),
            ..TracedCall::default()
        })
        .collect()
}

/// The chains as JSON: `{"chains": [call, ...]}`, each call an object
/// with its fields and its `calls` and `triggered` nested.
pub fn to_json(chains: &[TracedCall]) -> Value {
    fn call(c: &TracedCall) -> Value {
        json!({
            "module": c.module,
            "reducer": c.reducer,
            "caller": c.caller,
            "offset": c.offset,
            "cause": c.cause,
            "started_us": c.started,
            "duration_us": c.micros,
            "timed": c.timed,
            "failed": c.failed,
            "rows_written": c.offset.map(|_| c.rows_written),
            "omitted_calls": c.omitted,
            "calls": c.calls.iter().map(call).collect::<Vec<_>>(),
            "triggered": c.triggered.iter().map(call).collect::<Vec<_>>(),
        })
    }
    json!({ "chains": chains.iter().map(call).collect::<Vec<_>>() })
}

/// The chains as a Chrome trace-event file (JSON object format): `X`
/// slices on one track, and `s`/`f` flow events from each call to the
/// subscriptions its commit triggered.
pub fn to_chrome(chains: &[TracedCall], process: &str) -> Value {
    let mut events = vec![
        json!({"ph": "M", "name": "process_name", "pid": 1, "tid": 1, "args": {"name": process}}),
        json!({"ph": "M", "name": "thread_name", "pid": 1, "tid": 1, "args": {"name": "reducer calls"}}),
    ];
    for c in chains {
        chrome_events(c, &mut events);
    }
    json!({ "traceEvents": events, "displayTimeUnit": "ms" })
}

fn chrome_events(c: &TracedCall, out: &mut Vec<Value>) {
    // A slice needs a width to be seen and to hold a flow's start.
    let dur = c.micros.max(1);
    out.push(json!({
        "name": format!("{}.{}", c.module, c.reducer),
        "cat": c.caller,
        "ph": "X",
        "ts": c.started,
        "dur": dur,
        "pid": 1,
        "tid": 1,
        "args": {
            "offset": c.offset,
            "cause": c.cause,
            "failed": c.failed,
            "timed": c.timed,
            "rows_written": c.rows_written,
        },
    }));
    for n in &c.calls {
        chrome_events(n, out);
    }
    for t in &c.triggered {
        // The arrow leaves from inside the cause's slice and lands on the
        // subscription's.
        let id = t.offset.unwrap_or_default();
        out.push(json!({"name": "triggers", "cat": "subscription", "ph": "s", "id": id, "ts": c.started + dur / 2, "pid": 1, "tid": 1}));
        out.push(json!({"name": "triggers", "cat": "subscription", "ph": "f", "bp": "e", "id": id, "ts": t.started, "pid": 1, "tid": 1}));
        chrome_events(t, out);
    }
}
