//! How a module's pieces find each other: every `#[table]`, `#[reducer]`
//! and `dependency!` registers a small record (with `inventory`), and the
//! `interstice_describe` export assembles them into the module's schema.
//!
//! The order is fixed by name (tables, reducers, subscriptions,
//! dependencies), so the schema does not depend on link order. The host
//! keeps a published table's id when a new version lists it elsewhere.

use interstice_abi::{
    ABI_VERSION, Dependency, MigrationSchema, ModuleSchema, ReducerSchema, SubscriptionSchema,
    TableEvent, TableSchema, Version,
};

/// A table, registered by `#[table]`.
pub struct TableDef {
    /// The crate that declared it (the module's name).
    pub crate_name: &'static str,
    /// That crate's version (the module's version).
    pub version: &'static str,
    /// Its schema.
    pub schema: fn() -> TableSchema,
}

/// A reducer, registered by `#[reducer]`.
pub struct ReducerDef {
    /// The crate that declared it (the module's name).
    pub crate_name: &'static str,
    /// That crate's version (the module's version).
    pub version: &'static str,
    /// Its schema.
    pub schema: fn() -> ReducerSchema,
}

/// A subscription, registered by `#[reducer(on = "...")]`.
pub struct SubscriptionDef {
    /// The reducer to run.
    pub reducer: &'static str,
    /// The table's module (empty: this module).
    pub module: &'static str,
    /// The table.
    pub table: &'static str,
    /// The change.
    pub event: TableEvent,
}

/// A module this one calls, registered by `dependency!`.
pub struct DependencyDef {
    /// Its name.
    pub module: &'static str,
    /// The oldest compatible version, `major.minor.patch`.
    pub min_version: &'static str,
}

/// A table an earlier version had, dropped on purpose: registered by
/// `dropped_tables!`.
pub struct DroppedTableDef {
    /// Its name.
    pub name: &'static str,
}

/// A migration, registered by `#[migration]`.
pub struct MigrationDef {
    /// Its reducer.
    pub reducer: &'static str,
    /// The table it rewrites (by its name in this version).
    pub table: &'static str,
    /// The version it rewrites the rows from.
    pub from: u32,
}

/// The rows of a table at an earlier version, registered by
/// `#[table_version]`: their columns go into the migration's schema.
pub struct OldTableDef {
    /// The table (by its name in this version).
    pub table: &'static str,
    /// The version.
    pub version: u32,
    /// The old rows' schema (its columns are what matters).
    pub schema: fn() -> TableSchema,
}

inventory::collect!(TableDef);
inventory::collect!(MigrationDef);
inventory::collect!(OldTableDef);
inventory::collect!(DroppedTableDef);
inventory::collect!(ReducerDef);
inventory::collect!(SubscriptionDef);
inventory::collect!(DependencyDef);

/// Assembles the registered pieces into the module's schema.
pub fn module_schema() -> Result<ModuleSchema, String> {
    let mut origin: Option<(&str, &str)> = None;
    let mut check = |crate_name: &'static str, version: &'static str| match origin {
        None => {
            origin = Some((crate_name, version));
            Ok(())
        }
        Some(o) if o == (crate_name, version) => Ok(()),
        Some((c, _)) => Err(format!(
            "tables or reducers come from two crates, `{c}` and `{crate_name}`: declare a module's tables and reducers in its own crate"
        )),
    };
    let mut tables = Vec::new();
    for t in inventory::iter::<TableDef> {
        check(t.crate_name, t.version)?;
        tables.push((t.schema)());
    }
    let mut reducers = Vec::new();
    for r in inventory::iter::<ReducerDef> {
        check(r.crate_name, r.version)?;
        reducers.push((r.schema)());
    }
    let Some((name, version)) = origin else {
        return Err("the module declares no tables and no reducers".into());
    };
    let version: Version = version
        .parse()
        .map_err(|e| format!("crate version `{version}`: {e}"))?;
    let mut subscriptions: Vec<SubscriptionSchema> = inventory::iter::<SubscriptionDef>
        .into_iter()
        .map(|s| SubscriptionSchema {
            reducer: s.reducer.into(),
            module: if s.module.is_empty() { name } else { s.module }.into(),
            table: s.table.into(),
            event: s.event,
        })
        .collect();
    let mut dependencies = Vec::new();
    for d in inventory::iter::<DependencyDef> {
        dependencies.push(Dependency {
            module: d.module.into(),
            min_version: d
                .min_version
                .parse()
                .map_err(|e| format!("dependency `{}` version: {e}", d.module))?,
        });
    }
    let mut dropped_tables: Vec<String> = inventory::iter::<DroppedTableDef>
        .into_iter()
        .map(|d| d.name.to_owned())
        .collect();
    dropped_tables.sort();
    let mut migrations: Vec<MigrationSchema> = inventory::iter::<MigrationDef>
        .into_iter()
        .map(|m| MigrationSchema {
            reducer: m.reducer.into(),
            table: m.table.into(),
            from: m.from,
            old_columns: inventory::iter::<OldTableDef>
                .into_iter()
                .find(|o| o.table == m.table && o.version == m.from)
                .map(|o| (o.schema)().columns)
                .unwrap_or_default(),
        })
        .collect();
    migrations.sort_by(|a, b| (&a.table, a.from).cmp(&(&b.table, b.from)));
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    reducers.sort_by(|a, b| a.name.cmp(&b.name));
    subscriptions.sort_by(|a, b| {
        (&a.reducer, &a.module, &a.table, a.event).cmp(&(&b.reducer, &b.module, &b.table, b.event))
    });
    dependencies.sort_by(|a, b| a.module.cmp(&b.module));
    Ok(ModuleSchema {
        name: name.into(),
        version,
        abi_version: ABI_VERSION,
        tables,
        reducers,
        subscriptions,
        dependencies,
        migrations,
        dropped_tables,
    })
}

/// The encoded schema, packed (`interstice_abi::wasm::pack`). A module whose pieces do not
/// add up traps here, with the reason in the panic message.
#[cfg(target_arch = "wasm32")]
#[unsafe(no_mangle)]
pub extern "C" fn interstice_describe() -> i64 {
    unsafe extern "C" {
        // Runs the registrations above (wasm-ld's constructors). Calling
        // it here, once, keeps wasm-ld from running them before every
        // reducer call.
        fn __wasm_call_ctors();
    }
    // SAFETY: the linker-generated constructor runner takes no arguments.
    unsafe { __wasm_call_ctors() };
    let schema = match module_schema() {
        Ok(s) => s,
        Err(e) => {
            crate::sys::log(crate::Level::Error, &e);
            panic!("{e}");
        }
    };
    let bytes = interstice_abi::encode_schema(&schema).expect("a schema always encodes");
    crate::sys::give(bytes)
}
