//! Errors of the runtime, each naming what went wrong and where.

use interstice_log::Error as LogError;

/// A table operation that cannot be done.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// A row's bytes do not decode as the table's row type.
    #[error("table `{table}`: bad row: {reason}")]
    BadRow {
        /// The table.
        table: String,
        /// Why.
        reason: String,
    },
    /// A unique index (or the primary key) already has the key.
    #[error("table `{table}`: unique index `{index}` already has key ({key})")]
    UniqueViolation {
        /// The table.
        table: String,
        /// The index (`primary key` for the key itself).
        index: String,
        /// The duplicate key.
        key: String,
    },
    /// Update or delete of a key that is not there.
    #[error("table `{table}`: no row with primary key {key}")]
    NoSuchRow {
        /// The table.
        table: String,
        /// The key.
        key: String,
    },
    /// The auto-increment key ran past its type's range.
    #[error("table `{table}`: auto-increment key exhausted its integer type")]
    AutoIncExhausted {
        /// The table.
        table: String,
    },
}

/// Why replaying a log failed. Always names the commit offset.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The store could not be read, or a frame is bad.
    #[error("replay: reading the log failed: {0}")]
    Log(#[from] LogError),
    /// A mutation names a module that no earlier module record published.
    #[error("replay: commit {offset}: unknown module id {module_id}")]
    UnknownModule {
        /// The commit.
        offset: u64,
        /// The module id.
        module_id: u32,
    },
    /// A mutation names a table its module does not have.
    #[error("replay: commit {offset}: module `{module}` has no table id {table_id}")]
    UnknownTable {
        /// The commit.
        offset: u64,
        /// The module.
        module: String,
        /// The table id.
        table_id: u32,
    },
    /// A mutation's schema hash is not its table's logged schema hash.
    #[error(
        "replay: commit {offset}: table `{module}.{table}` has schema hash {expected:#018x} in the log's module record, but the mutation carries {found:#018x}"
    )]
    SchemaMismatch {
        /// The commit.
        offset: u64,
        /// The module.
        module: String,
        /// The table.
        table: String,
        /// The hash of the logged schema.
        expected: u64,
        /// The mutation's hash.
        found: u64,
    },
    /// A module record is malformed or its schema is invalid.
    #[error("replay: commit {offset}: bad module record: {reason}")]
    BadModuleRecord {
        /// The commit.
        offset: u64,
        /// Why.
        reason: String,
    },
    /// Applying a mutation failed (the log contradicts itself).
    #[error("replay: commit {offset}: {source}")]
    Apply {
        /// The commit.
        offset: u64,
        /// What failed.
        #[source]
        source: TableError,
    },
}
