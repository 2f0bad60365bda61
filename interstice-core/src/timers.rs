//! Scheduled reducers: when each row of every schedule table is due.
//!
//! A schedule table (`#[table(scheduled(reducer = "..."))]`) asks for a
//! call of its reducer with each of its rows, at the time the row's
//! `ScheduleAt` column says. The due times are state derived from the log
//! alone, so that a restart knows them without running any WebAssembly:
//!
//! - a `Time(t)` row is due at `t` (a time already past runs at once); the
//!   call that runs it deletes it in the same commit;
//! - an `Interval(d)` row is due `d` after the commit that inserted it (or
//!   changed its interval), then at each tick of that grid after its last
//!   run: however many ticks passed while nothing ran (the node was down),
//!   it runs once, then continues at the next tick to come. An interval
//!   under [`MIN_INTERVAL_MICROS`] runs at that interval.
//!
//! [`Timers::observe`] keeps the due times current from each commit, the
//! same way in the runtime (as it commits) and in a replay (as it applies),
//! so a runtime opened on a log runs the same calls, once each, that the
//! one before it would have. Snapshots keep the next tick of each interval
//! row (the one thing the rows do not say).

use std::collections::{BTreeMap, BTreeSet};

use interstice_abi::Value;
use interstice_log::{Commit, MutationKind};

use crate::db::{Database, ModuleState};
use crate::table::Table;

/// The shortest interval a schedule repeats at, in microseconds (1 ms): a
/// row asking for less runs this often.
pub const MIN_INTERVAL_MICROS: u64 = 1_000;

/// A row of a schedule table.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RowId {
    /// The module of the table.
    pub module_id: u32,
    /// The table, by its id in the module.
    pub table_id: u32,
    /// The row's primary key.
    pub key: Value,
}

/// When a schedule row is due, and how it repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timer {
    /// When the row's call is due, in microseconds since the Unix epoch.
    pub due: u64,
    /// Its interval in microseconds, or `None` for a row that runs once.
    pub every: Option<u64>,
}

/// A row of a schedule table, waiting for its call, as people see it
/// ([`Timers::rows`], [`crate::Runtime::scheduled_rows`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduledRow {
    /// The module.
    pub module: String,
    /// The schedule table.
    pub table: String,
    /// The reducer the row calls.
    pub reducer: String,
    /// The row's primary key.
    pub key: Value,
    /// When it is due, in microseconds since the Unix epoch.
    pub due: u64,
    /// Its interval in microseconds, `None` for a row that runs once.
    pub every: Option<u64>,
}

/// What a row's `ScheduleAt` column says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum At {
    Time(u64),
    Interval(u64),
}

/// Every schedule row's [`Timer`], in due order.
#[derive(Clone, Debug, Default)]
pub struct Timers {
    queue: BTreeSet<(u64, RowId)>,
    rows: BTreeMap<RowId, Timer>,
}

impl Timers {
    /// The timers of every schedule row in `db`: a `Time` row's from the
    /// row, an `Interval` row's from `kept` (what a snapshot says) or,
    /// when it says nothing, one interval after `clock`.
    pub fn rebuild(db: &Database, kept: &BTreeMap<RowId, u64>, clock: u64) -> Self {
        let mut timers = Self::default();
        for m in db.modules() {
            timers.load_module(m, clock, |row| kept.get(row).copied());
        }
        timers
    }

    /// How many rows are scheduled.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no row is scheduled.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The row due first (the smallest key first among rows due at the
    /// same time), and its timer.
    pub fn first(&self) -> Option<(&RowId, Timer)> {
        let (_, row) = self.queue.first()?;
        Some((row, self.rows[row]))
    }

    /// The timer of `row`, if it is scheduled.
    pub fn get(&self, row: &RowId) -> Option<Timer> {
        self.rows.get(row).copied()
    }

    /// Every scheduled row of `db` (the state these timers follow), due
    /// first first, named.
    pub fn rows(&self, db: &Database) -> Vec<ScheduledRow> {
        self.iter()
            .filter_map(|(row, timer)| {
                let m = db.module(row.module_id)?;
                let table = m.table(row.table_id)?.schema();
                Some(ScheduledRow {
                    module: m.schema.name.clone(),
                    table: table.name.clone(),
                    reducer: table.schedule.as_ref()?.reducer.clone(),
                    key: row.key.clone(),
                    due: timer.due,
                    every: timer.every,
                })
            })
            .collect()
    }

    /// How many rows wait in each schedule table that has any, by module
    /// and table id.
    pub fn counts(&self) -> BTreeMap<(u32, u32), u64> {
        let mut counts = BTreeMap::new();
        for row in self.rows.keys() {
            *counts.entry((row.module_id, row.table_id)).or_default() += 1;
        }
        counts
    }

    /// Every scheduled row and its timer, in due order.
    pub fn iter(&self) -> impl Iterator<Item = (&RowId, Timer)> {
        self.queue.iter().map(|(_, row)| (row, self.rows[row]))
    }

    /// Brings the timers up to date with `commit`, which `db` (the state
    /// just after it) includes: the run it records moves its interval row
    /// to the next tick; rows inserted, updated and deleted in schedule
    /// tables are scheduled, moved and cancelled; a module record
    /// (publish, unpublish) reschedules that module's rows.
    pub fn observe(&mut self, db: &Database, commit: &Commit) {
        let ran = commit.timestamp;
        if let Some(run) = &commit.invocation.scheduled
            && let Some(m) = db.module_by_name(&commit.invocation.module)
            && let Some(table) = m.table(run.table_id)
            && let Some((key, _)) = schedule_of(table, &commit.invocation.args)
        {
            let row = RowId {
                module_id: m.id,
                table_id: run.table_id,
                key,
            };
            if let Some(Timer {
                every: Some(every), ..
            }) = self.get(&row)
            {
                let due = next_tick(run.due, every, ran);
                self.set(
                    row,
                    Timer {
                        due,
                        every: Some(every),
                    },
                );
            }
        }
        for m in &commit.mutations {
            if m.kind == MutationKind::Module {
                self.reload_module(db, m.module_id, ran);
                continue;
            }
            let Some(table) = db.table(m.module_id, m.table_id) else {
                continue;
            };
            let Some((key, at)) = schedule_of(table, &m.row) else {
                continue;
            };
            let row = RowId {
                module_id: m.module_id,
                table_id: m.table_id,
                key,
            };
            match m.kind {
                MutationKind::Delete => {
                    self.cancel(&row);
                }
                MutationKind::Insert => self.set(row, timer(at, None, ran)),
                // An update that keeps the interval keeps the row's ticks.
                _ => {
                    let kept = self.get(&row);
                    self.set(row, timer(at, kept, ran));
                }
            }
        }
    }

    /// Schedules `row` as `timer` says (replacing its timer, if any).
    fn set(&mut self, row: RowId, timer: Timer) {
        if let Some(old) = self.rows.insert(row.clone(), timer) {
            self.queue.remove(&(old.due, row.clone()));
        }
        self.queue.insert((timer.due, row));
    }

    /// Cancels `row`'s timer (until a commit or an open schedules it again).
    pub(crate) fn cancel(&mut self, row: &RowId) -> Option<Timer> {
        let old = self.rows.remove(row)?;
        self.queue.remove(&(old.due, row.clone()));
        Some(old)
    }

    /// Reschedules module `module_id` after a module record at time `at`:
    /// its rows keep their timers where their table is still a schedule
    /// with the same interval; a removed module's rows are cancelled.
    fn reload_module(&mut self, db: &Database, module_id: u32, at: u64) {
        let ours: Vec<RowId> = self
            .rows
            .range(
                RowId {
                    module_id,
                    table_id: 0,
                    key: Value::Unit,
                }..,
            )
            .take_while(|(row, _)| row.module_id == module_id)
            .map(|(row, _)| row.clone())
            .collect();
        let old: BTreeMap<RowId, Timer> = ours
            .iter()
            .filter_map(|row| Some((row.clone(), self.cancel(row)?)))
            .collect();
        if let Some(m) = db.module(module_id) {
            self.load_module(m, at, |row| old.get(row).map(|t| t.due));
        }
    }

    /// Schedules every row of `m`'s schedule tables; `kept` says when an
    /// interval row is next due, if that is known.
    fn load_module(&mut self, m: &ModuleState, at: u64, kept: impl Fn(&RowId) -> Option<u64>) {
        for (i, table) in m.tables.iter().enumerate() {
            if table.schema().schedule.is_none() {
                continue;
            }
            for r in table.iter() {
                let Some((key, when)) = schedule_of(table, r.bytes()) else {
                    continue;
                };
                let row = RowId {
                    module_id: m.id,
                    table_id: i as u32 + 1,
                    key,
                };
                let known = kept(&row).map(|due| Timer {
                    due,
                    every: match when {
                        At::Interval(d) => Some(d.max(MIN_INTERVAL_MICROS)),
                        At::Time(_) => None,
                    },
                });
                self.set(row, timer(when, known, at));
            }
        }
    }
}

/// The timer of a row whose column says `at`, written at time `now`:
/// `known`, the row's timer before, is kept when the interval is the same.
fn timer(at: At, known: Option<Timer>, now: u64) -> Timer {
    match at {
        At::Time(due) => Timer { due, every: None },
        At::Interval(d) => {
            let every = d.max(MIN_INTERVAL_MICROS);
            match known {
                Some(t) if t.every == Some(every) => t,
                _ => Timer {
                    due: now.saturating_add(every),
                    every: Some(every),
                },
            }
        }
    }
}

/// The first tick of the grid `due + k·every` (k ≥ 1) after `ran`: one run
/// stands for every tick it was late by.
pub fn next_tick(due: u64, every: u64, ran: u64) -> u64 {
    let every = every.max(1);
    let next = due.saturating_add(every);
    if next > ran {
        return next;
    }
    let missed = (ran - next) / every + 1;
    next.saturating_add(missed.saturating_mul(every))
}

/// The primary key of `row` of schedule table `table` when the row runs
/// once (its `ScheduleAt` is a `Time`): the row its call deletes.
pub(crate) fn one_shot_key(table: &Table, row: &[u8]) -> Option<Value> {
    match schedule_of(table, row)? {
        (key, At::Time(_)) => Some(key),
        (_, At::Interval(_)) => None,
    }
}

/// The primary key and `ScheduleAt` of `row`, when `table` is a schedule
/// table and the row decodes.
fn schedule_of(table: &Table, row: &[u8]) -> Option<(Value, At)> {
    let schema = table.schema();
    let at = schema.schedule.as_ref()?.at as usize;
    let mut values = table.decode_row(row).ok()?;
    let when = match values.get(at)? {
        Value::Enum(0, t) => At::Time(as_u64(t)?),
        Value::Enum(1, d) => At::Interval(as_u64(d)?),
        _ => return None,
    };
    let key = values.swap_remove(schema.primary_key as usize);
    Some((key, when))
}

fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::U64(n) => Some(*n),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_run_stands_for_every_tick_missed() {
        assert_eq!(next_tick(100, 10, 105), 110);
        assert_eq!(next_tick(100, 10, 110), 120);
        assert_eq!(next_tick(100, 10, 139), 140);
        assert_eq!(next_tick(100, 10, 140), 150);
        assert_eq!(next_tick(u64::MAX - 5, 10, u64::MAX), u64::MAX);
    }

    #[test]
    fn an_interval_keeps_its_ticks_only_while_it_is_the_same() {
        let known = Timer {
            due: 500,
            every: Some(2_000),
        };
        assert_eq!(timer(At::Interval(2_000), Some(known), 900), known);
        assert_eq!(
            timer(At::Interval(3_000), Some(known), 900),
            Timer {
                due: 3_900,
                every: Some(3_000)
            }
        );
        assert_eq!(
            timer(At::Interval(1), None, 900),
            Timer {
                due: 900 + MIN_INTERVAL_MICROS,
                every: Some(MIN_INTERVAL_MICROS)
            }
        );
        assert_eq!(
            timer(At::Time(42), Some(known), 900),
            Timer {
                due: 42,
                every: None
            }
        );
    }
}
