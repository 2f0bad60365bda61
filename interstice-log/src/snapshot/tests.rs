use bytes::Bytes;

use super::*;

fn sample() -> Vec<Record> {
    let mut records = vec![Record::Module {
        module_id: 1,
        schema_hash: 0xAB,
        record: ModuleRecord {
            name: "m".into(),
            schema: Bytes::from_static(b"S"),
            wasm: Bytes::from_static(b"\0asm"),
        },
    }];
    records.push(Record::Table {
        module_id: 1,
        table_id: 1,
        schema_hash: 0xCD,
        next_auto_inc: 3,
        rows: 2,
    });
    records.push(Record::Row(Bytes::from_static(b"row one")));
    records.push(Record::Row(Bytes::from_static(b"row two")));
    records.push(Record::Pending(PendingCall {
        cause: 1,
        module: "m".into(),
        reducer: "on_row".into(),
        args: Bytes::from_static(b"row two"),
        depth: 1,
        path: vec!["m.t.insert -> m.on_row".into()],
    }));
    records.push(Record::Timer {
        module_id: 1,
        table_id: 1,
        key: Bytes::from_static(b"\x07\0\0\0\0\0\0\0"),
        due: 1_700_000_000_000_000,
    });
    records
}

fn write(records: &[Record]) -> Bytes {
    let mut w = SnapshotWriter::new(SnapshotHeader {
        offset: 9,
        timestamp: 1200,
        clock: 1234,
    });
    records.iter().for_each(|r| w.push(r));
    w.finish()
}

fn read(bytes: Bytes) -> Result<Vec<Record>, SnapshotError> {
    SnapshotReader::new(bytes)?.records().collect()
}

#[test]
fn round_trip() {
    let bytes = write(&sample());
    let reader = SnapshotReader::new(bytes.clone()).unwrap();
    assert_eq!(
        reader.header(),
        SnapshotHeader {
            offset: 9,
            timestamp: 1200,
            clock: 1234
        }
    );
    assert_eq!(reader.record_count(), 6);
    assert_eq!(read(bytes).unwrap(), sample());
}

#[test]
fn an_empty_state_round_trips() {
    let bytes = write(&[]);
    assert_eq!(bytes.len(), HEADER_LEN + TRAILER_LEN);
    assert_eq!(read(bytes).unwrap(), vec![]);
}

#[test]
fn large_states_span_blocks_and_every_block_is_checked() {
    let mut w = SnapshotWriter::new(SnapshotHeader {
        offset: 0,
        timestamp: 0,
        clock: 0,
    });
    let rows = 3 * BLOCK_TARGET / 100;
    w.table(1, 1, 7, 1, rows as u64);
    for i in 0..rows {
        w.row(&[i as u8; 96]);
    }
    let bytes = w.finish();
    let reader = SnapshotReader::new(bytes.clone()).unwrap();
    assert_eq!(reader.verify().unwrap(), rows as u64 + 1);
    // Damage in the third block is reported in the third block.
    let mut bad = bytes.to_vec();
    let at = HEADER_LEN + 2 * (BLOCK_TARGET + 200);
    bad[at] ^= 1;
    let err = read(bad.into()).unwrap_err();
    assert_eq!(err.block, Some(2), "{err}");
    assert!(
        matches!(err.problem, SnapshotProblem::Checksum { .. }),
        "{err}"
    );
}

#[test]
fn every_flipped_bit_is_caught_and_located() {
    let bytes = write(&sample());
    let trailer = bytes.len() - TRAILER_LEN;
    for at in 0..bytes.len() {
        for bit in 0..8 {
            let mut bad = bytes.to_vec();
            bad[at] ^= 1 << bit;
            let err = read(bad.into()).expect_err(&format!("byte {at} bit {bit}"));
            match at {
                _ if at < HEADER_LEN => assert!(err.position < HEADER_LEN as u64, "{err}"),
                _ if at >= trailer => assert!(
                    matches!(err.problem, SnapshotProblem::Incomplete(_)),
                    "byte {at}: {err}"
                ),
                _ => assert_eq!(err.block, Some(0), "byte {at}: {err}"),
            }
        }
    }
}

#[test]
fn a_cut_snapshot_is_incomplete() {
    let bytes = write(&sample());
    for len in 0..bytes.len() {
        let err = read(bytes.slice(..len)).expect_err(&format!("cut at {len}"));
        assert!(
            matches!(err.problem, SnapshotProblem::Incomplete(_)),
            "cut at {len}: {err}"
        );
    }
}

#[test]
fn names_sort_in_offset_order() {
    assert_eq!(snapshot_name(42), "00000000000000000042.snap");
    assert_eq!(
        parse_snapshot_name(&snapshot_name(u64::MAX)),
        Some(u64::MAX)
    );
    assert_eq!(parse_snapshot_name("42.snap"), None);
    assert_eq!(parse_snapshot_name("00000000000000000042.log"), None);
}
