//! The host calls a module may import (namespace `interstice`, see
//! `docs/abi.md`): one function per call, registered by [`define`]. Every
//! pointer a guest passes is bounds-checked before memory is touched; a bad
//! pointer traps the call. Results larger than a number are written into
//! guest memory allocated with the module's `interstice_alloc` and returned
//! [`wasm::pack`]ed. Return codes are [`wasm::NOT_FOUND`] (not found, end of
//! scan) and [`wasm::ERROR`] (message via `last_error`).
//!
//! Errors that break a rule (capability violations, unique-index
//! violations, limits) also doom the transaction: it aborts whatever the
//! reducer returns.

mod call;
mod rows;
mod scan;

use interstice_abi::wasm::{self, ERROR, LogLevel, NOT_FOUND};
use wasmtime::{Caller, Linker};

use super::state::{HostState, Logged};
use crate::db::{ModuleState, TxnError};
use crate::error::CallErrorKind;
use crate::table::Table;

type Result<T> = wasmtime::Result<T>;

/// Registers every host call under its import name.
pub(super) fn define(linker: &mut Linker<HostState>) -> Result<()> {
    const NS: &str = wasm::IMPORT_MODULE;
    linker.func_wrap(NS, "log", log)?;
    linker.func_wrap(NS, "now", now)?;
    linker.func_wrap(NS, "random", random)?;
    linker.func_wrap(NS, "scheduled", scheduled)?;
    linker.func_wrap(NS, "last_error", last_error)?;
    linker.func_wrap(NS, "table", table)?;
    linker.func_wrap(NS, "insert", rows::insert)?;
    linker.func_wrap(NS, "update", rows::update)?;
    linker.func_wrap(NS, "delete", rows::delete)?;
    linker.func_wrap(NS, "get", rows::get)?;
    linker.func_wrap(NS, "index", scan::index)?;
    linker.func_wrap(NS, "scan", scan::scan)?;
    linker.func_wrap(NS, "next", scan::next)?;
    linker.func_wrap(NS, "close", scan::close)?;
    linker.func_wrap(NS, "call", call::call)?;
    Ok(())
}

/// `log(level, ptr, len)`: records the message for the caller's receipt;
/// the runtime traces it when the call has ended.
fn log(mut c: Caller<'_, HostState>, level: i32, ptr: i32, len: i32) -> Result<()> {
    let message = read_str(&mut c, ptr, len)?;
    let s = c.data_mut();
    let logged = Logged {
        level: LogLevel::from_i32(level),
        message,
        module: s.module_name.clone(),
        reducer: s.reducer.clone(),
    };
    s.logs.push(logged);
    Ok(())
}

/// `now()`: the transaction's logical time.
fn now(c: Caller<'_, HostState>) -> i64 {
    c.data().ctx.timestamp as i64
}

/// `scheduled()`: when the schedule row that made this call was due (µs
/// since the epoch), or -1 when a client, a subscription or another
/// module's reducer called it.
fn scheduled(c: Caller<'_, HostState>) -> i64 {
    let s = c.data();
    match s.ctx.scheduled {
        Some(due) if s.depth == 0 => i64::try_from(due).unwrap_or(i64::MAX),
        _ => -1,
    }
}

/// `random()`: the transaction generator's next value.
fn random(mut c: Caller<'_, HostState>) -> i64 {
    c.data_mut().random() as i64
}

/// `last_error()`: the message of the last failed host call.
fn last_error(mut c: Caller<'_, HostState>) -> Result<i64> {
    let msg = c.data().last_error.clone();
    write_result(&mut c, msg.as_bytes())
}

/// `table(module, name)`: the handle of a table the caller may read.
fn table(mut c: Caller<'_, HostState>, mp: i32, ml: i32, tp: i32, tl: i32) -> Result<i64> {
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
        s.last_error = match table.split_once('@') {
            Some((name, version)) => format!(
                "`{}.{table}` (the rows of `{name}` at version {version}) exists only while a migration from that version runs",
                m.schema.name
            ),
            None => format!("module `{}` has no table `{table}`", m.schema.name),
        };
        return Ok(NOT_FOUND);
    };
    let module_id = m.id;
    match may_read(s, module_id, table_id) {
        Ok(_) => Ok(wasm::table_handle(module_id, table_id)),
        Err(d) => Ok(doomed(s, d)),
    }
}

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

/// Fails the host call (the transaction goes on): `last_error` says why.
fn fail(caller: &mut Caller<'_, HostState>, message: String) -> i64 {
    caller.data_mut().last_error = message;
    ERROR
}

/// Fails the host call and dooms the transaction.
fn doomed(state: &mut HostState, doom: CallErrorKind) -> i64 {
    state.doom(doom);
    ERROR
}

fn txn_doom(e: TxnError) -> CallErrorKind {
    match e {
        TxnError::Table(t) => CallErrorKind::Table(t),
        TxnError::NoSuchTable(e) => CallErrorKind::capability(format!("{e}")),
    }
}

/// Module `module` and its table `table`, or the capability violation of
/// naming a table that does not exist.
fn located(
    state: &HostState,
    module: u32,
    table: u32,
) -> std::result::Result<(&ModuleState, &Table), CallErrorKind> {
    let Some(m) = state.db.module(module) else {
        return Err(CallErrorKind::capability(format!("no module {module}")));
    };
    let Some(t) = m.table(table) else {
        return Err(CallErrorKind::capability(format!(
            "no table {table} in `{}`",
            m.schema.name
        )));
    };
    Ok((m, t))
}

/// The table `(module, table)`, if the caller may read it.
fn may_read(
    state: &HostState,
    module: u32,
    table: u32,
) -> std::result::Result<&Table, CallErrorKind> {
    let (m, t) = located(state, module, table)?;
    if module != state.module_id && t.schema().visibility != interstice_abi::Visibility::Public {
        return Err(CallErrorKind::capability(format!(
            "`{}` may not read private table `{}.{}`",
            state.module_name,
            m.schema.name,
            t.schema().name
        )));
    }
    Ok(t)
}

/// The table `(module, table)`, if the caller may cause `event` on it: a
/// table of its own module, within what the reducer declared it writes.
fn may_write(
    state: &HostState,
    module: u32,
    table: u32,
    event: interstice_abi::TableEvent,
) -> std::result::Result<&Table, CallErrorKind> {
    let t = may_read(state, module, table)?;
    if state.read_only {
        return Err(CallErrorKind::capability(format!(
            "read-only reducer `{}` tried to write",
            state.reducer
        )));
    }
    if module != state.module_id {
        let (m, t) = located(state, module, table)?;
        return Err(CallErrorKind::capability(format!(
            "`{}` may not write table `{}.{}` (a module writes only its own tables)",
            state.module_name,
            m.schema.name,
            t.schema().name
        )));
    }
    if let Some(m) = state.db.module(module)
        && table as usize > m.schema.tables.len()
    {
        return Err(CallErrorKind::capability(format!(
            "table `{}` holds the published rows a migration reads: it is read-only (write the new table)",
            t.schema().name
        )));
    }
    if !state.writes.allows(table, event) {
        let what = match event {
            interstice_abi::TableEvent::Insert => "insert into",
            interstice_abi::TableEvent::Update => "update",
            interstice_abi::TableEvent::Delete => "delete from",
        };
        return Err(CallErrorKind::capability(format!(
            "`{}.{}` may not {what} table `{}`: it is not in what the reducer declares it writes",
            state.module_name,
            state.reducer,
            t.schema().name
        )));
    }
    Ok(t)
}
