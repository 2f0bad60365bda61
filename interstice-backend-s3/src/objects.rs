//! The log's objects: their names, and the few requests the store makes.
//!
//! ```text
//! <prefix>/interstice-log              marker: a log exists here
//! <prefix>/log/<first offset:020>.seg  one per appended batch: a segment
//!                                      header, then the batch's frames
//! <prefix>/quarantine/<segment>.<byte>.<ms>.cut   bytes cut by recovery or truncation
//! <prefix>/probe/<nanos>-<pid>         the create-only probe (deleted after)
//! ```

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::TryStreamExt;
use interstice_log::{Error, Quarantined};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutPayload};

/// One stored segment object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Segment {
    /// The offset its name (and header) give.
    pub first_offset: u64,
    /// Its name under `log/`, e.g. `00000000000000000042.seg`.
    pub name: String,
    /// Where serving starts: after the header, or at a `skip-to` frame.
    pub start_pos: usize,
    /// The offset at `start_pos`.
    pub start_offset: u64,
}

impl Segment {
    pub fn new(first_offset: u64) -> Self {
        Self {
            first_offset,
            name: segment_name(first_offset),
            start_pos: interstice_log::codec::SEGMENT_HEADER_LEN,
            start_offset: first_offset,
        }
    }
}

/// `<first offset:020>.seg`: key order is log order.
pub(crate) fn segment_name(first_offset: u64) -> String {
    format!("{first_offset:020}.seg")
}

fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".seg")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// The objects of one log: a client and a prefix.
#[derive(Clone, Debug)]
pub(crate) struct Objects {
    pub client: Arc<dyn ObjectStore>,
    prefix: String,
    /// `s3://bucket/prefix`, for messages.
    pub location: String,
}

pub(crate) fn backend(what: String, e: object_store::Error) -> Error {
    Error::Backend {
        message: format!("{what}: {e}"),
        source: Some(Box::new(e)),
    }
}

impl Objects {
    pub fn new(client: Arc<dyn ObjectStore>, prefix: &str, location: String) -> Self {
        Self {
            client,
            prefix: prefix.trim_matches('/').to_owned(),
            location,
        }
    }

    fn key(&self, rest: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(rest)
        } else {
            Path::from(format!("{}/{rest}", self.prefix))
        }
    }

    pub fn segment_key(&self, name: &str) -> Path {
        self.key(&format!("log/{name}"))
    }

    pub fn marker_key(&self) -> Path {
        self.key("interstice-log")
    }

    /// Every segment, sorted by first offset (the listing's order is not
    /// trusted), ignoring objects that are not segments.
    pub async fn list_segments(&self) -> Result<Vec<Segment>, Error> {
        let dir = self.key("log");
        let metas: Vec<_> = self
            .client
            .list(Some(&dir))
            .try_collect()
            .await
            .map_err(|e| backend(format!("cannot list {}/log", self.location), e))?;
        let mut segs: Vec<Segment> = metas
            .iter()
            .filter_map(|m| m.location.filename())
            .filter_map(parse_segment_name)
            .map(Segment::new)
            .collect();
        segs.sort_by_key(|s| s.first_offset);
        Ok(segs)
    }

    /// Whether the log's marker exists.
    pub async fn has_marker(&self) -> Result<bool, Error> {
        match self.client.head(&self.marker_key()).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(backend(format!("cannot reach {}", self.location), e)),
        }
    }

    /// Writes the marker unless it exists.
    pub async fn create_marker(&self) -> Result<(), Error> {
        let body = PutPayload::from_static(b"interstice log\n");
        match self
            .client
            .put_opts(&self.marker_key(), body, PutMode::Create.into())
            .await
        {
            Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => Ok(()),
            Err(e) => Err(backend(
                format!("cannot create the log at {}", self.location),
                e,
            )),
        }
    }

    /// The bytes of segment `name`; `None` if it is gone.
    pub async fn get(&self, name: &str) -> Result<Option<Bytes>, Error> {
        let key = self.segment_key(name);
        let what = || format!("cannot read {}/log/{name}", self.location);
        match self.client.get(&key).await {
            Ok(r) => r.bytes().await.map(Some).map_err(|e| backend(what(), e)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(backend(what(), e)),
        }
    }

    /// The bytes of segment `name`, which must exist.
    pub async fn fetch(&self, name: &str) -> Result<Bytes, Error> {
        self.get(name).await?.ok_or_else(|| Error::Backend {
            message: format!(
                "{}/log/{name} disappeared while it was being read",
                self.location
            ),
            source: None,
        })
    }

    /// Replaces (or creates) segment `name`; for repair only.
    pub async fn overwrite(&self, name: &str, bytes: Bytes) -> Result<(), Error> {
        self.client
            .put(&self.segment_key(name), PutPayload::from(bytes))
            .await
            .map(drop)
            .map_err(|e| backend(format!("cannot rewrite {}/log/{name}", self.location), e))
    }

    /// Deletes segment `name`; for repair only, after its bytes are kept.
    pub async fn delete(&self, name: &str) -> Result<(), Error> {
        self.client
            .delete(&self.segment_key(name))
            .await
            .map_err(|e| backend(format!("cannot delete {}/log/{name}", self.location), e))
    }

    /// Keeps `bytes` (from segment `name`, starting at byte `position`) in
    /// the quarantine area.
    pub async fn quarantine(
        &self,
        name: &str,
        position: u64,
        bytes: Bytes,
    ) -> Result<Quarantined, Error> {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let key = self.key(&format!("quarantine/{name}.{position}.{ms}.cut"));
        let len = bytes.len() as u64;
        self.client
            .put(&key, PutPayload::from(bytes))
            .await
            .map_err(|e| backend(format!("cannot write quarantine object {key}"), e))?;
        Ok(Quarantined {
            segment: name.to_owned(),
            position,
            len,
            location: format!("s3://{key}"),
        })
    }

    /// Whether the server refuses a second create-only put of one key. The
    /// probe key is deleted afterwards.
    pub async fn probe_create_only(&self) -> Result<bool, Error> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let key = self.key(&format!("probe/{nanos}-{}", std::process::id()));
        let put = |body: &'static [u8]| {
            self.client
                .put_opts(&key, PutPayload::from_static(body), PutMode::Create.into())
        };
        let what = || format!("cannot probe {}", self.location);
        put(b"first").await.map_err(|e| backend(what(), e))?;
        let enforced = match put(b"second").await {
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => true,
            Ok(_) => false,
            Err(e) => {
                let _ = self.client.delete(&key).await;
                return Err(backend(what(), e));
            }
        };
        let _ = self.client.delete(&key).await;
        Ok(enforced)
    }
}
