//! Subscription cycles: whether a set of modules' subscriptions can
//! trigger each other without end (`a.t.insert → b.r → b.u.update → a.s →
//! a.t.insert`). Publishing and `interstice validate` refuse such a set,
//! naming the path; the runtime's call-depth cut stays as the last guard.
//!
//! The analysis is static and safe: a subscriber may cause every event its
//! reducer declares it writes (`#[reducer(writes(...))]`; every table of
//! its module when it declares nothing, none when it is read-only), and
//! everything the public reducers of its dependencies may cause, since it
//! may call them. The host holds reducers to their declarations, so a
//! set this finds free of cycles cannot loop.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;

use interstice_abi::writes::{ModuleWrites, Reach};
use interstice_abi::{ModuleSchema, TableEvent, Visibility};

/// A module as the analysis sees it: what it declares.
#[derive(Clone, Copy, Debug)]
pub struct Declared<'a> {
    /// Its schema.
    pub schema: &'a ModuleSchema,
    /// What its reducers declare they write.
    pub writes: &'a ModuleWrites,
}

/// `module.table.event`: what a subscription waits for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableChange {
    /// The table's module.
    pub module: String,
    /// The table.
    pub table: String,
    /// The event.
    pub event: TableEvent,
}

impl fmt::Display for TableChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let event = match self.event {
            TableEvent::Insert => "insert",
            TableEvent::Update => "update",
            TableEvent::Delete => "delete",
        };
        write!(f, "{}.{}.{event}", self.module, self.table)
    }
}

/// `module.reducer`.
pub type ReducerName = (String, String);

/// One step a change can take: `from` runs `subscriber`, which (itself,
/// or through the reducers in `via` it calls) may cause `to`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Trigger {
    /// The change subscribed to.
    pub from: TableChange,
    /// The subscription's reducer.
    pub subscriber: ReducerName,
    /// The reducers it calls on the way, in order (empty: it writes the
    /// table itself).
    pub via: Vec<ReducerName>,
    /// The change it may cause.
    pub to: TableChange,
}

/// A cycle: triggers each of which starts where the last ended, the last
/// ending where the first starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cycle(pub Vec<Trigger>);

impl fmt::Display for Cycle {
    /// `a.t.insert → b.r → b.u.update → a.s → a.t.insert`; reducers
    /// called on the way follow their caller.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(first) = self.0.first() else {
            return Ok(());
        };
        write!(f, "{}", first.from)?;
        for t in &self.0 {
            write!(f, " → {}.{}", t.subscriber.0, t.subscriber.1)?;
            for (m, r) in &t.via {
                write!(f, " → {m}.{r}")?;
            }
            write!(f, " → {}", t.to)?;
        }
        Ok(())
    }
}

/// Every trigger of a set of modules.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubscriptionGraph {
    /// The triggers, sorted.
    pub triggers: Vec<Trigger>,
}

impl SubscriptionGraph {
    /// The triggers of `modules` (modules they name but that are not
    /// among them are taken to cause nothing).
    pub fn new(modules: &[Declared<'_>]) -> Self {
        let by_name: BTreeMap<&str, Declared<'_>> = modules
            .iter()
            .map(|m| (m.schema.name.as_str(), *m))
            .collect();
        let mut triggers = Vec::new();
        for m in modules {
            for s in &m.schema.subscriptions {
                let from = TableChange {
                    module: s.module.clone(),
                    table: s.table.clone(),
                    event: s.event,
                };
                let subscriber = (m.schema.name.clone(), s.reducer.clone());
                for (to, via) in reach(&by_name, &subscriber) {
                    triggers.push(Trigger {
                        from: from.clone(),
                        subscriber: subscriber.clone(),
                        via,
                        to,
                    });
                }
            }
        }
        triggers.sort();
        Self { triggers }
    }

    /// A cycle, if there is one (the first by the triggers' order).
    pub fn cycle(&self) -> Option<Cycle> {
        self.first_cycle(|_| true)
    }

    /// A cycle that goes through `module`: one of its tables, subscribers
    /// or reducers called on the way. Publishing `module` refuses it;
    /// cycles elsewhere were there before.
    pub fn cycle_through(&self, module: &str) -> Option<Cycle> {
        self.first_cycle(|t| {
            t.from.module == module
                || t.subscriber.0 == module
                || t.via.iter().any(|(m, _)| m == module)
                || t.to.module == module
        })
    }

    /// Whether each trigger (by index) lies on some cycle: whether its
    /// start can be reached from its end (one search per distinct end).
    pub fn on_cycles(&self) -> Vec<bool> {
        let next = self.next();
        let mut reached: BTreeMap<&TableChange, Vec<&TableChange>> = BTreeMap::new();
        self.triggers
            .iter()
            .map(|t| {
                let from_end = reached
                    .entry(&t.to)
                    .or_insert_with(|| self.search(&next, &t.to, None).into_keys().collect());
                from_end.contains(&&t.from)
            })
            .collect()
    }

    /// The triggers (indexes) that start at each change.
    fn next(&self) -> BTreeMap<&TableChange, Vec<usize>> {
        let mut next: BTreeMap<&TableChange, Vec<usize>> = BTreeMap::new();
        for (i, t) in self.triggers.iter().enumerate() {
            next.entry(&t.from).or_default().push(i);
        }
        next
    }

    /// Breadth first from `start`: every change reached, with the trigger
    /// that first reached it (`None` for `start`); stops at `goal`.
    fn search<'a>(
        &'a self,
        next: &BTreeMap<&TableChange, Vec<usize>>,
        start: &'a TableChange,
        goal: Option<&TableChange>,
    ) -> BTreeMap<&'a TableChange, Option<usize>> {
        let mut came_by: BTreeMap<&TableChange, Option<usize>> = BTreeMap::new();
        came_by.insert(start, None);
        let mut queue = VecDeque::from([start]);
        while let Some(at) = queue.pop_front() {
            if Some(at) == goal {
                break;
            }
            for &i in next.get(at).map(Vec::as_slice).unwrap_or_default() {
                let to = &self.triggers[i].to;
                if !came_by.contains_key(to) {
                    came_by.insert(to, Some(i));
                    queue.push_back(to);
                }
            }
        }
        came_by
    }

    fn first_cycle(&self, wanted: impl Fn(&Trigger) -> bool) -> Option<Cycle> {
        let next = self.next();
        self.triggers.iter().filter(|t| wanted(t)).find_map(|t| {
            let back = self.path(&next, &t.to, &t.from)?;
            let mut steps = vec![t.clone()];
            steps.extend(back.into_iter().map(|i| self.triggers[i].clone()));
            Some(Cycle(steps))
        })
    }

    /// The shortest chain of triggers (indexes) from `start` to `goal`;
    /// empty when they are the same change.
    fn path(
        &self,
        next: &BTreeMap<&TableChange, Vec<usize>>,
        start: &TableChange,
        goal: &TableChange,
    ) -> Option<Vec<usize>> {
        let came_by = self.search(next, start, Some(goal));
        let mut path = Vec::new();
        let mut here = goal;
        loop {
            match came_by.get(here)? {
                None => break,
                Some(i) => {
                    path.push(*i);
                    here = &self.triggers[*i].from;
                }
            }
        }
        path.reverse();
        Some(path)
    }
}

/// Every change `start` may cause, each with the reducers called on the
/// shortest way to it (after `start`).
fn reach(
    modules: &BTreeMap<&str, Declared<'_>>,
    start: &ReducerName,
) -> BTreeMap<TableChange, Vec<ReducerName>> {
    let mut out: BTreeMap<TableChange, Vec<ReducerName>> = BTreeMap::new();
    let mut chains: BTreeMap<ReducerName, Vec<ReducerName>> = BTreeMap::new();
    chains.insert(start.clone(), Vec::new());
    let mut queue = VecDeque::from([start.clone()]);
    while let Some(at) = queue.pop_front() {
        let Some(m) = modules.get(at.0.as_str()) else {
            continue;
        };
        let chain = chains[&at].clone();
        let reducer_writes = m.writes.reach(m.schema, &at.1);
        let mut cause = |table: &str, event: TableEvent| {
            let change = TableChange {
                module: at.0.clone(),
                table: table.to_owned(),
                event,
            };
            out.entry(change).or_insert_with(|| chain.clone());
        };
        match reducer_writes {
            Reach::Nothing => continue,
            Reach::Declared(w) => w.iter().for_each(|w| cause(&w.table, w.event)),
            Reach::Everything => {
                for t in &m.schema.tables {
                    for event in [TableEvent::Insert, TableEvent::Update, TableEvent::Delete] {
                        cause(&t.name, event);
                    }
                }
            }
        }
        // It may call any public reducer of its dependencies.
        for d in &m.schema.dependencies {
            let Some(dep) = modules.get(d.module.as_str()) else {
                continue;
            };
            for r in &dep.schema.reducers {
                let callee = (dep.schema.name.clone(), r.name.clone());
                if r.visibility == Visibility::Public && !chains.contains_key(&callee) {
                    let mut longer = chain.clone();
                    longer.push(callee.clone());
                    chains.insert(callee.clone(), longer);
                    queue.push_back(callee);
                }
            }
        }
    }
    out
}
