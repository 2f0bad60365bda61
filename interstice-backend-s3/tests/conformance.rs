//! The `interstice-log` conformance suite on the S3 backend, against a
//! real Garage server (`scripts/s3-servers.sh start`).

use interstice_testkit::s3;

use s3::{GARAGE, S3};

interstice_log::conformance_tests!(|test: &str| S3::new(GARAGE, test));
