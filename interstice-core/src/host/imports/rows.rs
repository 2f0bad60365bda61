//! The row calls: `insert`, `update`, `delete` and `get` by primary key.

use interstice_abi::wasm::{ERROR, NOT_FOUND, OK};
use interstice_abi::{TableEvent, Value};
use wasmtime::Caller;

use super::{Result, doomed, guest, may_read, may_write, slice, split, txn_doom, write_result};
use crate::db::{Database, TxnError, WriteSet};
use crate::error::TableError;
use crate::error::{CallErrorKind, LimitKind};
use crate::host::Limits;
use crate::host::state::HostState;
use crate::table::{Row, Table};

/// `insert(table, row)`: inserts an encoded row; on an auto-increment
/// table, returns its key.
pub(super) fn insert(mut c: Caller<'_, HostState>, h: i64, ptr: i32, len: i32) -> Result<i64> {
    let row = match write_row(&mut c, h, ptr, len, TableEvent::Insert, WriteSet::insert)? {
        Ok(row) => row,
        Err(code) => return Ok(code),
    };
    // The guest has its row; all it lacks is an assigned key.
    let (module, table) = split(h);
    let s = c.data_mut();
    let schema = s.db.table(module, table).expect("just written").schema();
    if !schema.auto_inc {
        return Ok(OK);
    }
    let key = row.values()[schema.primary_key as usize].as_u128();
    match key.and_then(|k| i64::try_from(k).ok()) {
        Some(k) => Ok(k),
        None => {
            let d = CallErrorKind::limit(LimitKind::AutoIncrement, "key beyond 2^63 - 1");
            Ok(doomed(s, d))
        }
    }
}

/// `update(table, row)`: replaces the row with the same primary key.
pub(super) fn update(mut c: Caller<'_, HostState>, h: i64, ptr: i32, len: i32) -> Result<i64> {
    Ok(
        write_row(&mut c, h, ptr, len, TableEvent::Update, WriteSet::update)?
            .map_or_else(|code| code, |_| OK),
    )
}

/// `delete(table, key)`: 1 if a row was deleted, 0 if there was none.
pub(super) fn delete(mut c: Caller<'_, HostState>, h: i64, ptr: i32, len: i32) -> Result<i64> {
    let (module, table) = split(h);
    let (mem, s) = guest(&mut c)?;
    let key = match may_write(s, module, table, TableEvent::Delete) {
        Ok(t) => t
            .decode_key(slice(mem, ptr, len)?)
            .map_err(CallErrorKind::Table),
        Err(d) => Err(d),
    };
    let key = match key {
        Ok(key) => key,
        Err(d) => return Ok(doomed(s, d)),
    };
    match s.ws.delete(&mut s.db, module, table, &key) {
        Ok(_) => Ok(1),
        Err(TxnError::Table(TableError::NoSuchRow { .. })) => Ok(0),
        Err(e) => Ok(doomed(s, txn_doom(e))),
    }
}

/// `get(table, key)`: the encoded row with that primary key.
pub(super) fn get(mut c: Caller<'_, HostState>, h: i64, ptr: i32, len: i32) -> Result<i64> {
    let (module, table) = split(h);
    let (mem, s) = guest(&mut c)?;
    let t = match may_read(s, module, table) {
        Ok(t) => t,
        Err(d) => return Ok(doomed(s, d)),
    };
    let row = match t.decode_key(slice(mem, ptr, len)?) {
        Ok(key) => t.get(&key).map(|r| r.bytes().to_vec()),
        Err(e) => {
            s.last_error = e.to_string();
            return Ok(ERROR);
        }
    };
    match row {
        Some(row) => {
            c.data_mut().rows_read += 1;
            write_result(&mut c, &row)
        }
        None => Ok(NOT_FOUND),
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
    event: TableEvent,
    op: RowOp,
) -> Result<std::result::Result<Row, i64>> {
    let (module, table) = split(handle);
    let (mem, s) = guest(c)?;
    let values = match may_write(s, module, table, event) {
        Ok(t) => decode_row(s.env.limits, t, slice(mem, ptr, len)?),
        Err(d) => Err(d),
    };
    let written = values
        .and_then(|values| op(&mut s.ws, &mut s.db, module, table, values).map_err(txn_doom))
        .and_then(|row| check_write_set(s.env.limits, &s.ws).map(|()| row));
    match written {
        Ok(row) => Ok(Ok(row)),
        Err(d) => {
            s.doom(d);
            Ok(Err(ERROR))
        }
    }
}

fn decode_row(
    limits: Limits,
    t: &Table,
    bytes: &[u8],
) -> std::result::Result<Vec<Value>, CallErrorKind> {
    if bytes.len() > limits.max_row_size {
        return Err(CallErrorKind::limit(
            LimitKind::RowSize,
            format!(
                "row of {} bytes, maximum {}",
                bytes.len(),
                limits.max_row_size
            ),
        ));
    }
    t.decode_row(bytes).map_err(CallErrorKind::Table)
}

fn check_write_set(limits: Limits, ws: &WriteSet) -> std::result::Result<(), CallErrorKind> {
    let size = ws.bytes();
    if size > limits.max_write_set {
        return Err(CallErrorKind::limit(
            LimitKind::WriteSet,
            format!("{size} bytes written, maximum {}", limits.max_write_set),
        ));
    }
    Ok(())
}
