//! Structured fuzzing of the frame decoder and the segment reader: valid
//! segments damaged by random edits (bit flips, overwritten, inserted and
//! deleted bytes, zeroed ranges, truncation). Whatever the damage, nothing
//! panics, and whatever is read as valid is an original commit at its own
//! offset: damage can make commits unreadable, never different.
//!
//! The normal test run does 4096 cases; a long run sets
//! `INTERSTICE_FUZZ_CASES`, e.g.
//! `INTERSTICE_FUZZ_CASES=200000 cargo test --release -p interstice-log --test fuzz`.

use bytes::Bytes;
use interstice_log::codec::{SegmentHeader, decode_frame, encode_frame};
use interstice_log::scan::{SegmentFrames, scan_segment};
use interstice_log::{Commit, Invocation, Mutation, MutationKind};
use proptest::prelude::*;

fn commit(offset: u64, seed: u8, mutations: u8, row_len: usize) -> Commit {
    Commit {
        offset,
        timestamp: 1_700_000_000_000_000 + offset,
        cause: seed.is_multiple_of(3).then(|| offset.saturating_sub(1)),
        invocation: Invocation {
            module: format!("m{seed}"),
            reducer: "r".repeat(1 + seed as usize % 7),
            args: Bytes::from(vec![seed; seed as usize % 11]),
            request_id: None,
            timing: None,
            scheduled: None,
        },
        mutations: (0..mutations)
            .map(|i| Mutation {
                kind: [
                    MutationKind::Insert,
                    MutationKind::Update,
                    MutationKind::Delete,
                ][i as usize % 3],
                module_id: 1,
                table_id: i as u32,
                schema_hash: seed as u64 * 31 + i as u64,
                row: Bytes::from(vec![seed ^ i; row_len]),
            })
            .collect(),
    }
}

/// One random edit of a byte buffer.
#[derive(Clone, Debug)]
enum Edit {
    Flip(prop::sample::Index, u8),
    Overwrite(prop::sample::Index, Vec<u8>),
    Insert(prop::sample::Index, Vec<u8>),
    Delete(prop::sample::Index, usize),
    Zero(prop::sample::Index, usize),
    Truncate(prop::sample::Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    let idx = any::<prop::sample::Index>();
    prop_oneof![
        (idx.clone(), 1u8..=255).prop_map(|(i, m)| Edit::Flip(i, m)),
        (idx.clone(), prop::collection::vec(any::<u8>(), 1..12))
            .prop_map(|(i, b)| Edit::Overwrite(i, b)),
        (idx.clone(), prop::collection::vec(any::<u8>(), 1..12))
            .prop_map(|(i, b)| Edit::Insert(i, b)),
        (idx.clone(), 1usize..40).prop_map(|(i, n)| Edit::Delete(i, n)),
        (idx.clone(), 1usize..64).prop_map(|(i, n)| Edit::Zero(i, n)),
        idx.prop_map(Edit::Truncate),
    ]
}

fn apply(buf: &mut Vec<u8>, e: &Edit) {
    if buf.is_empty() {
        return;
    }
    let len = buf.len();
    match e {
        Edit::Flip(i, m) => buf[i.index(len)] ^= m,
        Edit::Overwrite(i, b) => {
            let at = i.index(len);
            for (k, v) in b.iter().enumerate() {
                if let Some(x) = buf.get_mut(at + k) {
                    *x = *v;
                }
            }
        }
        Edit::Insert(i, b) => {
            let at = i.index(len);
            buf.splice(at..at, b.iter().copied());
        }
        Edit::Delete(i, n) => {
            let at = i.index(len);
            buf.drain(at..(at + n).min(len));
        }
        Edit::Zero(i, n) => {
            let at = i.index(len);
            buf[at..(at + n).min(len)].fill(0);
        }
        Edit::Truncate(i) => buf.truncate(i.index(len)),
    }
}

/// A segment of `n` commits from offset `first`.
fn segment(first: u64, shapes: &[(u8, u8, usize)]) -> (Vec<u8>, Vec<Commit>) {
    let mut seg = SegmentHeader::new(first, 1 << 20).encode().to_vec();
    let commits: Vec<Commit> = shapes
        .iter()
        .enumerate()
        .map(|(i, &(seed, m, r))| commit(first + i as u64, seed, m, r))
        .collect();
    for c in &commits {
        encode_frame(c, c.offset, &mut seg).unwrap();
    }
    (seg, commits)
}

fn shapes() -> impl Strategy<Value = Vec<(u8, u8, usize)>> {
    prop::collection::vec((any::<u8>(), 0u8..4, 0usize..40), 1..8)
}

/// 4096 cases in the normal run (about a second unoptimized), or
/// `INTERSTICE_FUZZ_CASES`.
fn cases() -> u32 {
    std::env::var("INTERSTICE_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4096)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn damaged_segments_never_yield_altered_commits(
        shapes in shapes(),
        first in 0u64..1000,
        edits in prop::collection::vec(edit(), 1..5),
        max_frame in prop_oneof![Just(u64::MAX), Just(1u64 << 20), 16u64..400],
    ) {
        let (mut seg, originals) = segment(first, &shapes);
        for e in &edits {
            apply(&mut seg, e);
        }
        let buf = Bytes::from(seg);
        // The reader: a prefix of the originals, then at most one error.
        if let Ok(frames) = SegmentFrames::new("s", buf.clone(), first, max_frame) {
            let mut read = Vec::new();
            for item in frames {
                match item {
                    Ok(c) => read.push(c),
                    Err(_) => break,
                }
            }
            prop_assert!(read.len() <= originals.len());
            prop_assert_eq!(&read[..], &originals[..read.len()]);
        }
        // The scanner (recovery, verify) agrees and does not panic.
        let scan = scan_segment("s", &buf, first, max_frame);
        prop_assert!(scan.valid_end as usize <= buf.len());
        prop_assert!(scan.commits as usize <= originals.len() + 1);
        // Any frame decoded anywhere is one of the originals.
        for pos in 0..buf.len() {
            if let Ok((c, _)) = decode_frame(&buf, pos, max_frame) {
                prop_assert!(originals.contains(&c), "a frame at {} decoded to {:?}", pos, c);
            }
        }
    }
}
