//! The module graph: modules with their tables and reducers, and the edges
//! between them — which reducer writes which table, cross-module calls,
//! subscriptions (a table event runs a reducer) and dependencies.
//!
//! [`Graph::from_modules`] builds it from modules' declarations alone
//! (with what reducers declare they write, and the subscription cycles
//! [`crate::cycles`] finds, marked);
//! [`Graph::observe`] adds what a log shows happened (calls, rows written
//! per table, cross-module calls from the commits' timing, subscription
//! runs), with counts, so that the busiest paths stand out. It is written
//! as Graphviz `dot` ([`dot`]), GraphML ([`graphml`]), an SVG picture laid
//! out here ([`svg`]) and a self-contained HTML page around it ([`html`]).

pub mod dot;
pub mod graphml;
pub mod html;
mod layout;
pub mod svg;

use std::collections::{BTreeMap, BTreeSet};

use interstice_abi::writes::ModuleWrites;
use interstice_abi::{ModuleSchema, TableEvent, Visibility};
use interstice_log::{Commit, MutationKind};

use crate::PUBLISH_INVOCATION;
use crate::cycles::{Declared, SubscriptionGraph};

/// A node of the graph: a table or a reducer of a module.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Node {
    /// `module.table`.
    Table(String, String),
    /// `module.reducer`.
    Reducer(String, String),
}

impl Node {
    /// Its id in the outputs: `table:module.name` or `reducer:module.name`.
    pub fn id(&self) -> String {
        match self {
            Self::Table(m, t) => format!("table:{m}.{t}"),
            Self::Reducer(m, r) => format!("reducer:{m}.{r}"),
        }
    }

    /// Its module.
    pub fn module(&self) -> &str {
        match self {
            Self::Table(m, _) | Self::Reducer(m, _) => m,
        }
    }

    /// Its name within the module.
    pub fn name(&self) -> &str {
        match self {
            Self::Table(_, n) | Self::Reducer(_, n) => n,
        }
    }
}

/// What an edge says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EdgeKind {
    /// A reducer declares it writes a table, or wrote rows of it (in the
    /// log).
    Writes,
    /// A reducer called another module's reducer inside its transaction.
    Calls,
    /// A table event runs a reducer (a subscription).
    Triggers(TableEvent),
}

impl EdgeKind {
    /// Its name in the outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Writes => "writes",
            Self::Calls => "calls",
            Self::Triggers(_) => "triggers",
        }
    }
}

/// An edge, and what the log shows of it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EdgeCounts {
    /// Calls made along it (calls, subscription runs); for `writes`,
    /// commits that wrote the table.
    pub calls: u64,
    /// Rows written (`writes` edges).
    pub rows: u64,
}

/// A table as the graph shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableInfo {
    /// Its name.
    pub name: String,
    /// Whether other modules may read it.
    pub public: bool,
    /// Its columns, as `name: type`.
    pub columns: Vec<String>,
}

/// A reducer as the graph shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReducerInfo {
    /// Its name.
    pub name: String,
    /// Whether other modules may call it.
    pub public: bool,
    /// Whether it never writes.
    pub read_only: bool,
    /// Its parameters, as `name: type`.
    pub params: Vec<String>,
    /// The table events that run it (its subscriptions).
    pub triggers: Vec<(Node, TableEvent)>,
    /// Calls the log shows (client, subscription and cross-module).
    pub calls: u64,
}

/// A module as the graph shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleInfo {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Modules it declares it calls.
    pub dependencies: Vec<String>,
    /// Its tables, in declaration order.
    pub tables: Vec<TableInfo>,
    /// Its reducers, in declaration order.
    pub reducers: Vec<ReducerInfo>,
}

/// An edge: from, what, to.
pub type Edge = (Node, EdgeKind, Node);

/// Modules, and the edges between their tables and reducers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Graph {
    /// The modules, by name.
    pub modules: BTreeMap<String, ModuleInfo>,
    /// Every edge, with what the log shows of it.
    pub edges: BTreeMap<Edge, EdgeCounts>,
    /// Commits observed ([`Graph::observe`]).
    pub commits: u64,
    /// Subscription cycles ([`Graph::mark_cycles`]), one line each.
    pub cycles: Vec<String>,
    /// The edges on those cycles.
    pub on_cycle: BTreeSet<Edge>,
}

impl Graph {
    /// The graph of `modules` as they declare themselves: their tables
    /// and reducers, an edge for each subscription and each declared
    /// write, and the subscription cycles marked.
    pub fn from_modules(modules: &[Declared<'_>]) -> Self {
        let mut g = Self::default();
        for m in modules {
            g.add_module(m.schema, m.writes);
        }
        g.mark_cycles(modules);
        g
    }

    /// Marks the subscription cycles of `modules` (those of the graph, as
    /// they declare themselves): the edges on each, and a line for each
    /// module's first.
    pub fn mark_cycles(&mut self, modules: &[Declared<'_>]) {
        self.on_cycle.clear();
        let sg = SubscriptionGraph::new(modules);
        for (t, on) in sg.triggers.iter().zip(sg.on_cycles()) {
            if !on {
                continue;
            }
            let subscriber = Node::Reducer(t.subscriber.0.clone(), t.subscriber.1.clone());
            let from = Node::Table(t.from.module.clone(), t.from.table.clone());
            self.on_cycle
                .insert((from, EdgeKind::Triggers(t.from.event), subscriber.clone()));
            let mut caller = subscriber;
            for (m, r) in &t.via {
                let callee = Node::Reducer(m.clone(), r.clone());
                self.mark((caller, EdgeKind::Calls, callee.clone()));
                caller = callee;
            }
            let table = Node::Table(t.to.module.clone(), t.to.table.clone());
            self.mark((caller, EdgeKind::Writes, table));
        }
        let mut lines = BTreeSet::new();
        for m in modules {
            if let Some(c) = sg.cycle_through(&m.schema.name) {
                lines.insert(c.to_string());
            }
        }
        self.cycles = lines.into_iter().collect();
    }

    /// Marks `edge` as on a cycle, adding it if the graph lacks it.
    fn mark(&mut self, edge: Edge) {
        self.edges.entry(edge.clone()).or_default();
        self.on_cycle.insert(edge);
    }

    /// Adds (or replaces, for a new version) `m`, its subscriptions and
    /// what its reducers declare they write.
    pub fn add_module(&mut self, m: &ModuleSchema, writes: &ModuleWrites) {
        let info = ModuleInfo {
            name: m.name.clone(),
            version: m.version.to_string(),
            dependencies: m.dependencies.iter().map(|d| d.module.clone()).collect(),
            tables: m
                .tables
                .iter()
                .map(|t| TableInfo {
                    name: t.name.clone(),
                    public: t.visibility == Visibility::Public,
                    columns: t
                        .columns
                        .iter()
                        .map(|c| format!("{}: {}", c.name, c.ty))
                        .collect(),
                })
                .collect(),
            reducers: m
                .reducers
                .iter()
                .map(|r| ReducerInfo {
                    name: r.name.clone(),
                    public: r.visibility == Visibility::Public,
                    read_only: r.read_only,
                    params: r
                        .params
                        .iter()
                        .map(|p| format!("{}: {}", p.name, p.ty))
                        .collect(),
                    triggers: m
                        .subscriptions
                        .iter()
                        .filter(|s| s.reducer == r.name)
                        .map(|s| (Node::Table(s.module.clone(), s.table.clone()), s.event))
                        .collect(),
                    calls: self.calls_of(&m.name, &r.name),
                })
                .collect(),
        };
        self.modules.insert(m.name.clone(), info);
        for s in &m.subscriptions {
            let from = Node::Table(s.module.clone(), s.table.clone());
            let to = Node::Reducer(m.name.clone(), s.reducer.clone());
            self.edges
                .entry((from, EdgeKind::Triggers(s.event), to))
                .or_default();
        }
        for d in writes.declared() {
            let reducer = Node::Reducer(m.name.clone(), d.reducer.clone());
            for w in &d.writes {
                let table = Node::Table(m.name.clone(), w.table.clone());
                self.edges
                    .entry((reducer.clone(), EdgeKind::Writes, table))
                    .or_default();
            }
        }
    }

    fn calls_of(&self, module: &str, reducer: &str) -> u64 {
        self.modules
            .get(module)
            .and_then(|m| m.reducers.iter().find(|r| r.name == reducer))
            .map_or(0, |r| r.calls)
    }

    fn count_call(&mut self, module: &str, reducer: &str) {
        if let Some(r) = self
            .modules
            .get_mut(module)
            .and_then(|m| m.reducers.iter_mut().find(|r| r.name == reducer))
        {
            r.calls += 1;
        }
    }

    /// Adds what `commit` shows: a module it publishes, the call and
    /// the rows it wrote per table, the cross-module calls inside it, and
    /// the subscription that ran it. `tables` names each `(module id,
    /// table id)` seen so far; module records extend it.
    pub fn observe(&mut self, commit: &Commit, names: &mut TableNames) {
        self.commits += 1;
        let inv = &commit.invocation;
        for m in &commit.mutations {
            if m.kind != MutationKind::Module {
                continue;
            }
            let Ok(record) = interstice_log::ModuleRecord::decode(&m.row) else {
                continue;
            };
            // An unpublished module's nodes stay (its history); it no longer
            // counts among the modules as the log leaves them.
            if record.is_removal() {
                names.modules.remove(&m.module_id);
            } else if let Ok(schema) = interstice_abi::decode_schema(&record.schema) {
                let writes = crate::declared_writes(&record.wasm, &schema).unwrap_or_default();
                self.add_module(&schema, &writes);
                names.modules.insert(m.module_id, (schema, writes));
            }
        }
        if inv.reducer == PUBLISH_INVOCATION || inv.reducer.starts_with('@') {
            return;
        }
        self.count_call(&inv.module, &inv.reducer);
        let me = Node::Reducer(inv.module.clone(), inv.reducer.clone());
        let mut rows: BTreeMap<Node, u64> = BTreeMap::new();
        for m in &commit.mutations {
            if let Some(table) = names.table(m.module_id, m.table_id) {
                *rows.entry(table).or_default() += 1;
            }
        }
        for (table, n) in rows {
            let e = self
                .edges
                .entry((me.clone(), EdgeKind::Writes, table))
                .or_default();
            e.calls += 1;
            e.rows += n;
        }
        if commit.cause.is_some() {
            // The subscriptions that run this reducer: count each (a
            // reducer subscribed to several events counts on all).
            let triggers = self
                .modules
                .get(&inv.module)
                .and_then(|m| m.reducers.iter().find(|r| r.name == inv.reducer))
                .map(|r| r.triggers.clone())
                .unwrap_or_default();
            for (table, event) in triggers {
                let key = (table, EdgeKind::Triggers(event), me.clone());
                if let Some(e) = self.edges.get_mut(&key) {
                    e.calls += 1;
                }
            }
        }
        if let Some(t) = &inv.timing {
            for c in &t.calls {
                let caller = match c.parent.and_then(|p| t.calls.get(p as usize)) {
                    Some(p) => Node::Reducer(p.module.clone(), p.reducer.clone()),
                    None => me.clone(),
                };
                let callee = Node::Reducer(c.module.clone(), c.reducer.clone());
                self.count_call(&c.module, &c.reducer);
                self.edges
                    .entry((caller, EdgeKind::Calls, callee))
                    .or_default()
                    .calls += 1;
            }
        }
    }

    /// The largest count of any edge (for scaling how busy they look).
    pub fn busiest(&self) -> u64 {
        self.edges
            .values()
            .map(|e| e.calls.max(e.rows))
            .max()
            .unwrap_or(0)
    }
}

/// The modules a log published so far, by id: their schemas (to name
/// tables) and what they declare they write.
#[derive(Clone, Debug, Default)]
pub struct TableNames {
    modules: BTreeMap<u32, (ModuleSchema, ModuleWrites)>,
}

impl TableNames {
    /// Starts from the modules already loaded (a snapshot's, when the log's
    /// beginning is gone), by id.
    pub fn with(modules: impl IntoIterator<Item = (u32, ModuleSchema, ModuleWrites)>) -> Self {
        Self {
            modules: modules.into_iter().map(|(id, s, w)| (id, (s, w))).collect(),
        }
    }

    /// The modules as they stand, for [`Graph::mark_cycles`].
    pub fn declared(&self) -> Vec<Declared<'_>> {
        self.modules
            .values()
            .map(|(schema, writes)| Declared { schema, writes })
            .collect()
    }

    fn table(&self, module_id: u32, table_id: u32) -> Option<Node> {
        let (m, _) = self.modules.get(&module_id)?;
        let t = m.tables.get(table_id.checked_sub(1)? as usize)?;
        Some(Node::Table(m.name.clone(), t.name.clone()))
    }
}
