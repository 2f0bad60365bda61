//! Comparing two versions of a module's schema: which changes keep the
//! existing log and callers working (compatible) and which do not
//! (breaking). Publishing refuses a breaking change; `schema-diff` prints
//! the list.

use std::fmt;

use crate::schema::{ModuleSchema, ParamSchema, ReducerSchema, SubscriptionSchema, Visibility};

mod tables;

pub use tables::{column_origins, keep_table_order, migration, table_origin};

/// Whether a change keeps existing data and callers working.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compatibility {
    /// Existing rows, logs and callers keep working.
    Compatible,
    /// Something that worked before stops working.
    Breaking,
}

/// One difference between two schemas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// Compatible or breaking.
    pub compatibility: Compatibility,
    /// What changed, in words (e.g. "table `users`: column `age` added").
    pub description: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = match self.compatibility {
            Compatibility::Compatible => "compatible",
            Compatibility::Breaking => "BREAKING",
        };
        write!(f, "[{tag}] {}", self.description)
    }
}

/// All differences from `old` to `new`, in a stable order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SchemaDiff {
    /// The changes.
    pub changes: Vec<Change>,
}

impl SchemaDiff {
    /// True when at least one change is breaking.
    pub fn is_breaking(&self) -> bool {
        self.changes
            .iter()
            .any(|c| c.compatibility == Compatibility::Breaking)
    }

    /// The breaking changes.
    pub fn breaking(&self) -> impl Iterator<Item = &Change> {
        self.changes
            .iter()
            .filter(|c| c.compatibility == Compatibility::Breaking)
    }
}

impl fmt::Display for SchemaDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.changes.is_empty() {
            return f.write_str("no changes");
        }
        for c in &self.changes {
            writeln!(f, "{c}")?;
        }
        Ok(())
    }
}

/// Compares two versions of one module's schema.
///
/// Compatible: added tables, reducers, subscriptions and dependencies;
/// removed subscriptions (nothing stored depends on them); columns added
/// with an `Option` type (old rows read as `None`) or a default; columns
/// and tables renamed with `renamed_from`; columns dropped from a table
/// whose version goes up; tables declared dropped; non-unique indexes
/// added or any index removed; private made public; a newer version
/// number; and, for a table with a migration from its published version,
/// any change to it. Everything else that changes is breaking: removed
/// tables or reducers, retyped columns, changed keys, a new unique index
/// (existing rows may violate it), public made private. [`table_origin`]
/// and [`column_origins`] say which old table and column each new one
/// continues.
pub fn diff(old: &ModuleSchema, new: &ModuleSchema) -> SchemaDiff {
    let mut d = Diff::default();
    if old.name != new.name {
        d.breaking(format!(
            "module renamed from `{}` to `{}`",
            old.name, new.name
        ));
    }
    if new.version < old.version {
        d.breaking(format!(
            "version goes back from {} to {}",
            old.version, new.version
        ));
    } else if new.version != old.version {
        d.compatible(format!("version {} -> {}", old.version, new.version));
    }
    tables::tables(&mut d, old, new);
    reducers(&mut d, old, new);
    subscriptions(&mut d, &old.subscriptions, &new.subscriptions);
    for dep in &new.dependencies {
        if !old.dependencies.contains(dep) {
            d.compatible(format!(
                "dependency on `{}` >= {} added",
                dep.module, dep.min_version
            ));
        }
    }
    SchemaDiff { changes: d.0 }
}

/// Reducers removed, changed or added. A migration reducer of the
/// published version ran when it was published and is never called: it may
/// go.
fn reducers(d: &mut Diff, old: &ModuleSchema, new: &ModuleSchema) {
    for r in &old.reducers {
        let migration = old.migrations.iter().any(|m| m.reducer == r.name);
        match new.reducers.iter().find(|n| n.name == r.name) {
            None if migration => d.compatible(format!("migration reducer `{}` removed", r.name)),
            None => d.breaking(format!("reducer `{}` removed", r.name)),
            Some(n) => reducer(d, r, n),
        }
    }
    for n in &new.reducers {
        if old.reducers.iter().any(|r| r.name == n.name) {
            continue;
        }
        if new.migrations.iter().any(|m| m.reducer == n.name) {
            d.compatible(format!(
                "migration reducer `{}` added (it runs once, in the publish's commit)",
                n.name
            ));
        } else {
            d.compatible(format!("reducer `{}` added", n.name));
        }
    }
}

/// One reducer in both versions: its parameters may not change.
fn reducer(d: &mut Diff, r: &ReducerSchema, n: &ReducerSchema) {
    if r.params != n.params {
        let sig = |p: &[ParamSchema]| {
            p.iter()
                .map(|p| format!("{}: {}", p.name, p.ty))
                .collect::<Vec<_>>()
                .join(", ")
        };
        d.breaking(format!(
            "reducer `{}` parameters changed from ({}) to ({})",
            r.name,
            sig(&r.params),
            sig(&n.params)
        ));
    }
    visibility(
        d,
        &format!("reducer `{}`", r.name),
        r.visibility,
        n.visibility,
    );
    if r.read_only != n.read_only {
        d.compatible(format!(
            "reducer `{}` read_only {} -> {}",
            r.name, r.read_only, n.read_only
        ));
    }
}

/// Subscriptions added or removed: both compatible.
fn subscriptions(d: &mut Diff, old: &[SubscriptionSchema], new: &[SubscriptionSchema]) {
    for s in new {
        if !old.contains(s) {
            d.compatible(format!(
                "subscription {}.{}.{} -> `{}` added",
                s.module, s.table, s.event, s.reducer
            ));
        }
    }
    for s in old {
        if !new.contains(s) {
            d.compatible(format!(
                "subscription {}.{}.{} -> `{}` removed",
                s.module, s.table, s.event, s.reducer
            ));
        }
    }
}

#[derive(Default)]
struct Diff(Vec<Change>);

impl Change {
    /// A compatible change, described.
    pub(crate) fn compatible(description: String) -> Self {
        Change {
            compatibility: Compatibility::Compatible,
            description,
        }
    }

    /// A breaking change, described.
    pub(crate) fn breaking(description: String) -> Self {
        Change {
            compatibility: Compatibility::Breaking,
            description,
        }
    }
}

impl Diff {
    fn push(&mut self, change: Change) {
        self.0.push(change);
    }
    fn compatible(&mut self, description: String) {
        self.0.push(Change {
            compatibility: Compatibility::Compatible,
            description,
        });
    }
    fn breaking(&mut self, description: String) {
        self.0.push(Change {
            compatibility: Compatibility::Breaking,
            description,
        });
    }
}

fn visibility(d: &mut Diff, what: &str, old: Visibility, new: Visibility) {
    match (old, new) {
        (Visibility::Private, Visibility::Public) => d.compatible(format!("{what} made public")),
        (Visibility::Public, Visibility::Private) => d.breaking(format!("{what} made private")),
        _ => {}
    }
}
