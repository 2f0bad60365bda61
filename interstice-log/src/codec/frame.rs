//! Commit frames: the encoding of one [`Commit`].
//!
//! ```text
//! magic "ITXF" | version u8 | flags u8 | offset u64 | timestamp u64 | cause u64
//! | durable_before u64 (version 2 and later) | epoch u64 (version 3)
//! | module_len u16 | module | reducer_len u16 | reducer | args_len u32 | args
//! | request_len u16 | request (version 3)
//! | timing_len u16 | timing (version 4)
//! | schedule_table u32 | due u64 (version 5, when flag bit 1 is set)
//! | mutation_count u32 | payload_len u32 | payload | crc32 u32
//! ```
//! `crc32` covers every byte before it. The payload is `mutation_count`
//! mutations, each `kind u8 | module_id u32 | table_id u32 | schema_hash u64
//! | row_len u32 | row`.
//!
//! `durable_before` is the store's word on what was durable when the frame
//! was written: every commit before that offset was. Recovery uses it to
//! tell a torn write (damage at or after it) from damage to data that was
//! already durable (before it). Version 1 frames do not carry it.
//!
//! `epoch` is the writer's epoch on a store that has them (S3: each writer
//! takes a new one when it opens), else 0; `request` is the caller's
//! request id (`request_len` 0: none). Frames before version 3 carry
//! neither. `timing` (`timing_len` 0: none) says how the call ran
//! ([`super::timing`]); frames before version 4 do not carry it. A commit a
//! schedule made (flag bit 1, version 5) names the schedule table and the
//! time the call was due.

use bytes::Bytes;

use super::{Cursor, FORMAT_VERSION, FrameError, is_known_version, timing};
use crate::Error;
use crate::entry::{CallTiming, Commit, Invocation, Mutation, MutationKind, ScheduledRun};

/// The four bytes every commit frame starts with.
pub const FRAME_MAGIC: [u8; 4] = *b"ITXF";

/// Flag bit: the `cause` field holds an offset.
const FLAG_CAUSE: u8 = 0b0000_0001;

/// Flag bit (version 5): a schedule made the call, and the frame carries
/// its section (`schedule_table`, `due`) after the timing section.
const FLAG_SCHEDULED: u8 = 0b0000_0010;

/// Bytes of the schedule section of a frame whose call a schedule made.
pub const SCHEDULED_LEN: usize = 4 + 8;

/// The flag bits a frame of `version` may set.
const fn known_flags(version: u8) -> u8 {
    if version >= 5 {
        FLAG_CAUSE | FLAG_SCHEDULED
    } else {
        FLAG_CAUSE
    }
}

/// Bytes in a frame (of the version written) besides its variable-length
/// fields (module and reducer names, arguments, payload).
pub const FRAME_OVERHEAD: usize = overhead(FORMAT_VERSION);

/// Where `durable_before` sits in a frame of version 2 or later.
const DURABLE_BEFORE_AT: usize = 4 + 1 + 1 + 8 + 8 + 8;

/// Where `epoch` sits in a frame of version 3 or later.
const EPOCH_AT: usize = DURABLE_BEFORE_AT + 8;

/// Bytes of the fixed fields before `module_len` in a frame of `version`.
const fn fixed_len(version: u8) -> usize {
    match version {
        1 => DURABLE_BEFORE_AT,
        2 => DURABLE_BEFORE_AT + 8,
        _ => EPOCH_AT + 8,
    }
}

/// Bytes in a frame of `version` besides its variable-length fields.
const fn overhead(version: u8) -> usize {
    let request_len = if version >= 3 { 2 } else { 0 };
    let timing_len = if version >= 4 { 2 } else { 0 };
    fixed_len(version) + 2 + 2 + 4 + request_len + timing_len + 4 + 4 + 4
}

/// Bytes in a mutation besides its row.
pub const MUTATION_OVERHEAD: usize = 1 + 4 + 4 + 8 + 4;

/// The length of the frame (of the version written) of a commit with these
/// field lengths (`request_len`: its request id's, 0 for none; `timing`:
/// its call's timing, if any; `scheduled`: whether a schedule made the
/// call), `payload_len` being the sum of its mutations'
/// [`MUTATION_OVERHEAD`] and row bytes: what a limit on commit size checks
/// before encoding anything.
pub fn frame_size(
    module_len: usize,
    reducer_len: usize,
    args_len: usize,
    request_len: usize,
    timing: Option<&CallTiming>,
    scheduled: bool,
    payload_len: u64,
) -> u64 {
    let timing_len = timing.map_or(0, |t| timing::fitting(t).1);
    let scheduled_len = if scheduled { SCHEDULED_LEN } else { 0 };
    let fields = module_len + reducer_len + args_len + request_len + timing_len + scheduled_len;
    (FRAME_OVERHEAD + fields) as u64 + payload_len
}

/// Appends the frame for `commit` to `out` and returns its length.
/// `durable_before` says every commit before that offset is durable in the
/// store the frame is written to (for a batch appended at `sync`, the
/// batch's first offset; see [`set_durable_before`] for a store that knows
/// better).
///
/// Fails with [`Error::InvalidCommit`] when a field does not fit its length
/// prefix; `out` is left as it was.
pub fn encode_frame(
    commit: &Commit,
    durable_before: u64,
    out: &mut Vec<u8>,
) -> Result<usize, Error> {
    let invalid = |reason: String| Error::InvalidCommit {
        offset: commit.offset,
        reason,
    };
    let inv = &commit.invocation;
    let module_len = u16::try_from(inv.module.len()).map_err(|_| {
        invalid(format!(
            "module name is {} bytes (max 65535)",
            inv.module.len()
        ))
    })?;
    let reducer_len = u16::try_from(inv.reducer.len()).map_err(|_| {
        invalid(format!(
            "reducer name is {} bytes (max 65535)",
            inv.reducer.len()
        ))
    })?;
    let args_len = u32::try_from(inv.args.len()).map_err(|_| {
        invalid(format!(
            "arguments are {} bytes (max 4 GiB)",
            inv.args.len()
        ))
    })?;
    let request = inv.request_id.as_deref().unwrap_or("");
    if inv.request_id.as_deref() == Some("") {
        return Err(invalid("the request id is empty".into()));
    }
    let request_len = u16::try_from(request.len())
        .map_err(|_| invalid(format!("request id is {} bytes (max 65535)", request.len())))?;
    let count = u32::try_from(commit.mutations.len())
        .map_err(|_| invalid("more than 2^32 mutations".into()))?;
    let mut payload_len = 0usize;
    for m in &commit.mutations {
        u32::try_from(m.row.len())
            .map_err(|_| invalid(format!("row is {} bytes (max 4 GiB)", m.row.len())))?;
        payload_len += MUTATION_OVERHEAD + m.row.len();
    }
    let payload_len32 = u32::try_from(payload_len)
        .map_err(|_| invalid(format!("payload is {payload_len} bytes (max 4 GiB)")))?;
    let (timed_calls, timing_len) = inv.timing.as_ref().map_or((0, 0), timing::fitting);
    let scheduled_len = if inv.scheduled.is_some() {
        SCHEDULED_LEN
    } else {
        0
    };

    let start = out.len();
    let total = FRAME_OVERHEAD
        + inv.module.len()
        + inv.reducer.len()
        + inv.args.len()
        + request.len()
        + timing_len
        + scheduled_len
        + payload_len;
    out.reserve(total);
    out.extend_from_slice(&FRAME_MAGIC);
    out.push(FORMAT_VERSION);
    let mut flags = 0;
    if commit.cause.is_some() {
        flags |= FLAG_CAUSE;
    }
    if inv.scheduled.is_some() {
        flags |= FLAG_SCHEDULED;
    }
    out.push(flags);
    out.extend_from_slice(&commit.offset.to_le_bytes());
    out.extend_from_slice(&commit.timestamp.to_le_bytes());
    out.extend_from_slice(&commit.cause.unwrap_or(0).to_le_bytes());
    out.extend_from_slice(&durable_before.to_le_bytes());
    // The epoch: set by a store that has them (`set_epoch`).
    out.extend_from_slice(&0u64.to_le_bytes());
    out.extend_from_slice(&module_len.to_le_bytes());
    out.extend_from_slice(inv.module.as_bytes());
    out.extend_from_slice(&reducer_len.to_le_bytes());
    out.extend_from_slice(inv.reducer.as_bytes());
    out.extend_from_slice(&args_len.to_le_bytes());
    out.extend_from_slice(&inv.args);
    out.extend_from_slice(&request_len.to_le_bytes());
    out.extend_from_slice(request.as_bytes());
    out.extend_from_slice(&(timing_len as u16).to_le_bytes());
    if let Some(t) = &inv.timing {
        timing::write(t, timed_calls, out);
    }
    if let Some(run) = &inv.scheduled {
        out.extend_from_slice(&run.table_id.to_le_bytes());
        out.extend_from_slice(&run.due.to_le_bytes());
    }
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&payload_len32.to_le_bytes());
    for m in &commit.mutations {
        out.push(m.kind as u8);
        out.extend_from_slice(&m.module_id.to_le_bytes());
        out.extend_from_slice(&m.table_id.to_le_bytes());
        out.extend_from_slice(&m.schema_hash.to_le_bytes());
        out.extend_from_slice(&(m.row.len() as u32).to_le_bytes());
        out.extend_from_slice(&m.row);
    }
    let crc = crc32fast::hash(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
    debug_assert_eq!(out.len() - start, total);
    Ok(total)
}

/// The length of the frame starting at `buf[pos]`, read from its length
/// fields without checking its checksum.
///
/// Fails when the bytes cannot be a frame of this version, when they end
/// before the frame does ([`FrameError::Truncated`]), or when the frame
/// would be larger than `max` ([`FrameError::TooLarge`]).
pub fn frame_len(buf: &Bytes, pos: usize, max: u64) -> Result<usize, FrameError> {
    let mut c = Cursor::new(buf, pos, buf.len());
    let magic: [u8; 4] = c.array()?;
    if magic != FRAME_MAGIC {
        return Err(FrameError::BadMagic { found: magic });
    }
    let version = c.u8()?;
    if !is_known_version(version) {
        return Err(FrameError::UnsupportedVersion(version));
    }
    let flags = c.u8()?;
    if flags & !known_flags(version) != 0 {
        return Err(FrameError::UnknownFlags(flags));
    }
    c.skip(fixed_len(version) - 6)?;
    let mut size = overhead(version) as u64;
    // Each variable field: check the running size against `max` before
    // skipping, so a corrupt length is reported as such, not as a tear.
    let mut field = |c: &mut Cursor<'_>, len: u64| -> Result<(), FrameError> {
        size += len;
        if size > max {
            return Err(FrameError::TooLarge { size, max });
        }
        c.skip(len as usize)
    };
    let module_len = c.u16()? as u64;
    field(&mut c, module_len)?;
    let reducer_len = c.u16()? as u64;
    field(&mut c, reducer_len)?;
    let args_len = c.u32()? as u64;
    field(&mut c, args_len)?;
    if version >= 3 {
        let request_len = c.u16()? as u64;
        field(&mut c, request_len)?;
    }
    if version >= 4 {
        let timing_len = c.u16()? as u64;
        field(&mut c, timing_len)?;
    }
    if flags & FLAG_SCHEDULED != 0 {
        field(&mut c, SCHEDULED_LEN as u64)?;
    }
    c.skip(4)?; // mutation count
    let payload_len = c.u32()? as u64;
    field(&mut c, payload_len)?;
    c.skip(4)?; // crc
    Ok(size as usize)
}

/// Decodes and verifies the frame at `buf[pos]`, returning the commit and
/// the frame's length. Rows and arguments are zero-copy slices of `buf`.
pub fn decode_frame(buf: &Bytes, pos: usize, max: u64) -> Result<(Commit, usize), FrameError> {
    let len = frame_len(buf, pos, max)?;
    let body = &buf[pos..pos + len - 4];
    let expected = u32::from_le_bytes(buf[pos + len - 4..pos + len].try_into().expect("4 bytes"));
    let found = crc32fast::hash(body);
    if expected != found {
        return Err(FrameError::ChecksumMismatch { expected, found });
    }

    let malformed = |reason: String| FrameError::Malformed { reason };
    let mut c = Cursor::new(buf, pos + 5, pos + len - 4);
    let flags = c.u8()?;
    let offset = c.u64()?;
    let timestamp = c.u64()?;
    let cause_raw = c.u64()?;
    let version = buf[pos + 4];
    if version != 1 {
        let durable_before = c.u64()?;
        if durable_before > offset {
            return Err(malformed(format!(
                "durable_before {durable_before} is after the frame's own offset {offset}"
            )));
        }
    }
    if version >= 3 {
        c.u64()?; // the epoch: see `epoch`
    }
    let cause = if flags & FLAG_CAUSE != 0 {
        Some(cause_raw)
    } else if cause_raw != 0 {
        return Err(malformed(format!(
            "cause {cause_raw} set without the cause flag"
        )));
    } else {
        None
    };
    let module_len = c.u16()? as usize;
    let module = c.utf8(module_len, "module name")?;
    let reducer_len = c.u16()? as usize;
    let reducer = c.utf8(reducer_len, "reducer name")?;
    let args_len = c.u32()? as usize;
    let args = c.bytes(args_len)?;
    let request_id = if version >= 3 {
        let request_len = c.u16()? as usize;
        Some(c.utf8(request_len, "request id")?).filter(|r| !r.is_empty())
    } else {
        None
    };
    let timing = if version >= 4 {
        read_timing(&mut c)?
    } else {
        None
    };
    let scheduled = if flags & FLAG_SCHEDULED != 0 {
        Some(ScheduledRun {
            table_id: c.u32()?,
            due: c.u64()?,
        })
    } else {
        None
    };
    let count = c.u32()? as usize;
    let payload_len = c.u32()? as usize;
    // Bound the allocation by what the payload can hold.
    if count > payload_len / MUTATION_OVERHEAD {
        return Err(malformed(format!(
            "{count} mutations cannot fit in a payload of {payload_len} bytes"
        )));
    }
    let payload_end = pos + len - 4;
    let mut mutations = Vec::with_capacity(count);
    for i in 0..count {
        let kind_byte = c.u8()?;
        let kind = MutationKind::from_byte(kind_byte)
            .ok_or_else(|| malformed(format!("mutation {i} has unknown kind {kind_byte}")))?;
        let module_id = c.u32()?;
        let table_id = c.u32()?;
        let schema_hash = c.u64()?;
        let row_len = c.u32()? as usize;
        let row = c.bytes(row_len).map_err(|_| {
            malformed(format!(
                "mutation {i} row of {row_len} bytes overruns the payload"
            ))
        })?;
        mutations.push(Mutation {
            kind,
            module_id,
            table_id,
            schema_hash,
            row,
        });
    }
    if c.remaining() != 0 {
        return Err(malformed(format!(
            "{} bytes after the last of {count} mutations (payload ends at byte {payload_end})",
            c.remaining()
        )));
    }
    let commit = Commit {
        offset,
        timestamp,
        cause,
        invocation: Invocation {
            module,
            reducer,
            args,
            request_id,
            timing,
            scheduled,
        },
        mutations,
    };
    Ok((commit, len))
}

/// The timing section at `c` (version 4), if the frame has one. Its
/// bytes are covered by the frame's checksum, so a section that does not
/// read is malformed, never torn.
fn read_timing(c: &mut Cursor<'_>) -> Result<Option<CallTiming>, FrameError> {
    let len = c.u16()? as usize;
    if len == 0 {
        return Ok(None);
    }
    let section = c.bytes(len)?;
    let mut sub = Cursor::new(&section, 0, len);
    timing::read(&mut sub).map(Some).map_err(|e| match e {
        FrameError::Truncated { .. } => FrameError::Malformed {
            reason: format!("the timing section of {len} bytes ends early"),
        },
        e => e,
    })
}

/// The `durable_before` of the valid frame `frame` (as checked by
/// [`decode_frame`]), or `None` for a version 1 frame, which does not say.
pub fn durable_before(frame: &[u8]) -> Option<u64> {
    (frame.get(4) != Some(&1)).then(|| {
        let at = DURABLE_BEFORE_AT;
        u64::from_le_bytes(frame[at..at + 8].try_into().expect("8 bytes"))
    })
}

/// The writer's epoch recorded in the valid frame `frame` (as checked by
/// [`decode_frame`]), or `None` for a frame before version 3.
pub fn epoch(frame: &[u8]) -> Option<u64> {
    (frame.get(4).is_some_and(|&v| v >= 3))
        .then(|| u64::from_le_bytes(frame[EPOCH_AT..EPOCH_AT + 8].try_into().expect("8 bytes")))
}

/// Sets the writer's `epoch` in `frame`, a whole frame of the version
/// written, and updates its checksum.
pub fn set_epoch(frame: &mut [u8], epoch: u64) {
    debug_assert_eq!(frame[4], FORMAT_VERSION);
    frame[EPOCH_AT..EPOCH_AT + 8].copy_from_slice(&epoch.to_le_bytes());
    let crc_at = frame.len() - 4;
    let crc = crc32fast::hash(&frame[..crc_at]);
    frame[crc_at..].copy_from_slice(&crc.to_le_bytes());
}

/// Sets `durable_before` in `frame`, a whole frame of the version written,
/// and updates its checksum.
pub fn set_durable_before(frame: &mut [u8], durable_before: u64) {
    debug_assert_eq!(frame[4], FORMAT_VERSION);
    let at = DURABLE_BEFORE_AT;
    frame[at..at + 8].copy_from_slice(&durable_before.to_le_bytes());
    let crc_at = frame.len() - 4;
    let crc = crc32fast::hash(&frame[..crc_at]);
    frame[crc_at..].copy_from_slice(&crc.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::NestedCall;

    fn sample() -> Commit {
        Commit {
            offset: 7,
            timestamp: 1_700_000_000_000_000,
            cause: Some(3),
            invocation: Invocation {
                module: "hello".into(),
                reducer: "greet".into(),
                args: Bytes::from_static(b"\x05world"),
                request_id: None,
                timing: Some(CallTiming {
                    started: 1_700_000_000_000_100,
                    micros: 420,
                    calls: vec![
                        NestedCall {
                            parent: None,
                            module: "bank".into(),
                            reducer: "deposit".into(),
                            start: 12,
                            micros: 300,
                            failed: false,
                        },
                        NestedCall {
                            parent: Some(0),
                            module: "audit".into(),
                            reducer: "note".into(),
                            start: 40,
                            micros: 20,
                            failed: true,
                        },
                    ],
                    omitted: 0,
                }),
                scheduled: None,
            },
            mutations: vec![Mutation {
                kind: MutationKind::Insert,
                module_id: 1,
                table_id: 2,
                schema_hash: 0xdead_beef,
                row: Bytes::from_static(b"row bytes"),
            }],
        }
    }

    #[test]
    fn round_trip() {
        let mut buf = Vec::new();
        let n = encode_frame(&sample(), 5, &mut buf).unwrap();
        assert_eq!(n, buf.len());
        let buf = Bytes::from(buf);
        assert_eq!(frame_len(&buf, 0, u64::MAX).unwrap(), n);
        let (commit, len) = decode_frame(&buf, 0, u64::MAX).unwrap();
        assert_eq!(len, n);
        assert_eq!(commit, sample());
    }

    #[test]
    fn every_prefix_is_truncated() {
        let mut buf = Vec::new();
        encode_frame(&sample(), 5, &mut buf).unwrap();
        for cut in 0..buf.len() {
            let b = Bytes::copy_from_slice(&buf[..cut]);
            let err = decode_frame(&b, 0, u64::MAX).unwrap_err();
            assert!(err.is_truncation(), "cut at {cut}: {err}");
        }
    }

    #[test]
    fn too_large_is_reported_before_reading() {
        let mut buf = Vec::new();
        let n = encode_frame(&sample(), 5, &mut buf).unwrap();
        let b = Bytes::from(buf);
        let err = frame_len(&b, 0, n as u64 - 1).unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { .. }), "{err}");
    }

    #[test]
    fn huge_mutation_count_does_not_allocate() {
        // A frame whose checksum is valid but whose count claims 2^32-1
        // mutations in an empty payload must fail without allocating.
        let mut c = sample();
        c.mutations.clear();
        let mut buf = Vec::new();
        encode_frame(&c, 5, &mut buf).unwrap();
        let count_at = buf.len() - 4 - 4 - 4;
        buf[count_at..count_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let crc_at = buf.len() - 4;
        let crc = crc32fast::hash(&buf[..crc_at]);
        buf[crc_at..].copy_from_slice(&crc.to_le_bytes());
        let err = decode_frame(&Bytes::from(buf), 0, u64::MAX).unwrap_err();
        assert!(matches!(err, FrameError::Malformed { .. }), "{err}");
    }

    #[test]
    fn the_size_computed_ahead_is_the_size_encoded() {
        let c = sample();
        let inv = &c.invocation;
        let payload: usize = c
            .mutations
            .iter()
            .map(|m| MUTATION_OVERHEAD + m.row.len())
            .sum();
        let size = frame_size(
            inv.module.len(),
            inv.reducer.len(),
            inv.args.len(),
            0,
            inv.timing.as_ref(),
            inv.scheduled.is_some(),
            payload as u64,
        );
        let mut buf = Vec::new();
        assert_eq!(encode_frame(&c, 5, &mut buf).unwrap() as u64, size);
    }

    #[test]
    fn calls_beyond_the_timing_section_are_counted_as_omitted() {
        let mut c = sample();
        let timing = c.invocation.timing.as_mut().unwrap();
        let call = NestedCall {
            parent: Some(0),
            module: "m".repeat(1000),
            reducer: "r".into(),
            ..NestedCall::default()
        };
        timing.calls.extend(std::iter::repeat_n(call, 100));
        let mut buf = Vec::new();
        encode_frame(&c, 5, &mut buf).unwrap();
        let (back, _) = decode_frame(&Bytes::from(buf), 0, u64::MAX).unwrap();
        let back = back.invocation.timing.unwrap();
        // 65535 bytes hold the first calls and about 64 of 1 KiB.
        assert!(
            back.calls.len() < 102 && back.calls.len() > 60,
            "{}",
            back.calls.len()
        );
        assert_eq!(back.calls.len() as u32 + back.omitted, 102);
        assert_eq!(back.calls[..2], c.invocation.timing.unwrap().calls[..2]);
    }

    #[test]
    fn a_timed_call_whose_caller_comes_later_is_malformed() {
        let c = sample();
        let mut buf = Vec::new();
        encode_frame(&c, 5, &mut buf).unwrap();
        // The second call's parent field, set to point at itself: it sits
        // before start, micros, flags, "audit" with its length, and the
        // length of "note".
        let note = buf.windows(4).position(|w| w == b"note").unwrap();
        let at = note - (2 + 5 + 2 + 1 + 4 + 4 + 2);
        assert_eq!(&buf[at..at + 2], &0u16.to_le_bytes());
        buf[at..at + 2].copy_from_slice(&1u16.to_le_bytes());
        let crc_at = buf.len() - 4;
        let crc = crc32fast::hash(&buf[..crc_at]);
        buf[crc_at..].copy_from_slice(&crc.to_le_bytes());
        let err = decode_frame(&Bytes::from(buf), 0, u64::MAX).unwrap_err();
        assert!(err.to_string().contains("not an earlier one"), "{err}");
    }

    #[test]
    fn overlong_name_is_refused() {
        let mut c = sample();
        c.invocation.module = "m".repeat(70_000);
        let mut buf = vec![1, 2, 3];
        let err = encode_frame(&c, 5, &mut buf).unwrap_err();
        assert!(
            matches!(err, Error::InvalidCommit { offset: 7, .. }),
            "{err}"
        );
        assert_eq!(buf, [1, 2, 3]);
    }
}
