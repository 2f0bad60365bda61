//! The `interstice-log` conformance suite on the local-disk backend.

use async_trait::async_trait;
use interstice_backend_fs::FsLogStore;
use interstice_log::conformance::Harness;
use interstice_log::{Error, LogOptions, RecoveryReport};
use tempfile::TempDir;

struct Fs {
    dir: TempDir,
}

impl Fs {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn log(&self) -> std::path::PathBuf {
        self.dir.path().join("log")
    }
}

#[async_trait]
impl Harness for Fs {
    type Store = FsLogStore;

    async fn open(&self, opts: LogOptions) -> Result<(FsLogStore, RecoveryReport), Error> {
        let store = FsLogStore::open(self.log(), opts)?;
        let report = store.recovery_report().clone();
        Ok((store, report))
    }

    async fn segments(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.log())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".log"))
            .collect();
        names.sort();
        names
    }

    async fn read_segment(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.log().join(name)).unwrap()
    }

    async fn write_segment(&self, name: &str, bytes: Vec<u8>) {
        std::fs::write(self.log().join(name), bytes).unwrap()
    }

    async fn remove_segment(&self, name: &str) {
        std::fs::remove_file(self.log().join(name)).unwrap()
    }

    // A file write can tear.
    fn writes_can_tear(&self) -> bool {
        true
    }
}

interstice_log::conformance_tests!(|_test: &str| Fs::new());

/// The snapshot cases, on the `snapshots/` directory of a log directory.
mod snapshots {
    use std::sync::Arc;

    use interstice_backend_fs::FsSnapshotStore;
    use interstice_log::conformance::snapshots::SnapshotHarness;
    use interstice_log::snapshot::SnapshotStore;

    use super::*;

    #[async_trait]
    impl SnapshotHarness for Fs {
        async fn open(&self) -> Arc<dyn SnapshotStore> {
            Arc::new(FsSnapshotStore::new(self.log()))
        }
    }

    interstice_log::snapshot_conformance_tests!(|_test: &str| Fs::new());
}
