//! In-memory tables: rows by primary key, secondary indexes kept in step
//! with every change.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;
use interstice_abi::{TableSchema, Type, Value, decode_value};

use crate::index::Index;

use crate::error::TableError;

/// One row: its column values and their encoding (what guests and the log
/// see). Cheap to clone.
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

    fn from_values(values: Vec<Value>) -> Self {
        let bytes = interstice_abi::encode_fields(&values).expect("rows always encode");
        Self {
            values: values.into(),
            bytes: bytes.into(),
        }
    }
}

/// A table of one module: typed rows by primary key, with its indexes.
///
/// Lookups by primary key or index are `O(log n)`; scans iterate in key
/// order without copying the table.
#[derive(Clone, Debug)]
pub struct Table {
    schema: TableSchema,
    hash: u64,
    row_type: Type,
    rows: BTreeMap<Value, Row>,
    indexes: Vec<Index>,
    /// Next auto-increment value: one past the largest key ever inserted.
    next_auto_inc: u128,
}

impl Table {
    /// An empty table with `schema` (assumed valid).
    pub fn new(schema: TableSchema) -> Self {
        let indexes = schema
            .indexes
            .iter()
            .map(|s| Index::new(s.clone()))
            .collect();
        Self {
            hash: schema.hash(),
            row_type: schema.row_type(),
            schema,
            rows: BTreeMap::new(),
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

    /// True when the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Decodes and type-checks an encoded row.
    pub fn decode_row(&self, bytes: &[u8]) -> Result<Vec<Value>, TableError> {
        match decode_value(&self.row_type, bytes) {
            Ok(Value::Struct(values)) => Ok(values),
            Ok(_) => unreachable!("a struct type decodes to a struct"),
            Err(e) => Err(TableError::BadRow {
                table: self.schema.name.clone(),
                reason: e.to_string(),
            }),
        }
    }

    /// Decodes a primary key (encoded as the key column's type).
    pub fn decode_key(&self, bytes: &[u8]) -> Result<Value, TableError> {
        decode_value(&self.schema.primary_key_column().ty, bytes).map_err(|e| TableError::BadRow {
            table: self.schema.name.clone(),
            reason: e.to_string(),
        })
    }

    fn pk_of<'a>(&self, values: &'a [Value]) -> &'a Value {
        &values[self.schema.primary_key as usize]
    }

    /// The row with primary key `pk`.
    pub fn get(&self, pk: &Value) -> Option<&Row> {
        self.rows.get(pk)
    }

    /// Every row, in primary-key order.
    pub fn iter(&self) -> impl Iterator<Item = &Row> {
        self.rows.values()
    }

    /// Rows whose primary key is in the range, in key order.
    pub fn range(&self, lo: Bound<&Value>, hi: Bound<&Value>) -> impl Iterator<Item = &Row> {
        self.rows.range::<Value, _>((lo, hi)).map(|(_, r)| r)
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
    ) -> impl Iterator<Item = &Row> {
        self.indexes[index]
            .range(lo, hi)
            .map(|(_, pk)| &self.rows[pk])
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
        let pk = self.pk_of(&values).clone();
        if self.rows.contains_key(&pk) {
            return Err(self.unique_violation("primary key", vec![pk]));
        }
        let keys: Vec<Vec<Value>> = self.indexes.iter().map(|ix| ix.key(&values)).collect();
        for (ix, key) in self.indexes.iter().zip(&keys) {
            if ix.taken(key) {
                return Err(self.unique_violation(&ix.schema().name, key.clone()));
            }
        }
        for (ix, key) in self.indexes.iter_mut().zip(keys) {
            ix.insert(key, pk.clone());
        }
        if let Some(n) = pk.as_u128() {
            self.next_auto_inc = self.next_auto_inc.max(n.saturating_add(1));
        }
        let row = Row::from_values(values);
        self.rows.insert(pk, row.clone());
        Ok(row)
    }

    /// Replaces the row with the same primary key. Returns `(old, new)`.
    pub(crate) fn update(&mut self, values: Vec<Value>) -> Result<(Row, Row), TableError> {
        let pk = self.pk_of(&values).clone();
        let Some(old) = self.rows.get(&pk).cloned() else {
            return Err(TableError::NoSuchRow {
                table: self.schema.name.clone(),
                key: pk.to_string(),
            });
        };
        for ix in &self.indexes {
            let key = ix.key(&values);
            if key != ix.key(old.values()) && ix.taken(&key) {
                return Err(self.unique_violation(&ix.schema().name, key));
            }
        }
        for ix in &mut self.indexes {
            let (old_key, new_key) = (ix.key(old.values()), ix.key(&values));
            if old_key != new_key {
                ix.remove(&old_key, &pk);
                ix.insert(new_key, pk.clone());
            }
        }
        let new = Row::from_values(values);
        self.rows.insert(pk, new.clone());
        Ok((old, new))
    }

    /// Deletes the row with primary key `pk`, returning it.
    pub(crate) fn delete(&mut self, pk: &Value) -> Result<Row, TableError> {
        let Some(old) = self.rows.remove(pk) else {
            return Err(TableError::NoSuchRow {
                table: self.schema.name.clone(),
                key: pk.to_string(),
            });
        };
        for ix in &mut self.indexes {
            let key = ix.key(old.values());
            ix.remove(&key, pk);
        }
        Ok(old)
    }

    /// The auto-increment counter (saved by transactions for rollback).
    pub(crate) fn auto_inc(&self) -> u128 {
        self.next_auto_inc
    }

    pub(crate) fn set_auto_inc(&mut self, n: u128) {
        self.next_auto_inc = n;
    }

    /// Moves the table to a compatible new schema: appends `None` for added
    /// `Option` columns, builds added indexes, drops removed ones.
    pub fn migrate(&mut self, schema: TableSchema) -> Result<(), TableError> {
        let added = schema.columns.len() - self.schema.columns.len();
        let rows: Vec<Row> = self.rows.values().cloned().collect();
        let mut next = Table::new(schema);
        next.next_auto_inc = self.next_auto_inc;
        for row in rows {
            let mut values = row.values().to_vec();
            values.extend(std::iter::repeat_n(Value::Option(None), added));
            next.insert(values)?;
        }
        *self = next;
        Ok(())
    }

    fn unique_violation(&self, index: &str, key: Vec<Value>) -> TableError {
        let key = key
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        TableError::UniqueViolation {
            table: self.schema.name.clone(),
            index: index.to_owned(),
            key,
        }
    }
}

impl Table {
    /// The first index entry after `after` (an index key and primary key;
    /// the start of the range when `None`) within `lo..hi`: a resumable
    /// scan step that holds no borrow between steps.
    pub fn index_next(
        &self,
        index: usize,
        after: Option<(&[Value], &Value)>,
        lo: Bound<&[Value]>,
        hi: Bound<&[Value]>,
    ) -> Option<(Vec<Value>, Value, &Row)> {
        let (k, pk) = self.indexes[index].next_after(after, lo, hi)?;
        Some((k.to_vec(), pk.clone(), &self.rows[pk]))
    }
}
