//! Pins the bytes of the snapshot format (`docs/snapshot-format.md`),
//! version 3, and reads version 1 and 2 snapshots as written before. A change
//! here is a format change: a new version, and the doc with it.

use bytes::Bytes;
use interstice_log::ModuleRecord;
use interstice_log::snapshot::{
    PendingCall, Record, SnapshotHeader, SnapshotReader, SnapshotWriter,
};

fn with_crc(mut v: Vec<u8>) -> Vec<u8> {
    let crc = crc32fast::hash(&v);
    v.extend_from_slice(&crc.to_le_bytes());
    v
}

fn u32le(n: u32) -> [u8; 4] {
    n.to_le_bytes()
}

/// The snapshot of the pinned test, in `version` (1: without the request
/// record; 1 and 2: without the timer record), and its expected bytes.
fn pinned(version: u8) -> (Option<Bytes>, Vec<u8>) {
    let mut w = SnapshotWriter::new(SnapshotHeader {
        offset: 7,
        timestamp: 0x0102_0304_0506_0708,
        clock: 0x0102_0304_0506_0709,
    });
    let module = ModuleRecord {
        name: "m".into(),
        schema: Bytes::from_static(b"S"),
        wasm: Bytes::from_static(b"W"),
    };
    w.module(1, 0xAB, &module);
    w.table(1, 2, 0xCD, 5, 1);
    w.row(b"R");
    w.pending(&PendingCall {
        cause: 6,
        module: "m".into(),
        reducer: "r".into(),
        args: Bytes::from_static(b"A"),
        depth: 1,
        path: vec!["p".into()],
    });
    if version >= 2 {
        w.request("q", 6, 9, 0xEF);
    }
    if version >= 3 {
        w.timer(1, 2, b"K", 0x0A0B);
    }
    let bytes = (version == 3).then(|| w.finish());

    let mut header = vec![b'I', b'S', b'N', b'P', version, 0, 0, 0];
    header.extend_from_slice(&7u64.to_le_bytes());
    header.extend_from_slice(&0x0102_0304_0506_0708u64.to_le_bytes());
    header.extend_from_slice(&0x0102_0304_0506_0709u64.to_le_bytes());
    let mut expected = with_crc(header);

    let mut payload = vec![1u8]; // module
    payload.extend_from_slice(&u32le(1));
    payload.extend_from_slice(&0xABu64.to_le_bytes());
    payload.extend_from_slice(&u32le(13));
    payload.extend_from_slice(b"\x01\x00m\x01\x00\x00\x00S\x01\x00\x00\x00W");
    payload.push(2); // table
    payload.extend_from_slice(&u32le(1));
    payload.extend_from_slice(&u32le(2));
    payload.extend_from_slice(&0xCDu64.to_le_bytes());
    payload.extend_from_slice(&5u128.to_le_bytes());
    payload.extend_from_slice(&1u64.to_le_bytes());
    payload.push(3); // row
    payload.extend_from_slice(&u32le(1));
    payload.push(b'R');
    payload.push(4); // pending call
    payload.extend_from_slice(&6u64.to_le_bytes());
    payload.extend_from_slice(&u32le(1));
    for s in [&b"m"[..], b"r", b"A"] {
        payload.extend_from_slice(&u32le(1));
        payload.extend_from_slice(s);
    }
    payload.extend_from_slice(&u32le(1));
    payload.extend_from_slice(&u32le(1));
    payload.push(b'p');
    let mut records = 4u64;
    if version >= 2 {
        payload.push(5); // request id
        payload.extend_from_slice(&u32le(1));
        payload.push(b'q');
        payload.extend_from_slice(&6u64.to_le_bytes());
        payload.extend_from_slice(&9u64.to_le_bytes());
        payload.extend_from_slice(&0xEFu64.to_le_bytes());
        records += 1;
    }
    if version >= 3 {
        payload.push(6); // timer
        payload.extend_from_slice(&u32le(1));
        payload.extend_from_slice(&u32le(2));
        payload.extend_from_slice(&u32le(1));
        payload.push(b'K');
        payload.extend_from_slice(&0x0A0Bu64.to_le_bytes());
        records += 1;
    }

    // Block 0: length, then CRC-32 of (index, length, payload).
    let mut crc = crc32fast::Hasher::new();
    crc.update(&u32le(0));
    crc.update(&u32le(payload.len() as u32));
    crc.update(&payload);
    expected.extend_from_slice(&u32le(payload.len() as u32));
    expected.extend_from_slice(&crc.finalize().to_le_bytes());
    expected.extend_from_slice(&payload);

    let mut trailer = b"ISNT".to_vec();
    trailer.extend_from_slice(&u32le(1)); // blocks
    trailer.extend_from_slice(&records.to_le_bytes()); // records
    trailer.extend_from_slice(&7u64.to_le_bytes()); // offset
    expected.extend_from_slice(&with_crc(trailer));
    (bytes, expected)
}

#[test]
fn snapshot_bytes_are_pinned() {
    let (bytes, expected) = pinned(3);
    let bytes = bytes.unwrap();
    assert_eq!(&bytes[..], &expected[..]);
    let reader = SnapshotReader::new(bytes).unwrap();
    let records: Vec<Record> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 6);
    assert_eq!(records[2], Record::Row(Bytes::from_static(b"R")));
    assert_eq!(
        records[4],
        Record::Request {
            id: "q".into(),
            offset: 6,
            timestamp: 9,
            fingerprint: 0xEF,
        }
    );
    assert_eq!(
        records[5],
        Record::Timer {
            module_id: 1,
            table_id: 2,
            key: Bytes::from_static(b"K"),
            due: 0x0A0B,
        }
    );
}

#[test]
fn version_2_snapshots_still_read() {
    let (_, v2) = pinned(2);
    let reader = SnapshotReader::new(Bytes::from(v2)).unwrap();
    let records: Vec<Record> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 5);
    assert!(matches!(records[4], Record::Request { .. }));
}

#[test]
fn version_1_snapshots_still_read() {
    let (_, v1) = pinned(1);
    let reader = SnapshotReader::new(Bytes::from(v1)).unwrap();
    let records: Vec<Record> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 4);
    assert!(matches!(records[3], Record::Pending(_)));
}
