//! A typed subscription: a local copy of a table's rows (all of them, or
//! those matching filters), kept up to date from the node's event stream
//! (`docs/http-api.md`, "Subscribe to a table").
//!
//! The stream starts with a snapshot, whose rows a callback sees as
//! inserts without an offset, then [`Change::Synced`]. The node then sends
//! each insert, update and delete once its commit is durable. When it breaks (the connection, the
//! node restarting, the client falling behind), the subscription connects
//! again with backoff and takes a new snapshot: the node cannot resume a
//! stream. It then reports the net difference between the copy it had and
//! the new snapshot as changes without an offset, followed by
//! [`Change::Synced`] with `resynced: true`, so a callback sees every row
//! change once, and is told which ones came from a resynchronisation.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use eventsource_stream::Eventsource;
use futures::{Stream, StreamExt};
use serde_json::Value;
use tokio::sync::watch;

use crate::client::{Client, where_query};
use crate::error::Error;
use crate::json::{DecodeError, Json};

/// A table's row type, as generated: which table it is and how to find a
/// row's primary key.
pub trait Row: Json + Clone + Send + Sync + 'static {
    /// The module owning the table.
    const MODULE: &'static str;
    /// The table.
    const TABLE: &'static str;
    /// The row's primary key, as JSON.
    fn key(&self) -> Value;
}

/// A change to the local copy, as callbacks see it.
#[derive(Clone, Debug, PartialEq)]
pub enum Change<R> {
    /// The copy holds the rows as of just before `next_offset`: after the
    /// first snapshot (`resynced: false`), and after each reconnection
    /// once the differences have been reported (`resynced: true`).
    Synced {
        /// Every commit before it is in the copy.
        next_offset: u64,
        /// Whether this follows a reconnection.
        resynced: bool,
    },
    /// A row arrived (inserted, or started matching the filters).
    Insert {
        /// The commit, or `None` for a difference found by a resync.
        offset: Option<u64>,
        /// The row.
        row: R,
    },
    /// A row changed.
    Update {
        /// The commit, or `None` for a difference found by a resync.
        offset: Option<u64>,
        /// The row as the copy held it.
        old: R,
        /// The row now.
        new: R,
    },
    /// A row left (deleted, or stopped matching the filters).
    Delete {
        /// The commit, or `None` for a difference found by a resync.
        offset: Option<u64>,
        /// The row as it was.
        row: R,
    },
    /// The stream broke off; the subscription is connecting again. The
    /// copy stays as it was until the resync.
    Disconnected {
        /// Why, in words.
        reason: String,
    },
}

/// The local copy of the rows, by primary key.
#[derive(Debug)]
pub struct Rows<R> {
    rows: HashMap<String, R>,
    next_offset: u64,
}

impl<R: Row> Rows<R> {
    /// The row whose primary key is `key`.
    pub fn get<K: Json>(&self, key: &K) -> Option<&R> {
        self.rows.get(&key.to_json().to_string())
    }

    /// Every row, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &R> {
        self.rows.values()
    }

    /// How many rows there are.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Every commit before this offset is reflected.
    pub fn next_offset(&self) -> u64 {
        self.next_offset
    }
}

/// Whether the subscription is receiving events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Connected and up to date with what the node has sent.
    Live,
    /// Connecting again after `reason`, `attempts` tries so far.
    Reconnecting {
        /// The last failure.
        reason: String,
        /// Failed attempts since the stream broke.
        attempts: u32,
    },
}

type Callback<R> = Box<dyn FnMut(&Change<R>, &Rows<R>) + Send>;

/// What a subscription needs to start: filters and a callback.
#[must_use = "a subscription starts when `start` is awaited"]
pub struct SubscriptionBuilder<R: Row> {
    client: Client,
    filters: Vec<(String, Value)>,
    callback: Option<Callback<R>>,
}

impl Client {
    /// A subscription to `R`'s table; [`SubscriptionBuilder::start`]
    /// starts it.
    pub fn subscribe<R: Row>(&self) -> SubscriptionBuilder<R> {
        SubscriptionBuilder {
            client: self.clone(),
            filters: Vec::new(),
            callback: None,
        }
    }
}

impl<R: Row> SubscriptionBuilder<R> {
    /// Keeps only rows whose `column` equals `value` (several filters must
    /// all hold). The node refuses a column the table does not have.
    pub fn filter(mut self, column: &str, value: impl Json) -> Self {
        self.filters.push((column.to_owned(), value.to_json()));
        self
    }

    /// Calls `f` after each change is applied to the copy (with the copy
    /// as it is then), from the subscription's task: keep it short.
    pub fn on_change(mut self, f: impl FnMut(&Change<R>, &Rows<R>) + Send + 'static) -> Self {
        self.callback = Some(Box::new(f));
        self
    }

    /// Connects and waits for the first snapshot; an error here (the node
    /// unreachable, no such table, a bad filter) is returned. Later
    /// breaks are handled by reconnecting.
    pub async fn start(self) -> Result<Subscription<R>, Error> {
        let feed = Feed {
            client: self.client,
            path: format!("/v1/modules/{}/tables/{}/events", R::MODULE, R::TABLE),
            filters: self.filters,
        };
        let (snapshot, events) = feed.connect::<R>().await?;
        let (version, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            rows: RwLock::new(Rows {
                rows: HashMap::new(),
                next_offset: 0,
            }),
            status: Mutex::new(Status::Live),
            version,
        });
        let mut pump = Pump {
            shared: shared.clone(),
            callback: self.callback,
        };
        pump.resync(snapshot, false);
        let task = tokio::spawn(async move { pump.run(feed, events).await });
        Ok(Subscription { shared, task })
    }
}

/// A running subscription: the local copy and its status. Dropping it
/// closes the stream.
pub struct Subscription<R: Row> {
    shared: Arc<Shared<R>>,
    task: tokio::task::JoinHandle<()>,
}

impl<R: Row> Drop for Subscription<R> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Shared<R> {
    rows: RwLock<Rows<R>>,
    status: Mutex<Status>,
    /// Bumped after every change to the copy or the status.
    version: watch::Sender<u64>,
}

impl<R: Row> Subscription<R> {
    /// Every row, in no particular order (a copy).
    pub fn rows(&self) -> Vec<R> {
        self.with_rows(|rows| rows.iter().cloned().collect())
    }

    /// The row whose primary key is `key`.
    pub fn get<K: Json>(&self, key: &K) -> Option<R> {
        self.with_rows(|rows| rows.get(key).cloned())
    }

    /// Runs `f` on the copy as it is now.
    pub fn with_rows<T>(&self, f: impl FnOnce(&Rows<R>) -> T) -> T {
        f(&self.shared.rows.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Whether events are arriving.
    pub fn status(&self) -> Status {
        self.shared
            .status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Waits until `f` holds of the copy (checked now and after each
    /// change); bound it with `tokio::time::timeout`.
    pub async fn wait_until(&self, mut f: impl FnMut(&Rows<R>) -> bool) {
        let mut changed = self.shared.version.subscribe();
        loop {
            if self.with_rows(&mut f) {
                return;
            }
            if changed.changed().await.is_err() {
                return;
            }
        }
    }
}

type Events = Pin<Box<dyn Stream<Item = Result<eventsource_stream::Event, String>> + Send>>;

/// Where the events come from.
struct Feed {
    client: Client,
    path: String,
    filters: Vec<(String, Value)>,
}

/// A snapshot event: the rows, and the offset the events go on from.
struct Snapshot<R> {
    next_offset: u64,
    rows: Vec<R>,
}

impl Feed {
    /// Opens the stream and reads its first event, the snapshot.
    async fn connect<R: Row>(&self) -> Result<(Snapshot<R>, Events), Error> {
        let request = self
            .client
            .request(reqwest::Method::GET, &self.path)
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .query(&where_query(&self.filters));
        let response = self.client.send(request).await?;
        let mut events: Events = Box::pin(
            response
                .bytes_stream()
                .eventsource()
                .map(|e| e.map_err(|e| e.to_string())),
        );
        let first = match events.next().await {
            Some(Ok(event)) => event,
            Some(Err(e)) => return Err(Error::Protocol(format!("the event stream broke: {e}"))),
            None => return Err(Error::Protocol("the event stream ended at once".into())),
        };
        if first.event != "snapshot" {
            return Err(Error::Protocol(format!(
                "the event stream began with `{}`, not a snapshot: {:.200}",
                first.event, first.data
            )));
        }
        let data: Value = serde_json::from_str(&first.data)
            .map_err(|e| Error::Protocol(format!("a snapshot that is not JSON: {e}")))?;
        let object = crate::json::object(&data, "snapshot", "snapshot")?;
        let next_offset = crate::json::field(object, "next_offset", "snapshot")?;
        let rows: Vec<R> = crate::json::field(object, "rows", R::TABLE)?;
        Ok((Snapshot { next_offset, rows }, events))
    }
}

/// The subscription's task: applies events to the copy and reconnects.
struct Pump<R: Row> {
    shared: Arc<Shared<R>>,
    callback: Option<Callback<R>>,
}

/// The first wait before connecting again, doubled after each failure.
const FIRST_RETRY: Duration = Duration::from_millis(100);
/// The longest wait between attempts.
const LAST_RETRY: Duration = Duration::from_secs(5);

impl<R: Row> Pump<R> {
    async fn run(&mut self, feed: Feed, mut events: Events) {
        loop {
            let reason = self.follow(&mut events).await;
            tracing::info!(
                table = R::TABLE,
                "subscription broke off: {reason}; connecting again"
            );
            self.set_status(Status::Reconnecting {
                reason: reason.clone(),
                attempts: 0,
            });
            self.announce(&Change::Disconnected { reason });
            let mut wait = FIRST_RETRY;
            let mut attempts = 0;
            events = loop {
                tokio::time::sleep(wait).await;
                match feed.connect::<R>().await {
                    Ok((snapshot, events)) => {
                        self.resync(snapshot, true);
                        break events;
                    }
                    Err(e) => {
                        attempts += 1;
                        self.set_status(Status::Reconnecting {
                            reason: e.to_string(),
                            attempts,
                        });
                        wait = (wait * 2).min(LAST_RETRY);
                    }
                }
            };
        }
    }

    /// Applies events until the stream breaks; returns why it did.
    async fn follow(&mut self, events: &mut Events) -> String {
        let floor = self.with_rows(Rows::next_offset);
        loop {
            let event = match events.next().await {
                Some(Ok(event)) => event,
                Some(Err(e)) => return format!("the connection broke: {e}"),
                None => return "the node closed the stream".into(),
            };
            let data: Value = match serde_json::from_str(&event.data) {
                Ok(data) => data,
                Err(e) => return format!("an event that is not JSON: {e}"),
            };
            match event.event.as_str() {
                "insert" | "update" | "delete" => match decode_change::<R>(&data) {
                    // Every event of a commit before the snapshot's offset is in the
                    // snapshot: never applied twice.
                    Ok((offset, _)) if offset < floor => {}
                    Ok((offset, row)) => self.change(&event.event, offset, row),
                    Err(e) => return format!("an event that does not fit this client: {e}"),
                },
                "error" | "close" => {
                    let message = data["message"].as_str().unwrap_or("no reason given");
                    return format!("the node ended the stream ({}): {message}", event.event);
                }
                _ => {}
            }
        }
    }

    /// Applies one event's row change.
    fn change(&mut self, kind: &str, offset: u64, row: R) {
        let key = row.key().to_string();
        let old = {
            let mut rows = self.rows_mut();
            rows.next_offset = rows.next_offset.max(offset + 1);
            if kind == "delete" {
                rows.rows.remove(&key)
            } else {
                rows.rows.insert(key, row.clone())
            }
        };
        let offset = Some(offset);
        let change = match (kind, old) {
            ("delete", Some(old)) => Change::Delete { offset, row: old },
            ("delete", None) => Change::Delete { offset, row },
            (_, Some(old)) => Change::Update {
                offset,
                old,
                new: row,
            },
            (_, None) => Change::Insert { offset, row },
        };
        self.announce(&change);
    }

    /// Replaces the copy with a snapshot, announcing the differences (after
    /// a reconnection) and then [`Change::Synced`].
    fn resync(&mut self, snapshot: Snapshot<R>, resynced: bool) {
        let fresh: HashMap<String, R> = snapshot
            .rows
            .into_iter()
            .map(|r| (r.key().to_string(), r))
            .collect();
        let changes = self.with_rows(|rows| differences(&rows.rows, &fresh));
        // Announced one by one, each once it is in the copy.
        for change in changes {
            {
                let mut rows = self.rows_mut();
                match &change {
                    Change::Delete { row, .. } => {
                        rows.rows.remove(&row.key().to_string());
                    }
                    Change::Update { new: row, .. } | Change::Insert { row, .. } => {
                        rows.rows.insert(row.key().to_string(), row.clone());
                    }
                    Change::Synced { .. } | Change::Disconnected { .. } => {}
                }
            }
            self.announce(&change);
        }
        self.rows_mut().next_offset = snapshot.next_offset;
        self.set_status(Status::Live);
        self.announce(&Change::Synced {
            next_offset: snapshot.next_offset,
            resynced,
        });
    }

    fn announce(&mut self, change: &Change<R>) {
        if let Some(callback) = &mut self.callback {
            let rows = self.shared.rows.read().unwrap_or_else(|p| p.into_inner());
            callback(change, &rows);
        }
        self.shared.version.send_modify(|v| *v += 1);
    }

    fn set_status(&self, status: Status) {
        *self.shared.status.lock().unwrap_or_else(|p| p.into_inner()) = status;
        self.shared.version.send_modify(|v| *v += 1);
    }

    fn with_rows<T>(&self, f: impl FnOnce(&Rows<R>) -> T) -> T {
        f(&self.shared.rows.read().unwrap_or_else(|p| p.into_inner()))
    }

    fn rows_mut(&self) -> std::sync::RwLockWriteGuard<'_, Rows<R>> {
        self.shared.rows.write().unwrap_or_else(|p| p.into_inner())
    }
}

/// The changes that turn `old` into `new` (rows by key): deletes and
/// updates, then inserts.
fn differences<R: Row>(old: &HashMap<String, R>, new: &HashMap<String, R>) -> Vec<Change<R>> {
    let mut changes = Vec::new();
    for (key, before) in old {
        match new.get(key) {
            None => changes.push(Change::Delete {
                offset: None,
                row: before.clone(),
            }),
            Some(now) if now.to_json() != before.to_json() => changes.push(Change::Update {
                offset: None,
                old: before.clone(),
                new: now.clone(),
            }),
            Some(_) => {}
        }
    }
    for (key, now) in new {
        if !old.contains_key(key) {
            changes.push(Change::Insert {
                offset: None,
                row: now.clone(),
            });
        }
    }
    changes
}

/// An insert, update or delete event's offset and row.
fn decode_change<R: Row>(data: &Value) -> Result<(u64, R), DecodeError> {
    let object = crate::json::object(data, "event", "event")?;
    let offset = crate::json::field(object, "offset", "event")?;
    let row = crate::json::field(object, "row", R::TABLE)?;
    Ok((offset, row))
}
