//! Where the debugger stops when it runs through history: at a call of a
//! reducer, at any change to a table, or at a change to one row.

use std::fmt;

use interstice_abi::Value;

use super::Step;

/// A place to stop.
#[derive(Clone, Debug, PartialEq)]
pub enum Breakpoint {
    /// A commit of a call of `module.reducer`.
    Reducer {
        /// The module.
        module: String,
        /// The reducer.
        reducer: String,
    },
    /// A commit that changes a row of `module.table`.
    Table {
        /// `module.table`.
        table: String,
    },
    /// A commit that changes the row of `module.table` with this primary
    /// key ("stop where account 7 changed").
    Row {
        /// `module.table`.
        table: String,
        /// The row's primary key.
        key: Value,
    },
}

impl Breakpoint {
    /// Whether commit `step` hits it.
    pub fn hits(&self, step: &Step) -> bool {
        match self {
            Breakpoint::Reducer { module, reducer } => {
                step.module == *module && step.reducer == *reducer
            }
            Breakpoint::Table { table } => step.touched.iter().any(|(t, _)| t == table),
            Breakpoint::Row { table, key } => {
                step.touched.iter().any(|(t, k)| t == table && k == key)
            }
        }
    }
}

impl fmt::Display for Breakpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Breakpoint::Reducer { module, reducer } => write!(f, "reducer {module}.{reducer}"),
            Breakpoint::Table { table } => write!(f, "table {table}"),
            Breakpoint::Row { table, key } => write!(f, "row {table} {key}"),
        }
    }
}
