//! Snapshots of a database: what is written is what loads back, and a
//! snapshot that is damaged or contradicts itself is refused with a reason.

use bytes::Bytes;
use interstice_abi::Value;
use interstice_core::SnapshotLoadError;
use interstice_core::snapshot::{encode, load};
use interstice_core::subscriptions::Scheduled;
use interstice_log::snapshot::{SnapshotHeader, SnapshotProblem, SnapshotWriter};
use interstice_testkit::schemas::{dump, person, town, town_db};

const HEADER: SnapshotHeader = SnapshotHeader {
    offset: 41,
    timestamp: 1_700_000_000_000_000,
    clock: 1_700_000_000_000_000,
};

/// `town` with 3,000 people, some updated and some deleted.
fn populated() -> interstice_core::db::Database {
    let mut db = town_db();
    let mut txn = db.begin();
    for i in 0..3000u64 {
        let city = ["Oslo", "Rome", "Lima"][i as usize % 3];
        txn.insert(1, 1, person(0, &format!("p{i}@x"), (i % 90) as u8, city))
            .unwrap();
    }
    for id in (1..=3000u64).step_by(7) {
        txn.delete(1, 1, &Value::U64(id)).unwrap();
    }
    for id in (2..=3000u64).step_by(7) {
        txn.update(1, 1, person(id, &format!("moved{id}@x"), 1, "Kyiv"))
            .unwrap();
    }
    txn.commit();
    db
}

fn pending() -> Vec<Scheduled> {
    vec![Scheduled {
        cause: 40,
        module: "town".into(),
        reducer: "welcome".into(),
        args: Bytes::from_static(b"row"),
        depth: 2,
        path: vec!["town.people.insert -> town.welcome".into()],
    }]
}

#[test]
fn a_snapshot_loads_back_the_same_state() {
    let db = populated();
    let bytes = encode(
        &db,
        HEADER,
        &pending(),
        &Default::default(),
        &Default::default(),
    );
    let loaded = load(bytes.clone()).unwrap();
    assert_eq!(loaded.header, HEADER);
    assert_eq!(loaded.pending, pending());
    assert_eq!(dump(&loaded.db), dump(&db));
    // Written again, it is the same bytes: the encoding is canonical.
    assert_eq!(
        encode(
            &loaded.db,
            HEADER,
            &pending(),
            &loaded.requests,
            &loaded.timers
        ),
        bytes
    );

    // Indexes and the auto-increment counter came back too.
    let mut db2 = loaded.db;
    let t = db2.table(1, 1).unwrap();
    let by_city = t.index_id("by_city_age").unwrap();
    let kyiv = [Value::from("Kyiv")];
    let n = t
        .index_range(
            by_city,
            std::ops::Bound::Included(&kyiv[..]),
            std::ops::Bound::Included(&kyiv[..]),
        )
        .count();
    assert_eq!(n, (2..=3000).step_by(7).count());
    let mut txn = db2.begin();
    let row = txn.insert(1, 1, person(0, "new@x", 5, "Oslo")).unwrap();
    assert_eq!(row.values()[0], Value::U64(3001));
    // The unique index is live: a taken email is refused.
    assert!(txn.insert(1, 1, person(0, "p3@x", 5, "Oslo")).is_err());
}

#[test]
fn damage_is_refused_with_its_block() {
    let bytes = encode(
        &populated(),
        HEADER,
        &[],
        &Default::default(),
        &Default::default(),
    );
    let mut bad = bytes.to_vec();
    let at = bad.len() / 2;
    bad[at] ^= 0x10;
    match load(bad.into()) {
        Err(SnapshotLoadError::Damaged(e)) => {
            assert!(e.block.is_some(), "{e}");
            assert!(matches!(e.problem, SnapshotProblem::Checksum { .. }), "{e}");
        }
        other => panic!("expected damage, got {other:?}"),
    }
    let cut = bytes.slice(..bytes.len() - 1);
    assert!(matches!(load(cut), Err(SnapshotLoadError::Damaged(_))));
}

/// A snapshot whose checksums are sound but whose `town.people` rows are
/// `rows`: what `load` says of it.
fn with_rows(rows: &[Vec<Value>]) -> Result<(), SnapshotLoadError> {
    let db = town_db();
    let m = db.module(1).unwrap();
    let mut w = SnapshotWriter::new(HEADER);
    let record = interstice_log::ModuleRecord {
        name: "town".into(),
        schema: interstice_abi::encode_schema(&town()).unwrap().into(),
        wasm: m.wasm.clone(),
    };
    w.module(1, m.schema_hash, &record);
    w.table(1, 1, m.tables[0].hash(), 1, rows.len() as u64);
    for r in rows {
        w.row(&interstice_abi::encode_fields(r).unwrap());
    }
    load(w.finish()).map(drop)
}

#[test]
fn contradictions_are_refused_with_a_reason() {
    let a = person(1, "a@x", 1, "Oslo");
    let b = person(2, "b@x", 1, "Oslo");
    with_rows(&[a.clone(), b.clone()]).unwrap();
    let err = |rows: &[Vec<Value>]| match with_rows(rows) {
        Err(SnapshotLoadError::Inconsistent(reason)) => reason,
        other => panic!("expected an inconsistency, got {other:?}"),
    };
    assert!(err(&[b.clone(), a.clone()]).contains("order"));
    assert!(err(&[a.clone(), a.clone()]).contains("order"));
    let same_email = person(2, "a@x", 1, "Oslo");
    assert!(err(&[a.clone(), same_email]).contains("by_email"));
    let wrong_type = vec![Value::U64(3), Value::U8(1)];
    assert!(err(&[wrong_type]).contains("bad row"));

    // A table of a module the snapshot does not have.
    let mut w = SnapshotWriter::new(HEADER);
    w.table(9, 1, 0, 1, 0);
    assert!(matches!(
        load(w.finish()),
        Err(SnapshotLoadError::Inconsistent(r)) if r.contains("module 9")
    ));
}

/// Enough rows that a load sorts its index entries in several runs on
/// other threads and merges them.
#[test]
fn a_large_table_loads_with_every_index_entry_in_order() {
    let rows = 140_000u64;
    let mut db = town_db();
    let mut txn = db.begin();
    for i in 0..rows {
        // Emails in an order unrelated to the ids.
        let email = format!("{}@x", (i * 7919) % rows);
        let city = ["Oslo", "Rome", "Lima"][(i % 3) as usize];
        txn.insert(1, 1, person(0, &email, (i % 90) as u8, city))
            .unwrap();
    }
    txn.commit();
    let loaded = load(encode(
        &db,
        HEADER,
        &[],
        &Default::default(),
        &Default::default(),
    ))
    .unwrap();
    assert_eq!(dump(&loaded.db), dump(&db));
    let t = loaded.db.table(1, 1).unwrap();
    let by_email = t.index_id("by_email").unwrap();
    let emails: Vec<Value> = t
        .index_range(
            by_email,
            std::ops::Bound::Unbounded,
            std::ops::Bound::Unbounded,
        )
        .map(|r| r.values()[1].clone())
        .collect();
    let mut want: Vec<Value> = (0..rows).map(|i| Value::from(format!("{i}@x"))).collect();
    want.sort();
    assert_eq!(emails, want);
    let rome = [Value::from("Rome")];
    let by_city = t.index_id("by_city_age").unwrap();
    let in_rome = t
        .index_range(
            by_city,
            std::ops::Bound::Included(&rome[..]),
            std::ops::Bound::Included(&rome[..]),
        )
        .count();
    assert_eq!(in_rome, (0..rows).filter(|i| i % 3 == 1).count());
}

#[test]
fn twins_in_a_unique_index_of_a_large_table_are_refused() {
    let mut rows: Vec<Vec<Value>> = (1..=140_000u64)
        .map(|i| person(i, &format!("{i}@x"), 1, "Oslo"))
        .collect();
    rows[135_000] = person(135_001, "77@x", 1, "Oslo");
    match with_rows(&rows) {
        Err(SnapshotLoadError::Inconsistent(reason)) => {
            assert!(
                reason.contains("by_email") && reason.contains("77@x"),
                "{reason}"
            );
        }
        other => panic!("expected an inconsistency, got {other:?}"),
    }
}
