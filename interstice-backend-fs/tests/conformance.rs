//! The `interstice-log` conformance suite on the local-disk backend.

use async_trait::async_trait;
use interstice_backend_fs::FsLogStore;
use interstice_log::conformance::{self, Harness};
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
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            conformance::$name(&Fs::new()).await;
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
