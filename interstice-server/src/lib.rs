//! The Interstice node: one [`Runtime`] served over HTTP.
//!
//! `interstice serve` replays a log once and then hands the runtime to
//! [`Node`], which answers clients: publishing modules, calling reducers
//! (answered only once the commit is durable), reading tables, streaming a
//! table's changes after they are durable, and reporting status and
//! Prometheus metrics. The API is described in `docs/http-api.md`. This
//! crate holds no state of its own: everything it serves comes from the
//! runtime, so a node that stops loses nothing the log does not have.

mod auth;
mod console;
mod error;
mod events;
mod guard;
mod history;
mod listener;
mod metrics;
mod routes;
mod trace;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use interstice_core::Runtime;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use error::ApiError;
pub use metrics::ReplaySummary;

/// How a node serves.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// When set, every request must carry `Authorization: Bearer <token>`
    /// (or the admin token).
    pub token: Option<String>,
    /// When set, publishing and calling private reducers need
    /// `Authorization: Bearer <admin token>`. Unset, nobody may call a
    /// private reducer over HTTP, and publishing needs only what every
    /// request needs.
    pub admin_token: Option<String>,
    /// Largest module a client may publish, in bytes.
    pub max_module_bytes: usize,
    /// Largest body of any other request (reducer arguments), in bytes.
    pub max_request_bytes: usize,
    /// Rows a table read returns when the client sets no `limit`.
    pub default_rows: usize,
    /// Largest `limit` a table read accepts.
    pub max_rows: usize,
    /// Connections open at once; one more is answered `503` and closed.
    pub max_connections: usize,
    /// Subscriptions open at once, over all tables; one more is `503`.
    pub max_subscribers: usize,
    /// Subscriptions open at once to one table; one more is `503`.
    pub max_subscribers_per_table: usize,
    /// The log, as status reports it (`disk:./log`, `s3://bucket/prefix`).
    pub backend: String,
    /// For a follower: where the log's writer answers calls, when known
    /// (a refused call names it). Whoever knows better (a task watching
    /// the writer lease) updates it while the node runs.
    pub writer: WriterAddress,
    /// What the replay at start did.
    pub replay: ReplaySummary,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            token: None,
            admin_token: None,
            max_module_bytes: 32 << 20,
            max_request_bytes: 1 << 20,
            default_rows: 1000,
            max_rows: 100_000,
            max_connections: 1024,
            max_subscribers: 1000,
            max_subscribers_per_table: 100,
            backend: String::new(),
            writer: WriterAddress::default(),
            replay: ReplaySummary::default(),
        }
    }
}

/// What every handler shares.
struct NodeState {
    runtime: Runtime,
    config: NodeConfig,
    started: Instant,
    metrics: metrics::Metrics,
    /// Becomes `true` when the node starts shutting down; open
    /// subscriptions end then.
    closing: watch::Receiver<bool>,
    /// The address [`Node::serve`] listens on, which `Host` must name.
    listen: std::sync::OnceLock<std::net::SocketAddr>,
    /// Open subscriptions, by `(module id, table id)`.
    subscribers: std::sync::Mutex<std::collections::HashMap<(u32, u32), usize>>,
}

/// Where a follower's writer answers calls, shared between the node and
/// whatever keeps it current.
#[derive(Clone, Debug, Default)]
pub struct WriterAddress(Arc<std::sync::RwLock<Option<String>>>);

impl WriterAddress {
    /// An address known (or not) from the start.
    pub fn new(address: Option<String>) -> Self {
        Self(Arc::new(std::sync::RwLock::new(address)))
    }

    /// The address now.
    pub fn get(&self) -> Option<String> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// A new address (a fail-over), or none.
    pub fn set(&self, address: Option<String>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = address;
    }
}

impl NodeState {
    /// A refused call or publish on a follower, naming the writer when it
    /// is known.
    fn to_writer(&self, mut e: ApiError) -> ApiError {
        if e.code == "follower"
            && let Some(writer) = self.config.writer.get()
        {
            e.message = format!("{} (the writer: {writer})", e.message);
        }
        e
    }
}

/// A runtime served over HTTP.
pub struct Node {
    state: Arc<NodeState>,
    closing: watch::Sender<bool>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node").finish_non_exhaustive()
    }
}

impl Node {
    /// A node serving `runtime`.
    pub fn new(runtime: Runtime, config: NodeConfig) -> Self {
        let (closing, closing_rx) = watch::channel(false);
        let metrics = metrics::Metrics::new(runtime.clone(), config.replay);
        Self {
            state: Arc::new(NodeState {
                runtime,
                config,
                started: Instant::now(),
                metrics,
                closing: closing_rx,
                listen: Default::default(),
                subscribers: Default::default(),
            }),
            closing,
        }
    }

    /// The HTTP routes, for serving on a listener of one's own (or testing).
    pub fn router(&self) -> axum::Router {
        routes::router(self.state.clone())
    }

    /// Serves on `listener` until `shutdown` completes, then shuts down
    /// gracefully: stops accepting, ends open subscriptions, lets calls in
    /// flight finish (each answered once durable), makes every commit
    /// durable and releases the log (its lock, for a disk log).
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let closing = self.closing;
        let _ = self.state.listen.set(listener.local_addr()?);
        let router = routes::router(self.state.clone());
        let listener = listener::Limited::new(listener, self.state.config.max_connections);
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                shutdown.await;
                tracing::info!("shutting down: finishing calls in flight");
                let _ = closing.send(true);
            })
            .await;
        self.state.runtime.shutdown().await;
        served
    }
}
