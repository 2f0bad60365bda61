//! The host calls a module may import (namespace `interstice`). Every
//! pointer a guest passes is bounds-checked before memory is touched; a bad
//! pointer traps the call. Results larger than a number are written into
//! guest memory allocated with the module's `interstice_alloc` and returned
//! [`wasm::pack`]ed. Return codes are [`wasm::NOT_FOUND`] (not found, end of
//! scan) and [`wasm::ERROR`] (message via `last_error`).
//!
//! Errors that break a rule (capability violations, unique-index
//! violations, limits) also doom the transaction: it aborts whatever the
//! reducer returns.

use std::ops::Bound;
use std::sync::Arc;

use interstice_abi::wasm::{self, ERROR, LogLevel, NOT_FOUND, OK};
use interstice_abi::{Type, Value, Visibility, decode_value};
use wasmtime::{Caller, Linker};

use super::state::{Cursor, Doom, HostState};
use super::{Invocation, run};
use crate::db::{Database, TxnError, WriteSet};
use crate::error::{CallError, TableError};
use crate::table::Row;

type Result<T> = wasmtime::Result<T>;

/// A copy of the guest bytes at `ptr..ptr + len`, for host calls that
/// keep them past the next guest call.
fn read_bytes(caller: &mut Caller<'_, HostState>, ptr: i32, len: i32) -> Result<Vec<u8>> {
    let (mem, _) = guest(caller)?;
    Ok(slice(mem, ptr, len)?.to_vec())
}

fn read_str(caller: &mut Caller<'_, HostState>, ptr: i32, len: i32) -> Result<String> {
    let (mem, _) = guest(caller)?;
    Ok(str_at(mem, ptr, len)?.to_owned())
}

/// The guest's memory and the host state at once, so host calls can read
/// their arguments in place instead of copying them.
fn guest<'a>(c: &'a mut Caller<'_, HostState>) -> Result<(&'a mut [u8], &'a mut HostState)> {
    let (memory, _) = super::guest_exports(&mut *c)?;
    Ok(memory.data_and_store_mut(c))
}

/// The guest bytes at `ptr..ptr + len`, bounds-checked.
fn slice(mem: &[u8], ptr: i32, len: i32) -> Result<&[u8]> {
    let (ptr, len) = (ptr as u32 as usize, len as u32 as usize);
    mem.get(ptr..ptr.saturating_add(len)).ok_or_else(|| {
        wasmtime::Error::msg(format!("guest passed {ptr}+{len}, outside its memory"))
    })
}

/// The guest string at `ptr..ptr + len`, bounds-checked, UTF-8-checked.
fn str_at(mem: &[u8], ptr: i32, len: i32) -> Result<&str> {
    std::str::from_utf8(slice(mem, ptr, len)?)
        .map_err(|_| wasmtime::Error::msg("guest passed a string that is not UTF-8"))
}

/// Copies `bytes` into fresh guest memory and returns them packed.
fn write_result(caller: &mut Caller<'_, HostState>, bytes: &[u8]) -> Result<i64> {
    let (memory, alloc) = super::guest_exports(&mut *caller)?;
    let len = u32::try_from(bytes.len()).map_err(|_| wasmtime::Error::msg("result over 4 GiB"))?;
    let ptr = alloc.call(&mut *caller, len as i32)? as u32;
    memory
        .data_mut(&mut *caller)
        .get_mut(ptr as usize..ptr as usize + bytes.len())
        .ok_or_else(|| {
            wasmtime::Error::msg("interstice_alloc returned memory outside the guest's memory")
        })?
        .copy_from_slice(bytes);
    Ok(wasm::pack(ptr, len))
}

/// The module and table ids of a table handle ([`wasm::table_handle`]).
fn split(handle: i64) -> (u32, u32) {
    wasm::unpack(handle)
}

fn fail(caller: &mut Caller<'_, HostState>, message: String) -> i64 {
    caller.data_mut().last_error = message;
    ERROR
}

fn doom(caller: &mut Caller<'_, HostState>, doom: Doom) -> i64 {
    caller.data_mut().doom(doom);
    ERROR
}

fn txn_doom(e: TxnError) -> Doom {
    match e {
        TxnError::Table(t) => Doom::Table(t),
        TxnError::NoSuchTable(e) => Doom::Capability(format!("{e}")),
    }
}

/// Checks the caller may read `(module, table)`.
fn may_read(state: &HostState, module: u32, table: u32) -> std::result::Result<(), Doom> {
    let Some(m) = state.db.module(module) else {
        return Err(Doom::Capability(format!("no module {module}")));
    };
    let Some(t) = m.table(table) else {
        return Err(Doom::Capability(format!(
            "no table {table} in `{}`",
            m.schema.name
        )));
    };
    if module != state.module_id && t.schema().visibility != Visibility::Public {
        return Err(Doom::Capability(format!(
            "`{}` may not read private table `{}.{}`",
            state.module_name,
            m.schema.name,
            t.schema().name
        )));
    }
    Ok(())
}

/// Checks the caller may write `(module, table)`.
fn may_write(state: &HostState, module: u32, table: u32) -> std::result::Result<(), Doom> {
    may_read(state, module, table)?;
    if state.read_only {
        return Err(Doom::Capability(format!(
            "read-only reducer `{}` tried to write",
            state.reducer
        )));
    }
    if module != state.module_id {
        let m = state.db.module(module).expect("checked");
        return Err(Doom::Capability(format!(
            "`{}` may not write table `{}.{}` (a module writes only its own tables)",
            state.module_name,
            m.schema.name,
            m.table(table).expect("checked").schema().name
        )));
    }
    Ok(())
}

fn decode_row(
    state: &HostState,
    module: u32,
    table: u32,
    bytes: &[u8],
) -> std::result::Result<Vec<Value>, Doom> {
    if bytes.len() > state.limits.max_row_size {
        return Err(Doom::Limit(
            "row size",
            format!(
                "row of {} bytes, maximum {}",
                bytes.len(),
                state.limits.max_row_size
            ),
        ));
    }
    let t = state.db.table(module, table).expect("checked");
    t.decode_row(bytes).map_err(Doom::Table)
}

fn check_write_set(state: &HostState) -> std::result::Result<(), Doom> {
    let size = state.ws.bytes();
    if size > state.limits.max_write_set {
        return Err(Doom::Limit(
            "write set",
            format!(
                "{size} bytes written, maximum {}",
                state.limits.max_write_set
            ),
        ));
    }
    Ok(())
}

/// Decodes a scan bound: `mode & 0xff` is one of [`wasm::bound`]'s kinds;
/// for an index, `mode >> 8` is how many key columns it holds.
fn bound(
    state: &HostState,
    module: u32,
    table: u32,
    index: Option<usize>,
    bytes: &[u8],
    mode: i32,
) -> std::result::Result<Bound<Vec<Value>>, String> {
    let t = state.db.table(module, table).expect("checked");
    let key = |bytes: &[u8]| -> std::result::Result<Vec<Value>, String> {
        match index {
            None => Ok(vec![t.decode_key(bytes).map_err(|e| e.to_string())?]),
            Some(ix) => {
                let cols = &t.schema().indexes[ix].columns;
                let n = (mode >> 8) as usize;
                if n == 0 || n > cols.len() {
                    return Err(format!(
                        "bound holds {n} key columns; the index has {}",
                        cols.len()
                    ));
                }
                let ty = Type::Struct(interstice_abi::StructType {
                    name: "key".into(),
                    fields: cols[..n]
                        .iter()
                        .map(|&c| interstice_abi::Field {
                            name: t.schema().columns[c as usize].name.clone(),
                            ty: t.schema().columns[c as usize].ty.clone(),
                        })
                        .collect(),
                });
                match decode_value(&ty, bytes).map_err(|e| e.to_string())? {
                    Value::Struct(v) => Ok(v),
                    _ => unreachable!("struct type"),
                }
            }
        }
    };
    match mode & 0xff {
        wasm::bound::UNBOUNDED => Ok(Bound::Unbounded),
        wasm::bound::INCLUDED => key(bytes).map(Bound::Included),
        wasm::bound::EXCLUDED => key(bytes).map(Bound::Excluded),
        m => Err(format!("unknown bound mode {m}")),
    }
}

/// `WriteSet::insert` or `WriteSet::update`.
type RowOp =
    fn(&mut WriteSet, &mut Database, u32, u32, Vec<Value>) -> std::result::Result<Row, TxnError>;

/// The shared part of `insert` and `update`: checks the caller may write
/// the table, decodes the guest's row, applies `op`, checks the write-set
/// limit. `Ok(Err(code))` is the code to return to the guest (the
/// transaction is doomed); `Err` traps (a bad guest pointer).
fn write_row(
    c: &mut Caller<'_, HostState>,
    handle: i64,
    ptr: i32,
    len: i32,
    op: RowOp,
) -> Result<std::result::Result<Row, i64>> {
    let (module, table) = split(handle);
    let (mem, s) = guest(c)?;
    if let Err(d) = may_write(s, module, table) {
        s.doom(d);
        return Ok(Err(ERROR));
    }
    let bytes = slice(mem, ptr, len)?;
    let values = match decode_row(s, module, table, bytes) {
        Ok(v) => v,
        Err(d) => {
            s.doom(d);
            return Ok(Err(ERROR));
        }
    };
    let row = match op(&mut s.ws, &mut s.db, module, table, values) {
        Ok(row) => row,
        Err(e) => {
            s.doom(txn_doom(e));
            return Ok(Err(ERROR));
        }
    };
    if let Err(d) = check_write_set(s) {
        s.doom(d);
        return Ok(Err(ERROR));
    }
    Ok(Ok(row))
}

pub(super) fn define(linker: &mut Linker<HostState>) -> Result<()> {
    const NS: &str = wasm::IMPORT_MODULE;

    linker.func_wrap(
        NS,
        "log",
        |mut c: Caller<'_, HostState>, level: i32, ptr: i32, len: i32| -> Result<()> {
            let msg = read_str(&mut c, ptr, len)?;
            let s = c.data();
            let level = LogLevel::from_i32(level);
            match level {
                LogLevel::Error => tracing::error!(target: "interstice::module", module = %s.module_name, reducer = %s.reducer, "{msg}"),
                LogLevel::Warn => tracing::warn!(target: "interstice::module", module = %s.module_name, reducer = %s.reducer, "{msg}"),
                LogLevel::Info => tracing::info!(target: "interstice::module", module = %s.module_name, reducer = %s.reducer, "{msg}"),
                LogLevel::Debug => tracing::debug!(target: "interstice::module", module = %s.module_name, reducer = %s.reducer, "{msg}"),
            }
            c.data_mut().logs.push((level, msg));
            Ok(())
        },
    )?;

    linker.func_wrap(NS, "now", |c: Caller<'_, HostState>| -> i64 {
        c.data().ctx.timestamp as i64
    })?;

    linker.func_wrap(NS, "random", |mut c: Caller<'_, HostState>| -> i64 {
        c.data_mut().random() as i64
    })?;

    linker.func_wrap(
        NS,
        "last_error",
        |mut c: Caller<'_, HostState>| -> Result<i64> {
            let msg = c.data().last_error.clone();
            write_result(&mut c, msg.as_bytes())
        },
    )?;

    linker.func_wrap(
        NS,
        "table",
        |mut c: Caller<'_, HostState>, mp: i32, ml: i32, tp: i32, tl: i32| -> Result<i64> {
            let (mem, s) = guest(&mut c)?;
            let module = str_at(mem, mp, ml)?;
            let table = str_at(mem, tp, tl)?;
            let m = if module.is_empty() {
                s.db.module(s.module_id)
            } else {
                s.db.module_by_name(module)
            };
            let Some(m) = m else {
                s.last_error = format!("no module `{module}`");
                return Ok(ERROR);
            };
            let Some((table_id, _)) = m.table_by_name(table) else {
                s.last_error = format!("module `{}` has no table `{table}`", m.schema.name);
                return Ok(NOT_FOUND);
            };
            let module_id = m.id;
            if let Err(d) = may_read(s, module_id, table_id) {
                s.doom(d);
                return Ok(ERROR);
            }
            Ok(wasm::table_handle(module_id, table_id))
        },
    )?;

    linker.func_wrap(
        NS,
        "insert",
        |mut c: Caller<'_, HostState>, h: i64, ptr: i32, len: i32| -> Result<i64> {
            let row = match write_row(&mut c, h, ptr, len, WriteSet::insert)? {
                Ok(row) => row,
                Err(code) => return Ok(code),
            };
            // The guest has its row; all it lacks is an assigned key.
            let (module, table) = split(h);
            let schema = c
                .data()
                .db
                .table(module, table)
                .expect("just written")
                .schema();
            if !schema.auto_inc {
                return Ok(OK);
            }
            let key = row.values()[schema.primary_key as usize].as_u128();
            match key.and_then(|k| i64::try_from(k).ok()) {
                Some(k) => Ok(k),
                None => {
                    let d = Doom::Limit("auto-increment", "key beyond 2^63 - 1".into());
                    Ok(doom(&mut c, d))
                }
            }
        },
    )?;

    linker.func_wrap(
        NS,
        "update",
        |mut c: Caller<'_, HostState>, h: i64, ptr: i32, len: i32| -> Result<i64> {
            Ok(write_row(&mut c, h, ptr, len, WriteSet::update)?.map_or_else(|code| code, |_| OK))
        },
    )?;

    linker.func_wrap(
        NS,
        "delete",
        |mut c: Caller<'_, HostState>, h: i64, ptr: i32, len: i32| -> Result<i64> {
            let (module, table) = split(h);
            if let Err(d) = may_write(c.data(), module, table) {
                return Ok(doom(&mut c, d));
            }
            let bytes = read_bytes(&mut c, ptr, len)?;
            let key = match c
                .data()
                .db
                .table(module, table)
                .expect("checked")
                .decode_key(&bytes)
            {
                Ok(k) => k,
                Err(e) => return Ok(doom(&mut c, Doom::Table(e))),
            };
            let s = c.data_mut();
            match s.ws.delete(&mut s.db, module, table, &key) {
                Ok(_) => Ok(1),
                Err(TxnError::Table(TableError::NoSuchRow { .. })) => Ok(0),
                Err(e) => Ok(doom(&mut c, txn_doom(e))),
            }
        },
    )?;

    linker.func_wrap(
        NS,
        "get",
        |mut c: Caller<'_, HostState>, h: i64, ptr: i32, len: i32| -> Result<i64> {
            let (module, table) = split(h);
            if let Err(d) = may_read(c.data(), module, table) {
                return Ok(doom(&mut c, d));
            }
            let bytes = read_bytes(&mut c, ptr, len)?;
            let t = c.data().db.table(module, table).expect("checked");
            let row = match t.decode_key(&bytes) {
                Ok(key) => t.get(&key).map(|r| r.bytes().clone()),
                Err(e) => return Ok(fail(&mut c, e.to_string())),
            };
            match row {
                Some(row) => write_result(&mut c, &row),
                None => Ok(NOT_FOUND),
            }
        },
    )?;

    linker.func_wrap(
        NS,
        "index",
        |mut c: Caller<'_, HostState>, h: i64, ptr: i32, len: i32| -> Result<i64> {
            let (module, table) = split(h);
            if let Err(d) = may_read(c.data(), module, table) {
                return Ok(doom(&mut c, d));
            }
            let name = read_str(&mut c, ptr, len)?;
            let t = c.data().db.table(module, table).expect("checked");
            match t.index_id(&name) {
                Some(i) => Ok(i as i64),
                None => {
                    let msg = format!("table `{}` has no index `{name}`", t.schema().name);
                    c.data_mut().last_error = msg;
                    Ok(NOT_FOUND)
                }
            }
        },
    )?;

    linker.func_wrap(
        NS,
        "scan",
        |mut c: Caller<'_, HostState>,
         h: i64,
         index: i64,
         lp: i32,
         ll: i32,
         lm: i32,
         hp: i32,
         hl: i32,
         hm: i32|
         -> Result<i64> {
            let (module, table) = split(h);
            if let Err(d) = may_read(c.data(), module, table) {
                return Ok(doom(&mut c, d));
            }
            let index = match index {
                -1 => None,
                i if i >= 0
                    && (i as usize)
                        < c.data()
                            .db
                            .table(module, table)
                            .expect("checked")
                            .schema()
                            .indexes
                            .len() =>
                {
                    Some(i as usize)
                }
                i => return Ok(fail(&mut c, format!("no index {i}"))),
            };
            let lo_bytes = read_bytes(&mut c, lp, ll)?;
            let hi_bytes = read_bytes(&mut c, hp, hl)?;
            let bounds = bound(c.data(), module, table, index, &lo_bytes, lm)
                .and_then(|lo| Ok((lo, bound(c.data(), module, table, index, &hi_bytes, hm)?)));
            let (lo, hi) = match bounds {
                Ok(b) => b,
                Err(e) => return Ok(fail(&mut c, e)),
            };
            let s = c.data_mut();
            let id = s.next_cursor;
            s.next_cursor += 1;
            s.cursors.insert(
                id,
                Cursor {
                    module,
                    table,
                    index,
                    last: None,
                    lo,
                    hi,
                },
            );
            Ok(id)
        },
    )?;

    linker.func_wrap(
        NS,
        "next",
        |mut c: Caller<'_, HostState>, cursor: i64| -> Result<i64> {
            let s = c.data();
            let Some(cur) = s.cursors.get(&cursor) else {
                return Ok(fail(&mut c, format!("no scan {cursor}")));
            };
            let Some(t) = s.db.table(cur.module, cur.table) else {
                return Ok(NOT_FOUND);
            };
            fn as_ref(b: &Bound<Vec<Value>>) -> Bound<&[Value]> {
                b.as_ref().map(|v| v.as_slice())
            }
            fn pk_bound(b: &Bound<Vec<Value>>) -> Bound<&Value> {
                b.as_ref().map(|v| &v[0])
            }
            let found = match cur.index {
                None => {
                    let lo = match &cur.last {
                        Some((_, pk)) => Bound::Excluded(pk),
                        None => pk_bound(&cur.lo),
                    };
                    t.range(lo, pk_bound(&cur.hi)).next().map(|r| {
                        let pk = r.values()[t.schema().primary_key as usize].clone();
                        (vec![pk.clone()], pk, r.bytes().clone())
                    })
                }
                Some(ix) => {
                    let after = cur.last.as_ref().map(|(k, pk)| (k.as_slice(), pk));
                    t.index_next(ix, after, as_ref(&cur.lo), as_ref(&cur.hi))
                        .map(|(k, pk, r)| (k, pk, r.bytes().clone()))
                }
            };
            match found {
                None => Ok(NOT_FOUND),
                Some((key, pk, row)) => {
                    c.data_mut().cursors.get_mut(&cursor).expect("exists").last = Some((key, pk));
                    write_result(&mut c, &row)
                }
            }
        },
    )?;

    linker.func_wrap(NS, "close", |mut c: Caller<'_, HostState>, cursor: i64| {
        c.data_mut().cursors.remove(&cursor);
    })?;

    linker.func_wrap(
        NS,
        "call",
        |mut c: Caller<'_, HostState>,
         mp: i32,
         ml: i32,
         rp: i32,
         rl: i32,
         ap: i32,
         al: i32|
         -> Result<i64> {
            let module = read_str(&mut c, mp, ml)?;
            let reducer = read_str(&mut c, rp, rl)?;
            let args = read_bytes(&mut c, ap, al)?;
            let s = c.data();
            let Some(target) = s
                .modules
                .values()
                .find(|m| m.schema.name == module)
                .cloned()
            else {
                return Ok(fail(&mut c, format!("no module `{module}`")));
            };
            let Some(r) = target.reducer(&reducer).cloned() else {
                return Ok(fail(
                    &mut c,
                    format!("module `{module}` has no reducer `{reducer}`"),
                ));
            };
            let me = s.modules.get(&s.module_id).map(|m| m.schema.clone());
            let declared = me
                .as_ref()
                .is_some_and(|m| m.dependencies.iter().any(|d| d.module == module));
            if r.schema.visibility != Visibility::Public {
                let d = Doom::Capability(format!(
                    "`{}` may not call private reducer `{module}.{reducer}`",
                    s.module_name
                ));
                return Ok(doom(&mut c, d));
            }
            if !declared {
                let d = Doom::Capability(format!(
                    "`{}` calls `{module}.{reducer}` without declaring a dependency on `{module}`",
                    s.module_name
                ));
                return Ok(doom(&mut c, d));
            }
            if s.read_only && !r.schema.read_only {
                let d = Doom::Capability(format!(
                    "read-only reducer `{}` may not call `{module}.{reducer}`, which writes",
                    s.reducer
                ));
                return Ok(doom(&mut c, d));
            }
            if s.depth + 1 > s.limits.max_call_depth {
                let d = Doom::Limit(
                    "call depth",
                    format!(
                        "more than {} nested cross-module calls",
                        s.limits.max_call_depth
                    ),
                );
                return Ok(doom(&mut c, d));
            }
            if let Err(e) = decode_value(&r.args_type, &args) {
                return Ok(fail(
                    &mut c,
                    format!("bad arguments for `{module}.{reducer}`: {e}"),
                ));
            }
            let fuel = c.get_fuel()?;
            let engine = c.engine().clone();
            let s = c.data_mut();
            let (db, ws) = (std::mem::take(&mut s.db), std::mem::take(&mut s.ws));
            let savepoint = ws.savepoint();
            let (limits, modules, ctx, depth) =
                (s.limits, Arc::clone(&s.modules), s.ctx, s.depth + 1);
            let counter = s.instantiations.clone();
            let out = run(
                &engine,
                &counter,
                limits,
                modules,
                db,
                ws,
                Invocation {
                    module: &target,
                    reducer: &r,
                    args: &args,
                    ctx,
                    fuel,
                    depth,
                },
                None,
            );
            let s = c.data_mut();
            s.db = out.db;
            s.ws = out.ws;
            s.ctx.rng = out.rng;
            s.logs.extend(out.logs);
            c.set_fuel(fuel.saturating_sub(out.fuel_used))?;
            match out.result {
                Ok(()) => Ok(OK),
                Err(CallError::Failed { message, .. }) | Err(CallError::Trap { message, .. }) => {
                    let s = c.data_mut();
                    s.ws.rollback_to(&mut s.db, savepoint);
                    Ok(fail(
                        &mut c,
                        format!("{module}.{reducer} failed: {message}"),
                    ))
                }
                Err(CallError::Capability { detail, .. }) => {
                    Ok(doom(&mut c, Doom::Capability(detail)))
                }
                Err(CallError::Table { source, .. }) => Ok(doom(&mut c, Doom::Table(source))),
                Err(CallError::Limit { limit, detail, .. }) => {
                    Ok(doom(&mut c, Doom::Limit(limit, detail)))
                }
                Err(other) => Ok(doom(&mut c, Doom::Capability(other.to_string()))),
            }
        },
    )?;
    Ok(())
}
