//! How a table stores its rows: one allocation per row holding its primary
//! key's key and its encoding, in one B-tree ordered by the key. A B-tree
//! entry is a single pointer, and the key is not stored twice.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::ops::Bound;

/// A primary key's key (see [`super::key`]), ordered as bytes.
#[derive(Debug, PartialEq, Eq)]
#[repr(transparent)]
pub(crate) struct Pk([u8]);

impl Pk {
    pub(crate) fn new(key: &[u8]) -> &Pk {
        // SAFETY: `Pk` is a transparent wrapper of `[u8]`.
        unsafe { &*(key as *const [u8] as *const Pk) }
    }
}

impl Ord for Pk {
    /// Byte order ([`super::key::cmp_keys`]).
    fn cmp(&self, other: &Self) -> Ordering {
        super::key::cmp_keys(&self.0, &other.0)
    }
}

impl PartialOrd for Pk {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// One stored row: the length of its key (two bytes), the key, the row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Stored(Box<[u8]>);

impl Stored {
    pub(crate) fn new(pk: &[u8], row: &[u8]) -> Self {
        let len = u16::try_from(pk.len()).expect("a primary key is under 64 KiB");
        let mut bytes = Vec::with_capacity(2 + pk.len() + row.len());
        bytes.extend_from_slice(&len.to_le_bytes());
        bytes.extend_from_slice(pk);
        bytes.extend_from_slice(row);
        Self(bytes.into_boxed_slice())
    }

    fn key_len(&self) -> usize {
        u16::from_le_bytes([self.0[0], self.0[1]]) as usize
    }

    /// The primary key's key.
    pub(crate) fn pk(&self) -> &[u8] {
        &self.0[2..2 + self.key_len()]
    }

    /// The row's encoding.
    /// Bytes it holds (key length, key and row).
    pub(crate) fn len(&self) -> u64 {
        self.0.len() as u64
    }

    pub(crate) fn row(&self) -> &[u8] {
        &self.0[2 + self.key_len()..]
    }
}

impl Borrow<Pk> for Stored {
    fn borrow(&self) -> &Pk {
        Pk::new(self.pk())
    }
}

impl Ord for Stored {
    fn cmp(&self, other: &Self) -> Ordering {
        Pk::new(self.pk()).cmp(Pk::new(other.pk()))
    }
}

impl PartialOrd for Stored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The rows of a table, by primary key, and how many bytes they hold.
#[derive(Clone, Debug, Default)]
pub(crate) struct Rows {
    set: BTreeSet<Stored>,
    /// Sum of the stored rows' lengths (keys and encodings).
    bytes: u64,
}

impl Rows {
    pub(crate) fn len(&self) -> usize {
        self.set.len()
    }

    /// Bytes of the rows' keys and encodings.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    pub(crate) fn get(&self, pk: &[u8]) -> Option<&Stored> {
        self.set.get(Pk::new(pk))
    }

    pub(crate) fn contains(&self, pk: &[u8]) -> bool {
        self.set.contains(Pk::new(pk))
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Stored> {
        self.set.iter()
    }

    /// Rows with keys in the range, in key order.
    pub(crate) fn range(
        &self,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
    ) -> std::collections::btree_set::Range<'_, Stored> {
        self.set.range::<Pk, _>((lo.map(Pk::new), hi.map(Pk::new)))
    }

    /// Rows already in strictly ascending key order, built bottom-up.
    pub(crate) fn from_sorted(rows: Vec<Stored>) -> Self {
        debug_assert!(rows.windows(2).all(|w| w[0] < w[1]));
        let bytes = rows.iter().map(Stored::len).sum();
        Self {
            set: rows.into_iter().collect(),
            bytes,
        }
    }

    /// Adds a row; `false` (and nothing added) if its key is taken.
    pub(crate) fn insert(&mut self, row: Stored) -> bool {
        let len = row.len();
        let added = self.set.insert(row);
        if added {
            self.bytes += len;
        }
        added
    }

    /// Replaces the row with the same key; the one replaced.
    pub(crate) fn replace(&mut self, row: Stored) -> Option<Stored> {
        self.bytes += row.len();
        let old = self.set.replace(row);
        if let Some(old) = &old {
            self.bytes -= old.len();
        }
        old
    }

    pub(crate) fn remove(&mut self, pk: &[u8]) -> Option<Stored> {
        let old = self.set.take(Pk::new(pk));
        if let Some(old) = &old {
            self.bytes -= old.len();
        }
        old
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn pk_order_is_byte_order(a in proptest::collection::vec(any::<u8>(), 0..20),
                                  b in proptest::collection::vec(any::<u8>(), 0..20)) {
            prop_assert_eq!(Pk::new(&a).cmp(Pk::new(&b)), a.cmp(&b));
        }
    }

    #[test]
    fn rows_count_their_bytes_through_every_change() {
        let mut rows = Rows::default();
        assert!(rows.insert(Stored::new(b"a", b"12345")));
        assert!(!rows.insert(Stored::new(b"a", b"1")));
        assert!(rows.insert(Stored::new(b"b", b"1")));
        assert_eq!(rows.bytes(), 8 + 4);
        rows.replace(Stored::new(b"a", b"123"));
        assert_eq!(rows.bytes(), 6 + 4);
        rows.remove(b"b");
        assert_eq!(rows.bytes(), 6);
        let sorted = Rows::from_sorted(vec![Stored::new(b"a", b"1"), Stored::new(b"b", b"22")]);
        assert_eq!(sorted.bytes(), 4 + 5);
    }

    #[test]
    fn a_stored_row_gives_back_its_key_and_bytes() {
        let s = Stored::new(b"key", b"row bytes");
        assert_eq!((s.pk(), s.row()), (&b"key"[..], &b"row bytes"[..]));
    }
}
