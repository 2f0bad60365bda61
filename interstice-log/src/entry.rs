//! The logical contents of the log: commits, their invocation, and their
//! mutations. These are what backends store (encoded by [`crate::codec`])
//! and what readers get back, verified.

use bytes::Bytes;

/// One committed transaction: the unit of the log.
///
/// A commit is applied whole or not at all. Its `offset` is dense: the
/// first commit of a log has offset 0 and every later one the next integer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commit {
    /// Position in the log (dense, from 0).
    pub offset: u64,
    /// The transaction's logical time, in microseconds since the Unix
    /// epoch. Reducers see it as `now()`; replay reproduces it exactly.
    pub timestamp: u64,
    /// Offset of the commit whose subscription scheduled this transaction,
    /// or `None` for a transaction a caller asked for directly.
    pub cause: Option<u64>,
    /// The reducer call that produced this commit (what `replay-check`
    /// re-executes).
    pub invocation: Invocation,
    /// The transaction's write set, in the order it is applied.
    pub mutations: Vec<Mutation>,
}

/// The `reducer` of a commit that a writer taking an S3 log over appends
/// first, so that the writer it replaces is fenced at its next append: no
/// mutations, no module, the new writer's id as `args`. Names that begin
/// with `@` are the log's and the runtime's own records (a reducer written
/// in Rust cannot have one).
pub const TAKE_OVER_INVOCATION: &str = "@take-over";

/// The reducer call that produced a commit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Invocation {
    /// Name of the module whose reducer ran (at most 65535 bytes of UTF-8).
    pub module: String,
    /// Name of the reducer (at most 65535 bytes of UTF-8).
    pub reducer: String,
    /// The reducer's arguments, in the `interstice-abi` encoding.
    pub args: Bytes,
    /// The id the caller gave the request (at most 65535 bytes of UTF-8,
    /// not empty), kept so that a retry of the same request is answered
    /// with this commit instead of running again. `None` when it had none
    /// (and in every frame before format version 3).
    pub request_id: Option<String>,
    /// How the call ran: when it started, how long it took, and the
    /// cross-module calls inside it. Metadata for traces: replay and
    /// `replay-check` ignore it. `None` in frames before format version 4
    /// and for commits that did not run a reducer (a publish).
    pub timing: Option<CallTiming>,
    /// For a call a schedule made: which schedule and when it was due.
    /// `None` for every other call (and in frames before format version 5).
    pub scheduled: Option<ScheduledRun>,
}

/// What made a scheduled call run: a row of a schedule table (a table
/// whose rows ask for a reducer call at a time, or every interval) came
/// due. The row itself is the call's arguments; the commit's timestamp is
/// when it ran.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScheduledRun {
    /// The schedule table, by its id in the invocation's module.
    pub table_id: u32,
    /// When the row said the call was due, in microseconds since the Unix
    /// epoch: its time, or its interval's tick.
    pub due: u64,
}

/// How a commit's reducer call ran, for traces (`interstice trace`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallTiming {
    /// When the reducer started running: wall-clock microseconds since the
    /// Unix epoch (the commit's `timestamp` is its logical time, which is
    /// close but never earlier than the previous commit's).
    pub started: u64,
    /// How long it ran, in microseconds, its cross-module calls included.
    pub micros: u32,
    /// The cross-module calls made inside it, in the order they started.
    /// A frame keeps as many as fit in its timing section (64 KiB, about
    /// 2,000 calls); `omitted` counts the rest.
    pub calls: Vec<NestedCall>,
    /// Cross-module calls made but not kept in `calls`.
    pub omitted: u32,
}

/// A cross-module call inside a commit's reducer call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NestedCall {
    /// The call that made it: an index into [`CallTiming::calls`] (always
    /// an earlier one), or `None` for the commit's own reducer.
    pub parent: Option<u16>,
    /// The module called (at most 65535 bytes of UTF-8).
    pub module: String,
    /// The reducer called (at most 65535 bytes of UTF-8).
    pub reducer: String,
    /// When it started, in microseconds after [`CallTiming::started`].
    pub start: u32,
    /// How long it ran, in microseconds.
    pub micros: u32,
    /// Whether it failed (its writes were undone; its caller went on).
    pub failed: bool,
}

/// What a [`Mutation`] does. The byte value is part of the log format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MutationKind {
    /// `row` is a new row.
    Insert = 1,
    /// `row` is the row's new value; the primary key inside it names the row.
    Update = 2,
    /// `row` is the deleted row.
    Delete = 3,
    /// A module was published or updated: `row` is an encoded
    /// [`ModuleRecord`], `table_id` is 0 and `schema_hash` is the hash of the
    /// module's whole schema.
    Module = 4,
}

impl MutationKind {
    /// The kind for a byte of the log format, if it names one.
    pub fn from_byte(byte: u8) -> Option<Self> {
        Some(match byte {
            1 => Self::Insert,
            2 => Self::Update,
            3 => Self::Delete,
            4 => Self::Module,
            _ => return None,
        })
    }

    /// Its name where people and tools read it (`insert`, `update`,
    /// `delete`, `module`): the CLI's dumps, the node's events.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Insert => "insert",
            Self::Update => "update",
            Self::Delete => "delete",
            Self::Module => "module",
        }
    }
}

impl std::fmt::Display for MutationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One change in a commit's write set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mutation {
    /// What the mutation does.
    pub kind: MutationKind,
    /// The module that owns the table (assigned when the module is first
    /// published).
    pub module_id: u32,
    /// The table within the module (0 for [`MutationKind::Module`]).
    pub table_id: u32,
    /// Hash of the table's schema at the time of the write; replay refuses a
    /// mutation whose hash does not match the logged schema.
    pub schema_hash: u64,
    /// The row in the `interstice-abi` encoding (or a [`ModuleRecord`]).
    pub row: Bytes,
}

impl Mutation {
    /// A module record mutation, logged when a module is published, updated
    /// or unpublished (a [`ModuleRecord::removal`], schema hash 0).
    pub fn module(module_id: u32, schema_hash: u64, record: &ModuleRecord) -> Self {
        Self {
            kind: MutationKind::Module,
            module_id,
            table_id: 0,
            schema_hash,
            row: record.encode(),
        }
    }
}

/// A module as published: enough to inspect, replay and re-execute a log
/// with exactly the code and schema it was written with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleRecord {
    /// The module's name (at most 65535 bytes of UTF-8).
    pub name: String,
    /// The module's schema in the `interstice-abi` encoding.
    pub schema: Bytes,
    /// The module's WebAssembly binary.
    pub wasm: Bytes,
}

impl ModuleRecord {
    /// Encodes the record: `u16` name length, name, `u32` schema length,
    /// schema, `u32` wasm length, wasm (little-endian).
    ///
    /// # Panics
    /// If the name is longer than `u16::MAX` bytes or the schema or wasm
    /// longer than `u32::MAX` bytes.
    pub fn encode(&self) -> Bytes {
        let mut out =
            Vec::with_capacity(2 + self.name.len() + 8 + self.schema.len() + self.wasm.len());
        let name_len = u16::try_from(self.name.len()).expect("module name longer than 65535 bytes");
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(self.name.as_bytes());
        for part in [&self.schema, &self.wasm] {
            let len = u32::try_from(part.len()).expect("module record part over 4 GiB");
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(part);
        }
        out.into()
    }

    /// The record that unpublishes module `name`: no schema and no wasm.
    /// Replay removes the module and its tables; their history stays in the
    /// log before it.
    pub fn removal(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            schema: Bytes::new(),
            wasm: Bytes::new(),
        }
    }

    /// Whether this record unpublishes its module ([`ModuleRecord::removal`]).
    pub fn is_removal(&self) -> bool {
        self.schema.is_empty() && self.wasm.is_empty()
    }

    /// Decodes a record written by [`ModuleRecord::encode`], without copying
    /// the schema or wasm bytes. Every length is checked against the bytes
    /// present.
    pub fn decode(row: &Bytes) -> Result<Self, crate::codec::FrameError> {
        use crate::codec::FrameError;
        let mut cursor = crate::codec::Cursor::new(row, 0, row.len());
        let name_len = cursor.u16()? as usize;
        let name = cursor.utf8(name_len, "module record name")?;
        let schema_len = cursor.u32()? as usize;
        let schema = cursor.bytes(schema_len)?;
        let wasm_len = cursor.u32()? as usize;
        let wasm = cursor.bytes(wasm_len)?;
        if cursor.remaining() != 0 {
            return Err(FrameError::Malformed {
                reason: format!("{} trailing bytes after module record", cursor.remaining()),
            });
        }
        Ok(Self { name, schema, wasm })
    }
}
