//! Property tests for the codec: round trips, single-bit corruption, and
//! arbitrary bytes never panicking the decoder.

use bytes::Bytes;
use interstice_log::codec::{SegmentHeader, decode_frame, encode_frame};
use interstice_log::scan::scan_segment;
use interstice_log::{
    CallTiming, Commit, Invocation, ModuleRecord, Mutation, MutationKind, NestedCall, ScheduledRun,
};
use proptest::prelude::*;

fn kind() -> impl Strategy<Value = MutationKind> {
    prop_oneof![
        Just(MutationKind::Insert),
        Just(MutationKind::Update),
        Just(MutationKind::Delete),
        Just(MutationKind::Module),
    ]
}

fn bytes(max: usize) -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

fn mutation() -> impl Strategy<Value = Mutation> {
    (kind(), any::<u32>(), any::<u32>(), any::<u64>(), bytes(64)).prop_map(
        |(kind, module_id, table_id, schema_hash, row)| Mutation {
            kind,
            module_id,
            table_id,
            schema_hash,
            row,
        },
    )
}

/// A call's timing, each nested call's parent an earlier one (or none).
fn timing() -> impl Strategy<Value = CallTiming> {
    let call = (
        any::<u16>(),
        ".{0,8}",
        ".{0,8}",
        any::<u32>(),
        any::<u32>(),
        any::<bool>(),
    );
    (
        any::<u64>(),
        any::<u32>(),
        prop::collection::vec(call, 0..5),
        any::<u32>(),
    )
        .prop_map(|(started, micros, calls, omitted)| CallTiming {
            started,
            micros,
            calls: calls
                .into_iter()
                .enumerate()
                .map(
                    |(i, (p, module, reducer, start, micros, failed))| NestedCall {
                        parent: (i > 0 && p % 3 != 0).then(|| p % i as u16),
                        module,
                        reducer,
                        start,
                        micros,
                        failed,
                    },
                )
                .collect(),
            omitted,
        })
}

fn commit() -> impl Strategy<Value = Commit> {
    (
        any::<u64>(),
        any::<u64>(),
        any::<Option<u64>>(),
        ".{0,12}",
        ".{0,12}",
        bytes(48),
        prop::option::of(".{1,24}"),
        prop::option::of(timing()),
        prop::option::of((any::<u32>(), any::<u64>())),
        prop::collection::vec(mutation(), 0..6),
    )
        .prop_map(
            |(
                offset,
                timestamp,
                cause,
                module,
                reducer,
                args,
                request_id,
                timing,
                scheduled,
                mutations,
            )| {
                Commit {
                    offset,
                    timestamp,
                    cause,
                    invocation: Invocation {
                        module,
                        reducer,
                        args,
                        request_id,
                        timing,
                        scheduled: scheduled.map(|(table_id, due)| ScheduledRun { table_id, due }),
                    },
                    mutations,
                }
            },
        )
}

proptest! {
    #[test]
    fn frame_round_trips(c in commit()) {
        let mut buf = Vec::new();
        let n = encode_frame(&c, c.offset, &mut buf).unwrap();
        let (back, len) = decode_frame(&Bytes::from(buf), 0, u64::MAX).unwrap();
        prop_assert_eq!(len, n);
        prop_assert_eq!(back, c);
    }

    #[test]
    fn any_single_bit_flip_is_detected(c in commit(), bit in any::<prop::sample::Index>()) {
        let mut buf = Vec::new();
        encode_frame(&c, c.offset, &mut buf).unwrap();
        let bit = bit.index(buf.len() * 8);
        buf[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(decode_frame(&Bytes::from(buf), 0, u64::MAX).is_err(), "bit {} undetected", bit);
    }

    #[test]
    fn any_bit_flip_in_a_segment_is_located(
        commits in prop::collection::vec(commit(), 1..5),
        bit in any::<prop::sample::Index>(),
    ) {
        let mut seg = SegmentHeader::new(0, 1 << 20).encode().to_vec();
        let mut spans = Vec::new();
        for (i, mut c) in commits.into_iter().enumerate() {
            c.offset = i as u64;
            let start = seg.len();
            encode_frame(&c, c.offset, &mut seg).unwrap();
            spans.push(start..seg.len());
        }
        let bit = bit.index(seg.len() * 8);
        seg[bit / 8] ^= 1 << (bit % 8);
        let scan = scan_segment("s", &Bytes::from(seg), 0, 1 << 20);
        let bad = scan.first_damage().expect("flip undetected");
        let byte = (bit / 8) as u64;
        // The damage starts at the frame (or header) holding the flipped bit.
        let start = spans.iter().find(|s| s.contains(&(bit / 8))).map_or(0, |s| s.start as u64);
        prop_assert_eq!(bad.position, start, "flip at byte {}", byte);
        prop_assert!(byte < bad.position + bad.len.max(1) || bad.position == 0);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..512), max in 0u64..4096) {
        let buf = Bytes::from(data);
        for pos in 0..buf.len().min(16) {
            let _ = decode_frame(&buf, pos, max);
        }
        let _ = scan_segment("s", &buf, 0, max);
    }

    #[test]
    fn module_record_round_trips(name in ".{0,20}", schema in bytes(64), wasm in bytes(256)) {
        let rec = ModuleRecord { name, schema, wasm };
        prop_assert_eq!(ModuleRecord::decode(&rec.encode()).unwrap(), rec);
    }
}
