//! Writer epochs on S3 (`docs/s3.md`, "Writer epochs").
//!
//! ```text
//! <prefix>/epochs/<epoch:020>                  claim: a writer took this epoch
//! <prefix>/epochs/<epoch:020>-<start:020>      that epoch's first commit is at `start`
//! <prefix>/epochs/<epoch:020>-<start:020>-<w>  ... and it kept up to `w` appends in flight
//! ```
//!
//! A writable open claims the epoch after every one it sees with a
//! create-only put (on a server that enforces it, two writers never hold
//! one epoch). Its first append records where it began, after the object
//! is stored and before it is acknowledged: recording it first would make
//! the commits an older writer still got in ahead of it look stale. Both
//! are empty objects named by what they record, so one listing reads them
//! all.

use interstice_log::Error;
use interstice_log::epochs::EpochStarts;
use object_store::{ObjectStoreExt, PutMode, PutPayload};

use crate::objects::{Objects, backend, parse_offset};

/// How many epochs a writable open tries to claim before it gives up
/// (each one lost was claimed by a writer opening at the same moment).
const MAX_CLAIMS: u64 = 16;

/// What the `epochs/` keys record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Listed {
    /// Epochs claimed (with or without a start).
    pub claims: Vec<u64>,
    /// `(epoch, first offset)` of the epochs that appended.
    pub starts: Vec<(u64, u64)>,
    /// `(epoch, window)` of the epochs that kept more than one append in
    /// flight: how many objects at the end of the log a crash of theirs
    /// can have left behind a hole.
    pub windows: Vec<(u64, u64)>,
}

impl Listed {
    /// The newest epoch any key names (0 when none).
    pub fn newest(&self) -> u64 {
        let claimed = self.claims.iter().copied();
        let started = self.starts.iter().map(|&(e, _)| e);
        claimed.chain(started).max().unwrap_or(0)
    }

    /// What the names of the objects under `epochs/` record (other names
    /// are ignored).
    pub fn from_names(names: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        let mut listed = Self::default();
        for name in names {
            match parse(name.as_ref()) {
                Some((e, None)) => listed.claims.push(e),
                Some((e, Some((start, window)))) => {
                    listed.starts.push((e, start));
                    if window > 1 {
                        listed.windows.push((e, window));
                    }
                }
                None => {}
            }
        }
        listed.claims.sort_unstable();
        listed.starts.sort_unstable();
        listed.windows.sort_unstable();
        listed
    }

    /// How many appends `epoch` kept in flight (1 when not recorded).
    pub fn window(&self, epoch: u64) -> u64 {
        self.windows
            .iter()
            .find(|&&(e, _)| e == epoch)
            .map_or(1, |&(_, w)| w)
    }

    /// The in-flight window of the newest epoch that appended: how many
    /// objects at the end of the log may lie behind a hole its crash left.
    pub fn last_window(&self) -> u64 {
        self.starts
            .iter()
            .map(|&(e, _)| e)
            .max()
            .map_or(1, |e| self.window(e))
    }

    /// The starts, as readers check them.
    pub fn starts(&self) -> EpochStarts {
        EpochStarts::new(self.starts.iter().copied())
    }
}

fn claim_name(epoch: u64) -> String {
    format!("epochs/{epoch:020}")
}

fn start_name(epoch: u64, start: u64, window: u64) -> String {
    match window {
        ..=1 => format!("epochs/{epoch:020}-{start:020}"),
        w => format!("epochs/{epoch:020}-{start:020}-{w}"),
    }
}

/// What an `epochs/` key name says (epoch, and start with window);
/// `None` for anything else.
fn parse(name: &str) -> Option<(u64, Option<(u64, u64)>)> {
    let mut parts = name.split('-');
    let epoch = parse_offset(parts.next()?)?;
    let Some(start) = parts.next() else {
        return Some((epoch, None));
    };
    let start = parse_offset(start)?;
    let window = match parts.next() {
        None => 1,
        Some(w) if !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()) => w.parse().ok()?,
        Some(_) => return None,
    };
    match parts.next() {
        None => Some((epoch, Some((start, window)))),
        Some(_) => None,
    }
}

impl Objects {
    /// Every epoch claimed and every start recorded.
    pub async fn list_epochs(&self) -> Result<Listed, Error> {
        Ok(Listed::from_names(self.list_names("epochs").await?))
    }

    /// Creates the claim of `epoch`: `Ok(false)` when another writer holds
    /// it.
    async fn claim_epoch(&self, epoch: u64) -> Result<bool, Error> {
        let name = claim_name(epoch);
        let put = self
            .client
            .put_opts(&self.key(&name), PutPayload::new(), PutMode::Create.into())
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => Ok(false),
            Err(e) => Err(backend(
                format!(
                    "cannot take writer epoch {epoch} at {}/{name}",
                    self.location
                ),
                e,
            )),
        }
    }

    /// Records that `epoch` began writing at offset `start`, keeping up to
    /// `window` appends in flight.
    pub async fn record_epoch_start(
        &self,
        epoch: u64,
        start: u64,
        window: u64,
    ) -> Result<(), Error> {
        let name = start_name(epoch, start, window);
        self.client
            .put(&self.key(&name), PutPayload::new())
            .await
            .map(drop)
            .map_err(|e| backend(format!("cannot write {}/{name}", self.location), e))
    }

    /// Claims the first free epoch after `listed`'s newest and `seen` (the
    /// epoch of the log's last commit: keys can be lost, the log's frames
    /// cannot), then deletes what no reader needs any more: older claims,
    /// and starts that a newer start at or before the log's first offset
    /// `first` makes redundant.
    pub async fn take_epoch(&self, listed: &Listed, seen: u64, first: u64) -> Result<u64, Error> {
        let from = listed.newest().max(seen) + 1;
        let mut epoch = from;
        while !self.claim_epoch(epoch).await? {
            epoch += 1;
            if epoch - from >= MAX_CLAIMS {
                return Err(Error::Fenced {
                    location: self.location.clone(),
                    detail: format!(
                        "{MAX_CLAIMS} writer epochs from {from} on were claimed by others while this one opened"
                    ),
                });
            }
        }
        let ruling = listed
            .starts
            .iter()
            .filter(|&&(_, s)| s <= first)
            .map(|&(e, _)| e)
            .max();
        let stale = listed
            .claims
            .iter()
            .filter(|&&e| e < epoch)
            .map(|&e| claim_name(e))
            .chain(
                listed
                    .starts
                    .iter()
                    .filter(|&&(e, s)| s <= first && Some(e) != ruling)
                    .map(|&(e, s)| start_name(e, s, listed.window(e))),
            );
        for name in stale {
            // Best effort: a key left behind costs a line in a listing.
            if let Err(e) = self.client.delete(&self.key(&name)).await {
                tracing::debug!("cannot delete {}/{name}: {e}", self.location);
            }
        }
        Ok(epoch)
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

    #[test]
    fn names_round_trip() {
        assert_eq!(parse(&claim_name(7)["epochs/".len()..]), Some((7, None)));
        assert_eq!(
            parse(&start_name(7, 42, 1)["epochs/".len()..]),
            Some((7, Some((42, 1))))
        );
        assert_eq!(
            parse(&start_name(7, 42, 16)["epochs/".len()..]),
            Some((7, Some((42, 16))))
        );
        assert_eq!(parse("00000000000000000007-00000000000000000042-"), None);
        assert_eq!(parse("00000000000000000007-00000000000000000042-4-4"), None);
        assert_eq!(parse("7"), None);
        assert_eq!(parse("00000000000000000007-x"), None);
    }

    #[tokio::test]
    async fn each_open_takes_the_next_epoch_and_old_keys_go() {
        let o = objects();
        let e1 = o.take_epoch(&Listed::default(), 0, 0).await.unwrap();
        assert_eq!(e1, 1);
        o.record_epoch_start(1, 0, 1).await.unwrap();
        let listed = o.list_epochs().await.unwrap();
        let e2 = o.take_epoch(&listed, 0, 0).await.unwrap();
        assert_eq!(e2, 2);
        o.record_epoch_start(2, 5, 8).await.unwrap();
        // The log's last commit says epoch 9 wrote it: the keys were lost.
        let listed = o.list_epochs().await.unwrap();
        assert_eq!(o.take_epoch(&listed, 9, 0).await.unwrap(), 10);
        let listed = o.list_epochs().await.unwrap();
        assert_eq!(listed.claims, [10]);
        assert_eq!(listed.starts, [(1, 0), (2, 5)]);
        assert_eq!((listed.window(1), listed.window(2)), (1, 8));
        assert_eq!(listed.last_window(), 8);
        // Retention moved the first offset past epoch 2's start: epoch 1's
        // start no longer rules anything.
        assert_eq!(o.take_epoch(&listed, 0, 6).await.unwrap(), 11);
        let listed = o.list_epochs().await.unwrap();
        assert_eq!(listed.starts, [(2, 5)]);
    }

    #[tokio::test]
    async fn a_claimed_epoch_is_not_taken_twice() {
        let o = objects();
        assert!(o.claim_epoch(3).await.unwrap());
        let listed = Listed {
            claims: vec![],
            starts: vec![(2, 0)],
            windows: vec![],
        };
        // Another writer claimed 3 after this one listed: it takes 4.
        assert_eq!(o.take_epoch(&listed, 0, 0).await.unwrap(), 4);
    }
}
