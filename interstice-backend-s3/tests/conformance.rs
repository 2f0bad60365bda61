//! The `interstice-log` conformance suite on the S3 backend, against a
//! real Garage server (`scripts/s3-servers.sh start`).

use interstice_testkit::s3;

use s3::{GARAGE, S3};

interstice_log::conformance_tests!(|test: &str| S3::new(GARAGE, test));

/// The snapshot cases, on the `snapshots/` prefix of a log.
mod snapshots {
    use std::sync::Arc;

    use interstice_backend_s3::S3SnapshotStore;
    use interstice_log::conformance::snapshots::SnapshotHarness;
    use interstice_log::snapshot::SnapshotStore;

    use super::*;

    struct Snapshots(interstice_backend_s3::S3Config);

    #[async_trait::async_trait]
    impl SnapshotHarness for Snapshots {
        async fn open(&self) -> Arc<dyn SnapshotStore> {
            Arc::new(S3SnapshotStore::new(&self.0).unwrap())
        }
    }

    interstice_log::snapshot_conformance_tests!(|test: &str| Snapshots(GARAGE.config(test)));
}
