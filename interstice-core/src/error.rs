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

/// Why a reducer call did not commit. Every variant names the module and
/// reducer (or the runtime state) and the cause; nothing of the call is in
/// the tables or the log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// No module has that name.
    #[error("no module `{module}`")]
    NoSuchModule {
        /// The name asked for.
        module: String,
    },
    /// The module has no reducer of that name.
    #[error("module `{module}` has no reducer `{reducer}`")]
    NoSuchReducer {
        /// The module.
        module: String,
        /// The name asked for.
        reducer: String,
    },
    /// The arguments do not match the reducer's parameters.
    #[error("{module}.{reducer}: bad arguments: {reason}")]
    BadArguments {
        /// The module.
        module: String,
        /// The reducer.
        reducer: String,
        /// What does not match.
        reason: String,
    },
    /// The reducer returned an error.
    #[error("{module}.{reducer} failed: {message}")]
    Failed {
        /// The module.
        module: String,
        /// The reducer.
        reducer: String,
        /// The reducer's error message.
        message: String,
    },
    /// The reducer trapped (a panic, `unreachable`, an out-of-bounds access).
    #[error("{module}.{reducer} trapped: {message}")]
    Trap {
        /// The module.
        module: String,
        /// The reducer.
        reducer: String,
        /// The trap.
        message: String,
    },
    /// A limit was hit: fuel, memory, row size, write-set size, commit
    /// size, call depth.
    #[error("{module}.{reducer} hit the {limit} limit: {detail}")]
    Limit {
        /// The module.
        module: String,
        /// The reducer.
        reducer: String,
        /// Which limit (`fuel`, `memory`, `row size`, `write set`, `commit
        /// size`, `call depth`).
        limit: &'static str,
        /// Details.
        detail: String,
    },
    /// The module did something it is not allowed to.
    #[error("{module}.{reducer}: capability violation: {detail}")]
    Capability {
        /// The module.
        module: String,
        /// The reducer.
        reducer: String,
        /// What it tried.
        detail: String,
    },
    /// A table refused a change (a unique index, a missing row...).
    #[error("{module}.{reducer}: {source}")]
    Table {
        /// The module.
        module: String,
        /// The reducer.
        reducer: String,
        /// The table's error.
        #[source]
        source: TableError,
    },
    /// The commit could not be made durable; the runtime stopped.
    #[error("commit could not be made durable: {0}")]
    Log(std::sync::Arc<LogError>),
    /// The runtime stopped: after a log failure, an internal error, or a
    /// shutdown.
    #[error("the runtime stopped ({reason}); restart it to recover from the log")]
    Stopped {
        /// The failure.
        reason: String,
    },
}

/// Why publishing a module failed. Nothing was logged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The bytes are not a valid WebAssembly module.
    #[error("not a valid WebAssembly module: {0}")]
    InvalidWasm(String),
    /// The module imports something outside the `interstice` namespace, or
    /// with the wrong signature.
    #[error("module import not provided by Interstice: {0}")]
    BadImport(String),
    /// A required export is missing or has the wrong type.
    #[error("missing or mistyped export `{export}`: {detail}")]
    MissingExport {
        /// The export.
        export: String,
        /// What is wrong.
        detail: String,
    },
    /// `interstice_describe` failed or returned a bad schema.
    #[error("cannot read the module's schema: {0}")]
    Describe(String),
    /// The schema breaks rules.
    #[error("invalid schema:\n{}", .0.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n"))]
    InvalidSchema(Vec<interstice_abi::SchemaError>),
    /// The new version changes the schema incompatibly.
    #[error("incompatible schema change for `{module}`:\n{diff}")]
    Incompatible {
        /// The module.
        module: String,
        /// Every change, breaking ones marked.
        diff: interstice_abi::compat::SchemaDiff,
    },
    /// A subscription or dependency names something it may not use.
    #[error("capability violation: {0}")]
    Capability(String),
    /// The module record would be larger than the largest commit the
    /// runtime logs ([`crate::Limits::max_commit_size`]).
    #[error("the module record encodes to {size} bytes, over the commit size limit of {max}")]
    TooLarge {
        /// The record's encoded commit size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// The module record could not be logged.
    #[error(transparent)]
    Commit(#[from] CallError),
}
