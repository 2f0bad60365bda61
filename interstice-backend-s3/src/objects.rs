//! The log's objects: their names, and the few requests the store makes.
//!
//! ```text
//! <prefix>/interstice-log              marker: a log exists here
//! <prefix>/start                       start marker: the first offset, once
//!                                      retention removed a prefix
//! <prefix>/log/<first offset:020>.seg  one per appended batch: a segment
//!                                      header, then the batch's frames
//! <prefix>/log/<first:020>-<last:020>.seg  a compacted segment: commits
//!                                      first..=last, copied from the batch
//!                                      objects, which become stubs
//! <prefix>/quarantine/<segment>.<byte>.<nanos>.cut   bytes cut by recovery or
//!                                      truncation (`-1`, `-2`... if taken)
//! <prefix>/probe/<nanos>-<pid>         the create-only probe (deleted after)
//! <prefix>/epochs/...                  writer epochs (`crate::epochs`)
//! ```

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::TryStreamExt;
use interstice_log::{Error, Quarantined};
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, PutMode, PutPayload};

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
    /// For a compacted segment, its last offset (from its name).
    pub last_offset: Option<u64>,
    /// Stored size in bytes (0 when not listed).
    pub size: u64,
    /// When it was last written, in ms since the Unix epoch (0 when not
    /// listed).
    pub modified_ms: u64,
}

impl Segment {
    pub fn new(first_offset: u64) -> Self {
        Self {
            first_offset,
            name: segment_name(first_offset),
            start_pos: interstice_log::codec::SEGMENT_HEADER_LEN,
            start_offset: first_offset,
            last_offset: None,
            size: 0,
            modified_ms: 0,
        }
    }

    /// A compacted segment holding `first..=last`.
    pub fn compacted(first: u64, last: u64) -> Self {
        Self {
            name: format!("{first:020}-{last:020}.seg"),
            last_offset: Some(last),
            ..Self::new(first)
        }
    }
}

/// `<first offset:020>.seg`: key order is log order.
pub(crate) fn segment_name(first_offset: u64) -> String {
    format!("{first_offset:020}.seg")
}

pub(crate) fn parse_offset(digits: &str) -> Option<u64> {
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

pub(crate) fn parse_segment_name(name: &str) -> Option<Segment> {
    let stem = name.strip_suffix(".seg")?;
    match stem.split_once('-') {
        None => parse_offset(stem).map(Segment::new),
        Some((a, b)) => {
            let (a, b) = (parse_offset(a)?, parse_offset(b)?);
            (a <= b).then(|| Segment::compacted(a, b))
        }
    }
}

/// The segment objects among `metas` (listed under `log/`), with their
/// sizes and times, sorted by first offset (the listing's order is not
/// trusted).
pub(crate) fn segments_of(metas: &[ObjectMeta]) -> Vec<Segment> {
    let mut segs: Vec<Segment> = metas
        .iter()
        .filter_map(|m| {
            let mut s = parse_segment_name(m.location.filename()?)?;
            s.size = m.size;
            s.modified_ms = m.last_modified.timestamp_millis().max(0) as u64;
            Some(s)
        })
        .collect();
    segs.sort_by_key(|s| s.first_offset);
    segs
}

/// The objects of one log: a client and a prefix.
#[derive(Clone, Debug)]
pub(crate) struct Objects {
    pub client: Arc<dyn ObjectStore>,
    prefix: String,
    /// `s3://bucket/prefix`, for messages.
    pub location: String,
    /// The server, for messages.
    endpoint: String,
    /// Objects a follower's look fetched, kept for the read that follows
    /// it ([`Objects::remember`]).
    fetched: Arc<std::sync::Mutex<Fetched>>,
}

/// Segment objects fetched once and wanted again soon: a follower fetches
/// each new object to learn where it ends, then reads it. Each is handed
/// out once; the oldest go first past [`Fetched::MAX_BYTES`] or
/// [`Fetched::MAX_OBJECTS`].
#[derive(Debug, Default)]
struct Fetched {
    objects: std::collections::VecDeque<(String, Bytes)>,
    bytes: usize,
}

impl Fetched {
    /// Most bytes kept.
    const MAX_BYTES: usize = 64 << 20;
    /// Most objects kept.
    const MAX_OBJECTS: usize = 1024;

    fn put(&mut self, name: &str, bytes: Bytes) {
        self.bytes += bytes.len();
        self.objects.push_back((name.to_owned(), bytes));
        while self.bytes > Self::MAX_BYTES || self.objects.len() > Self::MAX_OBJECTS {
            let Some((_, old)) = self.objects.pop_front() else {
                break;
            };
            self.bytes -= old.len();
        }
    }

    fn take(&mut self, name: &str) -> Option<Bytes> {
        let i = self.objects.iter().position(|(n, _)| n == name)?;
        let (_, bytes) = self.objects.remove(i)?;
        self.bytes -= bytes.len();
        Some(bytes)
    }
}

/// A request that failed, for people: what was being done, and the
/// server's answer with an S3 XML error body shortened to its code and
/// message.
pub(crate) fn backend(what: String, e: object_store::Error) -> Error {
    let text = e.to_string();
    match without_xml(&text) {
        Some(short) => {
            tracing::debug!("{what}: {text}");
            Error::Backend {
                message: format!("{what}: {short}"),
                source: None,
            }
        }
        None => Error::Backend {
            message: format!("{what}: {e}"),
            source: Some(Box::new(e)),
        },
    }
}

/// `text` with an S3 XML error body (`<Error><Code>C</Code><Message>M`...)
/// replaced by `C: M`; `None` when it has none.
fn without_xml(text: &str) -> Option<String> {
    let at = text.find("<?xml").or_else(|| text.find("<Error>"))?;
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find("</")? + start;
        Some(text[start..end].to_owned())
    };
    let code = tag("Code").unwrap_or_else(|| "error".into());
    let head = text[..at].trim_end().trim_end_matches(':');
    Some(match tag("Message") {
        Some(m) => format!("{head}: {code}: {m}"),
        None => format!("{head}: {code}"),
    })
}

/// Whether a failed request's answer says the bucket does not exist.
pub(crate) fn no_such_bucket(e: &object_store::Error) -> bool {
    e.to_string().contains("NoSuchBucket")
}

impl Objects {
    pub fn new(
        client: Arc<dyn ObjectStore>,
        prefix: &str,
        location: String,
        endpoint: String,
    ) -> Self {
        Self {
            client,
            prefix: prefix.trim_matches('/').to_owned(),
            location,
            endpoint,
            fetched: Arc::default(),
        }
    }

    /// Keeps the bytes of segment `name`, just fetched, for the next
    /// [`Objects::get`] of it (once). Only for a read-only store: objects
    /// it does not write cannot change under it but by compaction, which
    /// gives the merged object another name.
    pub(crate) fn remember(&self, name: &str, bytes: Bytes) {
        let mut fetched = self.fetched.lock().unwrap_or_else(|p| p.into_inner());
        fetched.put(name, bytes);
    }

    pub(crate) fn key(&self, rest: &str) -> Path {
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

    fn start_key(&self) -> Path {
        self.key("start")
    }

    /// The segments to read ([`crate::plan::plan`] of [`Objects::list_all`]), from the
    /// log's first offset on: objects before the start marker are
    /// leftovers of retention.
    pub async fn list_segments(&self) -> Result<Vec<Segment>, Error> {
        let start = self.read_start().await?;
        let mut segs = crate::plan::plan(self.list_all().await?);
        segs.retain(|s| s.first_offset >= start);
        Ok(segs)
    }

    /// The first offset the start marker records: 0 when there is none.
    pub async fn read_start(&self) -> Result<u64, Error> {
        let key = self.start_key();
        let what = || format!("cannot read {}/start", self.location);
        let bytes = match self.client.get(&key).await {
            Ok(r) => r.bytes().await.map_err(|e| backend(what(), e))?,
            Err(object_store::Error::NotFound { .. }) => return Ok(0),
            Err(e) => return Err(backend(what(), e)),
        };
        interstice_log::codec::decode_start(&bytes).map_err(|e| {
            Error::Corrupt(Box::new(interstice_log::BadFrame {
                segment: "start".into(),
                position: 0,
                offset: None,
                len: bytes.len() as u64,
                damage: interstice_log::Damage::Frame(e),
            }))
        })
    }

    /// Records `first` as the log's first offset (one PUT: atomic).
    pub async fn write_start(&self, first: u64) -> Result<(), Error> {
        let body = Bytes::copy_from_slice(&interstice_log::codec::encode_start(first));
        self.client
            .put(&self.start_key(), PutPayload::from(body))
            .await
            .map(drop)
            .map_err(|e| backend(format!("cannot write {}/start", self.location), e))
    }

    /// Every segment object, stubs included, sorted by first offset (the
    /// listing's order is not trusted); other objects are ignored.
    pub async fn list_all(&self) -> Result<Vec<Segment>, Error> {
        Ok(segments_of(&self.list_dir("log").await?))
    }

    /// The objects under `<prefix>/<dir>/`.
    pub(crate) async fn list_dir(&self, dir: &str) -> Result<Vec<ObjectMeta>, Error> {
        self.client
            .list(Some(&self.key(dir)))
            .try_collect()
            .await
            .map_err(|e| backend(format!("cannot list {}/{dir}", self.location), e))
    }

    /// The names of the objects directly under `<prefix>/<dir>/`.
    pub async fn list_names(&self, dir: &str) -> Result<Vec<String>, Error> {
        Ok(self
            .list_dir(dir)
            .await?
            .iter()
            .filter_map(|m| m.location.filename().map(str::to_owned))
            .collect())
    }

    pub(crate) fn no_bucket(&self) -> Error {
        let rest = self.location.trim_start_matches("s3://");
        Error::NoBucket {
            bucket: rest.split('/').next().unwrap_or(rest).to_owned(),
            endpoint: self.endpoint.clone(),
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
            Err(e) if no_such_bucket(&e) => Err(self.no_bucket()),
            Err(e) => Err(backend(
                format!("cannot create the log at {}", self.location),
                e,
            )),
        }
    }

    /// The bytes of segment `name`; `None` if it is gone.
    pub async fn get(&self, name: &str) -> Result<Option<Bytes>, Error> {
        let kept = self
            .fetched
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take(name);
        if let Some(bytes) = kept {
            return Ok(Some(bytes));
        }
        let key = self.segment_key(name);
        let what = || format!("cannot read {}/log/{name}", self.location);
        match self.client.get(&key).await {
            Ok(r) => r.bytes().await.map(Some).map_err(|e| backend(what(), e)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(backend(what(), e)),
        }
    }

    /// The bytes of segment `name`, which must exist: one that is gone
    /// was removed by retention meanwhile.
    pub async fn fetch(&self, name: &str) -> Result<Bytes, Error> {
        self.get(name).await?.ok_or_else(|| Error::Removed {
            from: parse_segment_name(name).map_or(0, |s| s.first_offset),
            location: self.location.clone(),
        })
    }

    /// Creates segment `name` unless it exists: `Ok(false)` when it does.
    pub async fn create(&self, name: &str, bytes: Bytes) -> Result<bool, Error> {
        match self
            .client
            .put_opts(
                &self.segment_key(name),
                PutPayload::from(bytes),
                PutMode::Create.into(),
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => Ok(false),
            Err(e) => Err(backend(
                format!("cannot write {}/log/{name}", self.location),
                e,
            )),
        }
    }

    /// Replaces (or creates) segment `name`; for repair and compaction.
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
    /// the quarantine area, as `quarantine/<name>.<position>.<nanos>.cut`
    /// (with `-1`, `-2`... when that is taken), as on disk. The put is
    /// create-only, so an earlier copy is never replaced (on a server that
    /// ignores create-only puts, the nanosecond name is what keeps them
    /// apart).
    pub async fn quarantine(
        &self,
        name: &str,
        position: u64,
        bytes: Bytes,
    ) -> Result<Quarantined, Error> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let len = bytes.len() as u64;
        let mut n = 0u32;
        loop {
            let file = match n {
                0 => format!("{name}.{position}.{nanos}.cut"),
                n => format!("{name}.{position}.{nanos}-{n}.cut"),
            };
            let key = self.key(&format!("quarantine/{file}"));
            let location = format!("{}/quarantine/{file}", self.location);
            let put = self
                .client
                .put_opts(
                    &key,
                    PutPayload::from(bytes.clone()),
                    PutMode::Create.into(),
                )
                .await;
            match put {
                Ok(_) => {
                    return Ok(Quarantined {
                        segment: name.to_owned(),
                        position,
                        len,
                        location,
                    });
                }
                Err(object_store::Error::AlreadyExists { .. }) => n += 1,
                Err(e) => {
                    return Err(backend(
                        format!("cannot write quarantine object {location}"),
                        e,
                    ));
                }
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_junk_is_ignored() {
        assert_eq!(
            parse_segment_name(&segment_name(42)),
            Some(Segment::new(42))
        );
        let c = Segment::compacted(3, 9);
        assert_eq!(parse_segment_name(&c.name), Some(c));
        for junk in [
            "42.seg",
            "00000000000000000042.log",
            "x.seg",
            "00000000000000000009-00000000000000000003.seg",
        ] {
            assert_eq!(parse_segment_name(junk), None, "{junk}");
        }
    }

    /// Two cuts of one segment at one position in quick succession keep
    /// both copies, each named where an operator can find it: under the
    /// log's own `s3://bucket/prefix`.
    #[tokio::test]
    async fn quarantine_never_overwrites_and_names_the_bucket() {
        let client = Arc::new(object_store::memory::InMemory::new());
        let objects = Objects::new(
            client.clone(),
            "app",
            "s3://ilog/app".into(),
            "memory".into(),
        );
        let seg = segment_name(7);
        let a = objects
            .quarantine(&seg, 20, Bytes::from_static(b"first"))
            .await
            .unwrap();
        let b = objects
            .quarantine(&seg, 20, Bytes::from_static(b"second"))
            .await
            .unwrap();
        assert_ne!(a.location, b.location);
        for q in [&a, &b] {
            assert!(
                q.location
                    .starts_with("s3://ilog/app/quarantine/00000000000000000007.seg.20."),
                "{}",
                q.location
            );
            assert!(q.location.ends_with(".cut"), "{}", q.location);
        }
        let kept: Vec<_> = client
            .list(Some(&Path::from("app/quarantine")))
            .try_collect()
            .await
            .unwrap();
        assert_eq!(kept.len(), 2, "{kept:?}");
    }

    #[test]
    fn an_xml_error_body_is_cut_to_its_code_and_message() {
        let text = "Error performing PUT http://h/b/k in 3ms - Server returned non-2xx status code: 403 Forbidden: <?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>x</RequestId></Error>";
        assert_eq!(
            without_xml(text).unwrap(),
            "Error performing PUT http://h/b/k in 3ms - Server returned non-2xx status code: 403 Forbidden: AccessDenied: Access Denied"
        );
        assert_eq!(without_xml("connection refused"), None);
    }
}
