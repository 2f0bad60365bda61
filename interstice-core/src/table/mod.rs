//! In-memory tables: rows kept in their canonical encoding (what guests and
//! the log see), by primary key, with secondary indexes kept in step with
//! every change. Every B-tree is keyed by order-preserving bytes
//! (`table/key.rs`), so lookups compare bytes; a row is decoded into [`Value`]s
//! only when a reader asks for its values.
//!
//! Memory per row is one allocation holding the row's primary key and its
//! encoding, a pointer to it in the row B-tree, and one entry per
//! secondary index (index key, primary key and its length; inline up to 16
//! bytes). For `items(id u64, bucket u32 indexed, name String, qty i64)`
//! that is about 124 bytes a row, measured by `cargo bench -p
//! interstice-core --bench replay` (`docs/runtime.md`).

pub(crate) mod key;
mod stored;

use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;
use interstice_abi::{TableSchema, Type, Value, decode_value};

use crate::error::TableError;
use crate::index::{EntrySorter, Index, entry_pk, entry_range};
use key::{Key, Malformed, transcode, value_key, values_key};
use smallvec::SmallVec;
use stored::{Rows, Stored};

/// A row a write returned: its column values and their encoding. Cheap to
/// clone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    values: Arc<[Value]>,
    bytes: Bytes,
}

impl Row {
    /// The column values, in column order.
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// The row's encoding.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    pub(crate) fn new(values: Vec<Value>, bytes: Bytes) -> Self {
        Self {
            values: values.into(),
            bytes,
        }
    }
}

/// A stored row, borrowed from its table: its encoding, and its values
/// decoded on demand.
#[derive(Clone, Copy, Debug)]
pub struct RowRef<'a> {
    bytes: &'a [u8],
    table: &'a Table,
}

impl<'a> RowRef<'a> {
    /// The row's encoding.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The column values, in column order, decoded.
    pub fn values(&self) -> Vec<Value> {
        self.table
            .decode_row(self.bytes)
            .expect("a stored row decodes: it was checked when it was stored")
    }

    /// An owned copy.
    pub fn to_row(&self) -> Row {
        Row::new(self.values(), Bytes::copy_from_slice(self.bytes))
    }
}

/// A table of one module: encoded rows by primary key, with its indexes.
///
/// Lookups by primary key or index are `O(log n)` byte comparisons; scans
/// iterate in key order without copying the table.
#[derive(Clone, Debug)]
pub struct Table {
    schema: TableSchema,
    hash: u64,
    row_type: Type,
    rows: Rows,
    indexes: Vec<Index>,
    /// Which columns are in the primary key or an index.
    key_columns: Vec<bool>,
    /// Next auto-increment value: one past the largest key ever inserted.
    next_auto_inc: u128,
}

/// Where a scan is: its range of keys (primary keys, or index entries),
/// and the key of the last row it gave. See [`Table::scan`].
#[derive(Clone, Debug)]
pub struct Scan {
    index: Option<usize>,
    range: (Bound<Key>, Bound<Key>),
    last: Option<Key>,
}

/// Rows being loaded into a table (see [`Table::staging`]).
#[derive(Debug)]
pub(crate) struct Staged {
    rows: Vec<Stored>,
    /// Per index, its entries.
    entries: Vec<EntrySorter>,
}

/// The keys of one row: its primary key, and its key in each index.
struct RowKeys {
    pk: Key,
    indexes: SmallVec<[Key; 2]>,
}

impl Table {
    /// An empty table with `schema` (assumed valid).
    pub fn new(schema: TableSchema) -> Self {
        let indexes = schema
            .indexes
            .iter()
            .map(|s| Index::new(s.clone()))
            .collect();
        let key_columns = (0..schema.columns.len())
            .map(|c| {
                c == schema.primary_key as usize
                    || schema
                        .indexes
                        .iter()
                        .any(|ix| ix.columns.contains(&(c as u16)))
            })
            .collect();
        Self {
            key_columns,
            hash: schema.hash(),
            row_type: schema.row_type(),
            schema,
            rows: Rows::default(),
            indexes,
            next_auto_inc: 1,
        }
    }

    /// The table's schema.
    pub fn schema(&self) -> &TableSchema {
        &self.schema
    }

    /// The schema hash every mutation of this table carries.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Approximate bytes of its rows: their keys and encodings, without
    /// index entries or allocator overhead.
    pub fn bytes(&self) -> u64 {
        self.rows.bytes()
    }

    /// True when the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.len() == 0
    }

    /// Decodes and type-checks an encoded row.
    pub fn decode_row(&self, bytes: &[u8]) -> Result<Vec<Value>, TableError> {
        match decode_value(&self.row_type, bytes) {
            Ok(Value::Struct(values)) => Ok(values),
            Ok(_) => unreachable!("a struct type decodes to a struct"),
            Err(e) => Err(self.bad_row(e.to_string())),
        }
    }

    /// Decodes a primary key (encoded as the key column's type).
    pub fn decode_key(&self, bytes: &[u8]) -> Result<Value, TableError> {
        decode_value(&self.schema.primary_key_column().ty, bytes)
            .map_err(|e| self.bad_row(e.to_string()))
    }

    fn bad_row(&self, reason: String) -> TableError {
        TableError::BadRow {
            table: self.schema.name.clone(),
            reason,
        }
    }

    fn row_ref<'a>(&'a self, bytes: &'a [u8]) -> RowRef<'a> {
        RowRef { bytes, table: self }
    }

    /// The row with primary key `pk`.
    pub fn get(&self, pk: &Value) -> Option<RowRef<'_>> {
        self.get_key(&values_key(std::slice::from_ref(pk)))
    }

    /// The row whose primary key's key is `key`.
    pub(crate) fn get_key(&self, key: &[u8]) -> Option<RowRef<'_>> {
        self.rows.get(key).map(|s| self.row_ref(s.row()))
    }

    /// Every row, in primary-key order.
    pub fn iter(&self) -> impl Iterator<Item = RowRef<'_>> {
        self.rows.iter().map(|s| self.row_ref(s.row()))
    }

    /// Rows whose primary key is in the range, in key order.
    pub fn range(&self, lo: Bound<&Value>, hi: Bound<&Value>) -> impl Iterator<Item = RowRef<'_>> {
        let key = |v: &Value| values_key(std::slice::from_ref(v));
        self.pk_range((lo.map(key), hi.map(key)), None)
            .map(|(_, row)| row)
    }

    /// Rows whose primary key's key is in `range`, after `after` when
    /// given, with their keys.
    fn pk_range(
        &self,
        range: (Bound<Key>, Bound<Key>),
        after: Option<&[u8]>,
    ) -> impl Iterator<Item = (&[u8], RowRef<'_>)> {
        let lo = match after {
            Some(k) => Bound::Excluded(Key::from_slice(k)),
            None => range.0,
        };
        let range = ordered((lo, range.1));
        range
            .into_iter()
            .flat_map(|(lo, hi)| {
                self.rows.range(
                    lo.as_ref().map(|k| k.as_slice()),
                    hi.as_ref().map(|k| k.as_slice()),
                )
            })
            .map(|s| (s.pk(), self.row_ref(s.row())))
    }

    /// The index named `name`, as its position.
    pub fn index_id(&self, name: &str) -> Option<usize> {
        self.indexes.iter().position(|i| i.schema().name == name)
    }

    /// Rows whose index key (the index's columns, in order) is in the
    /// range, in index order. A shorter bound compares as a prefix.
    pub fn index_range(
        &self,
        index: usize,
        lo: Bound<&[Value]>,
        hi: Bound<&[Value]>,
    ) -> impl Iterator<Item = RowRef<'_>> {
        let (lo, hi) = (lo.map(values_key), hi.map(values_key));
        let range = entry_range(lo.as_ref().map(|k| &k[..]), hi.as_ref().map(|k| &k[..]));
        self.index_entries(index, range, None).map(|(_, row)| row)
    }

    /// Index entries in `range` (see [`entry_range`]), after entry `after`
    /// when given, with their rows.
    fn index_entries(
        &self,
        index: usize,
        range: (Bound<Key>, Bound<Key>),
        after: Option<&[u8]>,
    ) -> impl Iterator<Item = (&[u8], RowRef<'_>)> {
        let lo = match after {
            Some(e) => Bound::Excluded(Key::from_slice(e)),
            None => range.0,
        };
        let range = ordered((lo, range.1));
        range
            .into_iter()
            .flat_map(move |r| self.indexes[index].range(r))
            .map(|e| {
                let row = self
                    .get_key(entry_pk(e))
                    .expect("an index entry has its row");
                (e.as_slice(), row)
            })
    }

    /// A resumable scan over the primary key (`index` `None`) or an index,
    /// between bounds of [`Value`]s (for an index, of its first columns: a
    /// shorter bound is a prefix). It holds no borrow of the table: take
    /// each row with [`Table::scan_next`], even after the table changed.
    pub fn scan(&self, index: Option<usize>, lo: Bound<&[Value]>, hi: Bound<&[Value]>) -> Scan {
        let (lo, hi) = (lo.map(values_key), hi.map(values_key));
        let range = match index {
            None => (lo, hi),
            Some(_) => entry_range(lo.as_ref().map(|k| &k[..]), hi.as_ref().map(|k| &k[..])),
        };
        Scan {
            index,
            range,
            last: None,
        }
    }

    /// The scan's next row (in key order, after the last one it gave), or
    /// `None` at its end.
    pub fn scan_next(&self, scan: &mut Scan) -> Option<RowRef<'_>> {
        let range = (scan.range.0.clone(), scan.range.1.clone());
        let after = scan.last.as_deref();
        let (key, row) = match scan.index {
            None => self.pk_range(range, after).next(),
            Some(ix) => self.index_entries(ix, range, after).next(),
        }?;
        scan.last = Some(Key::from_slice(key));
        Some(row)
    }

    /// The keys of a row given as values.
    fn keys_of(&self, values: &[Value]) -> RowKeys {
        let pk = values_key(&values[self.schema.primary_key as usize..][..1]);
        let indexes = self
            .indexes
            .iter()
            .map(|ix| {
                let mut key = Key::new();
                for &c in &ix.schema().columns {
                    value_key(&values[c as usize], &mut key);
                }
                key
            })
            .collect();
        RowKeys { pk, indexes }
    }

    /// The keys of an encoded row, checking the encoding without decoding
    /// it: every column is walked, and the key columns' keys are written.
    fn keys_of_encoded(&self, mut bytes: &[u8]) -> Result<RowKeys, TableError> {
        // The key columns' keys, one after another, and where each column's
        // is (empty for the other columns).
        let mut keys = Key::new();
        let mut at: SmallVec<[(usize, usize); 8]> = SmallVec::new();
        let bad = |e: Malformed| self.bad_row(e.0.to_owned());
        for (c, col) in self.schema.columns.iter().enumerate() {
            let start = keys.len();
            let out = self.key_columns[c].then_some(&mut keys);
            transcode(&col.ty, &mut bytes, out).map_err(bad)?;
            at.push((start, keys.len()));
        }
        if !bytes.is_empty() {
            return Err(self.bad_row(format!("{} bytes after the last column", bytes.len())));
        }
        let key = |c: usize| &keys[at[c].0..at[c].1];
        let indexes = self
            .indexes
            .iter()
            .map(|ix| {
                let mut k = Key::new();
                ix.schema()
                    .columns
                    .iter()
                    .for_each(|&c| k.extend_from_slice(key(c as usize)));
                k
            })
            .collect();
        Ok(RowKeys {
            pk: Key::from_slice(key(self.schema.primary_key as usize)),
            indexes,
        })
    }

    /// Stores a row under its keys, if no unique index (or the primary
    /// key) already has them.
    fn store(&mut self, keys: RowKeys, bytes: &[u8]) -> Result<(), TableError> {
        let taken = (0..self.indexes.len()).find(|&i| self.indexes[i].taken(&keys.indexes[i]));
        if let Some(i) = taken
            && !self.rows.contains(&keys.pk)
        {
            return Err(self.unique_violation_at(i, bytes));
        }
        // One search of the primary key when the row is new.
        if !self.rows.insert(Stored::new(&keys.pk, bytes)) {
            return Err(self.unique_violation_at(usize::MAX, bytes));
        }
        for (ix, key) in self.indexes.iter_mut().zip(&keys.indexes) {
            ix.insert(key, &keys.pk);
        }
        Ok(())
    }

    /// Removes the row with primary key `pk` and its index entries.
    fn unstore(&mut self, pk: &[u8]) -> Option<Stored> {
        let stored = self.rows.remove(pk)?;
        let keys = self
            .keys_of_encoded(stored.row())
            .expect("a stored row decodes: it was checked when it was stored");
        for (ix, key) in self.indexes.iter_mut().zip(&keys.indexes) {
            ix.remove(key, pk);
        }
        Some(stored)
    }

    /// Inserts a row (decoded values), assigning an auto-increment key when
    /// the table has one and the row's key is 0. Returns the stored row.
    pub(crate) fn insert(&mut self, mut values: Vec<Value>) -> Result<Row, TableError> {
        let pk_col = self.schema.primary_key as usize;
        if self.schema.auto_inc && values[pk_col].as_u128() == Some(0) {
            let ty = &self.schema.columns[pk_col].ty;
            values[pk_col] = Value::integer(ty, self.next_auto_inc).ok_or_else(|| {
                TableError::AutoIncExhausted {
                    table: self.schema.name.clone(),
                }
            })?;
        }
        let bytes: Bytes = interstice_abi::encode_fields(&values)
            .expect("rows always encode")
            .into();
        let keys = self.keys_of(&values);
        self.store(keys, &bytes)?;
        self.count_key(&values[pk_col]);
        Ok(Row::new(values, bytes))
    }

    fn count_key(&mut self, pk: &Value) {
        if let Some(n) = pk.as_u128() {
            self.next_auto_inc = self.next_auto_inc.max(n.saturating_add(1));
        }
    }

    /// Replaces the row with the same primary key. Returns `(old, new)`.
    pub(crate) fn update(&mut self, values: Vec<Value>) -> Result<(Row, Row), TableError> {
        let pk_col = self.schema.primary_key as usize;
        let keys = self.keys_of(&values);
        let Some(old) = self.get_key(&keys.pk).map(|r| r.to_row()) else {
            return Err(TableError::NoSuchRow {
                table: self.schema.name.clone(),
                key: values[pk_col].to_string(),
            });
        };
        let bytes: Bytes = interstice_abi::encode_fields(&values)
            .expect("rows always encode")
            .into();
        let old_keys = self.keys_of(old.values());
        self.replace(old_keys, keys, &bytes)?;
        Ok((old, Row::new(values, bytes)))
    }

    /// Replaces a row (its keys `old`) by one with keys `new` and the same
    /// primary key, if no unique index refuses the new keys.
    fn replace(&mut self, old: RowKeys, new: RowKeys, bytes: &[u8]) -> Result<(), TableError> {
        for (i, ix) in self.indexes.iter().enumerate() {
            if new.indexes[i] != old.indexes[i] && ix.taken(&new.indexes[i]) {
                return Err(self.unique_violation_at(i, bytes));
            }
        }
        for (i, ix) in self.indexes.iter_mut().enumerate() {
            if old.indexes[i] != new.indexes[i] {
                ix.remove(&old.indexes[i], &old.pk);
                ix.insert(&new.indexes[i], &new.pk);
            }
        }
        self.rows.replace(Stored::new(&new.pk, bytes));
        Ok(())
    }

    /// Deletes the row with primary key `pk`, returning it.
    pub(crate) fn delete(&mut self, pk: &Value) -> Result<Row, TableError> {
        let key = values_key(std::slice::from_ref(pk));
        let Some(bytes) = self.unstore(&key) else {
            return Err(TableError::NoSuchRow {
                table: self.schema.name.clone(),
                key: pk.to_string(),
            });
        };
        Ok(self.row_ref(bytes.row()).to_row())
    }

    /// Applies a logged insert, update or delete of an encoded row, as
    /// replay does: the row is checked and keyed without being decoded.
    /// An update or delete names its row by the primary key inside it.
    pub(crate) fn apply_encoded(
        &mut self,
        kind: interstice_log::MutationKind,
        bytes: &[u8],
    ) -> Result<(), TableError> {
        use interstice_log::MutationKind as K;
        let keys = self.keys_of_encoded(bytes)?;
        let missing = |t: &Self| TableError::NoSuchRow {
            table: t.schema.name.clone(),
            key: t.pk_display(bytes),
        };
        match kind {
            K::Insert => {
                if self.schema.auto_inc {
                    let ty = &self.schema.primary_key_column().ty;
                    if let Some(n) = key::integer_of_key(ty, &keys.pk) {
                        self.next_auto_inc = self.next_auto_inc.max(n.saturating_add(1));
                    }
                }
                self.store(keys, bytes)
            }
            K::Update => {
                let Some(old) = self.rows.get(&keys.pk).map(Stored::row) else {
                    return Err(missing(self));
                };
                let old_keys = self
                    .keys_of_encoded(old)
                    .expect("a stored row decodes: it was checked when it was stored");
                self.replace(old_keys, keys, bytes)
            }
            K::Delete => match self.unstore(&keys.pk) {
                Some(_) => Ok(()),
                None => Err(missing(self)),
            },
            K::Module => unreachable!("module records are not rows"),
        }
    }

    /// A staging area for loading this (empty) table with encoded rows
    /// in strictly ascending primary-key order, as a snapshot holds them:
    /// [`Table::stage`] each row, then [`Table::load`].
    pub(crate) fn staging(&self, rows: usize) -> Staged {
        let rows = rows.min(1 << 24);
        Staged {
            rows: Vec::with_capacity(rows),
            entries: (0..self.indexes.len())
                .map(|_| EntrySorter::default())
                .collect(),
        }
    }

    /// Checks and keys one encoded row, like a replayed insert, into
    /// `staged`; it must come after the rows staged before it.
    pub(crate) fn stage(&self, staged: &mut Staged, bytes: &[u8]) -> Result<(), TableError> {
        let keys = self.keys_of_encoded(bytes)?;
        if let Some(prev) = staged.rows.last()
            && key::cmp_keys(prev.pk(), &keys.pk).is_ge()
        {
            return Err(self.bad_row("rows out of primary-key order".into()));
        }
        for (e, ikey) in staged.entries.iter_mut().zip(&keys.indexes) {
            e.push(crate::index::entry(ikey, &keys.pk));
        }
        staged.rows.push(Stored::new(&keys.pk, bytes));
        Ok(())
    }

    /// Fills this empty table with the staged rows, the B-trees built in
    /// one pass instead of a search per row, each index's on a thread of
    /// its own. Fails, leaving the table empty, when two rows share a
    /// unique index key.
    pub(crate) fn load(&mut self, staged: Staged) -> Result<(), TableError> {
        assert!(self.is_empty(), "loading into a table that has rows");
        let Staged { rows, entries } = staged;
        let indexes = &mut self.indexes;
        let (twins, rows) = crate::parallel::join(
            move || {
                for (i, (ix, e)) in indexes.iter_mut().zip(entries).enumerate() {
                    if let Err(twins) = ix.load(e) {
                        return Some((i, twins));
                    }
                }
                None
            },
            || Rows::from_sorted(rows),
        );
        if let Some((i, (_, pk))) = twins {
            let row = rows.get(&pk).expect("an index entry has its row").row();
            let err = self.unique_violation_at(i, row);
            for ix in &mut self.indexes {
                *ix = Index::new(ix.schema().clone());
            }
            return Err(err);
        }
        self.rows = rows;
        Ok(())
    }

    /// The primary key of an encoded row, decoded.
    fn pk_value(&self, bytes: &[u8]) -> Result<Value, TableError> {
        let values = self.decode_row(bytes)?;
        Ok(values[self.schema.primary_key as usize].clone())
    }

    fn pk_display(&self, bytes: &[u8]) -> String {
        self.pk_value(bytes)
            .map_or_else(|_| "(undecodable)".into(), |v| v.to_string())
    }

    /// The auto-increment counter (saved by transactions for rollback).
    pub(crate) fn auto_inc(&self) -> u128 {
        self.next_auto_inc
    }

    pub(crate) fn set_auto_inc(&mut self, n: u128) {
        self.next_auto_inc = n;
    }

    /// The table under another name, private: the rows of a published
    /// version that a migration reads while it runs (`accounts@2`). Its
    /// hash stays the old table's; nothing logs a mutation of it.
    pub(crate) fn retire(mut self, name: String) -> Table {
        self.schema.name = name;
        self.schema.visibility = interstice_abi::Visibility::Private;
        self
    }

    /// Moves the table to a compatible new schema (the compatibility rules
    /// of `interstice_abi::compat`): each new column takes the values of
    /// the old column it continues (by name or `renamed_from`), its
    /// default, or `None`; dropped columns go; indexes are rebuilt.
    pub fn migrate(&mut self, schema: TableSchema) -> Result<(), TableError> {
        let origins = interstice_abi::compat::column_origins(&self.schema, &schema);
        let fills: Vec<Value> = schema
            .columns
            .iter()
            .map(|c| match &c.default {
                // The schema was validated: its defaults decode.
                Some(bytes) => {
                    interstice_abi::decode_value(&c.ty, bytes).unwrap_or(Value::Option(None))
                }
                None => Value::Option(None),
            })
            .collect();
        let rows: Vec<Vec<Value>> = self.iter().map(|r| r.values()).collect();
        let mut next = Table::new(schema);
        next.next_auto_inc = self.next_auto_inc;
        for old in rows {
            let values = origins
                .iter()
                .zip(&fills)
                .map(|(origin, fill)| match origin {
                    Some(i) => old[*i].clone(),
                    None => fill.clone(),
                })
                .collect();
            next.insert(values)?;
        }
        *self = next;
        Ok(())
    }

    /// The error for a row whose key index `index` (`usize::MAX`: the
    /// primary key) already holds.
    fn unique_violation_at(&self, index: usize, bytes: &[u8]) -> TableError {
        let values = self.decode_row(bytes).unwrap_or_default();
        let (name, columns): (&str, Vec<usize>) = match self.indexes.get(index) {
            Some(ix) => (
                &ix.schema().name,
                ix.schema().columns.iter().map(|&c| c as usize).collect(),
            ),
            None => ("primary key", vec![self.schema.primary_key as usize]),
        };
        let key = columns
            .iter()
            .filter_map(|&c| values.get(c))
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        TableError::UniqueViolation {
            table: self.schema.name.clone(),
            index: name.to_owned(),
            key,
        }
    }
}

/// `range` when its start is not after its end (a B-tree range panics on
/// one that is); `None`, an empty scan, otherwise.
fn ordered(range: (Bound<Key>, Bound<Key>)) -> Option<(Bound<Key>, Bound<Key>)> {
    use Bound::*;
    let empty = match (&range.0, &range.1) {
        (Included(a), Included(b)) => a > b,
        (Included(a), Excluded(b)) | (Excluded(a), Included(b)) | (Excluded(a), Excluded(b)) => {
            a >= b
        }
        _ => false,
    };
    (!empty).then_some(range)
}
