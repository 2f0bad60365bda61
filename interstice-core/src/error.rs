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

/// Why a snapshot cannot be loaded: its bytes are damaged, or they are
/// sound but do not describe a state (a table of no module, a row of the
/// wrong type, rows out of order).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotLoadError {
    /// The bytes fail the format's checks (`docs/snapshot-format.md`).
    #[error("damaged snapshot: {0}")]
    Damaged(#[from] interstice_log::snapshot::SnapshotError),
    /// The records contradict each other.
    #[error("inconsistent snapshot: {0}")]
    Inconsistent(String),
}

/// Why a snapshot could not be taken. Nothing was written, or a
/// snapshot store's atomic put failed and left nothing behind.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotTakeError {
    /// The state to snapshot could not be rebuilt.
    #[error("cannot take a snapshot: {0}")]
    Replay(#[from] ReplayError),
    /// The snapshot store refused it.
    #[error("cannot store the snapshot: {0}")]
    Store(#[from] LogError),
    /// The encoding task failed.
    #[error("cannot take a snapshot: the encoding task failed: {0}")]
    Task(String),
}

/// Why replaying a log failed. Always names the commit offset.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The store could not be read, or a frame is bad.
    #[error("replay: reading the log failed: {0}")]
    Log(#[from] LogError),
    /// The log's beginning was removed (retention) and no usable snapshot
    /// covers it.
    #[error(
        "replay: the log starts at offset {first} (retention removed the commits before it) and no usable snapshot covers them{}",
        if skipped.is_empty() { String::new() } else { format!(" ({})", skipped.join("; ")) }
    )]
    NoStart {
        /// The log's first offset.
        first: u64,
        /// The snapshots passed over, and why.
        skipped: Vec<String>,
    },
    /// A snapshot could not be used, and strict recovery refuses to pass
    /// over it.
    #[error("replay: {0} (strict recovery uses no older state instead)")]
    BadSnapshot(crate::replay::SkippedSnapshot),
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
    /// The runtime that was asked has stopped.
    #[error("the runtime stopped ({0})")]
    Stopped(String),
    /// A range of history that ends before it starts.
    #[error("the range {from}..{to} ends before it starts")]
    BadRange {
        /// Its start.
        from: u64,
        /// Its end.
        to: u64,
    },
    /// A point in history the log does not have yet.
    #[error("no commit {offset} in the log: {}", match .last {
        Some(last) => format!("its last commit is {last}"),
        None => "it is empty".to_owned(),
    })]
    Beyond {
        /// The offset asked for.
        offset: u64,
        /// The last offset there is.
        last: Option<u64>,
    },
}

/// Why a reducer call did not commit: which call, and what went wrong.
/// Nothing of the call is in the tables or the log.
#[derive(Debug)]
pub struct CallError {
    /// The module called.
    pub module: String,
    /// The reducer called.
    pub reducer: String,
    /// What went wrong.
    pub kind: CallErrorKind,
}

/// What went wrong in a call (see [`CallError`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum CallErrorKind {
    /// No module has that name.
    NoSuchModule,
    /// The module has no reducer of that name.
    NoSuchReducer,
    /// The arguments do not match the reducer's parameters.
    BadArguments {
        /// What does not match.
        reason: String,
    },
    /// The reducer returned an error.
    Failed {
        /// The reducer's error message.
        message: String,
    },
    /// The reducer trapped (a panic, `unreachable`, an out-of-bounds access).
    Trap {
        /// The trap.
        message: String,
    },
    /// A limit was hit.
    Limit {
        /// Which limit.
        limit: LimitKind,
        /// Details.
        detail: String,
    },
    /// The module did something it is not allowed to.
    Capability {
        /// What it tried.
        detail: String,
    },
    /// A table refused a change (a unique index, a missing row...).
    Table(TableError),
    /// The commit could not be made durable; the runtime stopped.
    Log(std::sync::Arc<LogError>),
    /// The runtime stopped: after a log failure, an internal error, or a
    /// shutdown.
    Stopped {
        /// The failure.
        reason: String,
    },
    /// This runtime follows a log that another process writes: it runs no
    /// call (send it to the writer).
    Follower,
    /// The request id was given before to a different call (another
    /// reducer or other arguments): it names the commit that has it.
    RequestIdReused {
        /// The request id.
        id: String,
        /// The commit that carries it.
        offset: u64,
    },
}

/// The runtime has stopped (after a log failure, an internal error, or a
/// shutdown): it runs no call and serves no read until it is reopened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the runtime stopped ({reason}); restart it to recover from the log")]
pub struct Stopped {
    /// Why it stopped.
    pub reason: String,
}

impl Stopped {
    /// The error of the call `module.reducer`, refused because the
    /// runtime stopped.
    pub fn during(self, module: impl Into<String>, reducer: impl Into<String>) -> CallError {
        CallError::new(
            module,
            reducer,
            CallErrorKind::Stopped {
                reason: self.reason,
            },
        )
    }
}

/// The limits a call can hit ([`crate::Limits`], and the runtime's own).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LimitKind {
    /// Fuel: instructions per call.
    Fuel,
    /// Linear memory per instance.
    Memory,
    /// Encoded size of one row.
    RowSize,
    /// Bytes written by one transaction.
    WriteSet,
    /// Encoded size of one commit.
    CommitSize,
    /// Nesting of cross-module calls.
    CallDepth,
    /// An auto-increment key past what the guest can receive (2^63 - 1).
    AutoIncrement,
    /// Bytes of arguments of the calls waiting to be durable.
    PendingBytes,
}

impl LimitKind {
    /// How messages name the limit (`fuel`, `row size`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fuel => "fuel",
            Self::Memory => "memory",
            Self::RowSize => "row size",
            Self::WriteSet => "write set",
            Self::CommitSize => "commit size",
            Self::CallDepth => "call depth",
            Self::AutoIncrement => "auto-increment",
            Self::PendingBytes => "pending bytes",
        }
    }
}

impl CallErrorKind {
    /// A capability violation.
    pub(crate) fn capability(detail: impl Into<String>) -> Self {
        Self::Capability {
            detail: detail.into(),
        }
    }

    /// A limit hit.
    pub(crate) fn limit(limit: LimitKind, detail: impl Into<String>) -> Self {
        Self::Limit {
            limit,
            detail: detail.into(),
        }
    }
}

impl std::fmt::Display for LimitKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl CallError {
    /// The call `module.reducer` failed with `kind`.
    pub fn new(module: impl Into<String>, reducer: impl Into<String>, kind: CallErrorKind) -> Self {
        Self {
            module: module.into(),
            reducer: reducer.into(),
            kind,
        }
    }

    /// Whether the call's commit may be in the log although the call
    /// failed: the log could not say whether its write was stored
    /// ([`LogError::OutcomeUnknown`]). Every other failed call committed
    /// nothing. A client that needs to know looks at the log once it is
    /// open again.
    pub fn outcome_unknown(&self) -> bool {
        matches!(&self.kind, CallErrorKind::Log(e) if matches!(**e, LogError::OutcomeUnknown { .. }))
    }

    /// The error's code where programs read it: the node's error answers
    /// (`docs/http-api.md`), the metrics' error labels and the call spans'
    /// `outcome`. One of a fixed set, so a label never grows with input.
    pub fn code(&self) -> &'static str {
        use CallErrorKind as K;
        match &self.kind {
            K::NoSuchModule => "no_such_module",
            K::NoSuchReducer => "no_such_reducer",
            K::BadArguments { .. } => "bad_arguments",
            K::Failed { .. } => "reducer_failed",
            K::Table(_) => "table_constraint",
            K::Limit { .. } => "limit_exceeded",
            K::Capability { .. } => "capability_violation",
            K::Trap { .. } => "reducer_trapped",
            K::RequestIdReused { .. } => "request_id_reused",
            K::Follower => "follower",
            K::Log(_) if self.outcome_unknown() => "outcome_unknown",
            K::Log(_) | K::Stopped { .. } => "store_unavailable",
        }
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (module, reducer) = (&self.module, &self.reducer);
        match &self.kind {
            CallErrorKind::NoSuchModule => write!(f, "no module `{module}`"),
            CallErrorKind::NoSuchReducer => {
                write!(f, "module `{module}` has no reducer `{reducer}`")
            }
            CallErrorKind::BadArguments { reason } => {
                write!(f, "{module}.{reducer}: bad arguments: {reason}")
            }
            CallErrorKind::Failed { message } => write!(f, "{module}.{reducer} failed: {message}"),
            CallErrorKind::Trap { message } => write!(f, "{module}.{reducer} trapped: {message}"),
            CallErrorKind::Limit { limit, detail } => {
                write!(f, "{module}.{reducer} hit the {limit} limit: {detail}")
            }
            CallErrorKind::Capability { detail } => {
                write!(f, "{module}.{reducer}: capability violation: {detail}")
            }
            CallErrorKind::Table(source) => write!(f, "{module}.{reducer}: {source}"),
            CallErrorKind::Log(e) => write!(f, "commit could not be made durable: {e}"),
            CallErrorKind::Stopped { reason } => write!(
                f,
                "the runtime stopped ({reason}); restart it to recover from the log"
            ),
            CallErrorKind::Follower => write!(
                f,
                "{module}.{reducer}: this node follows the log read-only; send calls to the node that writes it"
            ),
            CallErrorKind::RequestIdReused { id, offset } => write!(
                f,
                "request id `{id}` was used by a different call, committed at offset {offset} (a retry must repeat the call exactly)"
            ),
        }
    }
}

impl std::error::Error for CallError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            CallErrorKind::Table(e) => Some(e),
            CallErrorKind::Log(e) => Some(&**e),
            _ => None,
        }
    }
}

/// Why publishing a module failed. Nothing was logged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The bytes are not a valid WebAssembly module.
    #[error("not a valid WebAssembly module: {detail}")]
    InvalidWasm {
        /// What the compiler said.
        detail: String,
        /// The compiler's error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The module imports something outside the `interstice` namespace, or
    /// with the wrong signature.
    #[error("module import not provided by Interstice: {detail}")]
    BadImport {
        /// Which imports, and what is wrong with them.
        detail: String,
        /// The linker's error, when it found the problem.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A required export is missing or has the wrong type.
    #[error("missing or mistyped export `{export}`: {detail}")]
    MissingExport {
        /// The export.
        export: String,
        /// What is wrong.
        detail: String,
    },
    /// `interstice_describe` failed or returned a bad schema.
    #[error("cannot read the module's schema: {detail}")]
    Describe {
        /// What went wrong.
        detail: String,
        /// The underlying error, if any.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
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
    /// The module's subscriptions, with the published modules', can
    /// trigger each other without end.
    #[error(
        "subscriptions can trigger each other in a cycle: {0}; declare what the reducers on it write (`#[reducer(writes(...))]`, docs/modules.md) or drop a subscription"
    )]
    SubscriptionCycle(crate::cycles::Cycle),
    /// The module record would be larger than the largest commit the
    /// runtime logs ([`crate::Limits::max_commit_size`]).
    #[error("the module record encodes to {size} bytes, over the commit size limit of {max}")]
    TooLarge {
        /// The record's encoded commit size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// A migration reducer of the new version failed or trapped: nothing
    /// was published.
    #[error(
        "migration `{}` of `{}` from version {} failed, so nothing was published: {}",
        .0.reducer, .0.table, .0.from, .0.error
    )]
    Migration(Box<crate::migrate::MigrationFailure>),
    /// Unpublishing: no module has that name.
    #[error(transparent)]
    NoSuchModule(#[from] interstice_abi::NotFound),
    /// Unpublishing: other published modules depend on the module or
    /// subscribe to its tables; unpublish them first.
    #[error("`{module}` cannot be unpublished while other modules use it: {}", .used_by.join("; "))]
    InUse {
        /// The module.
        module: String,
        /// Who uses it, and how ("`caller` depends on it").
        used_by: Vec<String>,
    },
    /// The module record could not be logged.
    #[error(transparent)]
    Commit(#[from] CallError),
    /// The runtime has stopped.
    #[error(transparent)]
    Stopped(#[from] Stopped),
}

impl PublishError {
    /// The bytes did not compile.
    pub(crate) fn invalid_wasm(e: wasmtime::Error) -> Self {
        Self::InvalidWasm {
            detail: format!("{e:#}"),
            source: Some(e.into()),
        }
    }

    /// The linker refused the module's imports.
    pub(crate) fn bad_import(e: wasmtime::Error) -> Self {
        Self::BadImport {
            detail: format!("{e:#}"),
            source: Some(e.into()),
        }
    }

    /// The module's imports are wrong, as `detail` says.
    pub(crate) fn bad_imports(detail: impl Into<String>) -> Self {
        Self::BadImport {
            detail: detail.into(),
            source: None,
        }
    }

    /// The module's schema could not be read, for a reason said in words.
    pub(crate) fn describe(detail: impl Into<String>) -> Self {
        Self::Describe {
            detail: detail.into(),
            source: None,
        }
    }

    /// Running `interstice_describe`, or reading its result, failed.
    pub(crate) fn describe_failed(e: wasmtime::Error) -> Self {
        Self::Describe {
            detail: format!("{e:#}"),
            source: Some(e.into()),
        }
    }
}
