//! Opening with one listing: everything under the log's prefix at once
//! (marker, start marker, epochs, leases, segments), instead of a request
//! for each. On a short log the requests an open makes are most of what it
//! costs; on a long one the listing of its segments is.

use futures::TryStreamExt;
use interstice_log::Error;
use object_store::ObjectMeta;

use crate::epochs::Listed;
use crate::objects::{Objects, Segment, backend, no_such_bucket, segments_of};

/// What one listing of the log's prefix found.
#[derive(Debug, Default)]
pub(crate) struct Survey {
    /// The `interstice-log` marker exists.
    pub marker: bool,
    /// A `start` marker exists (retention removed a prefix).
    pub start: bool,
    /// A writer lease exists (fresh or not).
    pub writer_lease: bool,
    /// The `epochs/` keys.
    pub epochs: Listed,
    /// Every segment object, stubs included, by first offset.
    pub segments: Vec<Segment>,
}

impl Objects {
    /// Lists the whole prefix once.
    pub async fn survey(&self) -> Result<Survey, Error> {
        let root = self.key("");
        let metas: Vec<ObjectMeta> = match self.client.list(Some(&root)).try_collect().await {
            Ok(m) => m,
            Err(e) if no_such_bucket(&e) => return Err(self.no_bucket()),
            Err(e) => return Err(backend(format!("cannot reach {}", self.location), e)),
        };
        let mut survey = Survey::default();
        let mut epochs = Vec::new();
        let mut log = Vec::new();
        for m in metas {
            let Some(parts) = m.location.prefix_match(&root) else {
                continue;
            };
            let parts: Vec<String> = parts.map(|p| p.as_ref().to_owned()).collect();
            match parts.iter().map(String::as_str).collect::<Vec<_>>()[..] {
                ["interstice-log"] => survey.marker = true,
                ["start"] => survey.start = true,
                ["leases", "writer"] => survey.writer_lease = true,
                ["epochs", name] => epochs.push(name.to_owned()),
                ["log", _] => log.push(m),
                _ => {}
            }
        }
        survey.epochs = Listed::from_names(epochs);
        survey.segments = segments_of(&log);
        Ok(survey)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;
    use object_store::{ObjectStoreExt, PutPayload};

    use super::*;

    #[tokio::test]
    async fn one_listing_says_what_the_log_has() {
        let client = Arc::new(object_store::memory::InMemory::new());
        let o = Objects::new(client.clone(), "app", "s3://b/app".into(), "mem".into());
        for key in [
            "app/interstice-log",
            "app/epochs/00000000000000000001",
            "app/epochs/00000000000000000001-00000000000000000000",
            "app/log/00000000000000000000.seg",
            "app/log/00000000000000000003-00000000000000000009.seg",
            "app/snapshots/00000000000000000009.snap",
            "app/leases/writer",
            // Another log whose name starts the same.
            "apple/interstice-log",
            "apple/start",
        ] {
            let body = PutPayload::from(Bytes::from_static(b"x"));
            client.put(&key.into(), body).await.unwrap();
        }
        let s = o.survey().await.unwrap();
        assert!(s.marker && s.writer_lease && !s.start);
        assert_eq!(s.epochs.claims, [1]);
        assert_eq!(s.epochs.starts, [(1, 0)]);
        let names: Vec<_> = s.segments.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "00000000000000000000.seg",
                "00000000000000000003-00000000000000000009.seg"
            ]
        );
    }
}
