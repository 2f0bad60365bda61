//! Secondary indexes: one ordered set of byte keys per index, each entry
//! the index key (the indexed columns' keys, in order; see
//! [`crate::table::key`]), the row's primary key, and that key's length
//! (four bytes, big-endian, so the primary key can be cut back out). Keys
//! are prefix-free, so the length never decides an order. A unique index
//! holds at most one entry per index key.

use std::collections::BTreeSet;
use std::ops::Bound;
use std::sync::{Arc, Mutex};

use interstice_abi::IndexSchema;

use crate::table::key::{Key, cmp_keys, prefix_end};

/// One secondary index of a table.
#[derive(Clone, Debug)]
pub(crate) struct Index {
    schema: IndexSchema,
    entries: BTreeSet<Entry>,
}

/// An index entry, ordered as bytes ([`cmp_keys`]).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry(Key);

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        cmp_keys(&self.0, &other.0)
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Index entries gathered for [`Index::load`], sorted as they come: each
/// full run of [`EntrySorter::RUN`] entries is sorted on a thread of its
/// own while the caller goes on producing entries (a snapshot load stages
/// rows meanwhile), and [`EntrySorter::finish`] merges the runs.
#[derive(Debug, Default)]
pub(crate) struct EntrySorter {
    current: Vec<Key>,
    runs: Vec<Run>,
}

/// A full run of entries.
#[derive(Debug)]
enum Run {
    /// Being sorted in the background.
    Sorting(std::thread::JoinHandle<Vec<Key>>),
    /// Sorted here, when no thread could be started.
    Sorted(Vec<Key>),
}

impl EntrySorter {
    /// Entries in a run: enough that a thread is worth starting.
    const RUN: usize = 1 << 16;

    pub(crate) fn push(&mut self, entry: Key) {
        if self.current.capacity() == 0 {
            self.current.reserve_exact(Self::RUN);
        }
        self.current.push(entry);
        if self.current.len() == Self::RUN {
            let run = Arc::new(Mutex::new(std::mem::take(&mut self.current)));
            let theirs = run.clone();
            let sorting = std::thread::Builder::new()
                .name("index-sort".into())
                .spawn(move || sorted(take(&theirs)));
            // When no thread can be started the run is still in the slot.
            self.runs.push(match sorting {
                Ok(handle) => Run::Sorting(handle),
                Err(_) => Run::Sorted(sorted(take(&run))),
            });
        }
    }

    /// Every entry, in order.
    fn finish(self) -> Vec<Key> {
        let Self { current, runs } = self;
        if runs.is_empty() {
            return sorted(current);
        }
        let mut all = Vec::with_capacity(runs.len() * Self::RUN + current.len());
        for run in runs {
            all.extend(match run {
                Run::Sorting(h) => h.join().expect("sorting keys does not panic"),
                Run::Sorted(run) => run,
            });
        }
        all.extend(sorted(current));
        // A stable sort finds the sorted runs and merges them.
        all.sort_by(|a, b| cmp_keys(a, b));
        all
    }
}

fn take(slot: &Mutex<Vec<Key>>) -> Vec<Key> {
    std::mem::take(&mut *slot.lock().unwrap_or_else(|p| p.into_inner()))
}

fn sorted(mut entries: Vec<Key>) -> Vec<Key> {
    entries.sort_unstable_by(|a, b| cmp_keys(a, b));
    entries
}

/// The entry of index key `key` for the row with primary key `pk`.
pub(crate) fn entry(key: &[u8], pk: &[u8]) -> Key {
    let mut e = Key::with_capacity(key.len() + pk.len() + 4);
    e.extend_from_slice(key);
    e.extend_from_slice(pk);
    let len = u32::try_from(pk.len()).expect("a key is shorter than a row");
    e.extend_from_slice(&len.to_be_bytes());
    e
}

/// The index key an entry starts with.
fn entry_key(entry: &[u8]) -> &[u8] {
    &entry[..entry.len() - 4 - entry_pk(entry).len()]
}

/// The primary key an entry points to.
pub(crate) fn entry_pk(entry: &[u8]) -> &[u8] {
    let (rest, len) = entry.split_at(entry.len() - 4);
    let len = u32::from_be_bytes(len.try_into().expect("4 bytes")) as usize;
    &rest[rest.len() - len..]
}

/// The entry range of index keys between `lo` and `hi`, where a bound is
/// the key of the index's first few columns: a shorter bound covers every
/// key it is a prefix of.
pub(crate) fn entry_range(lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> (Bound<Key>, Bound<Key>) {
    let past = |k: &[u8]| prefix_end(k).map_or(Bound::Unbounded, Bound::Excluded);
    let lo = match lo {
        Bound::Unbounded => Bound::Unbounded,
        Bound::Included(k) => Bound::Included(Key::from_slice(k)),
        Bound::Excluded(k) => match past(k) {
            Bound::Excluded(end) => Bound::Included(end),
            _ => Bound::Excluded(Key::from_slice(&[0xff; 1])),
        },
    };
    let hi = match hi {
        Bound::Unbounded => Bound::Unbounded,
        Bound::Included(k) => past(k),
        Bound::Excluded(k) => Bound::Excluded(Key::from_slice(k)),
    };
    (lo, hi)
}

impl Index {
    pub(crate) fn new(schema: IndexSchema) -> Self {
        Self {
            schema,
            entries: BTreeSet::new(),
        }
    }

    pub(crate) fn schema(&self) -> &IndexSchema {
        &self.schema
    }

    /// True when the index is unique and a row already has index key `key`.
    pub(crate) fn taken(&self, key: &[u8]) -> bool {
        self.schema.unique && self.with_key(key).next().is_some()
    }

    /// The entries whose index key is `key`.
    fn with_key(&self, key: &[u8]) -> impl Iterator<Item = &Key> {
        self.range(entry_range(Bound::Included(key), Bound::Included(key)))
    }

    /// Fills an empty index with `entries` (made by [`entry`]) in one
    /// pass; for a unique index, the first two rows that share a key, as
    /// their primary keys, if any do.
    pub(crate) fn load(&mut self, entries: EntrySorter) -> Result<(), (Key, Key)> {
        debug_assert!(self.entries.is_empty());
        let entries = entries.finish();
        let twins = entries
            .windows(2)
            .find(|w| self.schema.unique && entry_key(&w[0]) == entry_key(&w[1]));
        if let Some(w) = twins {
            return Err((
                Key::from_slice(entry_pk(&w[0])),
                Key::from_slice(entry_pk(&w[1])),
            ));
        }
        // Sorted input: the B-tree is built bottom-up, without searches.
        self.entries = entries.into_iter().map(Entry).collect();
        Ok(())
    }

    pub(crate) fn insert(&mut self, key: &[u8], pk: &[u8]) {
        self.entries.insert(Entry(entry(key, pk)));
    }

    pub(crate) fn remove(&mut self, key: &[u8], pk: &[u8]) {
        self.entries.remove(&Entry(entry(key, pk)));
    }

    /// Entries (index key, then primary key) in `range`, in index order.
    pub(crate) fn range(&self, range: (Bound<Key>, Bound<Key>)) -> impl Iterator<Item = &Key> {
        self.entries
            .range((range.0.map(Entry), range.1.map(Entry)))
            .map(|e| &e.0)
    }
}
