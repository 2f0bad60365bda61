//! Tables, indexes and transactions.

use std::ops::Bound::{Excluded, Included, Unbounded};

use interstice_abi::Value;
use interstice_core::TableError;
use interstice_core::db::TxnError;
use interstice_testkit::schemas::{dump, person, town_db};
use proptest::prelude::*;

fn emails<'a>(rows: impl Iterator<Item = interstice_core::table::RowRef<'a>>) -> Vec<String> {
    rows.map(|r| match &r.values()[1] {
        Value::String(s) => s.clone(),
        v => panic!("{v}"),
    })
    .collect()
}

#[test]
fn auto_increment_and_index_lookups() {
    let mut db = town_db();
    let mut txn = db.begin();
    for (e, age, city) in [
        ("a@x", 30, "Oslo"),
        ("b@x", 17, "Rome"),
        ("c@x", 30, "Rome"),
        ("d@x", 45, "Oslo"),
    ] {
        let row = txn.insert(1, 1, person(0, e, age, city)).unwrap();
        assert_ne!(row.values()[0], Value::U64(0), "auto_inc assigned a key");
    }
    txn.commit();
    let t = db.table(1, 1).unwrap();
    assert_eq!(t.len(), 4);
    assert_eq!(
        t.get(&Value::U64(3)).unwrap().values()[1],
        Value::from("c@x")
    );
    let by_age = t.index_id("by_age").unwrap();
    let adults = [Value::U8(18)];
    assert_eq!(
        emails(t.index_range(by_age, Included(&adults[..]), Unbounded)),
        ["a@x", "c@x", "d@x"]
    );
    let thirty = [Value::U8(30)];
    assert_eq!(
        emails(t.index_range(by_age, Included(&thirty[..]), Included(&thirty[..]))),
        ["a@x", "c@x"]
    );
    // Composite (city, age): a one-column bound is a prefix.
    let comp = t.index_id("by_city_age").unwrap();
    let (rome, rome_end) = (
        [Value::from("Rome")],
        [Value::from("Rome"), Value::U8(u8::MAX)],
    );
    assert_eq!(
        emails(t.index_range(comp, Included(&rome[..]), Included(&rome_end[..]))),
        ["b@x", "c@x"]
    );
    assert_eq!(
        emails(t.range(Excluded(&Value::U64(2)), Unbounded)),
        ["c@x", "d@x"]
    );
}

#[test]
fn unique_violations_abort_with_a_clear_error() {
    let mut db = town_db();
    let mut txn = db.begin();
    txn.insert(1, 1, person(0, "a@x", 1, "Oslo")).unwrap();
    let err = txn.insert(1, 1, person(0, "a@x", 2, "Rome")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "table `people`: unique index `by_email` already has key (\"a@x\")"
    );
    let err = txn.insert(1, 1, person(1, "z@x", 2, "Rome")).unwrap_err();
    assert!(
        matches!(err, TxnError::Table(TableError::UniqueViolation { ref index, .. }) if index == "primary key"),
        "{err}"
    );
    txn.insert(1, 1, person(0, "b@x", 2, "Rome")).unwrap();
    let err = txn.update(1, 1, person(2, "a@x", 2, "Rome")).unwrap_err();
    assert!(err.to_string().contains("by_email"), "{err}");
    let err = txn.delete(1, 1, &Value::U64(99)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "table `people`: no row with primary key 99"
    );
}

#[test]
fn rollback_leaves_no_trace_in_rows_indexes_or_counters() {
    let mut db = town_db();
    let mut txn = db.begin();
    txn.insert(1, 1, person(0, "keep@x", 20, "Oslo")).unwrap();
    txn.commit();
    let before = dump(&db);

    let mut txn = db.begin();
    txn.insert(1, 1, person(0, "gone@x", 50, "Rome")).unwrap();
    txn.update(1, 1, person(1, "changed@x", 21, "Rome"))
        .unwrap();
    txn.delete(1, 1, &Value::U64(2)).unwrap();
    txn.insert(1, 1, person(0, "again@x", 60, "Rome")).unwrap();
    assert_eq!(txn.mutations().len(), 4);
    drop(txn); // rollback

    assert_eq!(dump(&db), before);
    let t = db.table(1, 1).unwrap();
    let by_email = t.index_id("by_email").unwrap();
    let gone = [Value::from("gone@x")];
    assert_eq!(
        t.index_range(by_email, Included(&gone[..]), Included(&gone[..]))
            .count(),
        0
    );
    let keep = [Value::from("keep@x")];
    assert_eq!(
        t.index_range(by_email, Included(&keep[..]), Included(&keep[..]))
            .count(),
        1
    );
    // The auto-increment counter was restored too.
    let mut txn = db.begin();
    let row = txn.insert(1, 1, person(0, "next@x", 1, "Oslo")).unwrap();
    assert_eq!(row.values()[0], Value::U64(2));
}

#[derive(Clone, Debug)]
enum Op {
    Insert(u8, u8),
    Update(u64, u8, u8),
    Delete(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..20u8, 0..100u8).prop_map(|(e, a)| Op::Insert(e, a)),
        (1..15u64, 0..20u8, 0..100u8).prop_map(|(k, e, a)| Op::Update(k, e, a)),
        (1..15u64).prop_map(Op::Delete),
    ]
}

proptest! {
    /// Committed transactions replayed from their mutations give the same
    /// state (rows and every index) as the live database; rolled-back ones
    /// leave nothing.
    #[test]
    fn replaying_committed_mutations_reproduces_the_state(txns in prop::collection::vec((prop::collection::vec(op(), 1..5), any::<bool>()), 1..30)) {
        let mut live = town_db();
        let mut log = Vec::new();
        for (ops, commit) in txns {
            let mut txn = live.begin();
            let mut failed = false;
            for op in ops {
                let r = match op {
                    Op::Insert(e, a) => txn.insert(1, 1, person(0, &format!("{e}@x"), a, "C")).map(drop),
                    Op::Update(k, e, a) => txn.update(1, 1, person(k, &format!("{e}@x"), a, "C")).map(drop),
                    Op::Delete(k) => txn.delete(1, 1, &Value::U64(k)).map(drop),
                };
                failed |= r.is_err();
            }
            if commit && !failed {
                log.push(txn.commit());
            }
        }
        let mut replayed = town_db();
        for mutations in &log {
            let mut txn = replayed.begin();
            for m in mutations {
                let t = txn.db().table(m.module_id, m.table_id).unwrap();
                let values = t.decode_row(&m.row).unwrap();
                match m.kind {
                    interstice_log::MutationKind::Insert => txn.insert(1, 1, values).map(drop),
                    interstice_log::MutationKind::Update => txn.update(1, 1, values).map(drop),
                    interstice_log::MutationKind::Delete => txn.delete(1, 1, &values[0]).map(drop),
                    interstice_log::MutationKind::Module => unreachable!(),
                }.unwrap();
            }
            txn.commit();
        }
        prop_assert_eq!(dump(&replayed), dump(&live));
        let (a, b) = (live.table(1, 1).unwrap(), replayed.table(1, 1).unwrap());
        for ix in 0..3 {
            let all = |t: &interstice_core::table::Table| t.index_range(ix, Unbounded, Unbounded).map(|r| r.values().to_vec()).collect::<Vec<_>>();
            prop_assert_eq!(all(a), all(b));
        }
    }
}

#[test]
fn resumable_index_scans_match_range_scans_and_survive_writes() {
    let mut db = town_db();
    let mut txn = db.begin();
    for (i, (age, city)) in [
        (30, "Oslo"),
        (17, "Rome"),
        (30, "Rome"),
        (45, "Oslo"),
        (30, "Oslo"),
        (17, "Bern"),
    ]
    .into_iter()
    .enumerate()
    {
        txn.insert(1, 1, person(0, &format!("{i}@x"), age, city))
            .unwrap();
    }
    txn.commit();
    let t = db.table(1, 1).unwrap();
    let (low, high) = ([Value::U8(17)], [Value::U8(30)]);
    let bounds = [
        (Unbounded, Unbounded),
        (Included(&low[..]), Included(&high[..])),
        (Excluded(&low[..]), Unbounded),
        (Unbounded, Excluded(&high[..])),
    ];
    for ix in ["by_age", "by_email", "by_city_age"] {
        let id = t.index_id(ix).unwrap();
        for (lo, hi) in bounds {
            if ix != "by_age" && lo != Unbounded {
                continue;
            }
            let expected: Vec<_> = t
                .index_range(id, lo, hi)
                .map(|r| r.values().to_vec())
                .collect();
            let mut got = Vec::new();
            let mut scan = t.scan(Some(id), lo, hi);
            while let Some(row) = t.scan_next(&mut scan) {
                got.push(row.values());
            }
            assert_eq!(got, expected, "{ix} {lo:?}..{hi:?}");
        }
    }
    // A scan resumes from its last key even after the table changed.
    let by_age = t.index_id("by_age").unwrap();
    let mut scan = t.scan(Some(by_age), Unbounded, Unbounded);
    let first = t.scan_next(&mut scan).unwrap().values();
    let mut txn = db.begin();
    txn.delete(1, 1, &first[0]).unwrap();
    txn.insert(1, 1, person(0, "late@x", 18, "Oslo")).unwrap();
    txn.commit();
    let t = db.table(1, 1).unwrap();
    let next = t.scan_next(&mut scan).unwrap();
    assert_eq!(
        next.values()[2],
        Value::U8(17),
        "the other 17-year-old comes next"
    );
}
