//! `LOG` arguments: a directory (the disk backend) or `s3://bucket/prefix`
//! (the S3 backend), opened as one `LogStore`.

use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use interstice_backend_fs::{FsLogStore, FsSnapshotStore};
use interstice_backend_s3::{S3Config, S3LogStore, S3SnapshotStore, WriterLease};
use interstice_core::retention::{History, Retention};
use interstice_core::{ReplayOptions, RuntimeConfig, SnapshotPolicy};
use interstice_log::snapshot::SnapshotStore;
use interstice_log::{Durability, LogOptions, LogStore, RecoveryMode};

/// How to open a log (shared by every command that takes `LOG`).
#[derive(Args, Clone, Debug, Default)]
pub struct LogArgs {
    /// What opening does with a damaged tail: truncate-tail, strict, or
    /// skip-to:N.
    #[arg(long, default_value = "truncate-tail", global = true)]
    pub recovery: RecoveryMode,
    /// When a commit counts as durable: `sync`, `batch:<ms>` or `none`.
    #[arg(long, default_value = "sync", global = true)]
    pub durability: Durability,
    /// Start a new segment once the last one reaches this many bytes (on
    /// disk; retention removes whole segments).
    #[arg(long, global = true, value_name = "BYTES", default_value_t = LogOptions::default().segment_size)]
    pub segment_size: u64,
    /// S3 endpoint (else AWS_ENDPOINT_URL).
    #[arg(long, env = "AWS_ENDPOINT_URL", global = true, hide_env_values = true)]
    pub s3_endpoint: Option<String>,
    /// S3 signing region (else AWS_REGION).
    #[arg(long, env = "AWS_REGION", global = true)]
    pub s3_region: Option<String>,
    /// Take S3 credentials from the cloud machine's instance role (its
    /// metadata service) when no AWS_* credentials are set.
    #[arg(long, global = true)]
    pub s3_instance_credentials: bool,
    /// Write to an S3 server that ignores create-only puts, promising that
    /// no other process writes the log (docs/s3.md).
    #[arg(long, global = true)]
    pub s3_single_writer: bool,
    /// Objects a writer keeps in flight at once on an s3:// log (each
    /// still acknowledged only once it and every one before it is stored;
    /// 1 writes one at a time).
    #[arg(long, global = true, value_name = "N", default_value_t = interstice_backend_s3::DEFAULT_INFLIGHT as u64, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub s3_inflight: u64,
    /// On an s3:// log that another process writes (its writer lease is
    /// fresh): take the log from it. It is fenced at its next write and
    /// stops (docs/s3.md).
    #[arg(long, global = true)]
    pub take_over: bool,
    #[command(flatten)]
    pub snapshots: SnapshotArgs,
}

/// When commands that write the log (and `serve`) take snapshots, and
/// whether opening uses them (docs/operations.md).
#[derive(Args, Clone, Debug, Default)]
pub struct SnapshotArgs {
    /// Take a snapshot once this many commits are not in one.
    #[arg(
        long,
        global = true,
        value_name = "N",
        env = "INTERSTICE_SNAPSHOT_EVERY_COMMITS"
    )]
    pub snapshot_every_commits: Option<u64>,
    /// Take a snapshot once this many bytes of log were written since the
    /// last one.
    #[arg(
        long,
        global = true,
        value_name = "BYTES",
        env = "INTERSTICE_SNAPSHOT_EVERY_BYTES"
    )]
    pub snapshot_every_bytes: Option<u64>,
    /// Take a snapshot once this long has passed since the last one (and
    /// something was committed): 90s, 10m, 1h...
    #[arg(long, global = true, value_name = "DURATION", env = "INTERSTICE_SNAPSHOT_EVERY", value_parser = humantime::parse_duration)]
    pub snapshot_every: Option<std::time::Duration>,
    /// Ignore snapshots: rebuild the state from the log alone.
    #[arg(long, global = true)]
    pub no_snapshots: bool,
    /// Keep the newest K snapshots, and let the log drop the commits
    /// before the oldest of them (after each snapshot taken).
    #[arg(long, global = true, value_name = "K", env = "INTERSTICE_RETAIN_SNAPSHOTS", value_parser = clap::value_parser!(u64).range(1..))]
    pub retain_snapshots: Option<u64>,
    /// With --retain-snapshots: keep at least this much history in the
    /// log anyway: a number of commits, or a duration (36h, 7days).
    #[arg(
        long,
        global = true,
        value_name = "DURATION|COMMITS",
        env = "INTERSTICE_RETAIN_HISTORY",
        requires = "retain_snapshots"
    )]
    pub retain_history: Option<History>,
}

impl SnapshotArgs {
    /// The policy the flags set.
    pub fn policy(&self) -> SnapshotPolicy {
        SnapshotPolicy {
            every_commits: self.snapshot_every_commits,
            every_bytes: self.snapshot_every_bytes,
            every: self.snapshot_every,
        }
    }

    /// The retention the flags set.
    pub fn retention(&self) -> Retention {
        Retention {
            keep_snapshots: self.retain_snapshots.map(|k| k as usize),
            history: self.retain_history,
        }
    }
}

/// How a command opens its log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// To inspect it: nothing is written, created or cut.
    ReadOnly,
    /// To write to it; it must exist.
    Write,
    /// To write to it, creating it if there is none.
    Create,
}

impl LogArgs {
    /// The first offset a replay starts at (non-zero after `skip-to`).
    pub fn first_offset(&self) -> u64 {
        match self.recovery {
            RecoveryMode::SkipTo(n) => n,
            _ => 0,
        }
    }

    /// The snapshots of `log` (beside it, on the same backend), unless
    /// `--no-snapshots`.
    pub fn snapshot_store(&self, log: &str) -> Result<Option<Arc<dyn SnapshotStore>>> {
        if self.snapshots.no_snapshots {
            return Ok(None);
        }
        Ok(Some(self.snapshot_store_always(log)?))
    }

    /// The snapshots of `log`, whatever the flags say.
    pub fn snapshot_store_always(&self, log: &str) -> Result<Arc<dyn SnapshotStore>> {
        Ok(if log.starts_with("s3://") {
            Arc::new(S3SnapshotStore::new(&self.s3_config(log)?)?)
        } else {
            Arc::new(FsSnapshotStore::new(log))
        })
    }

    /// How to rebuild the state of `log` up to `to`: from its newest
    /// usable snapshot (unless `--no-snapshots` or `skip-to`), strict
    /// under `--recovery strict`.
    pub fn replay_options(&self, log: &str, to: Option<u64>) -> Result<ReplayOptions> {
        Ok(ReplayOptions {
            from: self.first_offset(),
            to,
            snapshots: self.snapshot_store(log)?,
            strict: self.recovery == RecoveryMode::Strict,
        })
    }

    /// A runtime configuration for `log`: where to start replaying, its
    /// snapshots and the snapshot policy; scheduled calls left to the node
    /// (`serve` and `schedules --run` run them); the rest default.
    pub fn runtime_config(&self, log: &str) -> Result<RuntimeConfig> {
        let replay = self.replay_options(log, None)?;
        Ok(RuntimeConfig {
            replay_from: replay.from,
            snapshots: replay.snapshots,
            strict_snapshots: replay.strict,
            snapshot_policy: self.snapshots.policy(),
            retention: self.snapshots.retention(),
            run_schedules: false,
            ..RuntimeConfig::default()
        })
    }

    /// Opens `log` as `access` says.
    pub async fn open(&self, log: &str, access: Access) -> Result<Arc<dyn LogStore>> {
        let opts = LogOptions::default()
            .recovery(self.recovery)
            .durability(self.durability)
            .segment_size(self.segment_size)
            .read_only(access == Access::ReadOnly)
            .create(access == Access::Create);
        self.open_with(log, opts).await
    }

    /// Opens `log` for a node answering at `node` (creating it), taking
    /// frames of up to `max_frame_size` bytes (`serve --max-commit-size`).
    /// On S3 the node holds the writer lease while it runs.
    pub async fn open_node(
        &self,
        log: &str,
        max_frame_size: u64,
        node: String,
    ) -> Result<Arc<dyn LogStore>> {
        let opts = LogOptions::default()
            .recovery(self.recovery)
            .durability(self.durability)
            .segment_size(self.segment_size)
            .max_frame_size(max_frame_size)
            .create(true);
        let lease = WriterLease::Hold { node: Some(node) };
        let hint = "stop it first, or pass --take-over to take the log from it (it is fenced at its next write and stops)";
        self.open_leased(log, opts, lease, hint).await
    }

    /// The S3 location and connection settings `log` (`s3://...`) and the
    /// flags name.
    pub fn s3_config(&self, log: &str) -> Result<S3Config> {
        let mut config = S3Config::from_url(log)?
            .single_writer(self.s3_single_writer)
            .inflight(self.s3_inflight as usize)
            .take_over(self.take_over);
        config.endpoint = self.s3_endpoint.clone();
        config.region = self.s3_region.clone();
        config.instance_metadata = self.s3_instance_credentials;
        Ok(config)
    }

    /// Opens `log` (`s3://` only) read-only for a node that follows its
    /// writer; also returns the store itself, which reads the writer lease.
    pub async fn open_follower(&self, log: &str) -> Result<(Arc<dyn LogStore>, S3LogStore)> {
        if !log.starts_with("s3://") {
            anyhow::bail!(
                "{log}: only logs on S3 are followed (a disk log has one process, the writer)"
            );
        }
        let opts = LogOptions::default()
            .recovery(self.recovery)
            .read_only(true);
        let store = S3LogStore::open(self.s3_config(log)?, opts)
            .await
            .with_context(|| format!("cannot open the log at {log}"))?;
        report(store.recovery_report());
        let handle = store.clone();
        Ok((
            crate::progress::wrap(Arc::new(store), "reading the log"),
            handle,
        ))
    }

    /// Opens `log` for writing even when it is damaged, to cut it; on S3,
    /// while another process writes it only when `force`.
    pub async fn open_for_repair(&self, log: &str, force: bool) -> Result<Arc<dyn LogStore>> {
        let opts = LogOptions::default()
            .durability(self.durability)
            .repair(true);
        let lease = if force {
            WriterLease::Ignore
        } else {
            WriterLease::Respect
        };
        let hint = "pass --force to cut it while it is being written";
        self.open_leased(log, opts, lease, hint).await
    }

    async fn open_with(&self, log: &str, opts: LogOptions) -> Result<Arc<dyn LogStore>> {
        let hint = "send calls to that node (call --node URL), or pass --take-over to take the log from it (the node is fenced at its next write and stops)";
        self.open_leased(log, opts, WriterLease::Respect, hint)
            .await
    }

    /// Opens `log`; `hint` says what to do when another process holds the
    /// writer lease of an S3 log.
    async fn open_leased(
        &self,
        log: &str,
        opts: LogOptions,
        lease: WriterLease,
        hint: &str,
    ) -> Result<Arc<dyn LogStore>> {
        if log.starts_with("s3://") {
            let config = self.s3_config(log)?.writer_lease(lease);
            let store = S3LogStore::open(config, opts).await.map_err(|e| match e {
                interstice_log::Error::InUse { .. } => {
                    anyhow::anyhow!("cannot open the log at {log}: {e}; {hint}")
                }
                e => anyhow::Error::new(e).context(format!("cannot open the log at {log}")),
            })?;
            report(store.recovery_report());
            Ok(crate::progress::wrap(Arc::new(store), "reading the log"))
        } else {
            let store = FsLogStore::open(log, opts)
                .with_context(|| format!("cannot open the log at {log}"))?;
            report(store.recovery_report());
            Ok(crate::progress::wrap(Arc::new(store), "reading the log"))
        }
    }
}

/// Says what recovery did, on stderr.
fn report(r: &interstice_log::RecoveryReport) {
    if let Some(tail) = &r.invalid_tail {
        eprintln!("warning: invalid tail of the log: {tail}");
    }
    for q in &r.quarantined {
        eprintln!("warning: cut from the log and kept: {q}");
    }
    if let Some(c) = &r.corruption {
        eprintln!("warning: the log is corrupt (served up to the damage): {c}");
    }
}
