//! The timing section of a frame (format version 4): how the commit's
//! reducer call ran ([`CallTiming`]), for traces.
//!
//! ```text
//! started u64 | micros u32 | omitted u32 | count u16
//! | count × (parent u16 | start u32 | micros u32 | flags u8
//!            | module_len u16 | module | reducer_len u16 | reducer)
//! ```
//! `parent` is an index of an earlier call, or `0xFFFF` for the commit's
//! own reducer; flag bit 0: the call failed. The section is at most
//! [`MAX_TIMING_LEN`] bytes: calls that do not fit are counted in
//! `omitted` instead.

use super::{Cursor, FrameError};
use crate::entry::{CallTiming, NestedCall};

/// Largest timing section (its length is a `u16`).
pub const MAX_TIMING_LEN: usize = u16::MAX as usize;

/// Bytes of the section's fixed part.
const HEAD: usize = 8 + 4 + 4 + 2;

/// Bytes of a call besides its names.
const CALL: usize = 2 + 4 + 4 + 1 + 2 + 2;

/// `parent` of a call made by the commit's own reducer.
const NO_PARENT: u16 = u16::MAX;

/// Flag bit: the call failed.
const FAILED: u8 = 1;

/// How many of `t`'s calls fit in a section, and the section's length.
/// A call whose name is longer than a `u16` never fits (nor any after it).
pub(crate) fn fitting(t: &CallTiming) -> (usize, usize) {
    let mut len = HEAD;
    for (i, c) in t.calls.iter().enumerate() {
        let names_fit = c.module.len() <= u16::MAX as usize && c.reducer.len() <= u16::MAX as usize;
        let add = CALL + c.module.len() + c.reducer.len();
        if !names_fit || len + add > MAX_TIMING_LEN || i >= NO_PARENT as usize {
            return (i, len);
        }
        len += add;
    }
    (t.calls.len(), len)
}

/// Writes `t`'s section with its first `kept` calls (from [`fitting`]);
/// the others are counted as omitted.
pub(crate) fn write(t: &CallTiming, kept: usize, out: &mut Vec<u8>) {
    let omitted = t
        .omitted
        .saturating_add((t.calls.len() - kept).try_into().unwrap_or(u32::MAX));
    out.extend_from_slice(&t.started.to_le_bytes());
    out.extend_from_slice(&t.micros.to_le_bytes());
    out.extend_from_slice(&omitted.to_le_bytes());
    out.extend_from_slice(&(kept as u16).to_le_bytes());
    for c in &t.calls[..kept] {
        // A parent among the calls left out is not kept either: the call
        // is then shown as made by the commit's reducer.
        let parent = c
            .parent
            .filter(|&p| (p as usize) < kept)
            .unwrap_or(NO_PARENT);
        out.extend_from_slice(&parent.to_le_bytes());
        out.extend_from_slice(&c.start.to_le_bytes());
        out.extend_from_slice(&c.micros.to_le_bytes());
        out.push(if c.failed { FAILED } else { 0 });
        for name in [&c.module, &c.reducer] {
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(name.as_bytes());
        }
    }
}

/// Reads a section that fills `c` exactly.
pub(crate) fn read(c: &mut Cursor<'_>) -> Result<CallTiming, FrameError> {
    let malformed = |reason: String| FrameError::Malformed { reason };
    let started = c.u64()?;
    let micros = c.u32()?;
    let omitted = c.u32()?;
    let count = c.u16()? as usize;
    if count > c.remaining() / CALL {
        return Err(malformed(format!(
            "{count} timed calls cannot fit in {} bytes",
            c.remaining()
        )));
    }
    let mut calls = Vec::with_capacity(count);
    for i in 0..count {
        let parent = match c.u16()? {
            NO_PARENT => None,
            p if (p as usize) < i => Some(p),
            p => {
                return Err(malformed(format!(
                    "timed call {i} names call {p} as its caller, which is not an earlier one"
                )));
            }
        };
        let start = c.u32()?;
        let micros = c.u32()?;
        let flags = c.u8()?;
        if flags & !FAILED != 0 {
            return Err(malformed(format!(
                "timed call {i} has unknown flags {flags:#04x}"
            )));
        }
        let module_len = c.u16()? as usize;
        let module = c.utf8(module_len, "timed call module")?;
        let reducer_len = c.u16()? as usize;
        let reducer = c.utf8(reducer_len, "timed call reducer")?;
        calls.push(NestedCall {
            parent,
            module,
            reducer,
            start,
            micros,
            failed: flags & FAILED != 0,
        });
    }
    if c.remaining() != 0 {
        return Err(malformed(format!(
            "{} bytes after the timing section's {count} calls",
            c.remaining()
        )));
    }
    Ok(CallTiming {
        started,
        micros,
        calls,
        omitted,
    })
}
