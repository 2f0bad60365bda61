//! The writer lease: a serving node's heartbeat (`docs/s3.md`, "Leases").
//!
//! A node that writes the log holds `leases/writer`, renewing it every
//! [`HEARTBEAT`] for [`TTL`]. A writable open by anyone else refuses while
//! the lease is fresh and being renewed, and names the node to send calls
//! to; `take_over` takes it anyway. A holder that finds the lease taken
//! stops writing (its store is fenced).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use interstice_log::Error;
use tokio::task::JoinHandle;

use crate::lease::{LeaseInfo, holder_id, now_ms};
use crate::objects::Objects;

/// How often a holder renews the writer lease.
pub const HEARTBEAT: Duration = Duration::from_secs(2);

/// How long one renewal holds.
pub const TTL: Duration = Duration::from_secs(10);

const NAME: &str = "writer";

/// Refuses ([`Error::InUse`]) while another process holds a fresh writer
/// lease that it keeps renewing. A lease that is not renewed within a
/// heartbeat (its holder died) does not stop anyone. `Ok(true)` when it
/// waited that heartbeat (what the caller listed before may be stale).
pub(crate) async fn check(objects: &Objects) -> Result<bool, Error> {
    let Some(held) = objects.read_lease(NAME).await? else {
        return Ok(false);
    };
    if !held.is_fresh(now_ms()) {
        return Ok(false);
    }
    tokio::time::sleep(HEARTBEAT + HEARTBEAT / 4).await;
    match objects.read_lease(NAME).await? {
        Some(again)
            if again.is_fresh(now_ms())
                && (again.holder != held.holder || again.expires_ms != held.expires_ms) =>
        {
            Err(in_use(objects, &again))
        }
        _ => Ok(true),
    }
}

fn in_use(objects: &Objects, held: &LeaseInfo) -> Error {
    Error::InUse {
        location: objects.location.clone(),
        detail: format!("another process writes it: {}", held.describe(now_ms())),
    }
}

/// The writer lease, held and renewed by a task until released.
#[derive(Debug)]
pub(crate) struct Holding {
    info: LeaseInfo,
    task: JoinHandle<()>,
}

impl Holding {
    /// Takes the writer lease for writer `epoch`, answering at `node`,
    /// over whatever lease is there: the caller ran [`check`] first (its
    /// holder is gone), or takes the log over. Renews it every
    /// [`HEARTBEAT`]; when a renewal finds someone else holding it, `lost`
    /// is set to say who, and renewing stops.
    pub async fn take(
        objects: &Objects,
        epoch: u64,
        node: Option<String>,
        lost: Arc<OnceLock<String>>,
    ) -> Result<Self, Error> {
        let mut info = LeaseInfo {
            holder: holder_id(),
            node,
            epoch,
            expires_ms: now_ms() + TTL.as_millis() as u64,
        };
        objects.take_lease(NAME, &info, true).await?;
        let objects = objects.clone();
        let renewing = info.clone();
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(HEARTBEAT).await;
                info.expires_ms = now_ms() + TTL.as_millis() as u64;
                match objects.renew_lease(NAME, &info).await {
                    Ok(None) => {}
                    Ok(Some(other)) => {
                        let why =
                            format!("the writer lease was taken by {}", other.describe(now_ms()));
                        tracing::error!(log = %objects.location, "{why}");
                        let _ = lost.set(why);
                        return;
                    }
                    // The next beat tries again; the lease lasts several.
                    Err(e) => {
                        tracing::warn!(log = %objects.location, "cannot renew the writer lease: {e}")
                    }
                }
            }
        });
        Ok(Self {
            info: renewing,
            task,
        })
    }

    /// Stops renewing and deletes the lease if it is still ours.
    pub async fn release(self, objects: &Objects) -> Result<(), Error> {
        self.task.abort();
        objects.release_lease(NAME, &self.info.holder).await
    }
}

impl Drop for Holding {
    fn drop(&mut self) {
        self.task.abort();
    }
}
