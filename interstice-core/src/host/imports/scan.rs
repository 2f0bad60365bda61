//! The scan calls: `index` (an index's id), `scan` (start one between two
//! bounds), `next` (its next row) and `close`.

use std::ops::Bound;

use interstice_abi::wasm::{self, NOT_FOUND};
use interstice_abi::{Field, StructType, Type, Value, decode_value};
use wasmtime::Caller;

use super::{Result, doomed, fail, guest, may_read, slice, split, str_at, write_result};
use crate::host::state::{Cursor, HostState};
use crate::table::Table;

/// `index(table, name)`: the id of a secondary index.
pub(super) fn index(mut c: Caller<'_, HostState>, h: i64, ptr: i32, len: i32) -> Result<i64> {
    let (module, table) = split(h);
    let (mem, s) = guest(&mut c)?;
    let t = match may_read(s, module, table) {
        Ok(t) => t,
        Err(d) => return Ok(doomed(s, d)),
    };
    let name = str_at(mem, ptr, len)?;
    match t.index_id(name) {
        Some(i) => Ok(i as i64),
        None => {
            s.last_error = format!("table `{}` has no index `{name}`", t.schema().name);
            Ok(NOT_FOUND)
        }
    }
}

/// `scan(table, index, lo, lo_mode, hi, hi_mode)`: starts a scan over the
/// primary key (`index` -1) or an index; returns its id.
#[allow(clippy::too_many_arguments, reason = "the host call's ABI signature")]
pub(super) fn scan(
    mut c: Caller<'_, HostState>,
    h: i64,
    index: i64,
    lp: i32,
    ll: i32,
    lm: i32,
    hp: i32,
    hl: i32,
    hm: i32,
) -> Result<i64> {
    let (module, table) = split(h);
    let (mem, s) = guest(&mut c)?;
    let t = match may_read(s, module, table) {
        Ok(t) => t,
        Err(d) => return Ok(doomed(s, d)),
    };
    let index = match index {
        -1 => None,
        i if (0..t.schema().indexes.len() as i64).contains(&i) => Some(i as usize),
        i => {
            s.last_error = format!("no index {i}");
            return Ok(wasm::ERROR);
        }
    };
    let (lo_bytes, hi_bytes) = (slice(mem, lp, ll)?, slice(mem, hp, hl)?);
    let bounds =
        bound(t, index, lo_bytes, lm).and_then(|lo| Ok((lo, bound(t, index, hi_bytes, hm)?)));
    let scan = match bounds {
        Ok((lo, hi)) => t.scan(index, as_slices(&lo), as_slices(&hi)),
        Err(e) => return Ok(fail(&mut c, e)),
    };
    let s = c.data_mut();
    let id = s.next_cursor;
    s.next_cursor += 1;
    let cursor = Cursor {
        module,
        table,
        scan,
    };
    s.cursors.insert(id, cursor);
    Ok(id)
}

/// `next(scan)`: the scan's next row, or [`NOT_FOUND`] at its end.
pub(super) fn next(mut c: Caller<'_, HostState>, cursor: i64) -> Result<i64> {
    let s = c.data_mut();
    let Some(cur) = s.cursors.get_mut(&cursor) else {
        return Ok(fail(&mut c, format!("no scan {cursor}")));
    };
    let row =
        s.db.table(cur.module, cur.table)
            .and_then(|t| t.scan_next(&mut cur.scan).map(|row| row.bytes().to_vec()));
    match row {
        None => Ok(NOT_FOUND),
        Some(row) => {
            c.data_mut().rows_read += 1;
            write_result(&mut c, &row)
        }
    }
}

/// `close(scan)`: forgets a scan.
pub(super) fn close(mut c: Caller<'_, HostState>, cursor: i64) {
    c.data_mut().cursors.remove(&cursor);
}

fn as_slices(b: &Bound<Vec<Value>>) -> Bound<&[Value]> {
    b.as_ref().map(|v| v.as_slice())
}

/// Decodes a scan bound: `mode & 0xff` is one of [`wasm::bound`]'s kinds;
/// for an index, `mode >> 8` is how many key columns it holds.
fn bound(
    t: &Table,
    index: Option<usize>,
    bytes: &[u8],
    mode: i32,
) -> std::result::Result<Bound<Vec<Value>>, String> {
    let key = |bytes: &[u8]| match index {
        None => Ok(vec![t.decode_key(bytes).map_err(|e| e.to_string())?]),
        Some(ix) => index_key(t, ix, (mode >> 8) as usize, bytes),
    };
    match mode & 0xff {
        wasm::bound::UNBOUNDED => Ok(Bound::Unbounded),
        wasm::bound::INCLUDED => key(bytes).map(Bound::Included),
        wasm::bound::EXCLUDED => key(bytes).map(Bound::Excluded),
        m => Err(format!("unknown bound mode {m}")),
    }
}

/// An index bound's key: the encoded struct of the index's first `n`
/// columns.
fn index_key(
    t: &Table,
    ix: usize,
    n: usize,
    bytes: &[u8],
) -> std::result::Result<Vec<Value>, String> {
    let cols = &t.schema().indexes[ix].columns;
    if n == 0 || n > cols.len() {
        return Err(format!(
            "bound holds {n} key columns; the index has {}",
            cols.len()
        ));
    }
    let columns = &t.schema().columns;
    let ty = Type::Struct(StructType {
        name: "key".into(),
        fields: cols[..n]
            .iter()
            .map(|&c| Field {
                name: columns[c as usize].name.clone(),
                ty: columns[c as usize].ty.clone(),
            })
            .collect(),
    });
    match decode_value(&ty, bytes).map_err(|e| e.to_string())? {
        Value::Struct(v) => Ok(v),
        _ => unreachable!("a struct type decodes to a struct"),
    }
}
