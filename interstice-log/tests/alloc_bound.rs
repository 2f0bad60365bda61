//! Damaged length fields never make the decoder allocate what they claim:
//! a frame whose `args_len`, `payload_len`, `mutation_count` or a row's
//! `row_len` says 4 GiB is refused after allocating almost nothing, even
//! with no frame-size limit. A counting allocator measures it (one test in
//! this binary, so nothing else allocates meanwhile).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use bytes::Bytes;
use interstice_log::codec::{SegmentHeader, decode_frame, encode_frame};
use interstice_log::scan::scan_segment;
use interstice_log::{Commit, Invocation, Mutation, MutationKind};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
        PEAK.fetch_max(live, Relaxed);
        // SAFETY: the caller's layout, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        // SAFETY: allocated above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Peak bytes allocated while `f` runs, above what was live before.
fn peak_during(f: impl FnOnce()) -> usize {
    let base = LIVE.load(Relaxed);
    PEAK.store(base, Relaxed);
    f();
    PEAK.load(Relaxed) - base
}

#[test]
fn huge_length_fields_allocate_nothing_like_what_they_claim() {
    let c = Commit {
        offset: 0,
        timestamp: 1,
        cause: None,
        invocation: Invocation {
            module: "m".into(),
            reducer: "r".into(),
            args: Bytes::from_static(b"args"),
            request_id: None,
            timing: None,
            scheduled: None,
        },
        mutations: vec![Mutation {
            kind: MutationKind::Insert,
            module_id: 1,
            table_id: 1,
            schema_hash: 7,
            row: Bytes::from_static(b"row!"),
        }],
    };
    let mut frame = Vec::new();
    encode_frame(&c, c.offset, &mut frame).unwrap();
    // Field positions (docs/log-format.md): 4 magic, 1 version, 1 flags,
    // 8 offset, 8 timestamp, 8 cause, 8 durable_before, 8 epoch, then 2+1
    // module, 2+1 reducer; after the 4 bytes of arguments, 2 of request
    // id length and 2 of timing length.
    let args_len = 4 + 1 + 1 + 8 + 8 + 8 + 8 + 8 + 2 + 1 + 2 + 1;
    let mutation_count = args_len + 4 + 4 + 2 + 2;
    let payload_len = mutation_count + 4;
    let row_len = payload_len + 4 + 1 + 4 + 4 + 8;
    assert_eq!(&frame[args_len..args_len + 4], &4u32.to_le_bytes());
    assert_eq!(&frame[row_len..row_len + 4], &4u32.to_le_bytes());
    let mut most = 0;
    for (field, at) in [
        ("args_len", args_len),
        ("mutation_count", mutation_count),
        ("payload_len", payload_len),
        ("row_len", row_len),
    ] {
        let mut bad = frame.clone();
        bad[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let frame_buf = Bytes::from(bad.clone());
        for max_frame in [u64::MAX, 32 << 20] {
            let limit = max_frame.min(u32::MAX as u64);
            let mut seg = SegmentHeader::new(0, limit).encode().to_vec();
            seg.extend_from_slice(&bad);
            let seg_buf = Bytes::from(seg);
            let peak = peak_during(|| {
                assert!(decode_frame(&frame_buf, 0, max_frame).is_err(), "{field}");
                let scan = scan_segment("s", &seg_buf, 0, max_frame);
                assert!(scan.first_damage().is_some(), "{field}");
            });
            assert!(
                peak < 64 << 10,
                "{field} = u32::MAX, max_frame {max_frame}: allocated {peak} bytes"
            );
            most = most.max(peak);
        }
    }
    println!("4 GiB length fields: at most {most} bytes allocated while refusing them");
}
