//! Typed access to tables: what `#[table]` generates builds on these.
//!
//! A [`TableHandle`] reads and (in a [`ReadWrite`] context) writes one
//! table; [`UniqueIndex`] and [`Index`] look rows up by a secondary index.
//! Scans ([`Iter`]) fetch one row per step from the host, so iterating
//! never copies the table, and they see the transaction's own writes.

use std::cell::Cell;
use std::marker::PhantomData;
use std::ops::{Bound as StdBound, RangeBounds};

use interstice_abi::TableSchema;

use crate::codec::{IntersticeType, from_bytes, to_bytes};
use crate::error::Error;
use crate::sys::{self, Bound};

/// Marks a context (and the handles it gives out) that may write.
#[derive(Clone, Copy, Debug)]
pub struct ReadWrite;

/// Marks a read-only context: its handles have no mutation methods.
#[derive(Clone, Copy, Debug)]
pub struct ReadOnly;

/// What `#[table]` implements for a row struct.
pub trait Table: IntersticeType + 'static {
    /// The table's name in the schema.
    const NAME: &'static str;
    /// The module that owns it (empty: the module being built).
    const MODULE: &'static str = "";
    /// The primary key's type.
    type PrimaryKey: IntersticeType;
    /// The table's schema.
    fn schema() -> TableSchema;
    /// The row's primary key.
    fn primary_key(&self) -> &Self::PrimaryKey;
    /// Stores a key the host assigned (auto-increment tables only).
    fn set_assigned_key(&mut self, _key: i64) {}
    /// The per-call cache of the table's host handle.
    #[doc(hidden)]
    fn handle_cache() -> &'static HandleCache;
}

/// A host handle looked up once per call. Each call runs in a fresh
/// instance, so it never outlives the transaction it was made in.
#[doc(hidden)]
pub struct HandleCache(Cell<Option<i64>>);

// SAFETY: modules are single-threaded (wasm32 without threads); the cache
// is only touched from the one thread a call runs on.
unsafe impl Sync for HandleCache {}

impl HandleCache {
    /// An empty cache.
    pub const fn new() -> Self {
        Self(Cell::new(None))
    }
}

impl Default for HandleCache {
    fn default() -> Self {
        Self::new()
    }
}

fn handle<T: Table>() -> Result<i64, Error> {
    let cache = T::handle_cache();
    if let Some(h) = cache.0.get() {
        return Ok(h);
    }
    let h = sys::table(T::MODULE, T::NAME)
        .map_err(Error::Host)?
        .ok_or_else(|| match T::NAME.split_once('@') {
            Some((table, version)) => Error::Host(format!(
                "the rows of `{table}` at version {version} are readable only while its migration from that version runs"
            )),
            None => Error::Host(format!("no table `{}`", T::NAME)),
        })?;
    cache.0.set(Some(h));
    Ok(h)
}

fn decode_row<T: Table>(bytes: Vec<u8>) -> Result<T, Error> {
    from_bytes(&bytes).map_err(|e| Error::Decode(format!("a row of `{}`: {e}", T::NAME)))
}

/// One table, seen from a reducer.
pub struct TableHandle<T, M> {
    _marker: PhantomData<(T, M)>,
}

impl<T: Table, M> TableHandle<T, M> {
    #[doc(hidden)]
    pub fn new() -> Self {
        Self {
            _marker: PhantomData,
        }
    }

    /// The row with primary key `key`.
    pub fn get(&self, key: &T::PrimaryKey) -> Result<Option<T>, Error> {
        let h = handle::<T>()?;
        match sys::get(h, &to_bytes(key)).map_err(Error::Host)? {
            None => Ok(None),
            Some(bytes) => decode_row(bytes).map(Some),
        }
    }

    /// Every row, in primary-key order, one at a time.
    pub fn iter(&self) -> Result<Iter<T>, Error> {
        Iter::start(None, Bound::Unbounded, Bound::Unbounded)
    }

    /// The rows with primary keys in `range`, in order.
    pub fn range(&self, range: impl RangeBounds<T::PrimaryKey>) -> Result<Iter<T>, Error> {
        let (lo, hi) = bounds(&range, 1);
        Iter::start(None, lo, hi)
    }

    /// The rows for which `keep` is true, streamed.
    pub fn filter<F: FnMut(&T) -> bool>(
        &self,
        mut keep: F,
    ) -> Result<impl Iterator<Item = Result<T, Error>>, Error> {
        Ok(self.iter()?.filter(move |r| match r {
            Ok(row) => keep(row),
            Err(_) => true,
        }))
    }

    /// How many rows the table has (a scan: O(n)).
    pub fn count(&self) -> Result<u64, Error> {
        let mut n = 0;
        for row in self.iter()? {
            row?;
            n += 1;
        }
        Ok(n)
    }
}

impl<T: Table> TableHandle<T, ReadWrite> {
    /// Inserts `row` and returns it as stored (with its assigned key on an
    /// auto-increment table, where a key of 0 asks for one). A duplicate
    /// key aborts the transaction.
    pub fn insert(&self, mut row: T) -> Result<T, Error> {
        let h = handle::<T>()?;
        let key = sys::insert(h, &to_bytes(&row)).map_err(Error::Host)?;
        row.set_assigned_key(key);
        Ok(row)
    }

    /// Replaces the row with `row`'s primary key.
    pub fn update(&self, row: T) -> Result<(), Error> {
        let h = handle::<T>()?;
        sys::update(h, &to_bytes(&row)).map_err(Error::Host)
    }

    /// Deletes the row with primary key `key`; whether there was one.
    pub fn delete(&self, key: &T::PrimaryKey) -> Result<bool, Error> {
        let h = handle::<T>()?;
        sys::delete(h, &to_bytes(key)).map_err(Error::Host)
    }
}

fn bound<K: IntersticeType>(b: StdBound<&K>, columns: u32) -> Bound {
    match b {
        StdBound::Unbounded => Bound::Unbounded,
        StdBound::Included(k) => Bound::Included(to_bytes(k), columns),
        StdBound::Excluded(k) => Bound::Excluded(to_bytes(k), columns),
    }
}

fn bounds<K: IntersticeType>(r: &impl RangeBounds<K>, columns: u32) -> (Bound, Bound) {
    (
        bound(r.start_bound(), columns),
        bound(r.end_bound(), columns),
    )
}

/// Rows of a scan, fetched one per step. Dropping it ends the scan.
pub struct Iter<T> {
    scan: Option<i64>,
    _marker: PhantomData<T>,
}

impl<T: Table> Iter<T> {
    fn start(index: Option<i64>, lo: Bound, hi: Bound) -> Result<Self, Error> {
        let h = handle::<T>()?;
        let scan = sys::scan(h, index, &lo, &hi).map_err(Error::Host)?;
        Ok(Self {
            scan: Some(scan),
            _marker: PhantomData,
        })
    }
}

impl<T: Table> Iterator for Iter<T> {
    type Item = Result<T, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let scan = self.scan?;
        match sys::next(scan) {
            Ok(Some(bytes)) => Some(decode_row(bytes)),
            Ok(None) => {
                sys::close(scan);
                self.scan = None;
                None
            }
            Err(e) => {
                self.scan = None;
                Some(Err(Error::Host(e)))
            }
        }
    }
}

impl<T> Drop for Iter<T> {
    fn drop(&mut self) {
        if let Some(scan) = self.scan {
            sys::close(scan);
        }
    }
}

/// Looks up a secondary index's id once per call.
fn index_id<T: Table>(name: &str, cache: &HandleCache) -> Result<i64, Error> {
    if let Some(i) = cache.0.get() {
        return Ok(i);
    }
    let h = handle::<T>()?;
    let i = sys::index(h, name)
        .map_err(Error::Host)?
        .ok_or_else(|| Error::Host(format!("table `{}` has no index `{name}`", T::NAME)))?;
    cache.0.set(Some(i));
    Ok(i)
}

/// A unique secondary index: at most one row per key `K`.
pub struct UniqueIndex<T, K, M> {
    name: &'static str,
    cache: &'static HandleCache,
    _marker: PhantomData<(T, K, M)>,
}

impl<T: Table, K: IntersticeType, M> UniqueIndex<T, K, M> {
    #[doc(hidden)]
    pub fn new(name: &'static str, cache: &'static HandleCache) -> Self {
        Self {
            name,
            cache,
            _marker: PhantomData,
        }
    }

    /// The row whose indexed column(s) equal `key`.
    pub fn find(&self, key: &K) -> Result<Option<T>, Error> {
        let point = (StdBound::Included(key), StdBound::Included(key));
        index_scan::<T, K>(self.name, self.cache, point)?
            .next()
            .transpose()
    }

    /// The rows with keys in `range`, in key order.
    pub fn range(&self, range: impl RangeBounds<K>) -> Result<Iter<T>, Error> {
        index_scan(self.name, self.cache, range)
    }
}

/// A non-unique secondary index: any number of rows per key `K`.
pub struct Index<T, K, M> {
    name: &'static str,
    cache: &'static HandleCache,
    _marker: PhantomData<(T, K, M)>,
}

impl<T: Table, K: IntersticeType, M> Index<T, K, M> {
    #[doc(hidden)]
    pub fn new(name: &'static str, cache: &'static HandleCache) -> Self {
        Self {
            name,
            cache,
            _marker: PhantomData,
        }
    }

    /// The rows whose indexed column(s) equal `key`, in primary-key order.
    pub fn filter(&self, key: &K) -> Result<Iter<T>, Error> {
        let point = (StdBound::Included(key), StdBound::Included(key));
        index_scan::<T, K>(self.name, self.cache, point)
    }

    /// The rows with keys in `range`, in key order.
    pub fn range(&self, range: impl RangeBounds<K>) -> Result<Iter<T>, Error> {
        index_scan(self.name, self.cache, range)
    }
}

/// A scan of index `name` over the keys in `range`.
fn index_scan<T: Table, K: IntersticeType>(
    name: &str,
    cache: &HandleCache,
    range: impl RangeBounds<K>,
) -> Result<Iter<T>, Error> {
    let id = index_id::<T>(name, cache)?;
    let (lo, hi) = bounds(&range, key_columns::<K>());
    Iter::start(Some(id), lo, hi)
}

/// How many columns a key type covers: a tuple's arity, else one.
fn key_columns<K: IntersticeType>() -> u32 {
    match K::ty() {
        interstice_abi::Type::Struct(s) if s.name.is_empty() => s.fields.len() as u32,
        _ => 1,
    }
}
