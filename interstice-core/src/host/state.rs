//! What a running reducer's store holds: the database and write set it
//! owns for the call, who is calling, and the call's deterministic inputs.

use std::collections::HashMap;
use std::sync::Arc;

use wasmtime::{Memory, ResourceLimiter, StoreLimits, TypedFunc};

use crate::db::{Database, WriteSet};
use crate::error::CallErrorKind;
use crate::host::Env;
use crate::table::Scan;

/// A scan in progress: where it is, so it resumes in O(log n) without
/// holding a borrow of the table across host calls.
#[derive(Clone, Debug)]
pub(crate) struct Cursor {
    pub module: u32,
    pub table: u32,
    /// Where the scan is.
    pub scan: Scan,
}

/// Inputs that make a call deterministic: replaying the same commit gives
/// the same values.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CallContext {
    /// Logical time of the transaction (µs since the epoch).
    pub timestamp: u64,
    /// State of the transaction's random generator.
    pub rng: u64,
    /// For a call a schedule made, when its row was due (µs since the
    /// epoch): what the reducer's `ctx.scheduled()` says. Calls it makes
    /// to other modules see `None`.
    pub scheduled: Option<u64>,
}

/// A message a reducer logged, and which reducer: the runtime traces it
/// once the call has ended, with the call's offset.
#[derive(Clone, Debug)]
pub(crate) struct Logged {
    pub level: interstice_abi::wasm::LogLevel,
    pub message: String,
    pub module: Arc<str>,
    pub reducer: Arc<str>,
}

/// A cross-module call that ran inside a call, for its commit's timing.
#[derive(Clone, Debug)]
pub(crate) struct Timed {
    /// The call that made it: an earlier entry of the same list, or `None`
    /// for the reducer whose list it is.
    pub parent: Option<usize>,
    pub module: Arc<str>,
    pub reducer: Arc<str>,
    pub start: std::time::Instant,
    pub micros: u64,
    pub failed: bool,
}

/// The data of a reducer call's wasmtime store.
pub(crate) struct HostState {
    pub db: Database,
    pub ws: WriteSet,
    pub module_id: u32,
    pub module_name: Arc<str>,
    pub reducer: Arc<str>,
    pub read_only: bool,
    /// What the running reducer declared it writes.
    pub writes: crate::host::WriteRule,
    pub ctx: CallContext,
    /// The host's engine, limits and modules.
    pub env: Env,
    /// The store's resource limits.
    pub limiter: Limiter,
    pub doom: Option<CallErrorKind>,
    pub last_error: String,
    pub cursors: HashMap<i64, Cursor>,
    pub next_cursor: i64,
    /// The running instance and its module, to resolve `memory` and
    /// `alloc` on first use (a call that needs neither skips the lookups).
    pub instance: Option<wasmtime::Instance>,
    pub compiled: Option<Arc<crate::host::CompiledModule>>,
    pub memory: Option<Memory>,
    pub alloc: Option<TypedFunc<i32, i32>>,
    /// Nesting of cross-module calls (0 for the outermost).
    pub depth: u32,
    /// Messages the reducer (and the reducers it called) logged.
    pub logs: Vec<Logged>,
    /// Rows handed to the guest (`get` hits, rows a scan returned),
    /// nested calls included.
    pub rows_read: u64,
    /// The cross-module calls it made (and theirs), in the order they
    /// started.
    pub calls: Vec<Timed>,
}

impl HostState {
    /// Dooms the transaction: it aborts with `doom` (the first one given)
    /// whatever the reducer returns; `last_error` says why.
    pub(crate) fn doom(&mut self, doom: CallErrorKind) {
        if self.doom.is_none() {
            self.last_error = match &doom {
                CallErrorKind::Capability { detail } => format!("capability violation: {detail}"),
                CallErrorKind::Table(e) => e.to_string(),
                CallErrorKind::Limit { limit, detail } => format!("{limit} limit: {detail}"),
                other => format!("{other:?}"),
            };
            self.doom = Some(doom);
        }
    }

    /// The next value of the transaction's generator (SplitMix64).
    pub(crate) fn random(&mut self) -> u64 {
        self.ctx.rng = self.ctx.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.ctx.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The store's resource limits ([`StoreLimits`]), remembering whether it
/// refused to grow a memory: that is how a trap is known to be the memory
/// limit, whatever wasmtime's message says.
pub(crate) struct Limiter {
    limits: StoreLimits,
    memory_denied: bool,
}

impl Limiter {
    pub(crate) fn new(limits: StoreLimits) -> Self {
        Self {
            limits,
            memory_denied: false,
        }
    }

    /// Whether a memory growth was refused since the last call; resets.
    pub(crate) fn take_memory_denied(&mut self) -> bool {
        std::mem::take(&mut self.memory_denied)
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum);
        if !matches!(allowed, Ok(true)) {
            self.memory_denied = true;
        }
        allowed
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}
