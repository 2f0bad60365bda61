//! `interstice serve LOG [--listen ADDR] [--token T]`: replay once, then
//! serve the runtime over HTTP until SIGTERM or Ctrl-C.

use std::net::SocketAddr;

use anyhow::{Context, Result, bail};
use interstice_core::{Runtime, RuntimeConfig};
use interstice_server::{Node, NodeConfig, ReplaySummary};

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
}

pub async fn run(args: &LogArgs, log: &str, serve: &ServeArgs, token: Option<&str>) -> Result<()> {
    let remote = !serve.listen.ip().is_loopback();
    if remote && !serve.allow_remote {
        bail!(
            "--listen {} is not a loopback address; pass --allow-remote to serve other machines",
            serve.listen
        );
    }
    if remote && token.is_none() {
        eprintln!(
            "warning: serving {} with no authentication: anyone who can reach it can publish \
             modules and call reducers; set --token or INTERSTICE_TOKEN",
            serve.listen
        );
    }
    let store = args.open(log, false, true).await?;
    let (runtime, report) = Runtime::open(store, RuntimeConfig::default())
        .await
        .with_context(|| format!("cannot start on {log}"))?;
    eprintln!(
        "replayed {} commits ({} mutations) in {:.1} ms; next offset {}",
        report.commits,
        report.mutations,
        report.elapsed.as_secs_f64() * 1e3,
        report.last_offset.map_or(0, |o| o + 1)
    );
    let listener = match tokio::net::TcpListener::bind(serve.listen).await {
        Ok(l) => l,
        Err(e) => {
            runtime.shutdown().await;
            return Err(e).with_context(|| format!("cannot listen on {}", serve.listen));
        }
    };
    let addr = listener.local_addr()?;
    let backend = if log.starts_with("s3://") {
        log.to_owned()
    } else {
        format!("disk:{log}")
    };
    let config = NodeConfig {
        token: token.map(str::to_owned),
        backend,
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
    println!("serving {log} on http://{addr}");
    Node::new(runtime, config)
        .serve(listener, signal)
        .await
        .context("the server failed")?;
    eprintln!("stopped: every acknowledged commit is durable and the log is released");
    Ok(())
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
