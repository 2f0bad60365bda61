//! A replay debugger: history as a timeline of commits to step through,
//! with the state at each one, the selected commit's call and row changes,
//! breakpoints, search, and a re-run of the selected commit. It reads the
//! log once when it opens (commits are kept in memory, with a copy of the
//! state every [`CHECKPOINT_EVERY`] commits, so stepping back is cheap) and
//! never writes it. `interstice debug` is a thin terminal layer over it;
//! the tests drive it directly.

mod breakpoints;

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::TryStreamExt;
use interstice_abi::{ColumnSchema, Value};
use interstice_log::snapshot::SnapshotStore;
use interstice_log::{Commit, LogStore, MutationKind};

pub use breakpoints::Breakpoint;

use crate::db::Database;
use crate::error::ReplayError;
use crate::inspect::{DecodedCommit, Decoder};
use crate::json::{from_json, to_json};
use crate::query::{Filter, QueryError, select};
use crate::replay::apply_mutation;
use crate::{Limits, WasmHost};

/// How many commits apart the debugger keeps a copy of the state.
pub const CHECKPOINT_EVERY: usize = 256;

/// One commit of the timeline, as the debugger lists it.
#[derive(Clone, Debug)]
pub struct Step {
    /// The commit's offset.
    pub offset: u64,
    /// Its time (µs since the Unix epoch).
    pub timestamp: u64,
    /// The module called (or published).
    pub module: String,
    /// The reducer (`@publish`, `@unpublish` for records).
    pub reducer: String,
    /// The commit whose change triggered it (a subscription).
    pub cause: Option<u64>,
    /// For a call a schedule made: its schedule table and when the row
    /// was due (µs since the Unix epoch).
    pub scheduled: Option<(String, u64)>,
    /// The rows it wrote.
    pub rows: usize,
    /// `module.table` and primary key of each row it changed.
    pub touched: Vec<(String, Value)>,
    /// Its arguments as JSON text (`""` for a record), for search.
    pub args: String,
}

/// A row the selected commit changed: `old` before it, `new` after
/// (`None` where the row did not exist).
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// `module.table`.
    pub table: String,
    /// Insert, update or delete.
    pub kind: MutationKind,
    /// The row's primary key.
    pub key: Value,
    /// The row before.
    pub old: Option<Vec<Value>>,
    /// The row after.
    pub new: Option<Vec<Value>>,
}

/// What went wrong in the debugger.
#[derive(Debug, thiserror::Error)]
pub enum DebugError {
    /// The log could not be read or replayed.
    #[error(transparent)]
    Replay(#[from] ReplayError),
    /// The log holds no commit to step through.
    #[error("the log has no commits")]
    Empty,
    /// An offset outside the timeline.
    #[error("no commit {offset} in the timeline: it holds {first}..={last}")]
    NoSuchOffset {
        /// The offset asked for.
        offset: u64,
        /// The first offset there is.
        first: u64,
        /// The last.
        last: u64,
    },
    /// A table the state at the selected commit does not have.
    #[error("no table `{0}` at this commit (write it as module.table)")]
    NoSuchTable(String),
    /// A filter or key that does not fit the table.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// A breakpoint that does not parse.
    #[error("{0}")]
    BadBreakpoint(String),
}

/// The debugger's state: the timeline, where it is, and its breakpoints.
pub struct Debugger {
    steps: Vec<Step>,
    commits: Vec<Commit>,
    /// The state before the first commit of the timeline.
    base: Database,
    /// The state after commit `i`, for every `i` that is a multiple of
    /// [`CHECKPOINT_EVERY`] (and the last).
    checkpoints: BTreeMap<usize, Database>,
    position: usize,
    state: Database,
    changes: Vec<Change>,
    breakpoints: Vec<Breakpoint>,
}

impl Debugger {
    /// Reads the log (from its start, or, when retention removed its
    /// beginning, from the oldest snapshot in `snapshots` whose commit it
    /// holds) and selects its first commit.
    pub async fn open(
        store: &dyn LogStore,
        snapshots: Option<Arc<dyn SnapshotStore>>,
    ) -> Result<Self, DebugError> {
        let first = store.first_offset().await.map_err(ReplayError::from)?;
        let (base, from) = match snapshots {
            _ if first == 0 => (Database::new(), 0),
            Some(snapshots) => {
                crate::replay_check::oldest_usable(store, &*snapshots, first).await?
            }
            None => {
                let skipped = Vec::new();
                return Err(ReplayError::NoStart { first, skipped }.into());
            }
        };
        let mut commits = Vec::new();
        let mut stream = store.read_from(from).await.map_err(ReplayError::from)?;
        while let Some(c) = stream.try_next().await.map_err(ReplayError::from)? {
            commits.push(c);
        }
        if commits.is_empty() {
            return Err(DebugError::Empty);
        }
        let mut decoder = Decoder::with_modules(&base);
        let mut state = base.clone();
        let mut steps = Vec::with_capacity(commits.len());
        let mut checkpoints = BTreeMap::new();
        for (i, c) in commits.iter().enumerate() {
            let changes = apply_tracked(&mut state, c)?;
            steps.push(step(decoder.decode(c.clone()), &changes));
            if i % CHECKPOINT_EVERY == 0 || i + 1 == commits.len() {
                checkpoints.insert(i, state.clone());
            }
        }
        let mut debugger = Self {
            steps,
            commits,
            base,
            checkpoints,
            position: 0,
            state: Database::new(),
            changes: Vec::new(),
            breakpoints: Vec::new(),
        };
        debugger.select(0)?;
        Ok(debugger)
    }

    /// Every commit of the timeline, oldest first.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The index of the selected commit in [`Debugger::steps`].
    pub fn position(&self) -> usize {
        self.position
    }

    /// The selected commit.
    pub fn selected(&self) -> &Step {
        &self.steps[self.position]
    }

    /// The selected commit as logged.
    pub fn commit(&self) -> &Commit {
        &self.commits[self.position]
    }

    /// The rows the selected commit changed, each with its old and new
    /// value.
    pub fn changes(&self) -> &[Change] {
        &self.changes
    }

    /// The state just after the selected commit.
    pub fn state(&self) -> &Database {
        &self.state
    }

    /// Every table at the selected commit, as `module.table`.
    pub fn tables(&self) -> Vec<String> {
        self.state
            .modules()
            .flat_map(|m| {
                m.tables
                    .iter()
                    .map(move |t| format!("{}.{}", m.schema.name, t.schema().name))
            })
            .collect()
    }

    /// Table `table` (`module.table`) at the selected commit: its columns
    /// and the rows passing `filter` (`COLUMN=VALUE`, like `query
    /// --where`).
    pub fn rows(
        &self,
        table: &str,
        filter: Option<&str>,
    ) -> Result<(Vec<ColumnSchema>, Vec<Vec<Value>>), DebugError> {
        let t = self.table(table)?;
        let filters = filter
            .filter(|f| !f.is_empty())
            .map(|f| Filter::parse(t, f))
            .transpose()?;
        let rows = select(t, filters.as_slice(), usize::MAX);
        let rows = rows.iter().map(|r| r.values().to_vec()).collect();
        Ok((t.schema().columns.clone(), rows))
    }

    fn table(&self, table: &str) -> Result<&crate::table::Table, DebugError> {
        let missing = || DebugError::NoSuchTable(table.to_owned());
        let (module, name) = table.split_once('.').ok_or_else(missing)?;
        let m = self.state.module_by_name(module).ok_or_else(missing)?;
        m.table_by_name(name).map(|(_, t)| t).ok_or_else(missing)
    }

    /// Moves one commit forward; `false` at the last.
    pub fn step_forward(&mut self) -> Result<bool, DebugError> {
        if self.position + 1 >= self.steps.len() {
            return Ok(false);
        }
        self.position += 1;
        self.changes = apply_tracked(&mut self.state, &self.commits[self.position])?;
        Ok(true)
    }

    /// Moves one commit back; `false` at the first.
    pub fn step_back(&mut self) -> Result<bool, DebugError> {
        if self.position == 0 {
            return Ok(false);
        }
        self.select(self.position - 1)?;
        Ok(true)
    }

    /// Selects the commit at `offset`.
    pub fn jump_to_offset(&mut self, offset: u64) -> Result<(), DebugError> {
        let first = self.steps[0].offset;
        let last = self.steps[self.steps.len() - 1].offset;
        let i = self
            .steps
            .binary_search_by_key(&offset, |s| s.offset)
            .map_err(|_| DebugError::NoSuchOffset {
                offset,
                first,
                last,
            })?;
        self.select(i)
    }

    /// Selects the first commit at or after `timestamp` (µs since the Unix
    /// epoch), or the last commit when all are before it.
    pub fn jump_to_time(&mut self, timestamp: u64) -> Result<(), DebugError> {
        let i = self.steps.partition_point(|s| s.timestamp < timestamp);
        self.select(i.min(self.steps.len() - 1))
    }

    /// Selects the next commit (after the selected one, or before it when
    /// `!forward`) whose `module.reducer` or arguments contain `text`;
    /// `false` when there is none.
    pub fn search(&mut self, text: &str, forward: bool) -> Result<bool, DebugError> {
        let matches = |s: &Step| {
            format!("{}.{}", s.module, s.reducer).contains(text) || s.args.contains(text)
        };
        let found = if forward {
            (self.position + 1..self.steps.len()).find(|&i| matches(&self.steps[i]))
        } else {
            (0..self.position).rev().find(|&i| matches(&self.steps[i]))
        };
        match found {
            Some(i) => self.select(i).map(|()| true),
            None => Ok(false),
        }
    }

    /// The breakpoints, in the order they were added.
    pub fn breakpoints(&self) -> &[Breakpoint] {
        &self.breakpoints
    }

    /// Adds a breakpoint.
    pub fn add_breakpoint(&mut self, b: Breakpoint) {
        if !self.breakpoints.contains(&b) {
            self.breakpoints.push(b);
        }
    }

    /// Removes breakpoint `i`.
    pub fn remove_breakpoint(&mut self, i: usize) -> Option<Breakpoint> {
        (i < self.breakpoints.len()).then(|| self.breakpoints.remove(i))
    }

    /// Parses `reducer MODULE.REDUCER`, `table MODULE.TABLE` or `row
    /// MODULE.TABLE KEY` (KEY as JSON, or bare text for a string key; its
    /// type is the table's primary key's at the selected commit).
    pub fn parse_breakpoint(&self, text: &str) -> Result<Breakpoint, DebugError> {
        let usage = || {
            DebugError::BadBreakpoint(format!(
                "`{text}`: expected `reducer MODULE.REDUCER`, `table MODULE.TABLE` or `row MODULE.TABLE KEY`"
            ))
        };
        let mut words = text.trim().splitn(3, ' ');
        let (kind, target) = (
            words.next().ok_or_else(usage)?,
            words.next().ok_or_else(usage)?,
        );
        let rest = words.next().map(str::trim);
        match (kind, rest) {
            ("reducer", None) => {
                let (module, reducer) = target.split_once('.').ok_or_else(usage)?;
                Ok(Breakpoint::Reducer {
                    module: module.into(),
                    reducer: reducer.into(),
                })
            }
            ("table", None) => {
                self.table(target)?;
                Ok(Breakpoint::Table {
                    table: target.into(),
                })
            }
            ("row", Some(key)) => {
                let schema = self.table(target)?.schema();
                let pk = &schema.columns[schema.primary_key as usize];
                let json =
                    serde_json::from_str(key).unwrap_or(serde_json::Value::String(key.into()));
                let key = from_json(&json, &pk.ty, &pk.name)
                    .map_err(|e| DebugError::BadBreakpoint(format!("`{text}`: {e}")))?;
                Ok(Breakpoint::Row {
                    table: target.into(),
                    key,
                })
            }
            _ => Err(usage()),
        }
    }

    /// Runs forward (or back, when `!forward`) to the next commit a
    /// breakpoint hits and selects it: the breakpoint, or `None` when the
    /// timeline ended first (the first or last commit is then selected).
    pub fn run(&mut self, forward: bool) -> Result<Option<Breakpoint>, DebugError> {
        let hit = |s: &Step| self.breakpoints.iter().find(|b| b.hits(s)).cloned();
        let found = if forward {
            (self.position + 1..self.steps.len()).find_map(|i| hit(&self.steps[i]).map(|b| (i, b)))
        } else {
            (0..self.position)
                .rev()
                .find_map(|i| hit(&self.steps[i]).map(|b| (i, b)))
        };
        match found {
            Some((i, b)) => {
                self.select(i)?;
                Ok(Some(b))
            }
            None => {
                let end = if forward { self.steps.len() - 1 } else { 0 };
                self.select(end)?;
                Ok(None)
            }
        }
    }

    /// Re-runs the selected commit twice on the state just before it, as
    /// `replay-check` does (with default limits): `None` when both runs
    /// reproduce the logged mutations, else what differs.
    pub fn check_selected(&self) -> Result<Option<String>, DebugError> {
        let before = self.state_after(self.position.checked_sub(1))?;
        let host = WasmHost::new(Limits::default());
        Ok(crate::replay_check::check_commit(
            &host,
            &before,
            self.commit(),
        )?)
    }

    /// Selects commit `i`: the state from the nearest checkpoint before
    /// it, then commit `i` applied with its changes tracked.
    fn select(&mut self, i: usize) -> Result<(), DebugError> {
        let mut state = self.state_after(i.checked_sub(1))?;
        self.changes = apply_tracked(&mut state, &self.commits[i])?;
        self.state = state;
        self.position = i;
        Ok(())
    }

    /// The state after commit `i` (`None`: before the first).
    fn state_after(&self, i: Option<usize>) -> Result<Database, DebugError> {
        let Some(i) = i else {
            return Ok(self.base.clone());
        };
        let (start, mut state) = match self.checkpoints.range(..=i).next_back() {
            Some((&c, db)) => (c + 1, db.clone()),
            None => (0, self.base.clone()),
        };
        for c in &self.commits[start..=i] {
            crate::replay::apply_commit(&mut state, c)?;
        }
        Ok(state)
    }
}

/// Applies `commit`, noting each row it changes with its value before and
/// after.
pub(crate) fn apply_tracked(
    db: &mut Database,
    commit: &Commit,
) -> Result<Vec<Change>, ReplayError> {
    let mut changes = Vec::new();
    for m in &commit.mutations {
        if m.kind == MutationKind::Module {
            apply_mutation(db, commit.offset, m)?;
            continue;
        }
        let named = db.module(m.module_id).and_then(|module| {
            let t = module.table(m.table_id)?;
            let new = t.decode_row(&m.row).ok()?;
            let key = new[t.schema().primary_key as usize].clone();
            let old = t.get(&key).map(|r| r.values());
            let table = format!("{}.{}", module.schema.name, t.schema().name);
            Some((table, key, old, new))
        });
        apply_mutation(db, commit.offset, m)?;
        if let Some((table, key, old, new)) = named {
            let new = (m.kind != MutationKind::Delete).then_some(new);
            changes.push(Change {
                table,
                kind: m.kind,
                key,
                old,
                new,
            });
        }
    }
    Ok(changes)
}

/// A decoded commit as the timeline lists it.
pub(crate) fn step(decoded: DecodedCommit, changes: &[Change]) -> Step {
    let c = &decoded.commit;
    let args = match &decoded.args {
        Some(Ok((value, ty))) => to_json(value, ty).to_string(),
        Some(Err(e)) => format!("(undecodable: {e})"),
        None => String::new(),
    };
    let touched = changes
        .iter()
        .map(|ch| (ch.table.clone(), ch.key.clone()))
        .collect();
    Step {
        offset: c.offset,
        timestamp: c.timestamp,
        module: c.invocation.module.clone(),
        reducer: c.invocation.reducer.clone(),
        cause: c.cause,
        scheduled: decoded
            .schedule_table
            .clone()
            .zip(c.invocation.scheduled.map(|s| s.due)),
        rows: c
            .mutations
            .iter()
            .filter(|m| m.kind != MutationKind::Module)
            .count(),
        touched,
        args,
    }
}
