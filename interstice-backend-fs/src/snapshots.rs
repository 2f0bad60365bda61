//! `FsSnapshotStore`: snapshots as files in the log directory's
//! `snapshots/` directory.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use interstice_log::Error;
use interstice_log::snapshot::{SnapshotStore, parse_snapshot_name, snapshot_name};

use crate::layout::sync_dir;
use crate::vfs::{RealFs, Vfs};

/// The directory, inside a log directory, that holds its snapshots.
pub const SNAPSHOT_DIR: &str = "snapshots";
const TMP_EXT: &str = ".tmp";

/// Temporary files of puts running in this process: never leftovers.
static IN_FLIGHT: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());
/// Makes each put's temporary file name unique in this process.
static PUTS: AtomicU64 = AtomicU64::new(0);

/// A put's temporary file, in [`IN_FLIGHT`] while it lives.
struct InFlight(PathBuf);

impl InFlight {
    fn new(path: PathBuf) -> Self {
        in_flight().insert(path.clone());
        Self(path)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        in_flight().remove(&self.0);
    }
}

fn in_flight() -> std::sync::MutexGuard<'static, BTreeSet<PathBuf>> {
    IN_FLIGHT.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether process `pid` is running (on Linux; elsewhere, assumed so).
fn alive(pid: u32) -> bool {
    !Path::new("/proc").is_dir() || Path::new("/proc").join(pid.to_string()).exists()
}

/// Snapshots kept as files beside a log: `LOG_DIR/snapshots/<offset>.snap`.
///
/// A snapshot is written to a temporary file, `fdatasync`ed, renamed into
/// place, and the directory synced: a crash leaves either no snapshot or
/// the whole one (and perhaps a temporary file, removed by a later put).
/// Any number of processes may use the same directory.
#[derive(Clone, Debug)]
pub struct FsSnapshotStore {
    vfs: Arc<dyn Vfs>,
    dir: PathBuf,
}

impl FsSnapshotStore {
    /// The snapshots of the log in `log_dir`.
    pub fn new(log_dir: impl AsRef<Path>) -> Self {
        Self::on(Arc::new(RealFs), log_dir)
    }

    /// The snapshots of the log in `log_dir`, on another file system (a
    /// [`SimFs`](crate::sim::SimFs), to test crashes).
    pub fn on(vfs: Arc<dyn Vfs>, log_dir: impl AsRef<Path>) -> Self {
        Self {
            vfs,
            dir: log_dir.as_ref().join(SNAPSHOT_DIR),
        }
    }

    fn path(&self, offset: u64) -> PathBuf {
        self.dir.join(snapshot_name(offset))
    }

    /// Creates the directory if it is missing, durably.
    fn ensure_dir(&self) -> Result<(), Error> {
        if self.vfs.exists(&self.dir) {
            return Ok(());
        }
        self.vfs
            .create_dir_all(&self.dir)
            .map_err(|e| Error::io("create snapshot directory", self.dir.display(), e))?;
        sync_dir(&*self.vfs, self.dir.parent().unwrap_or(Path::new(".")))
    }

    fn put_blocking(&self, offset: u64, bytes: &[u8]) -> Result<(), Error> {
        self.ensure_dir()?;
        let name = snapshot_name(offset);
        let seq = PUTS.fetch_add(1, Ordering::Relaxed);
        let tmp = self
            .dir
            .join(format!("{name}.{}-{seq}{TMP_EXT}", std::process::id()));
        let _in_flight = InFlight::new(tmp.clone());
        let written = self
            .vfs
            .create(&tmp, false)
            .and_then(|f| f.write_all_at(bytes, 0).and_then(|()| f.sync_data()))
            .map_err(|e| Error::io("write snapshot", tmp.display(), e));
        if let Err(e) = written {
            let _ = self.vfs.remove(&tmp);
            return Err(e);
        }
        let path = self.dir.join(&name);
        self.vfs
            .rename(&tmp, &path)
            .map_err(|e| Error::io("rename snapshot into place", path.display(), e))?;
        sync_dir(&*self.vfs, &self.dir)?;
        self.remove_leftovers();
        Ok(())
    }

    /// Removes the temporary files of interrupted puts: of no put running
    /// in this process, written by a process that is gone. Best effort.
    fn remove_leftovers(&self) {
        let Ok(names) = self.vfs.list(&self.dir) else {
            return;
        };
        for name in names {
            let Some(owner) = name.strip_suffix(TMP_EXT).and_then(|n| {
                let (_, id) = n.rsplit_once('.')?;
                id.split_once('-')?.0.parse::<u32>().ok()
            }) else {
                continue;
            };
            let path = self.dir.join(&name);
            let running =
                in_flight().contains(&path) || (owner != std::process::id() && alive(owner));
            if !running {
                let _ = self.vfs.remove(&path);
            }
        }
    }

    fn list_blocking(&self) -> Result<Vec<u64>, Error> {
        if !self.vfs.exists(&self.dir) {
            return Ok(Vec::new());
        }
        let names = self
            .vfs
            .list(&self.dir)
            .map_err(|e| Error::io("list snapshots", self.dir.display(), e))?;
        let mut offsets: Vec<u64> = names
            .iter()
            .filter_map(|n| parse_snapshot_name(n))
            .collect();
        offsets.sort_unstable();
        Ok(offsets)
    }

    fn get_blocking(&self, offset: u64) -> Result<Bytes, Error> {
        let path = self.path(offset);
        match self.vfs.read(&path, None) {
            Ok(bytes) => Ok(bytes.into()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::NoSnapshot {
                location: self.location(),
                offset,
            }),
            Err(e) => Err(Error::io("read snapshot", path.display(), e)),
        }
    }

    fn remove_blocking(&self, offset: u64) -> Result<(), Error> {
        let path = self.path(offset);
        match self.vfs.remove(&path) {
            Ok(()) => sync_dir(&*self.vfs, &self.dir),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("remove snapshot", path.display(), e)),
        }
    }

    /// Runs `f` on a blocking thread.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Self) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || f(&this))
            .await
            .map_err(|e| Error::Backend {
                message: format!("snapshot task failed: {e}"),
                source: None,
            })?
    }
}

#[async_trait]
impl SnapshotStore for FsSnapshotStore {
    async fn put(&self, offset: u64, bytes: Bytes) -> Result<(), Error> {
        self.blocking(move |s| s.put_blocking(offset, &bytes)).await
    }

    async fn list(&self) -> Result<Vec<u64>, Error> {
        self.blocking(Self::list_blocking).await
    }

    async fn get(&self, offset: u64) -> Result<Bytes, Error> {
        self.blocking(move |s| s.get_blocking(offset)).await
    }

    async fn remove(&self, offset: u64) -> Result<(), Error> {
        self.blocking(move |s| s.remove_blocking(offset)).await
    }

    fn location(&self) -> String {
        self.dir.display().to_string()
    }
}
