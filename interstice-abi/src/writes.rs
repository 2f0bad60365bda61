//! What a reducer may write, as its author declares it:
//! `#[reducer(writes(users), inserts(mentions))]`.
//!
//! A declaration is what lets the host prove that subscriptions cannot
//! trigger each other in a cycle before a module is published, and the
//! host holds the reducer to it: a write outside it dooms the call. A
//! reducer without one may write every table of its module (a read-only
//! reducer none).
//!
//! Declarations travel outside the schema, in the WebAssembly custom
//! section [`WRITES_SECTION`], so adding one changes neither the schema
//! nor its hash. The section is a concatenation of records (the linker
//! joins one per reducer): a `u32` little-endian length, then a
//! [`DeclaredWrites`] in the [`crate::encoding`]. `docs/abi.md` has the
//! bytes.

use serde::{Deserialize, Serialize};

use crate::encoding::{EncodingError, decode, encode};
use crate::schema::{ModuleSchema, SchemaError, TableEvent};

/// The name of the custom section holding the declarations.
pub const WRITES_SECTION: &str = "interstice.writes";

/// One reducer's declaration: the only table events it may cause.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclaredWrites {
    /// The reducer.
    pub reducer: String,
    /// The events it may cause on its module's tables; empty: it writes
    /// nothing.
    pub writes: Vec<TableWrite>,
}

/// "May cause `event` on `table`" (a table of the reducer's module).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TableWrite {
    /// The table's name.
    pub table: String,
    /// The event.
    pub event: TableEvent,
}

impl DeclaredWrites {
    /// The record as it appears in the section: length, then encoding.
    pub fn to_section_record(&self) -> Result<Vec<u8>, EncodingError> {
        let body = encode(self)?;
        let len = u32::try_from(body.len()).map_err(|_| EncodingError::Encode {
            what: "a write declaration".into(),
            reason: format!("{} bytes", body.len()),
        })?;
        let mut out = Vec::with_capacity(4 + body.len());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Every record of a section's bytes, in order.
    pub fn parse_section(mut bytes: &[u8]) -> Result<Vec<DeclaredWrites>, EncodingError> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let bad = |reason: String| EncodingError::Decode {
                what: format!("the `{WRITES_SECTION}` section's record {}", out.len()),
                reason,
            };
            let Some((len, rest)) = bytes.split_first_chunk::<4>() else {
                return Err(bad(format!("{} bytes left, not a length", bytes.len())));
            };
            let len = u32::from_le_bytes(*len) as usize;
            if rest.len() < len {
                return Err(bad(format!(
                    "a length of {len} bytes with {} left",
                    rest.len()
                )));
            }
            let (body, rest) = rest.split_at(len);
            out.push(decode(body)?);
            bytes = rest;
        }
        Ok(out)
    }
}

/// What each reducer of a module may write, checked against its schema.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModuleWrites {
    declared: Vec<DeclaredWrites>,
}

/// What one reducer may write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach<'a> {
    /// Nothing: a read-only reducer.
    Nothing,
    /// Only these events.
    Declared(&'a [TableWrite]),
    /// Every event on every table of its module: it declared nothing.
    Everything,
}

impl Reach<'_> {
    /// Whether it may cause `event` on `table` (of its own module).
    pub fn allows(&self, table: &str, event: TableEvent) -> bool {
        match self {
            Reach::Nothing => false,
            Reach::Declared(w) => w.iter().any(|w| w.table == table && w.event == event),
            Reach::Everything => true,
        }
    }
}

impl ModuleWrites {
    /// The declarations of `schema`'s module, checked: each names an
    /// existing reducer that is not read-only, once, and tables of the
    /// module. Events are kept sorted and once.
    pub fn new(
        schema: &ModuleSchema,
        declared: Vec<DeclaredWrites>,
    ) -> Result<Self, Vec<SchemaError>> {
        let mut problems = Vec::new();
        let mut out: Vec<DeclaredWrites> = Vec::with_capacity(declared.len());
        for mut d in declared {
            let place = format!("reducer `{}` in `{WRITES_SECTION}`", d.reducer);
            let mut add = |problem: String| {
                problems.push(SchemaError {
                    place: place.clone(),
                    problem,
                })
            };
            match schema.reducer(&d.reducer) {
                None => add("no such reducer".into()),
                Some(r) if r.read_only && !d.writes.is_empty() => {
                    add("a read-only reducer writes nothing".into())
                }
                Some(_) => {}
            }
            if out.iter().any(|o| o.reducer == d.reducer) {
                add("declared twice".into());
            }
            for w in &d.writes {
                if schema.table(&w.table).is_none() {
                    add(format!(
                        "no table `{}` in module `{}` (a reducer writes only its own module's tables)",
                        w.table, schema.name
                    ));
                }
            }
            d.writes.sort();
            d.writes.dedup();
            out.push(d);
        }
        out.sort_by(|a, b| a.reducer.cmp(&b.reducer));
        if problems.is_empty() {
            Ok(Self { declared: out })
        } else {
            Err(problems)
        }
    }

    /// What `reducer` (of `schema`, the same module) may write.
    pub fn reach<'a>(&'a self, schema: &ModuleSchema, reducer: &str) -> Reach<'a> {
        if schema.reducer(reducer).is_some_and(|r| r.read_only) {
            return Reach::Nothing;
        }
        match self.declared.iter().find(|d| d.reducer == reducer) {
            Some(d) => Reach::Declared(&d.writes),
            None => Reach::Everything,
        }
    }

    /// The declarations, by reducer name.
    pub fn declared(&self) -> &[DeclaredWrites] {
        &self.declared
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(reducer: &str, writes: &[(&str, TableEvent)]) -> DeclaredWrites {
        DeclaredWrites {
            reducer: reducer.into(),
            writes: writes
                .iter()
                .map(|(t, e)| TableWrite {
                    table: (*t).into(),
                    event: *e,
                })
                .collect(),
        }
    }

    #[test]
    fn records_concatenate_and_parse_back() {
        let a = declared("send", &[("messages", TableEvent::Insert)]);
        let b = declared("on_message", &[]);
        let mut section = a.to_section_record().unwrap();
        section.extend(b.to_section_record().unwrap());
        assert_eq!(DeclaredWrites::parse_section(&section).unwrap(), [a, b]);
        assert_eq!(DeclaredWrites::parse_section(&[]).unwrap(), []);
    }

    #[test]
    fn a_cut_section_names_its_record() {
        let a = declared("send", &[("messages", TableEvent::Insert)]);
        let mut section = a.to_section_record().unwrap();
        section.extend(a.to_section_record().unwrap());
        section.pop();
        let err = DeclaredWrites::parse_section(&section).unwrap_err();
        assert!(err.to_string().contains("record 1"), "{err}");
        let err = DeclaredWrites::parse_section(&[1, 0]).unwrap_err();
        assert!(err.to_string().contains("not a length"), "{err}");
    }
}
