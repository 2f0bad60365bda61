//! `counter` in three versions that evolve its schema without migrations,
//! for the evolution tests of the runtime and the CLI.

use interstice_abi::{ColumnSchema, ModuleSchema, Type, Value, encode_value};

use crate::wasm_modules::{COUNTER_FUNCS, counter_schema, module};

/// `counter` without its subscription (a later version renames the table
/// it writes).
pub fn v1() -> ModuleSchema {
    let mut s = counter_schema();
    s.subscriptions.clear();
    s
}

/// v2: `counters.n` renamed `count`, a `label` column with default
/// `"none"`; `seen` renamed `observed`.
pub fn v2() -> ModuleSchema {
    let mut s = v1();
    s.version.minor = 1;
    let counters = &mut s.tables[0];
    counters.columns[1].renamed_from = Some("n".into());
    counters.columns[1].name = "count".into();
    counters.columns.push(ColumnSchema {
        default: Some(encode_value(&Value::String("none".into())).unwrap()),
        ..ColumnSchema::new("label", Type::String)
    });
    let seen = &mut s.tables[1];
    seen.renamed_from = Some("seen".into());
    seen.name = "observed".into();
    s
}

/// v3: `label` dropped (table version 2), `observed` dropped.
pub fn v3() -> ModuleSchema {
    let mut s = v2();
    s.version.minor = 2;
    s.tables[0].columns.pop();
    s.tables[0].version = 2;
    for c in &mut s.tables[0].columns {
        c.renamed_from = None;
    }
    s.tables.truncate(1);
    s.dropped_tables.push("observed".into());
    s
}

/// `schema` as a module with `counter`'s reducers.
pub fn wasm(schema: &ModuleSchema) -> Vec<u8> {
    module(schema, COUNTER_FUNCS)
}
