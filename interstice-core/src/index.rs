//! Secondary indexes: index key (the indexed columns' values, in order) to
//! primary keys, kept in step with every change of their table.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use interstice_abi::{IndexSchema, Value};

/// A primary key inside a non-unique index entry, with sentinels below and
/// above every key so that a range can start or end at an index key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Pk {
    Min,
    Key(Value),
    Max,
}

#[derive(Clone, Debug)]
enum Entries {
    /// At most one row per key.
    Unique(BTreeMap<Vec<Value>, Value>),
    /// Entries packed in one B-tree of `(key, pk)`: no allocation per
    /// distinct key beyond the key itself.
    Multi(BTreeSet<(Vec<Value>, Pk)>),
}

/// One secondary index of a table.
#[derive(Clone, Debug)]
pub(crate) struct Index {
    schema: IndexSchema,
    entries: Entries,
}

/// Maps a range bound over index keys to one over `(key, pk)` entries. A
/// shorter key compares as a prefix (it sorts before every longer key
/// that starts with it).
fn entry_bound(b: Bound<&[Value]>, upper: bool) -> Bound<(Vec<Value>, Pk)> {
    match b {
        Bound::Unbounded => Bound::Unbounded,
        Bound::Included(k) => Bound::Included((k.to_vec(), if upper { Pk::Max } else { Pk::Min })),
        Bound::Excluded(k) => Bound::Excluded((k.to_vec(), if upper { Pk::Min } else { Pk::Max })),
    }
}

impl Index {
    pub(crate) fn new(schema: IndexSchema) -> Self {
        let entries = if schema.unique {
            Entries::Unique(BTreeMap::new())
        } else {
            Entries::Multi(BTreeSet::new())
        };
        Self { schema, entries }
    }

    pub(crate) fn schema(&self) -> &IndexSchema {
        &self.schema
    }

    /// The index key of a row.
    pub(crate) fn key(&self, row: &[Value]) -> Vec<Value> {
        self.schema
            .columns
            .iter()
            .map(|&c| row[c as usize].clone())
            .collect()
    }

    /// True when the index is unique and already has `key`.
    pub(crate) fn taken(&self, key: &[Value]) -> bool {
        match &self.entries {
            Entries::Unique(m) => m.contains_key(key),
            Entries::Multi(_) => false,
        }
    }

    pub(crate) fn insert(&mut self, key: Vec<Value>, pk: Value) {
        match &mut self.entries {
            Entries::Unique(m) => {
                m.insert(key, pk);
            }
            Entries::Multi(s) => {
                s.insert((key, Pk::Key(pk)));
            }
        }
    }

    pub(crate) fn remove(&mut self, key: &[Value], pk: &Value) {
        match &mut self.entries {
            Entries::Unique(m) => {
                m.remove(key);
            }
            Entries::Multi(s) => {
                s.remove(&(key.to_vec(), Pk::Key(pk.clone())));
            }
        }
    }

    /// Entries with keys in `lo..hi`, in index order.
    pub(crate) fn range<'a>(
        &'a self,
        lo: Bound<&[Value]>,
        hi: Bound<&[Value]>,
    ) -> Box<dyn Iterator<Item = (&'a [Value], &'a Value)> + 'a> {
        match &self.entries {
            Entries::Unique(m) => {
                let owned = |b: Bound<&[Value]>| b.map(<[Value]>::to_vec);
                Box::new(
                    m.range::<Vec<Value>, _>((owned(lo), owned(hi)))
                        .map(|(k, pk)| (k.as_slice(), pk)),
                )
            }
            Entries::Multi(s) => Box::new(
                s.range((entry_bound(lo, false), entry_bound(hi, true)))
                    .filter_map(|(k, pk)| match pk {
                        Pk::Key(pk) => Some((k.as_slice(), pk)),
                        _ => None,
                    }),
            ),
        }
    }

    /// The first entry after `after` (or from `lo` when `None`) up to `hi`.
    pub(crate) fn next_after(
        &self,
        after: Option<(&[Value], &Value)>,
        lo: Bound<&[Value]>,
        hi: Bound<&[Value]>,
    ) -> Option<(&[Value], &Value)> {
        match (&self.entries, after) {
            (Entries::Unique(m), Some((key, _))) => {
                let hi = hi.map(<[Value]>::to_vec);
                m.range::<Vec<Value>, _>((Bound::Excluded(key.to_vec()), hi))
                    .next()
                    .map(|(k, pk)| (k.as_slice(), pk))
            }
            (Entries::Multi(s), Some((key, pk))) => {
                let from = Bound::Excluded((key.to_vec(), Pk::Key(pk.clone())));
                s.range((from, entry_bound(hi, true)))
                    .find_map(|(k, pk)| match pk {
                        Pk::Key(pk) => Some((k.as_slice(), pk)),
                        _ => None,
                    })
            }
            (_, None) => self.range(lo, hi).next(),
        }
    }
}
