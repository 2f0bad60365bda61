//! `S3SnapshotStore`: snapshots as objects under the log's `snapshots/`
//! prefix.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::TryStreamExt;
use interstice_log::Error;
use interstice_log::snapshot::{SnapshotStore, parse_snapshot_name, snapshot_name};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::config::S3Config;
use crate::objects::backend;

/// Snapshots kept as objects beside an S3 log:
/// `<prefix>/snapshots/<offset:020>.snap`.
///
/// A snapshot is one object, which a PUT creates whole (S3 never shows a
/// part of an object), so a crash or a lost connection leaves either no
/// snapshot or the whole one. One PUT takes at most 5 GiB.
#[derive(Clone, Debug)]
pub struct S3SnapshotStore {
    client: Arc<dyn ObjectStore>,
    /// `<prefix>/snapshots`.
    dir: Path,
    /// `s3://bucket/prefix/snapshots`, for messages.
    location: String,
}

impl S3SnapshotStore {
    /// The snapshots of the log `config` names.
    pub fn new(config: &S3Config) -> Result<Self, Error> {
        let prefix = config.prefix.trim_matches('/');
        let dir = match prefix {
            "" => Path::from("snapshots"),
            p => Path::from(format!("{p}/snapshots")),
        };
        Ok(Self {
            client: config.client()?,
            dir,
            location: format!("{}/snapshots", config.location().trim_end_matches('/')),
        })
    }

    fn key(&self, offset: u64) -> Path {
        self.dir.clone().join(snapshot_name(offset))
    }
}

#[async_trait]
impl SnapshotStore for S3SnapshotStore {
    async fn put(&self, offset: u64, bytes: Bytes) -> Result<(), Error> {
        self.client
            .put(&self.key(offset), PutPayload::from(bytes))
            .await
            .map(drop)
            .map_err(|e| {
                let name = snapshot_name(offset);
                backend(format!("cannot write {}/{name}", self.location), e)
            })
    }

    async fn list(&self) -> Result<Vec<u64>, Error> {
        let metas: Vec<_> = self
            .client
            .list(Some(&self.dir))
            .try_collect()
            .await
            .map_err(|e| backend(format!("cannot list {}", self.location), e))?;
        let mut offsets: Vec<u64> = metas
            .iter()
            .filter_map(|m| parse_snapshot_name(m.location.filename()?))
            .collect();
        offsets.sort_unstable();
        Ok(offsets)
    }

    async fn get(&self, offset: u64) -> Result<Bytes, Error> {
        let what = || format!("cannot read {}/{}", self.location, snapshot_name(offset));
        match self.client.get(&self.key(offset)).await {
            Ok(r) => r.bytes().await.map_err(|e| backend(what(), e)),
            Err(object_store::Error::NotFound { .. }) => Err(Error::NoSnapshot {
                location: self.location.clone(),
                offset,
            }),
            Err(e) => Err(backend(what(), e)),
        }
    }

    async fn remove(&self, offset: u64) -> Result<(), Error> {
        match self.client.delete(&self.key(offset)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(backend(
                format!("cannot delete {}/{}", self.location, snapshot_name(offset)),
                e,
            )),
        }
    }

    fn location(&self) -> String {
        self.location.clone()
    }
}
