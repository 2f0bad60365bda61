//! The WebAssembly host: compiles modules once, and runs each reducer call
//! in a fresh wasmtime store with a fuel budget and memory limits. Modules
//! see only the `interstice` host calls (no WASI); every guest pointer is
//! bounds-checked.

mod checks;
mod declared;
mod imports;
pub(crate) mod state;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use interstice_abi::wasm::{self as exports, LogLevel};
use interstice_abi::{ModuleSchema, ReducerSchema};
use wasmtime::{
    Config, Engine, InstancePre, Linker, Module, Store, StoreLimitsBuilder, Trap, TypedFunc,
};

use crate::db::{Database, WriteSet};
use crate::error::{CallError, CallErrorKind, LimitKind, PublishError};
use crate::observe::{CallMetrics, ReducerStats};
pub(crate) use declared::WriteRule;
pub use declared::declared_writes;
use interstice_abi::writes::ModuleWrites;
use state::{CallContext, HostState, Limiter};

/// Limits on every reducer call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Fuel (roughly, wasm instructions) per call, nested calls included.
    pub fuel: u64,
    /// Largest linear memory of one instance, in bytes (below 2 GiB).
    pub max_memory: usize,
    /// Largest encoded row.
    pub max_row_size: usize,
    /// Largest write set (sum of row bytes) of one transaction, checked
    /// as the reducer writes (at most `max_commit_size`, which also counts
    /// the arguments and framing).
    pub max_write_set: usize,
    /// Largest commit, encoded as a log frame (rows, arguments, names and
    /// framing), checked before the commit enters the durability pipeline
    /// so that a commit too large fails alone. At most the log store's
    /// maximum frame size (both default to 32 MiB), or a store refusal
    /// would stop the runtime.
    pub max_commit_size: u64,
    /// Deepest nesting of cross-module calls.
    pub max_call_depth: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            fuel: 100_000_000,
            max_memory: 64 << 20,
            max_row_size: 1 << 20,
            max_write_set: 32 << 20,
            max_commit_size: interstice_log::LogOptions::DEFAULT_MAX_FRAME_SIZE,
            max_call_depth: 8,
        }
    }
}

/// Instances that can exist at once: calls are serialized, so this bounds
/// cross-module nesting plus concurrent publishes.
const POOL_SLOTS: u32 = 64;

/// A module compiled and linked, ready to instantiate for each call.
pub struct CompiledModule {
    /// Module id in the log.
    pub id: u32,
    /// Its schema.
    pub schema: ModuleSchema,
    /// What its reducers declare they write.
    pub writes: ModuleWrites,
    name: Arc<str>,
    pre: InstancePre<HostState>,
    reducers: HashMap<String, Arc<ReducerEntry>>,
    memory_export: wasmtime::ModuleExport,
    alloc_export: wasmtime::ModuleExport,
}

/// What a call needs about a reducer, computed once at load.
pub(crate) struct ReducerEntry {
    pub schema: ReducerSchema,
    /// Its name, shared with every call's state.
    pub name: Arc<str>,
    /// The type of its encoded arguments.
    pub args_type: interstice_abi::Type,
    /// Its export, resolved once.
    export_index: wasmtime::ModuleExport,
    /// Its counters, for metrics (kept across the module's versions).
    pub stats: Arc<ReducerStats>,
    /// The tables and events it may write.
    pub writes: WriteRule,
}

impl std::fmt::Debug for ReducerEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReducerEntry")
            .field("schema", &self.schema)
            .finish()
    }
}

impl CompiledModule {
    /// The reducer named `name`.
    pub(crate) fn reducer(&self, name: &str) -> Option<&Arc<ReducerEntry>> {
        self.reducers.get(name)
    }
}

impl std::fmt::Debug for CompiledModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledModule")
            .field("id", &self.id)
            .field("name", &self.schema.name)
            .finish()
    }
}

/// The engine and the host calls, built once per runtime.
#[derive(Clone)]
pub struct WasmHost {
    engine: Engine,
    linker: Arc<Linker<HostState>>,
    /// The type of each host function, by name, to check imports against.
    host_imports: Arc<HashMap<String, wasmtime::FuncType>>,
    limits: Limits,
    instantiations: Arc<AtomicU64>,
    /// Every reducer's counters ([`crate::observe`]).
    metrics: Arc<CallMetrics>,
    /// Whether calls are counted and traced ([`WasmHost::observing`]).
    observe: bool,
}

impl WasmHost {
    /// A host whose calls run within `limits`.
    pub fn new(limits: Limits) -> Self {
        let mut config = Config::new();
        config.consume_fuel(true);
        // Instances come from a pool of pre-reserved slots, with
        // copy-on-write memory images: a fresh instance per call costs
        // about a microsecond instead of an mmap and a full memory init.
        let mut pool = wasmtime::PoolingAllocationConfig::default();
        pool.total_core_instances(POOL_SLOTS)
            .total_memories(POOL_SLOTS)
            .total_tables(POOL_SLOTS)
            .max_memory_size(limits.max_memory)
            // Reset dirty pages in place (only those, where the kernel can
            // tell us which) instead of unmapping them: no madvise and no
            // TLB shootdown per call.
            .linear_memory_keep_resident(256 << 10)
            .table_keep_resident(0)
            .pagemap_scan(wasmtime::Enabled::Auto)
            .decommit_batch_size(16)
            .table_elements(10_000);
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
        config.memory_init_cow(true);
        let engine = Engine::new(&config).expect("the engine configuration is valid");
        let mut linker = Linker::new(&engine);
        imports::define(&mut linker).expect("host functions are defined once");
        let host_imports = Arc::new(host_import_types(&engine, &linker, limits));
        Self {
            engine,
            linker: Arc::new(linker),
            host_imports,
            limits,
            instantiations: Arc::default(),
            metrics: Arc::default(),
            observe: true,
        }
    }

    /// Whether calls are counted in the reducers' metrics and traced in
    /// spans (`docs/observability.md`): on by default; off only to measure what
    /// that costs.
    pub fn observing(mut self, on: bool) -> Self {
        self.observe = on;
        self
    }

    /// Whether calls are counted and traced.
    pub(crate) fn observes(&self) -> bool {
        self.observe
    }

    /// Every reducer's counters, for the runtime's metrics.
    pub(crate) fn metrics(&self) -> &CallMetrics {
        &self.metrics
    }

    /// How many module instances this host has created (every reducer call
    /// and every publish creates one; replay creates none).
    pub fn instantiations(&self) -> u64 {
        self.instantiations.load(Ordering::Relaxed)
    }

    /// What calls of `modules` on this host run with, for [`run`].
    pub(crate) fn env(&self, modules: Arc<HashMap<u32, Arc<CompiledModule>>>) -> Env {
        Env {
            engine: self.engine.clone(),
            limits: self.limits,
            modules,
            instantiations: self.instantiations.clone(),
            observe: self.observe,
        }
    }

    /// The limits calls run with.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Compiles and links `wasm`, checking imports and exports; does not
    /// run it.
    pub fn compile(&self, wasm: &[u8]) -> Result<Module, PublishError> {
        let module = Module::new(&self.engine, wasm).map_err(PublishError::invalid_wasm)?;
        checks::imports(&module, &self.host_imports)?;
        checks::base_exports(&module)?;
        Ok(module)
    }

    /// Compiles `wasm`, a module installed as `id` with `schema`, reads
    /// what it declares it writes, and links it: a module from the log.
    pub fn load(
        &self,
        id: u32,
        schema: ModuleSchema,
        wasm: &[u8],
    ) -> Result<CompiledModule, PublishError> {
        let module = self.compile(wasm)?;
        let writes = declared_writes(wasm, &schema)?;
        self.link(id, schema, writes, &module)
    }

    /// Every module of `db` loaded and linked, by id: what calls into the
    /// state `db` is need (a check or a dry run beside a runtime).
    pub(crate) fn load_all(
        &self,
        db: &crate::db::Database,
    ) -> Result<HashMap<u32, Arc<CompiledModule>>, PublishError> {
        db.modules()
            .map(|m| {
                let linked = self.load(m.id, m.schema.clone(), &m.wasm)?;
                Ok((m.id, Arc::new(linked)))
            })
            .collect()
    }

    /// Links a compiled module for fast instantiation.
    pub fn link(
        &self,
        id: u32,
        schema: ModuleSchema,
        writes: ModuleWrites,
        module: &Module,
    ) -> Result<CompiledModule, PublishError> {
        let pre = self
            .linker
            .instantiate_pre(module)
            .map_err(PublishError::bad_import)?;
        checks::reducer_exports(module, &schema)?;
        let reducers = schema
            .reducers
            .iter()
            .map(|r| {
                let export = exports::reducer_export(&r.name);
                let export_index = module.get_export_index(&export).expect("checked above");
                let entry = ReducerEntry {
                    schema: r.clone(),
                    name: Arc::from(r.name.as_str()),
                    args_type: r.args_type(),
                    export_index,
                    stats: self.metrics.reducer(&schema.name, &r.name),
                    writes: WriteRule::of(&writes, &schema, &r.name),
                };
                (r.name.clone(), Arc::new(entry))
            })
            .collect();
        let memory_export = module
            .get_export_index(exports::MEMORY)
            .expect("checked at compile");
        let alloc_export = module
            .get_export_index(exports::ALLOC)
            .expect("checked at compile");
        let name = Arc::from(schema.name.as_str());
        Ok(CompiledModule {
            id,
            schema,
            writes,
            name,
            pre,
            reducers,
            memory_export,
            alloc_export,
        })
    }

    /// Compiles `wasm`, checks its imports and exports, and reads and
    /// validates the schema it declares: everything publishing checks
    /// before it touches the log (and what `interstice validate` and
    /// `interstice schema` report).
    pub fn inspect(&self, wasm: &[u8]) -> Result<Inspected, PublishError> {
        let module = self.compile(wasm)?;
        let schema_bytes = self.describe(&module)?;
        let schema: ModuleSchema = interstice_abi::decode_schema(&schema_bytes).map_err(|e| {
            PublishError::describe(format!(
                "the {} bytes `interstice_describe` returned are not a schema (docs/abi.md): {e}",
                schema_bytes.len()
            ))
        })?;
        schema.validate().map_err(PublishError::InvalidSchema)?;
        checks::reducer_exports(&module, &schema)?;
        checks::undeclared_reducers(&module, &schema)?;
        let writes = declared_writes(wasm, &schema)?;
        Ok(Inspected {
            module,
            schema,
            schema_bytes,
            writes,
        })
    }

    /// Runs the module's `interstice_describe` (publish time only) and
    /// returns the schema bytes it exports.
    pub fn describe(&self, module: &Module) -> Result<Vec<u8>, PublishError> {
        let pre = self
            .linker
            .instantiate_pre(module)
            .map_err(PublishError::bad_import)?;
        let state = idle_state(self.env(Arc::default()), "interstice_describe");
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        store.set_fuel(self.limits.fuel).expect("fuel is enabled");
        self.instantiations.fetch_add(1, Ordering::Relaxed);
        let describe = PublishError::describe_failed;
        let instance = pre.instantiate(&mut store).map_err(describe)?;
        let memory = instance
            .get_memory(&mut store, exports::MEMORY)
            .ok_or_else(|| PublishError::describe("no memory"))?;
        let f = instance
            .get_typed_func::<(), i64>(&mut store, exports::DESCRIBE)
            .map_err(describe)?;
        let packed = f.call(&mut store, ()).map_err(describe)?;
        let (ptr, len) = unpack(packed);
        memory
            .data(&store)
            .get(ptr..ptr.saturating_add(len))
            .map(<[u8]>::to_vec)
            .ok_or_else(|| {
                PublishError::describe(format!("schema at {ptr}+{len} is outside guest memory"))
            })
    }
}

/// The state of a store that runs no transaction (reading a module's
/// schema, listing the host's functions): an empty database, read-only.
fn idle_state(env: Env, what: &str) -> HostState {
    let frame = Frame {
        module_id: 0,
        module_name: Arc::from("(publishing)"),
        reducer: Arc::from(what),
        read_only: true,
        writes: WriteRule::Any,
        ctx: CallContext {
            timestamp: 0,
            rng: 0,
            scheduled: None,
        },
        depth: 0,
    };
    new_state(env, Database::new(), WriteSet::default(), frame)
}

/// The type of every host function the linker defines, by name.
fn host_import_types(
    engine: &Engine,
    linker: &Linker<HostState>,
    limits: Limits,
) -> HashMap<String, wasmtime::FuncType> {
    let env = Env {
        engine: engine.clone(),
        limits,
        modules: Arc::default(),
        instantiations: Arc::default(),
        observe: false,
    };
    let mut store = Store::new(engine, idle_state(env, "(imports)"));
    let defined: Vec<(String, wasmtime::Extern)> = linker
        .iter(&mut store)
        .filter(|(module, _, _)| *module == exports::IMPORT_MODULE)
        .map(|(_, name, ext)| (name.to_owned(), ext))
        .collect();
    defined
        .into_iter()
        .filter_map(|(name, ext)| match ext.ty(&store) {
            wasmtime::ExternType::Func(f) => Some((name, f)),
            _ => None,
        })
        .collect()
}

/// What every reducer call on one host shares: the engine, the limits,
/// the modules loaded (for cross-module calls), the instantiation counter.
#[derive(Clone)]
pub(crate) struct Env {
    pub engine: Engine,
    pub limits: Limits,
    pub modules: Arc<HashMap<u32, Arc<CompiledModule>>>,
    pub instantiations: Arc<AtomicU64>,
    /// Whether nested calls are counted and traced.
    pub observe: bool,
}

/// Who a store runs for: the module and reducer, its deterministic
/// inputs, and how deep in a chain of cross-module calls.
struct Frame {
    module_id: u32,
    module_name: Arc<str>,
    reducer: Arc<str>,
    read_only: bool,
    writes: WriteRule,
    ctx: CallContext,
    depth: u32,
}

impl Frame {
    fn of(call: &Invocation<'_>) -> Self {
        Self {
            module_id: call.module.id,
            module_name: call.module.name.clone(),
            reducer: call.reducer.name.clone(),
            read_only: call.reducer.schema.read_only,
            writes: call.reducer.writes.clone(),
            ctx: call.ctx,
            depth: call.depth,
        }
    }
}

fn new_state(env: Env, db: Database, ws: WriteSet, frame: Frame) -> HostState {
    let limits = env.limits;
    HostState {
        db,
        ws,
        module_id: frame.module_id,
        module_name: frame.module_name,
        reducer: frame.reducer,
        read_only: frame.read_only,
        writes: frame.writes,
        ctx: frame.ctx,
        env,
        limiter: Limiter::new(
            StoreLimitsBuilder::new()
                .memory_size(limits.max_memory)
                .instances(STORE_REUSE as usize)
                .tables(4 * STORE_REUSE as usize)
                .memories(STORE_REUSE as usize)
                .trap_on_grow_failure(true)
                .build(),
        ),
        doom: None,
        last_error: String::new(),
        cursors: HashMap::new(),
        next_cursor: 1,
        instance: None,
        compiled: None,
        memory: None,
        alloc: None,
        depth: frame.depth,
        logs: Vec::new(),
        rows_read: 0,
        calls: Vec::new(),
    }
}

/// A compiled module and the schema it declares, checked.
pub struct Inspected {
    /// The compiled module.
    pub module: Module,
    /// Its schema, validated.
    pub schema: ModuleSchema,
    /// The schema as the module encoded it.
    pub schema_bytes: Vec<u8>,
    /// What its reducers declare they write, checked against the schema.
    pub writes: ModuleWrites,
}

/// How many calls reuse one wasmtime store (each with a fresh instance)
/// before it is dropped, releasing their instances to the pool.
const STORE_REUSE: u32 = 16;

/// A store kept between top-level calls: creating one (and registering
/// the module in it) costs about as much as instantiating. Every call still
/// gets a fresh instance.
#[derive(Default)]
pub(crate) struct StoreCache(Option<(Store<HostState>, u32)>);

fn new_store(state: HostState) -> Store<HostState> {
    let engine = state.env.engine.clone();
    let mut store = Store::new(&engine, state);
    store.limiter(|s| &mut s.limiter);
    store
}

/// One reducer call's inputs.
pub(crate) struct Invocation<'a> {
    pub module: &'a Arc<CompiledModule>,
    pub reducer: &'a ReducerEntry,
    pub args: &'a [u8],
    pub ctx: CallContext,
    pub fuel: u64,
    pub depth: u32,
}

/// What a call gives back besides its result: the database and write set
/// it owned, the fuel it used, the rows it read, when it started and how
/// long it ran, and the cross-module calls it made.
pub(crate) struct Outcome {
    pub db: Database,
    pub ws: WriteSet,
    pub fuel_used: u64,
    pub rows_read: u64,
    pub started: std::time::Instant,
    pub micros: u64,
    pub calls: Vec<state::Timed>,
    pub result: Result<(), CallError>,
    pub logs: Vec<state::Logged>,
    pub rng: u64,
}

/// Runs one reducer in a fresh instance. The write set's changes stay
/// applied on success; on failure the caller rolls back.
pub(crate) fn run(
    env: Env,
    db: Database,
    ws: WriteSet,
    call: Invocation<'_>,
    mut cache: Option<&mut StoreCache>,
) -> Outcome {
    let limits = env.limits;
    env.instantiations.fetch_add(1, Ordering::Relaxed);
    let state = new_state(env, db, ws, Frame::of(&call));
    let (mut store, used) = match cache.as_deref_mut().and_then(|c| c.0.take()) {
        Some((mut store, used)) => {
            *store.data_mut() = state;
            (store, used)
        }
        None => (new_store(state), 0),
    };
    store.set_fuel(call.fuel).expect("fuel is enabled");
    let started = std::time::Instant::now();
    let result = invoke(&mut store, &call);
    let micros = started.elapsed().as_micros() as u64;
    let fuel_used = call.fuel - store.get_fuel().unwrap_or(0);
    let data = store.data_mut();
    let (db, ws, doom, logs, rng, rows_read, calls) = (
        std::mem::take(&mut data.db),
        std::mem::take(&mut data.ws),
        data.doom.take(),
        std::mem::take(&mut data.logs),
        data.ctx.rng,
        data.rows_read,
        std::mem::take(&mut data.calls),
    );
    let memory_denied = data.limiter.take_memory_denied();
    if let Some(cache) = cache
        && used + 1 < STORE_REUSE
    {
        cache.0 = Some((store, used + 1));
    }
    let kind = match (doom, result) {
        (Some(doom), _) => Some(doom),
        (None, Ok(None)) => None,
        (None, Ok(Some(message))) => Some(CallErrorKind::Failed { message }),
        (None, Err(e)) => Some(classify(e, call.fuel, limits, memory_denied, &logs)),
    };
    let result = match kind {
        None => Ok(()),
        Some(kind) => Err(CallError::new(
            &*call.module.name,
            &*call.reducer.name,
            kind,
        )),
    };
    Outcome {
        db,
        ws,
        fuel_used,
        rows_read,
        started,
        micros,
        calls,
        result,
        logs,
        rng,
    }
}

/// Instantiates, copies the arguments in, calls the reducer export.
/// `Ok(Some(msg))` is the reducer's own error.
fn invoke(store: &mut Store<HostState>, call: &Invocation<'_>) -> wasmtime::Result<Option<String>> {
    let instance = call.module.pre.instantiate(&mut *store)?;
    store.data_mut().instance = Some(instance);
    store.data_mut().compiled = Some(call.module.clone());
    let len =
        i32::try_from(call.args.len()).map_err(|_| wasmtime::Error::msg("arguments over 2 GiB"))?;
    let ptr = if len == 0 {
        0
    } else {
        let (memory, alloc) = guest_exports(&mut *store)?;
        let ptr = alloc.call(&mut *store, len)?;
        let start = usize::try_from(ptr)
            .map_err(|_| wasmtime::Error::msg("allocator returned a negative pointer"))?;
        memory
            .data_mut(&mut *store)
            .get_mut(start..start + call.args.len())
            .ok_or_else(|| {
                wasmtime::Error::msg("allocator returned memory outside the guest's memory")
            })?
            .copy_from_slice(call.args);
        ptr
    };
    let f = instance
        .get_module_export(&mut *store, &call.reducer.export_index)
        .and_then(wasmtime::Extern::into_func)
        .ok_or_else(|| wasmtime::Error::msg("reducer export missing"))?;
    // SAFETY: `link` checked every reducer export is `(i32, i32) -> i64`.
    let f = unsafe { TypedFunc::<(i32, i32), i64>::new_unchecked(&*store, f) };
    let status = f.call(&mut *store, (ptr, len))?;
    if status == exports::OK {
        return Ok(None);
    }
    let (ptr, len) = unpack(status);
    let (memory, _) = guest_exports(&mut *store)?;
    let msg = memory
        .data(&*store)
        .get(ptr..ptr.saturating_add(len))
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_else(|| format!("(error message at {ptr}+{len} is outside guest memory)"));
    Ok(Some(msg))
}

/// What a trap means: fuel or memory ran out (the limiter says when it
/// refused memory), or the guest trapped. A trap after the guest logged a
/// panic (the SDK's panic hook does) says what panicked, and where, before
/// the trap itself.
fn classify(
    e: wasmtime::Error,
    fuel: u64,
    limits: Limits,
    memory_denied: bool,
    logs: &[state::Logged],
) -> CallErrorKind {
    if let Some(Trap::OutOfFuel) = e.downcast_ref::<Trap>() {
        return CallErrorKind::limit(LimitKind::Fuel, format!("used all {fuel} units"));
    }
    if memory_denied {
        let detail = format!(
            "linear memory may not grow past {} bytes",
            limits.max_memory
        );
        return CallErrorKind::limit(LimitKind::Memory, detail);
    }
    let panic = logs
        .iter()
        .rev()
        .find(|l| l.level == LogLevel::Error && l.message.starts_with("panicked at "));
    let message = match panic {
        Some(panic) => format!("{} ({e:#})", panic.message),
        None => format!("{e:#}"),
    };
    CallErrorKind::Trap { message }
}

/// The running instance's memory and allocator, looked up on first use.
pub(crate) fn guest_exports(
    mut ctx: impl wasmtime::AsContextMut<Data = HostState>,
) -> wasmtime::Result<(wasmtime::Memory, TypedFunc<i32, i32>)> {
    let mut ctx = ctx.as_context_mut();
    if let (Some(memory), Some(alloc)) = (ctx.data().memory, ctx.data().alloc.clone()) {
        return Ok((memory, alloc));
    }
    let not_ready = || wasmtime::Error::msg("host call before the instance was ready");
    let instance = ctx.data().instance.ok_or_else(not_ready)?;
    let compiled = ctx.data().compiled.clone().ok_or_else(not_ready)?;
    let memory = instance
        .get_module_export(&mut ctx, &compiled.memory_export)
        .and_then(wasmtime::Extern::into_memory)
        .ok_or_else(|| wasmtime::Error::msg("module has no memory export"))?;
    let alloc = instance
        .get_module_export(&mut ctx, &compiled.alloc_export)
        .and_then(wasmtime::Extern::into_func)
        .ok_or_else(|| wasmtime::Error::msg("module has no allocator export"))?;
    // SAFETY: `compile` checked the allocator is `(i32) -> i32`.
    let alloc = unsafe { TypedFunc::<i32, i32>::new_unchecked(&ctx, alloc) };
    ctx.data_mut().memory = Some(memory);
    ctx.data_mut().alloc = Some(alloc.clone());
    Ok((memory, alloc))
}

/// Splits a packed buffer into a guest address and length.
pub(crate) fn unpack(packed: i64) -> (usize, usize) {
    let (ptr, len) = exports::unpack(packed);
    (ptr as usize, len as usize)
}
