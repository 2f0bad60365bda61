//! Pins the bytes of the log format (`docs/log-format.md`): what this code
//! writes (version 5), and that it still reads versions 1 to 4 as written
//! before. A change here is a format change: a new version, and the doc
//! with it.

use bytes::Bytes;
use interstice_log::codec::{
    SegmentHeader, decode_frame, durable_before, encode_frame, epoch, set_epoch,
};
use interstice_log::scan::scan_segment;
use interstice_log::{
    CallTiming, Commit, Invocation, Mutation, MutationKind, NestedCall, ScheduledRun,
};

fn commit() -> Commit {
    Commit {
        offset: 7,
        timestamp: 0x0102_0304_0506_0708,
        cause: Some(3),
        invocation: Invocation {
            module: "m".into(),
            reducer: "r".into(),
            args: Bytes::from_static(b"A"),
            request_id: None,
            timing: None,
            scheduled: None,
        },
        mutations: vec![Mutation {
            kind: MutationKind::Insert,
            module_id: 1,
            table_id: 2,
            schema_hash: 0xAB,
            row: Bytes::from_static(b"R"),
        }],
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The frame of [`commit`] (with request id `request`, version 3 and
/// later; with the timing section `timing`, version 4 and later) without
/// its checksum, in `version`.
fn body(version: u8, request: &str, timing: &[u8]) -> Vec<u8> {
    scheduled_body(version, request, timing, None)
}

/// [`body`], for a call that schedule `(table, due)` made (version 5).
fn scheduled_body(
    version: u8,
    request: &str,
    timing: &[u8],
    scheduled: Option<(u32, u64)>,
) -> Vec<u8> {
    let mut v = b"ITXF".to_vec();
    v.push(version);
    v.push(if scheduled.is_some() { 3 } else { 1 }); // flags: cause, scheduled
    v.extend_from_slice(&7u64.to_le_bytes());
    v.extend_from_slice(&0x0102_0304_0506_0708u64.to_le_bytes());
    v.extend_from_slice(&3u64.to_le_bytes());
    if version >= 2 {
        v.extend_from_slice(&5u64.to_le_bytes()); // durable_before
    }
    if version >= 3 {
        v.extend_from_slice(&0u64.to_le_bytes()); // epoch
    }
    v.extend_from_slice(b"\x01\x00m\x01\x00r\x01\x00\x00\x00A");
    if version >= 3 {
        v.extend_from_slice(&(request.len() as u16).to_le_bytes());
        v.extend_from_slice(request.as_bytes());
    }
    if version >= 4 {
        v.extend_from_slice(&(timing.len() as u16).to_le_bytes());
        v.extend_from_slice(timing);
    }
    if let Some((table, due)) = scheduled {
        v.extend_from_slice(&table.to_le_bytes());
        v.extend_from_slice(&due.to_le_bytes());
    }
    v.extend_from_slice(&1u32.to_le_bytes()); // mutation count
    v.extend_from_slice(&22u32.to_le_bytes()); // payload length
    v.extend_from_slice(b"\x01\x01\x00\x00\x00\x02\x00\x00\x00");
    v.extend_from_slice(&0xABu64.to_le_bytes());
    v.extend_from_slice(b"\x01\x00\x00\x00R");
    v
}

fn with_crc(mut v: Vec<u8>) -> Vec<u8> {
    let crc = crc32fast::hash(&v);
    v.extend_from_slice(&crc.to_le_bytes());
    v
}

#[test]
fn version_5_frame_bytes() {
    let mut out = Vec::new();
    let n = encode_frame(&commit(), 5, &mut out).unwrap();
    assert_eq!(n, 70 + 1 + 1 + 1 + 22);
    assert_eq!(hex(&out), hex(&with_crc(body(5, "", b""))));
    let (decoded, len) = decode_frame(&Bytes::from(out.clone()), 0, 1 << 20).unwrap();
    assert_eq!((decoded, len), (commit(), n));
    assert_eq!((durable_before(&out), epoch(&out)), (Some(5), Some(0)));

    // With a request id, and an epoch set by the store.
    let mut with_id = commit();
    with_id.invocation.request_id = Some("req-1".into());
    let mut out = Vec::new();
    encode_frame(&with_id, 5, &mut out).unwrap();
    assert_eq!(hex(&out), hex(&with_crc(body(5, "req-1", b""))));
    set_epoch(&mut out, 9);
    let mut want = body(5, "req-1", b"");
    want[38..46].copy_from_slice(&9u64.to_le_bytes());
    assert_eq!(hex(&out), hex(&with_crc(want)));
    let (decoded, _) = decode_frame(&Bytes::from(out.clone()), 0, 1 << 20).unwrap();
    assert_eq!(decoded, with_id);
    assert_eq!(epoch(&out), Some(9));

    // With the call's timing: one cross-module call, and one it made that
    // failed.
    let mut timed = commit();
    timed.invocation.timing = Some(CallTiming {
        started: 0x1122_3344_5566_7788,
        micros: 900,
        calls: vec![
            NestedCall {
                parent: None,
                module: "b".into(),
                reducer: "x".into(),
                start: 10,
                micros: 500,
                failed: false,
            },
            NestedCall {
                parent: Some(0),
                module: "c".into(),
                reducer: "y".into(),
                start: 20,
                micros: 30,
                failed: true,
            },
        ],
        omitted: 2,
    });
    let mut timing = 0x1122_3344_5566_7788u64.to_le_bytes().to_vec();
    timing.extend_from_slice(&900u32.to_le_bytes());
    timing.extend_from_slice(&2u32.to_le_bytes()); // omitted
    timing.extend_from_slice(&2u16.to_le_bytes()); // calls
    timing.extend_from_slice(b"\xff\xff\x0a\x00\x00\x00\xf4\x01\x00\x00\x00\x01\x00b\x01\x00x");
    timing.extend_from_slice(b"\x00\x00\x14\x00\x00\x00\x1e\x00\x00\x00\x01\x01\x00c\x01\x00y");
    let mut out = Vec::new();
    let n = encode_frame(&timed, 5, &mut out).unwrap();
    assert_eq!(n, 70 + 1 + 1 + 1 + 22 + timing.len());
    assert_eq!(hex(&out), hex(&with_crc(body(5, "", &timing))));
    let (decoded, _) = decode_frame(&Bytes::from(out), 0, 1 << 20).unwrap();
    assert_eq!(decoded, timed);

    // Made by a schedule: flag bit 1, and the schedule section after the
    // (empty) timing section.
    let mut scheduled = commit();
    scheduled.invocation.scheduled = Some(ScheduledRun {
        table_id: 4,
        due: 0x1111_2222_3333_4444,
    });
    let mut out = Vec::new();
    let n = encode_frame(&scheduled, 5, &mut out).unwrap();
    assert_eq!(n, 70 + 1 + 1 + 1 + 22 + 12);
    let want = scheduled_body(5, "", b"", Some((4, 0x1111_2222_3333_4444)));
    assert_eq!(hex(&out), hex(&with_crc(want)));
    let (decoded, _) = decode_frame(&Bytes::from(out), 0, 1 << 20).unwrap();
    assert_eq!(decoded, scheduled);
}

#[test]
fn version_4_frames_still_read() {
    let v4 = Bytes::from(with_crc(body(4, "", b"")));
    assert_eq!(v4.len(), 70 + 1 + 1 + 1 + 22);
    let (decoded, len) = decode_frame(&v4, 0, 1 << 20).unwrap();
    assert_eq!((decoded, len), (commit(), v4.len()));
    // Version 4 has no schedule flag: a frame setting it is damage.
    let bad = Bytes::from(with_crc(scheduled_body(4, "", b"", Some((4, 9)))));
    let err = decode_frame(&bad, 0, 1 << 20).unwrap_err();
    assert_eq!(err.to_string(), "unknown flags 0x03");
}

#[test]
fn version_3_frames_still_read() {
    let mut with_id = commit();
    with_id.invocation.request_id = Some("req-1".into());
    let v3 = Bytes::from(with_crc(body(3, "req-1", b"")));
    assert_eq!(v3.len(), 68 + 1 + 1 + 1 + 5 + 22);
    let (decoded, len) = decode_frame(&v3, 0, 1 << 20).unwrap();
    assert_eq!((decoded, len), (with_id, v3.len()));
    assert_eq!((durable_before(&v3), epoch(&v3)), (Some(5), Some(0)));
}

#[test]
fn version_2_frames_still_read() {
    let v2 = Bytes::from(with_crc(body(2, "", b"")));
    assert_eq!(v2.len(), 58 + 1 + 1 + 1 + 22);
    let (decoded, len) = decode_frame(&v2, 0, 1 << 20).unwrap();
    assert_eq!((decoded, len), (commit(), v2.len()));
    assert_eq!((durable_before(&v2), epoch(&v2)), (Some(5), None));

    // A version 2 segment header: the same bytes but the version.
    let mut seg = b"ISEG\x02".to_vec();
    seg.extend_from_slice(&(32u32 << 10).to_le_bytes()[..3]);
    seg.extend_from_slice(&7u64.to_le_bytes());
    let seg = with_crc(seg);
    let header = SegmentHeader::decode(&Bytes::from(seg.clone())).unwrap();
    assert_eq!((header.version, header.max_frame_size), (2, Some(32 << 20)));
    assert!(
        !header.accepts(1 << 20),
        "a writer starts a segment of its own version"
    );
    let mut seg = seg;
    seg.extend_from_slice(&v2);
    let scan = scan_segment("s", &Bytes::from(seg), 7, 1 << 20);
    assert!(scan.bad.is_empty(), "{:?}", scan.bad);
}

#[test]
fn version_1_frames_still_read() {
    let v1 = Bytes::from(with_crc(body(1, "", b"")));
    assert_eq!(v1.len(), 50 + 1 + 1 + 1 + 22);
    let (decoded, len) = decode_frame(&v1, 0, 1 << 20).unwrap();
    assert_eq!((decoded, len), (commit(), v1.len()));
    assert_eq!(durable_before(&v1), None);

    // A version 1 segment: zero in bytes 5..8, the reader's limit applies.
    let mut seg = b"ISEG\x01\x00\x00\x00".to_vec();
    seg.extend_from_slice(&7u64.to_le_bytes());
    seg = with_crc(seg);
    let header = SegmentHeader::decode(&Bytes::from(seg.clone())).unwrap();
    assert_eq!((header.version, header.max_frame_size), (1, None));
    seg.extend_from_slice(&v1);
    let scan = scan_segment("s", &Bytes::from(seg), 7, 1 << 20);
    assert!(scan.bad.is_empty(), "{:?}", scan.bad);
    assert_eq!(scan.prefix_last, Some(7));
}

#[test]
fn version_5_segment_header_bytes() {
    let h = SegmentHeader::new(7, (32 << 20) + 1);
    let mut want = b"ISEG\x05".to_vec();
    want.extend_from_slice(&((32 << 10) + 1u32).to_le_bytes()[..3]); // KiB, rounded up
    want.extend_from_slice(&7u64.to_le_bytes());
    assert_eq!(hex(&h.encode()), hex(&with_crc(want)));
    let back = SegmentHeader::decode(&Bytes::copy_from_slice(&h.encode())).unwrap();
    assert_eq!(back.max_frame_size, Some(((32 << 10) + 1) * 1024));
    assert_eq!(back.frame_limit(10), ((32 << 10) + 1) * 1024);
}
