//! The `interstice-log` conformance suite on the S3 backend, against a
//! real Garage server (`scripts/s3-servers.sh start`).

mod common;

use common::{GARAGE, S3};
use interstice_log::conformance;

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            conformance::$name(&S3::new(GARAGE, stringify!($name))).await;
        }
    )*};
}

conformance!(
    round_trip,
    offsets_are_dense,
    read_from_the_middle,
    reopen_sees_everything,
    torn_tail_at_every_position,
    bit_flips_are_detected_and_located,
    mid_log_damage_stops_open,
    verify_clean_log,
    truncate_then_append,
    concurrent_appenders,
    oversized_append_is_refused,
);
