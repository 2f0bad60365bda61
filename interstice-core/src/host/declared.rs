//! What a module's reducers declare they write, read from its
//! `interstice.writes` custom section ([`interstice_abi::writes`]) without
//! running it, and held against each call: a write outside the
//! declaration dooms the call with a capability violation.

use std::sync::Arc;

use interstice_abi::writes::{DeclaredWrites, ModuleWrites, Reach, WRITES_SECTION};
use interstice_abi::{ModuleSchema, SchemaError, TableEvent};

use crate::error::PublishError;

/// The declarations in `wasm`, checked against `schema` (a module without
/// the section declares nothing: each reducer may write all its tables).
pub fn declared_writes(wasm: &[u8], schema: &ModuleSchema) -> Result<ModuleWrites, PublishError> {
    let bad = |problem: String| {
        PublishError::InvalidSchema(vec![SchemaError {
            place: format!("the `{WRITES_SECTION}` custom section"),
            problem,
        }])
    };
    let mut declared = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(|e| bad(e.to_string()))?;
        if let wasmparser::Payload::CustomSection(section) = payload
            && section.name() == WRITES_SECTION
        {
            declared.extend(
                DeclaredWrites::parse_section(section.data()).map_err(|e| bad(e.to_string()))?,
            );
        }
    }
    ModuleWrites::new(schema, declared).map_err(PublishError::InvalidSchema)
}

/// What one reducer's calls may write, resolved to table ids for the
/// check on every write.
#[derive(Clone, Debug)]
pub(crate) enum WriteRule {
    /// Every table of its module (it declared nothing).
    Any,
    /// Only these `(table id, event)` pairs.
    Only(Arc<[(u32, TableEvent)]>),
}

impl WriteRule {
    /// The rule for `reducer` of `schema`'s module. A read-only reducer
    /// is refused every write before this is asked.
    pub(crate) fn of(writes: &ModuleWrites, schema: &ModuleSchema, reducer: &str) -> Self {
        match writes.reach(schema, reducer) {
            Reach::Everything | Reach::Nothing => WriteRule::Any,
            Reach::Declared(w) => WriteRule::Only(
                w.iter()
                    .filter_map(|w| schema.table(&w.table).map(|(id, _)| (id, w.event)))
                    .collect(),
            ),
        }
    }

    /// Whether it allows `event` on table `table` of its module.
    pub(crate) fn allows(&self, table: u32, event: TableEvent) -> bool {
        match self {
            WriteRule::Any => true,
            WriteRule::Only(pairs) => pairs.contains(&(table, event)),
        }
    }
}
