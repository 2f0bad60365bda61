//! `MemoryLogStore`, which most runtime tests run on, held to the same
//! contract as the real backends: every conformance case that needs no
//! stored bytes to damage (it keeps commits, not bytes).

use async_trait::async_trait;
use interstice_log::conformance::Harness;
use interstice_log::memory::MemoryLogStore;
use interstice_log::{Error, LogOptions, RecoveryReport};

/// One in-memory log; every open is a clone of it (a restart).
struct Memory(MemoryLogStore);

#[async_trait]
impl Harness for Memory {
    type Store = MemoryLogStore;

    async fn open(&self, opts: LogOptions) -> Result<(MemoryLogStore, RecoveryReport), Error> {
        self.0.set_max_frame_size(opts.max_frame_size);
        Ok((self.0.clone(), RecoveryReport::new(opts.recovery)))
    }

    async fn segments(&self) -> Vec<String> {
        vec!["memory".into()]
    }

    async fn read_segment(&self, _: &str) -> Vec<u8> {
        unreachable!("the memory store keeps commits, not bytes: no damage cases run on it")
    }

    async fn write_segment(&self, _: &str, _: Vec<u8>) {
        unreachable!("the memory store keeps commits, not bytes: no damage cases run on it")
    }

    async fn remove_segment(&self, _: &str) {
        unreachable!("the memory store keeps commits, not segments: no damage cases run on it")
    }

    fn writes_can_tear(&self) -> bool {
        false
    }

    fn stores_segments(&self) -> bool {
        false
    }
}

interstice_log::conformance_tests!(logic: |_name: &str| Memory(MemoryLogStore::new()));

struct MemorySnapshots(interstice_log::memory::MemorySnapshotStore);

#[async_trait::async_trait]
impl interstice_log::conformance::snapshots::SnapshotHarness for MemorySnapshots {
    async fn open(&self) -> std::sync::Arc<dyn interstice_log::snapshot::SnapshotStore> {
        std::sync::Arc::new(self.0.clone())
    }
}

mod snapshots {
    use super::*;
    interstice_log::snapshot_conformance_tests!(|_name: &str| MemorySnapshots(
        interstice_log::memory::MemorySnapshotStore::new()
    ));
}
