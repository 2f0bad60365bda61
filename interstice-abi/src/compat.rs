//! Comparing two versions of a module's schema: which changes keep the
//! existing log and callers working (compatible) and which do not
//! (breaking). Publishing refuses a breaking change; `schema-diff` prints
//! the list.

use std::fmt;

use crate::schema::{
    ModuleSchema, ParamSchema, ReducerSchema, SubscriptionSchema, TableSchema, Visibility,
};
use crate::ty::Type;

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
/// removed subscriptions (nothing stored depends on them);
/// columns added at the end of a table with an `Option` type (old rows read
/// as `None`); non-unique indexes added or any index removed; private made
/// public; a newer version number. Everything else that changes is breaking:
/// removed or retyped columns, tables or reducers, changed keys, a new
/// unique index (existing rows may violate it), public made private.
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
    tables(&mut d, &old.tables, &new.tables);
    reducers(&mut d, &old.reducers, &new.reducers);
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

/// Tables removed, changed, added, or reordered (table ids are
/// positions).
fn tables(d: &mut Diff, old: &[TableSchema], new: &[TableSchema]) {
    for t in old {
        match new.iter().find(|n| n.name == t.name) {
            None => d.breaking(format!("table `{}` removed", t.name)),
            Some(n) => table(d, t, n),
        }
    }
    for (i, n) in new.iter().enumerate() {
        if !old.iter().any(|t| t.name == n.name) {
            // Table ids are positions: new tables must come after old ones.
            if i < old.len() {
                d.breaking(format!(
                    "table `{}` added before existing tables (add new tables at the end)",
                    n.name
                ));
            } else {
                d.compatible(format!("table `{}` added", n.name));
            }
        }
    }
    let reordered = old.iter().zip(new).any(|(a, b)| a.name != b.name);
    let all_kept = old.iter().all(|t| new.iter().any(|n| n.name == t.name));
    if reordered && all_kept {
        d.breaking("tables reordered (table ids are positions: keep the order)".into());
    }
}

/// Reducers removed, changed or added.
fn reducers(d: &mut Diff, old: &[ReducerSchema], new: &[ReducerSchema]) {
    for r in old {
        match new.iter().find(|n| n.name == r.name) {
            None => d.breaking(format!("reducer `{}` removed", r.name)),
            Some(n) => reducer(d, r, n),
        }
    }
    for n in new {
        if !old.iter().any(|r| r.name == n.name) {
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

impl Diff {
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

fn table(d: &mut Diff, old: &TableSchema, new: &TableSchema) {
    let t = format!("table `{}`", old.name);
    for (i, c) in old.columns.iter().enumerate() {
        match new.columns.get(i) {
            None => d.breaking(format!("{t}: column `{}` removed", c.name)),
            Some(n) if n.name != c.name => d.breaking(format!(
                "{t}: column {i} changed from `{}` to `{}`",
                c.name, n.name
            )),
            Some(n) if n.ty != c.ty => d.breaking(format!(
                "{t}: column `{}` type changed from {} to {}",
                c.name, c.ty, n.ty
            )),
            Some(_) => {}
        }
    }
    for n in new.columns.iter().skip(old.columns.len()) {
        if matches!(n.ty, Type::Option(_)) {
            d.compatible(format!("{t}: nullable column `{}: {}` added", n.name, n.ty));
        } else {
            d.breaking(format!(
                "{t}: column `{}: {}` added without Option (existing rows have no value for it)",
                n.name, n.ty
            ));
        }
    }
    if old.primary_key != new.primary_key {
        d.breaking(format!("{t}: primary key changed"));
    }
    if old.auto_inc != new.auto_inc {
        d.breaking(format!(
            "{t}: auto_inc changed from {} to {}",
            old.auto_inc, new.auto_inc
        ));
    }
    for ix in &old.indexes {
        match new.indexes.iter().find(|n| n.name == ix.name) {
            None => d.compatible(format!("{t}: index `{}` removed", ix.name)),
            Some(n) if n.columns != ix.columns || (n.unique && !ix.unique) => {
                d.breaking(format!("{t}: index `{}` changed", ix.name))
            }
            Some(n) if n.unique != ix.unique => {
                d.compatible(format!("{t}: index `{}` no longer unique", ix.name))
            }
            Some(_) => {}
        }
    }
    for n in &new.indexes {
        if !old.indexes.iter().any(|ix| ix.name == n.name) {
            if n.unique {
                d.breaking(format!(
                    "{t}: unique index `{}` added (existing rows may violate it)",
                    n.name
                ));
            } else {
                d.compatible(format!("{t}: index `{}` added", n.name));
            }
        }
    }
    visibility(d, &t, old.visibility, new.visibility);
}

/// Lists `new`'s tables that `old` already had in `old`'s order, then the
/// added ones, and returns whether the order changed. A table's id is its
/// position and the log names tables by id, so a new version must not
/// move them; the runtime applies this before [`diff`] at publish (the SDK
/// lists tables by name, so an added table can sort before older ones).
pub fn keep_table_order(old: &ModuleSchema, new: &mut ModuleSchema) -> bool {
    let position = |name: &str| old.tables.iter().position(|t| t.name == name);
    let before: Vec<String> = new.tables.iter().map(|t| t.name.clone()).collect();
    // Stable: known tables by their old position, new ones after, in the
    // order the module gave.
    new.tables
        .sort_by_key(|t| position(&t.name).unwrap_or(usize::MAX));
    new.tables.iter().map(|t| &t.name).ne(before.iter())
}
