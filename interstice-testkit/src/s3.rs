//! The S3 servers the tests run against, started by
//! `scripts/s3-servers.sh start` (which `scripts/test.sh` runs), and a
//! conformance harness over them.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use futures::TryStreamExt;
use interstice_backend_s3::{S3Config, S3LogStore};
use interstice_log::conformance::Harness;
use interstice_log::{Error, LogOptions, RecoveryReport};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

pub const BUCKET: &str = "interstice-test";
pub const KEY_ID: &str = "GK0123456789abcdef01234567";
pub const SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// One test server.
#[derive(Clone, Copy, Debug)]
pub struct Server {
    pub name: &'static str,
    pub endpoint: &'static str,
    pub region: &'static str,
    /// Whether it enforces create-only puts (If-None-Match).
    pub enforces_create_only: bool,
}

pub const GARAGE: Server = Server {
    name: "Garage",
    endpoint: "http://127.0.0.1:3900",
    region: "garage",
    enforces_create_only: false,
};

pub const MOTO: Server = Server {
    name: "moto",
    endpoint: "http://127.0.0.1:9561",
    region: "us-east-1",
    enforces_create_only: true,
};

impl Server {
    /// Fails the test, saying what to do, when the server is not running.
    pub fn require(&self) {
        let addr = self.endpoint.trim_start_matches("http://");
        if std::net::TcpStream::connect(addr).is_err() {
            panic!(
                "{} is not running at {}: start the test servers with scripts/s3-servers.sh start (scripts/test.sh does it)",
                self.name, self.endpoint
            );
        }
    }

    /// A log under a prefix no other test uses.
    pub fn config(&self, test: &str) -> S3Config {
        self.require();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        S3Config::new(BUCKET, format!("{test}-{nanos}-{}", std::process::id()))
            .endpoint(self.endpoint)
            .region(self.region)
            .credentials(KEY_ID, SECRET)
    }
}

/// The conformance harness: one log on one server, with raw access to its
/// objects.
pub struct S3 {
    pub config: S3Config,
    client: Arc<dyn ObjectStore>,
}

impl S3 {
    pub fn new(server: Server, test: &str) -> Self {
        let config = server
            .config(test)
            .single_writer(!server.enforces_create_only);
        let client = config.client().unwrap();
        Self { config, client }
    }

    fn key(&self, name: &str) -> Path {
        Path::from(format!("{}/log/{name}", self.config.prefix))
    }
}

#[async_trait]
impl Harness for S3 {
    type Store = S3LogStore;

    async fn open(&self, opts: LogOptions) -> Result<(S3LogStore, RecoveryReport), Error> {
        let store = S3LogStore::open(self.config.clone(), opts).await?;
        let report = store.recovery_report().clone();
        Ok((store, report))
    }

    async fn segments(&self) -> Vec<String> {
        let dir = Path::from(format!("{}/log", self.config.prefix));
        let metas: Vec<_> = self.client.list(Some(&dir)).try_collect().await.unwrap();
        let mut names: Vec<String> = metas
            .iter()
            .filter_map(|m| m.location.filename().map(str::to_owned))
            .filter(|n| n.ends_with(".seg"))
            .collect();
        names.sort();
        names
    }

    async fn read_segment(&self, name: &str) -> Vec<u8> {
        let r = self.client.get(&self.key(name)).await.unwrap();
        r.bytes().await.unwrap().to_vec()
    }

    async fn write_segment(&self, name: &str, bytes: Vec<u8>) {
        self.client
            .put(&self.key(name), PutPayload::from(bytes))
            .await
            .unwrap();
    }

    async fn remove_segment(&self, name: &str) {
        self.client.delete(&self.key(name)).await.unwrap();
    }

    // An object put is atomic.
    fn writes_can_tear(&self) -> bool {
        false
    }
}

/// A TCP proxy in front of a test server that can pretend the server is
/// down, lose every answer after the server has acted on the request, or
/// hold PUT requests back until after the client has given up on them.
pub struct Proxy {
    pub endpoint: String,
    mode: Arc<std::sync::atomic::AtomicU8>,
    /// How long the proxy holds each piece of an answer (0: not at all).
    delay_micros: Arc<std::sync::atomic::AtomicU64>,
    /// How long [`HOLD_PUTS`] holds a PUT request.
    hold_micros: Arc<std::sync::atomic::AtomicU64>,
    /// The key fragment [`CUT_PUTS_TO`] cuts.
    cut: Arc<std::sync::Mutex<Vec<u8>>>,
}

/// Traffic flows both ways.
pub const PASS: u8 = 0;
/// Connections are closed at once: the server looks down.
pub const DOWN: u8 = 1;
/// Requests reach the server, answers are thrown away and the connection
/// closed: the client cannot know what happened.
pub const LOSE_ANSWERS: u8 = 2;
/// PUT requests reach the server only after [`Proxy::hold_puts`]' time
/// (a slow network path): a client that gives up first has a write that
/// still lands. Other requests pass.
pub const HOLD_PUTS: u8 = 3;
/// PUT requests of log segments (keys with `/log/`) never reach the
/// server: their connection is closed at once, so the client cannot tell
/// whether they were stored. Everything else passes.
pub const CUT_LOG_PUTS: u8 = 4;
/// PUT requests whose request line names the key fragment given to
/// [`Proxy::cut_puts_to`] are cut as [`CUT_LOG_PUTS`] cuts them; the rest
/// passes.
pub const CUT_PUTS_TO: u8 = 5;

impl Proxy {
    /// A proxy that delays every answer by `delay`, like a server in
    /// another region.
    pub async fn with_delay(server: Server, delay: std::time::Duration) -> Self {
        let proxy = Self::start(server).await;
        proxy.delay(delay);
        proxy
    }

    /// Holds every PUT request from now on for `hold` before it reaches
    /// the server (mode [`HOLD_PUTS`]).
    pub fn hold_puts(&self, hold: std::time::Duration) {
        self.hold_micros
            .store(hold.as_micros() as u64, std::sync::atomic::Ordering::SeqCst);
        self.set(HOLD_PUTS);
    }

    /// Cuts every PUT of a key containing `fragment` from now on (mode
    /// [`CUT_PUTS_TO`]): the client cannot tell whether it was stored.
    pub fn cut_puts_to(&self, fragment: &str) {
        *self.cut.lock().unwrap() = fragment.as_bytes().to_vec();
        self.set(CUT_PUTS_TO);
    }

    /// Delays every answer from now on by `delay`.
    pub fn delay(&self, delay: std::time::Duration) {
        self.delay_micros.store(
            delay.as_micros() as u64,
            std::sync::atomic::Ordering::SeqCst,
        );
    }

    pub async fn start(server: Server) -> Self {
        use std::sync::atomic::{AtomicU8, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        server.require();
        let upstream = server.endpoint.trim_start_matches("http://").to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let mode = Arc::new(AtomicU8::new(PASS));
        let m = mode.clone();
        let delay_micros = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let d = delay_micros.clone();
        let hold_micros = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let h = hold_micros.clone();
        let cut = Arc::new(std::sync::Mutex::new(Vec::new()));
        let c = cut.clone();
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                if m.load(Ordering::SeqCst) == DOWN {
                    continue;
                }
                let Ok(upstream) = tokio::net::TcpStream::connect(&upstream).await else {
                    continue;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut ur, mut uw) = upstream.into_split();
                let m1 = m.clone();
                let h1 = h.clone();
                let c1 = c.clone();
                // Dropped when the server's side of the exchange ends.
                let (answered_tx, answered) = tokio::sync::oneshot::channel::<()>();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 << 10];
                    loop {
                        match cr.read(&mut buf).await {
                            // The client hung up: keep the server's side
                            // open until it answers, as a network would
                            // (closing it would make a server such as
                            // Garage drop a request it has not finished,
                            // so a held PUT would never land).
                            Ok(0) | Err(_) => {
                                let wait = std::time::Duration::from_secs(30);
                                let _ = tokio::time::timeout(wait, answered).await;
                                return;
                            }
                            Ok(n) if m1.load(Ordering::SeqCst) != DOWN => {
                                // A request starts a read (clients write
                                // it whole); the bytes after it wait behind.
                                let put = buf[..n].starts_with(b"PUT ");
                                let line = buf[..n].split(|&b| b == b'\n').next().unwrap_or(&[]);
                                let names = |fragment: &[u8]| {
                                    line.windows(fragment.len().max(1)).any(|w| w == fragment)
                                };
                                let cut = match m1.load(Ordering::SeqCst) {
                                    CUT_LOG_PUTS => names(b"/log/"),
                                    CUT_PUTS_TO => names(&c1.lock().unwrap()),
                                    _ => false,
                                };
                                if put && cut {
                                    return;
                                }
                                if m1.load(Ordering::SeqCst) == HOLD_PUTS && put {
                                    let hold = h1.load(Ordering::SeqCst);
                                    tokio::time::sleep(std::time::Duration::from_micros(hold))
                                        .await;
                                }
                                if uw.write_all(&buf[..n]).await.is_err() {
                                    return;
                                }
                            }
                            Ok(_) => return,
                        }
                    }
                });
                let m2 = m.clone();
                let d2 = d.clone();
                tokio::spawn(async move {
                    let _answered = answered_tx;
                    let mut buf = vec![0u8; 64 << 10];
                    loop {
                        match ur.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n)
                                if matches!(
                                    m2.load(Ordering::SeqCst),
                                    PASS | HOLD_PUTS | CUT_LOG_PUTS | CUT_PUTS_TO
                                ) =>
                            {
                                let delay = d2.load(Ordering::SeqCst);
                                if delay > 0 {
                                    tokio::time::sleep(std::time::Duration::from_micros(delay))
                                        .await;
                                }
                                if cw.write_all(&buf[..n]).await.is_err() {
                                    return;
                                }
                            }
                            // Lost: close the client's side without an answer.
                            Ok(_) => return,
                        }
                    }
                });
            }
        });
        Self {
            endpoint,
            mode,
            delay_micros,
            hold_micros,
            cut,
        }
    }

    pub fn set(&self, mode: u8) {
        self.mode.store(mode, std::sync::atomic::Ordering::SeqCst);
    }

    /// A log behind this proxy on `server`.
    pub fn config(&self, server: Server, test: &str) -> S3Config {
        let mut c = server.config(test);
        c.endpoint = Some(self.endpoint.clone());
        c.max_retries(0)
            .request_timeout(std::time::Duration::from_secs(5))
    }
}
