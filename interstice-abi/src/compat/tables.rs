//! How a module's tables carry over from one version to the next: which
//! new table continues which old one (by name, or by `renamed_from`), which
//! old column each new column takes its values from, and which changes
//! that leaves compatible.
//!
//! Without a version change a table may only grow: `Option` columns or
//! columns with a default, non-unique indexes. Raising its version also
//! allows dropping columns. A migration from the old version allows any
//! change (it rewrites the rows). Renames (of tables and columns) and
//! dropped tables are allowed when the module declares them.

use super::{Change, Diff};
use crate::schema::{MigrationSchema, ModuleSchema, TableSchema};
use crate::ty::Type;

/// The old table `new` continues: the one with its name, or the one it says
/// it was renamed from.
pub fn table_origin<'a>(old: &'a ModuleSchema, new: &TableSchema) -> Option<&'a TableSchema> {
    old.tables.iter().find(|t| t.name == new.name).or_else(|| {
        let from = new.renamed_from.as_deref()?;
        old.tables.iter().find(|t| t.name == from)
    })
}

/// The migration of `module` (a new version) that rewrites its table `new`
/// from `old`, the published table it continues: the one declared for
/// `new` from `old`'s version. It runs when the version is published.
pub fn migration<'a>(
    module: &'a ModuleSchema,
    old: &TableSchema,
    new: &TableSchema,
) -> Option<&'a MigrationSchema> {
    module
        .migrations
        .iter()
        .find(|m| m.table == new.name && m.from == old.version)
}

/// For each of `new`'s columns, the position of the column of `old` it
/// takes its values from (by `renamed_from`, else by name), or `None` for
/// a column that is new.
pub fn column_origins(old: &TableSchema, new: &TableSchema) -> Vec<Option<usize>> {
    new.columns
        .iter()
        .map(|c| {
            let from = c.renamed_from.as_deref().unwrap_or(&c.name);
            old.columns.iter().position(|o| o.name == from)
        })
        .collect()
}

/// Tables dropped, renamed, changed and added.
pub(super) fn tables(d: &mut Diff, old: &ModuleSchema, new: &ModuleSchema) {
    for t in &old.tables {
        let continued = new
            .tables
            .iter()
            .find(|n| table_origin(old, n).is_some_and(|o| o.name == t.name));
        match continued {
            Some(n) => table(d, new, t, n),
            None if new.dropped_tables.contains(&t.name) => d.compatible(format!(
                "table `{}` dropped (its rows go; the log keeps their history)",
                t.name
            )),
            None => d.breaking(format!(
                "table `{}` removed (to drop it, declare it dropped)",
                t.name
            )),
        }
    }
    for n in &new.tables {
        if table_origin(old, n).is_none() {
            if n.renamed_from.is_some() {
                d.breaking(format!(
                    "table `{}` is renamed from `{}`, which the published version does not have",
                    n.name,
                    n.renamed_from.as_deref().unwrap_or_default()
                ));
            } else {
                d.compatible(format!("table `{}` added", n.name));
            }
        }
    }
}

/// One table in both versions.
fn table(d: &mut Diff, module: &ModuleSchema, old: &TableSchema, new: &TableSchema) {
    let t = format!("table `{}`", new.name);
    if old.name != new.name {
        d.compatible(format!("table `{}` renamed to `{}`", old.name, new.name));
    }
    let migration = migration(module, old, new);
    let raised = new.version > old.version;
    if new.version < old.version {
        d.breaking(format!(
            "{t}: version goes back from {} to {}",
            old.version, new.version
        ));
    } else if raised {
        d.compatible(format!("{t}: version {} -> {}", old.version, new.version));
    }
    if let Some(m) = migration {
        d.compatible(format!(
            "{t}: migration `{}` rewrites the rows of `{}` version {}",
            m.reducer, old.name, m.from
        ));
        old_row_type(d, &t, m, old);
    }
    // Without a migration, what cannot carry the rows over is breaking.
    let needs = |what: String| {
        if migration.is_some() {
            Change::compatible(format!("{what} (breaking without the migration)"))
        } else {
            Change::breaking(format!(
                "{what} (needs a migration from version {})",
                old.version
            ))
        }
    };
    let origins = column_origins(old, new);
    for (i, c) in old.columns.iter().enumerate() {
        if !origins.contains(&Some(i)) {
            let what = format!("{t}: column `{}` dropped", c.name);
            if raised || migration.is_some() {
                d.compatible(what);
            } else {
                d.breaking(format!("{what} (raise the table's version to drop it)"));
            }
        }
    }
    for (c, origin) in new.columns.iter().zip(&origins) {
        match origin.map(|i| &old.columns[i]) {
            Some(o) => {
                if o.name != c.name {
                    d.compatible(format!(
                        "{t}: column `{}` renamed to `{}`",
                        o.name, c.name
                    ));
                }
                if o.ty != c.ty {
                    d.push(needs(format!(
                        "{t}: column `{}` type changed from {} to {}",
                        c.name, o.ty, c.ty
                    )));
                }
            }
            None if c.default.is_some() => {
                let default = c
                    .default
                    .as_deref()
                    .and_then(|bytes| crate::decode_value(&c.ty, bytes).ok())
                    .map_or_else(|| "(undecodable)".to_owned(), |v| v.to_string());
                d.compatible(format!(
                    "{t}: column `{}: {}` added, existing rows take its default {default}",
                    c.name, c.ty
                ))
            }
            None if matches!(c.ty, Type::Option(_)) => d.compatible(format!(
                "{t}: nullable column `{}: {}` added",
                c.name, c.ty
            )),
            None if migration.is_some() => d.compatible(format!(
                "{t}: column `{}: {}` added (the migration writes it; breaking without the migration)",
                c.name, c.ty
            )),
            None => d.push(needs(format!(
                "{t}: column `{}: {}` added without a default or Option (existing rows have no value for it)",
                c.name, c.ty
            ))),
        }
    }
    let old_key = origins
        .iter()
        .position(|o| *o == Some(old.primary_key as usize));
    if old_key != Some(new.primary_key as usize) {
        d.push(needs(format!("{t}: primary key changed")));
    }
    if old.auto_inc != new.auto_inc {
        d.push(needs(format!(
            "{t}: auto_inc changed from {} to {}",
            old.auto_inc, new.auto_inc
        )));
    }
    // Indexes compared by the old columns they cover, whatever the new
    // positions.
    let covered = |columns: &[u16]| -> Vec<Option<usize>> {
        columns
            .iter()
            .map(|&i| origins.get(i as usize).copied().flatten())
            .collect()
    };
    for ix in &old.indexes {
        match new.indexes.iter().find(|n| n.name == ix.name) {
            None => d.compatible(format!("{t}: index `{}` removed", ix.name)),
            Some(n)
                if covered(&n.columns)
                    != ix
                        .columns
                        .iter()
                        .map(|&i| Some(i as usize))
                        .collect::<Vec<_>>()
                    || (n.unique && !ix.unique) =>
            {
                d.push(needs(format!("{t}: index `{}` changed", ix.name)))
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
                d.push(needs(format!(
                    "{t}: unique index `{}` added (existing rows may violate it)",
                    n.name
                )));
            } else {
                d.compatible(format!("{t}: index `{}` added", n.name));
            }
        }
    }
    super::visibility(d, &t, old.visibility, new.visibility);
}

/// The old row type a migration declares must be the published table's:
/// the migration decodes each row with it.
fn old_row_type(d: &mut Diff, t: &str, m: &MigrationSchema, old: &TableSchema) {
    let shape = |cs: &[crate::schema::ColumnSchema]| {
        cs.iter()
            .map(|c| format!("{}: {}", c.name, c.ty))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (declared, published) = (shape(&m.old_columns), shape(&old.columns));
    if !m.old_columns.is_empty() && declared != published {
        d.breaking(format!(
            "{t}: migration `{}` reads version {} rows as ({declared}), but the published table's are ({published})",
            m.reducer, m.from
        ));
    }
}

/// Lists `new`'s tables that `old` already had (by name or rename) in
/// `old`'s order, then the added ones, and returns whether the order
/// changed. A table's id is its position and the log names tables by id,
/// so a new version keeps the ids of the tables it continues; the runtime
/// applies this before [`super::diff`] at publish (the SDK lists tables by
/// name).
pub fn keep_table_order(old: &ModuleSchema, new: &mut ModuleSchema) -> bool {
    let position = |t: &TableSchema| {
        table_origin(old, t).and_then(|o| old.tables.iter().position(|x| x.name == o.name))
    };
    let before: Vec<String> = new.tables.iter().map(|t| t.name.clone()).collect();
    // Stable: continued tables by their old position, new ones after, in
    // the order the module gave.
    new.tables
        .sort_by_key(|t| position(t).unwrap_or(usize::MAX));
    new.tables.iter().map(|t| &t.name).ne(before.iter())
}
