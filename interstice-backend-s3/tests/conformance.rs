//! The `interstice-log` conformance suite on the S3 backend, against a
//! real Garage server (`scripts/s3-servers.sh start`).

mod common;

use common::{GARAGE, S3};

interstice_log::conformance_tests!(|test: &str| S3::new(GARAGE, test));
