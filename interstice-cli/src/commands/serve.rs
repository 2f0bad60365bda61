//! `interstice serve LOG [--listen ADDR] [--token-file F] [--admin-token-file F]`:
//! replay once, then serve the runtime over HTTP until SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use interstice_core::{Limits, Runtime, RuntimeConfig};
use interstice_server::{Node, NodeConfig, ReplaySummary, WriterAddress};

use crate::location::LogArgs;

/// How `serve` listens.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the address in use
    /// is printed).
    #[arg(long, default_value = "127.0.0.1:7700")]
    pub listen: SocketAddr,
    /// Allow --listen on an address other machines can reach.
    #[arg(long)]
    pub allow_remote: bool,
    /// Read the callers' token (see --token) from this file instead.
    #[arg(long, value_name = "FILE", conflicts_with = "token")]
    pub token_file: Option<PathBuf>,
    /// The admin token: needed to publish modules and to call private
    /// reducers. Prefer INTERSTICE_ADMIN_TOKEN or --admin-token-file: a
    /// token on the command line shows in `ps`.
    #[arg(long, env = "INTERSTICE_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Read the admin token from this file instead.
    #[arg(long, value_name = "FILE", conflicts_with = "admin_token")]
    pub admin_token_file: Option<PathBuf>,
    /// Connections open at once; one more is answered 503 and closed.
    #[arg(long, value_name = "N", default_value_t = NodeConfig::default().max_connections)]
    pub max_connections: usize,
    /// Subscriptions open at once, over all tables.
    #[arg(long, value_name = "N", default_value_t = NodeConfig::default().max_subscribers)]
    pub max_subscribers: usize,
    /// Subscriptions open at once to one table.
    #[arg(long, value_name = "N", default_value_t = NodeConfig::default().max_subscribers_per_table)]
    pub max_subscribers_per_table: usize,
    /// Calls executed but not yet durable; more wait (docs/runtime.md).
    #[arg(long, value_name = "N", default_value_t = RuntimeConfig::default().max_pending)]
    pub max_pending_calls: usize,
    /// Argument bytes of calls executed but not yet durable; more wait.
    #[arg(long, value_name = "BYTES", default_value_t = RuntimeConfig::default().max_pending_bytes)]
    pub max_pending_bytes: usize,
    /// Fuel per reducer call (roughly, WebAssembly instructions).
    #[arg(long, value_name = "N", default_value_t = Limits::default().fuel)]
    pub fuel: u64,
    /// Largest linear memory of a module instance, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_memory)]
    pub max_memory: usize,
    /// Largest encoded row, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_row_size)]
    pub max_row_size: usize,
    /// Largest write set (row bytes) of one call.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_write_set)]
    pub max_write_set: usize,
    /// Largest commit, encoded; the log takes frames of this size too.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_commit_size)]
    pub max_commit_size: u64,
    /// Serve an s3:// log read-only, following the node that writes it:
    /// queries, reads and subscriptions; calls and publishes are refused
    /// with the writer's address (docs/s3.md).
    #[arg(long)]
    pub follow: bool,
    /// With --follow: how often to look for new commits.
    #[arg(long, value_name = "DURATION", default_value = "200ms", value_parser = humantime::parse_duration, requires = "follow")]
    pub follow_every: std::time::Duration,
}

impl ServeArgs {
    /// The runtime's configuration from the flags, over `base` (the log's).
    fn runtime_config(&self, base: RuntimeConfig) -> RuntimeConfig {
        RuntimeConfig {
            limits: Limits {
                fuel: self.fuel,
                max_memory: self.max_memory,
                max_row_size: self.max_row_size,
                max_write_set: self.max_write_set,
                max_commit_size: self.max_commit_size,
                ..Limits::default()
            },
            max_pending: self.max_pending_calls,
            max_pending_bytes: self.max_pending_bytes,
            // A node runs scheduled calls as they come due.
            run_schedules: true,
            ..base
        }
    }
}

/// A token given inline (flag or variable) or in a file (its first line).
fn token_from(inline: Option<&str>, file: Option<&Path>) -> Result<Option<String>> {
    let Some(path) = file else {
        return Ok(inline.map(str::to_owned));
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the token file {}", path.display()))?;
    let token = text.lines().next().unwrap_or("").trim().to_owned();
    if token.is_empty() {
        bail!("the token file {} is empty", path.display());
    }
    Ok(Some(token))
}

pub async fn run(args: &LogArgs, log: &str, serve: &ServeArgs, token: Option<&str>) -> Result<()> {
    let token = token_from(token, serve.token_file.as_deref())?;
    let admin_token = token_from(
        serve.admin_token.as_deref(),
        serve.admin_token_file.as_deref(),
    )?;
    let remote = !serve.listen.ip().is_loopback();
    if remote && !serve.allow_remote {
        bail!(
            "--listen {} is not a loopback address; pass --allow-remote to serve other machines",
            serve.listen
        );
    }
    if remote && token.is_none() {
        eprintln!(
            "warning: serving {} with no authentication: anyone who can reach it can call \
             reducers{}; set INTERSTICE_TOKEN or --token-file",
            serve.listen,
            if admin_token.is_none() {
                " and publish modules"
            } else {
                ""
            }
        );
    }
    // Listening first: the address is what the writer lease tells other
    // processes to call instead of writing the log themselves.
    let listener = tokio::net::TcpListener::bind(serve.listen)
        .await
        .with_context(|| format!("cannot listen on {}", serve.listen))?;
    let addr = listener.local_addr()?;
    let writer = WriterAddress::default();
    let store = if serve.follow {
        let (store, s3) = args.open_follower(log).await?;
        watch_writer(s3, writer.clone()).await;
        store
    } else {
        let node = format!("http://{addr}");
        args.open_node(log, serve.max_commit_size, node).await?
    };
    let mut config = serve.runtime_config(args.runtime_config(log)?);
    if serve.follow {
        config.follow = Some(serve.follow_every);
    }
    let (runtime, report) = Runtime::open(store, config)
        .await
        .with_context(|| format!("cannot start on {log}"))?;
    eprintln!(
        "replayed {} commits ({} mutations){} in {:.1} ms; next offset {}",
        report.commits,
        report.mutations,
        report.snapshot.map_or(String::new(), |s| format!(
            " after the snapshot at offset {s}"
        )),
        report.elapsed.as_secs_f64() * 1e3,
        report.last_offset.map_or(0, |o| o + 1)
    );
    let backend = if log.starts_with("s3://") {
        log.to_owned()
    } else {
        format!("disk:{log}")
    };
    let config = NodeConfig {
        token,
        admin_token,
        max_connections: serve.max_connections,
        max_subscribers: serve.max_subscribers,
        max_subscribers_per_table: serve.max_subscribers_per_table,
        backend,
        writer,
        replay: ReplaySummary {
            commits: report.commits,
            duration: report.elapsed,
        },
        ..NodeConfig::default()
    };
    // Watched before the line below, which tells scripts they may signal.
    let signal = match shutdown_signal() {
        Ok(s) => s,
        Err(e) => {
            runtime.shutdown().await;
            return Err(e);
        }
    };
    // Scripts wait for this line (with the port when --listen asked for 0).
    let following = if serve.follow {
        " (following, read-only)"
    } else {
        ""
    };
    println!("serving {log}{following} on http://{addr}");
    Node::new(runtime.clone(), config)
        .serve(listener, signal)
        .await
        .context("the server failed")?;
    if let Some(why) = runtime.failure() {
        // Not "every commit is durable": the failure is why it stopped.
        // Not "released" either: a fenced node holds nothing to release.
        bail!("the node stopped after a failure: {why}");
    }
    if serve.follow {
        eprintln!("stopped following");
        return Ok(());
    }
    eprintln!("stopped: every acknowledged commit is durable and the log is released");
    Ok(())
}

/// Keeps `writer` at the address the log's writer lease names: read now,
/// then every few seconds, so that a follower's refusals name the writer
/// after a fail-over too.
async fn watch_writer(store: interstice_backend_s3::S3LogStore, writer: WriterAddress) {
    let read = |store: interstice_backend_s3::S3LogStore| async move {
        store
            .writer()
            .await
            .ok()
            .flatten()
            .and_then(|lease| lease.node)
    };
    writer.set(read(store.clone()).await);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(3)).await;
            if let Some(node) = read(store.clone()).await {
                writer.set(Some(node));
            }
        }
    });
}

/// Watches SIGTERM and SIGINT (Ctrl-C) from now on; the future completes
/// at the first of them.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}
