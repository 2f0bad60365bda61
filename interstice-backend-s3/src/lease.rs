//! Leases: an object that says who is doing something to the log, and
//! until when (`docs/s3.md`, "Leases").
//!
//! ```text
//! <prefix>/leases/writer        the serving node's heartbeat
//! <prefix>/leases/compaction    a compaction in progress
//! ```
//!
//! A lease is taken with a create-only put, or by overwriting one that has
//! expired; it is renewed by overwriting it, after reading it back to see
//! that it is still this holder's; it is released by deleting it. Expiry
//! is wall-clock time, so the clocks of the machines involved must agree
//! to well within a lease's length. Leases keep honest processes out of
//! each other's way; what keeps the log correct when they do not is
//! create-only commit keys and writer epochs.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use interstice_log::Error;
use object_store::{ObjectStoreExt, PutMode, PutPayload};

use crate::objects::{Objects, backend};

/// What a lease object records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseInfo {
    /// Who holds it: host, process id, start time and a count (unique per
    /// holder).
    pub holder: String,
    /// Where the holder answers calls (a node's URL), when it does.
    pub node: Option<String>,
    /// The holder's writer epoch (0 for a lease that is not a writer's).
    pub epoch: u64,
    /// Until when it holds, in milliseconds since the Unix epoch.
    pub expires_ms: u64,
}

impl LeaseInfo {
    fn encode(&self) -> Bytes {
        let mut text = format!("holder={}\n", self.holder);
        if let Some(node) = &self.node {
            text.push_str(&format!("node={node}\n"));
        }
        text.push_str(&format!(
            "epoch={}\nexpires_ms={}\n",
            self.epoch, self.expires_ms
        ));
        Bytes::from(text)
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(bytes).ok()?;
        let field = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        };
        Some(Self {
            holder: field("holder")?.to_owned(),
            node: field("node").map(str::to_owned),
            epoch: field("epoch")?.parse().ok()?,
            expires_ms: field("expires_ms")?.parse().ok()?,
        })
    }

    /// Whether it still holds at `now_ms`.
    pub fn is_fresh(&self, now_ms: u64) -> bool {
        self.expires_ms > now_ms
    }

    /// "host:pid:start (node URL, epoch E), for 12 s more", for messages.
    pub fn describe(&self, now_ms: u64) -> String {
        let mut s = self.holder.clone();
        match (&self.node, self.epoch) {
            (Some(node), e) if e > 0 => s.push_str(&format!(" (node {node}, writer epoch {e})")),
            (Some(node), _) => s.push_str(&format!(" (node {node})")),
            (None, e) if e > 0 => s.push_str(&format!(" (writer epoch {e})")),
            (None, _) => {}
        }
        let left = self.expires_ms.saturating_sub(now_ms);
        s.push_str(&format!(", for {} s more", left.div_ceil(1000)));
        s
    }
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A new holder id: host, pid, when this process started (pids are
/// reused), and a count, so that two stores in one process are two
/// holders.
pub(crate) fn holder_id() -> String {
    static PROCESS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let process = PROCESS.get_or_init(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into());
        format!("{host}:{}:{}", std::process::id(), now_ms())
    });
    let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{process}:{n}")
}

/// How taking a lease went.
#[derive(Debug)]
pub(crate) enum Taken {
    /// It is ours now.
    Ours,
    /// Someone else holds it.
    Held(LeaseInfo),
}

impl Objects {
    fn lease_path(&self, name: &str) -> String {
        format!("leases/{name}")
    }

    /// The lease `name`, if any (an unreadable one counts as expired).
    pub async fn read_lease(&self, name: &str) -> Result<Option<LeaseInfo>, Error> {
        let key = self.key(&self.lease_path(name));
        let what = || format!("cannot read {}/leases/{name}", self.location);
        match self.client.get(&key).await {
            Ok(r) => {
                let bytes = r.bytes().await.map_err(|e| backend(what(), e))?;
                Ok(Some(LeaseInfo::decode(&bytes).unwrap_or(LeaseInfo {
                    holder: "(unreadable lease)".into(),
                    node: None,
                    epoch: 0,
                    expires_ms: 0,
                })))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(backend(what(), e)),
        }
    }

    /// Takes lease `name` for `info`: created when there is none, taken
    /// over when it expired, was ours, or `force`.
    pub async fn take_lease(
        &self,
        name: &str,
        info: &LeaseInfo,
        force: bool,
    ) -> Result<Taken, Error> {
        let key = self.key(&self.lease_path(name));
        let what = || format!("cannot write {}/leases/{name}", self.location);
        let put = self
            .client
            .put_opts(
                &key,
                PutPayload::from(info.encode()),
                PutMode::Create.into(),
            )
            .await;
        match put {
            Ok(_) => return Ok(Taken::Ours),
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => {}
            Err(e) => return Err(backend(what(), e)),
        }
        if let Some(held) = self.read_lease(name).await?
            && held.holder != info.holder
            && held.is_fresh(now_ms())
            && !force
        {
            return Ok(Taken::Held(held));
        }
        self.put_lease(name, info).await?;
        Ok(Taken::Ours)
    }

    /// Writes lease `name` as `info` (renewal, or a take-over).
    pub async fn put_lease(&self, name: &str, info: &LeaseInfo) -> Result<(), Error> {
        let key = self.key(&self.lease_path(name));
        self.client
            .put(&key, PutPayload::from(info.encode()))
            .await
            .map(drop)
            .map_err(|e| backend(format!("cannot write {}/leases/{name}", self.location), e))
    }

    /// Renews lease `name` for `info` if it is still `info.holder`'s:
    /// `Ok(Some(other))` when someone else holds it now, or it is gone
    /// (another process took it and gave it up: it is not ours either).
    pub async fn renew_lease(
        &self,
        name: &str,
        info: &LeaseInfo,
    ) -> Result<Option<LeaseInfo>, Error> {
        match self.read_lease(name).await? {
            Some(held) if held.holder == info.holder => {}
            Some(held) => return Ok(Some(held)),
            None => {
                return Ok(Some(LeaseInfo {
                    holder: "(nobody: it was taken and released)".into(),
                    node: None,
                    epoch: 0,
                    expires_ms: 0,
                }));
            }
        }
        self.put_lease(name, info).await?;
        Ok(None)
    }

    /// Deletes lease `name` if it is `holder`'s.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<(), Error> {
        if let Some(held) = self.read_lease(name).await?
            && held.holder == holder
        {
            let key = self.key(&self.lease_path(name));
            self.client.delete(&key).await.map_err(|e| {
                backend(format!("cannot delete {}/leases/{name}", self.location), e)
            })?;
        }
        Ok(())
    }
}

/// A lease held for the length of one job, renewed as it goes.
pub(crate) struct Held {
    objects: Objects,
    name: &'static str,
    info: LeaseInfo,
    ttl: Duration,
}

impl Held {
    /// Takes lease `name` for `ttl`, or says who holds it
    /// ([`Error::InUse`], with `doing`: what the holder is doing).
    pub async fn take(
        objects: &Objects,
        name: &'static str,
        ttl: Duration,
        doing: &str,
    ) -> Result<Self, Error> {
        let info = LeaseInfo {
            holder: holder_id(),
            node: None,
            epoch: 0,
            expires_ms: now_ms() + ttl.as_millis() as u64,
        };
        match objects.take_lease(name, &info, false).await? {
            Taken::Ours => Ok(Self {
                objects: objects.clone(),
                name,
                info,
                ttl,
            }),
            Taken::Held(other) => Err(Error::InUse {
                location: objects.location.clone(),
                detail: format!("{doing}: {}", other.describe(now_ms())),
            }),
        }
    }

    /// Renews the lease once half of it has passed; [`Error::InUse`] when
    /// someone else took it meanwhile.
    pub async fn renew_if_due(&mut self) -> Result<(), Error> {
        let now = now_ms();
        let half = self.ttl.as_millis() as u64 / 2;
        if self.info.expires_ms.saturating_sub(now) > half {
            return Ok(());
        }
        self.info.expires_ms = now + self.ttl.as_millis() as u64;
        match self.objects.renew_lease(self.name, &self.info).await? {
            None => Ok(()),
            Some(other) => Err(Error::InUse {
                location: self.objects.location.clone(),
                detail: format!(
                    "the {} lease was taken by {}",
                    self.name,
                    other.describe(now)
                ),
            }),
        }
    }

    /// Gives the lease up.
    pub async fn release(self) -> Result<(), Error> {
        self.objects
            .release_lease(self.name, &self.info.holder)
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn objects() -> Objects {
        let client = Arc::new(object_store::memory::InMemory::new());
        Objects::new(client, "app", "s3://b/app".into(), "memory".into())
    }

    fn info(holder: &str, expires_ms: u64) -> LeaseInfo {
        LeaseInfo {
            holder: holder.into(),
            node: Some("http://127.0.0.1:7070".into()),
            epoch: 3,
            expires_ms,
        }
    }

    #[test]
    fn a_lease_round_trips_and_says_who_holds_it() {
        let i = info("h:1:2", 10_500);
        assert_eq!(LeaseInfo::decode(&i.encode()), Some(i.clone()));
        assert_eq!(
            i.describe(1_000),
            "h:1:2 (node http://127.0.0.1:7070, writer epoch 3), for 10 s more"
        );
    }

    #[tokio::test]
    async fn a_fresh_lease_is_refused_and_an_expired_one_taken() {
        let o = objects();
        let later = now_ms() + 60_000;
        assert!(matches!(
            o.take_lease("writer", &info("a", later), false)
                .await
                .unwrap(),
            Taken::Ours
        ));
        let Taken::Held(held) = o
            .take_lease("writer", &info("b", later), false)
            .await
            .unwrap()
        else {
            panic!("a fresh lease was taken");
        };
        assert_eq!(held.holder, "a");
        // Forced (a take-over): b holds it, and a's renewal says so.
        assert!(matches!(
            o.take_lease("writer", &info("b", later), true)
                .await
                .unwrap(),
            Taken::Ours
        ));
        let other = o.renew_lease("writer", &info("a", later)).await.unwrap();
        assert_eq!(other.unwrap().holder, "b");
        // Expired: anyone takes it.
        o.put_lease("writer", &info("b", 1)).await.unwrap();
        assert!(matches!(
            o.take_lease("writer", &info("c", later), false)
                .await
                .unwrap(),
            Taken::Ours
        ));
        // Only its holder releases it.
        o.release_lease("writer", "a").await.unwrap();
        assert!(o.read_lease("writer").await.unwrap().is_some());
        o.release_lease("writer", "c").await.unwrap();
        assert!(o.read_lease("writer").await.unwrap().is_none());
    }
}
