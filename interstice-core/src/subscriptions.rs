//! Which reducers a commit's table changes schedule, in a deterministic
//! order, shared by the runtime (to run them) and the ReplayEngine (to find
//! the ones a crash left unrun).

use bytes::Bytes;
use interstice_abi::TableEvent;
use interstice_log::{Mutation, MutationKind};

use crate::db::Database;

/// A subscribed reducer call a commit scheduled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scheduled {
    /// Offset of the commit whose change triggered it (its cause).
    pub cause: u64,
    /// The subscribing module.
    pub module: String,
    /// Its reducer.
    pub reducer: String,
    /// The encoded arguments: the row (for updates, the new row).
    pub args: Bytes,
    /// How many subscription steps led here (1 for a direct trigger).
    pub depth: u32,
    /// The chain of reducers that led here, for cycle reports.
    pub path: Vec<String>,
}

impl Scheduled {
    /// The table event that triggered it, as `module.table.event`.
    pub fn trigger(&self) -> &str {
        self.path
            .last()
            .and_then(|step| step.split(" -> ").next())
            .unwrap_or("")
    }
}

/// A scheduled call as a snapshot keeps it (the same fields).
impl From<&Scheduled> for interstice_log::snapshot::PendingCall {
    fn from(s: &Scheduled) -> Self {
        Self {
            cause: s.cause,
            module: s.module.clone(),
            reducer: s.reducer.clone(),
            args: s.args.clone(),
            depth: s.depth,
            path: s.path.clone(),
        }
    }
}

impl From<interstice_log::snapshot::PendingCall> for Scheduled {
    fn from(p: interstice_log::snapshot::PendingCall) -> Self {
        Self {
            cause: p.cause,
            module: p.module,
            reducer: p.reducer,
            args: p.args,
            depth: p.depth,
            path: p.path,
        }
    }
}

/// The reducer calls that `mutations` (committed at `cause`) trigger: in
/// mutation order, then subscribing module id, then declaration order.
pub fn triggered(
    db: &Database,
    cause: u64,
    mutations: &[Mutation],
    parent: Option<&Scheduled>,
) -> Vec<Scheduled> {
    let mut out = Vec::new();
    for m in mutations {
        let event = match m.kind {
            MutationKind::Insert => TableEvent::Insert,
            MutationKind::Update => TableEvent::Update,
            MutationKind::Delete => TableEvent::Delete,
            MutationKind::Module => continue,
        };
        let Some(owner) = db.module(m.module_id) else {
            continue;
        };
        let Some(table) = owner.table(m.table_id) else {
            continue;
        };
        let table_name = &table.schema().name;
        for sub_module in db.modules() {
            for s in &sub_module.schema.subscriptions {
                if s.module == owner.schema.name && &s.table == table_name && s.event == event {
                    let step = format!(
                        "{}.{}.{} -> {}.{}",
                        owner.schema.name, table_name, event, sub_module.schema.name, s.reducer
                    );
                    let mut path = parent.map(|p| p.path.clone()).unwrap_or_default();
                    path.push(step);
                    out.push(Scheduled {
                        cause,
                        module: sub_module.schema.name.clone(),
                        reducer: s.reducer.clone(),
                        args: m.row.clone(),
                        depth: parent.map_or(1, |p| p.depth + 1),
                        path,
                    });
                }
            }
        }
    }
    out
}
