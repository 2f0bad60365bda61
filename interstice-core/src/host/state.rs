//! What a running reducer's store holds: the database and write set it
//! owns for the call, who is calling, and the call's deterministic inputs.

use std::collections::HashMap;
use std::ops::Bound;
use std::sync::Arc;

use interstice_abi::Value;
use wasmtime::{Memory, StoreLimits, TypedFunc};

use crate::db::{Database, WriteSet};
use crate::error::TableError;
use crate::host::Env;

/// Why the transaction must abort, whatever the reducer returns.
#[derive(Clone, Debug)]
pub(crate) enum Doom {
    Capability(String),
    Table(TableError),
    Limit(&'static str, String),
}

/// A scan in progress: where it is, so it resumes in O(log n) without
/// holding a borrow of the table across host calls.
#[derive(Clone, Debug)]
pub(crate) struct Cursor {
    pub module: u32,
    pub table: u32,
    /// `None` for a primary-key scan.
    pub index: Option<usize>,
    /// Last (index key, primary key) returned.
    pub last: Option<(Vec<Value>, Value)>,
    pub lo: Bound<Vec<Value>>,
    pub hi: Bound<Vec<Value>>,
}

/// Inputs that make a call deterministic: replaying the same commit gives
/// the same values.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CallContext {
    /// Logical time of the transaction (µs since the epoch).
    pub timestamp: u64,
    /// State of the transaction's random generator.
    pub rng: u64,
}

/// The data of a reducer call's wasmtime store.
pub(crate) struct HostState {
    pub db: Database,
    pub ws: WriteSet,
    pub module_id: u32,
    pub module_name: Arc<str>,
    pub reducer: Arc<str>,
    pub read_only: bool,
    pub ctx: CallContext,
    /// The host's engine, limits and modules.
    pub env: Env,
    pub store_limits: StoreLimits,
    pub doom: Option<Doom>,
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
    /// Messages the reducer logged.
    pub logs: Vec<(interstice_abi::wasm::LogLevel, String)>,
}

impl HostState {
    pub(crate) fn doom(&mut self, doom: Doom) {
        if self.doom.is_none() {
            self.last_error = match &doom {
                Doom::Capability(s) => format!("capability violation: {s}"),
                Doom::Table(e) => e.to_string(),
                Doom::Limit(l, d) => format!("{l} limit: {d}"),
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
