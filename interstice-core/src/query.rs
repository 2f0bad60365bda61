//! Reading a table by column values, as `interstice query --where` and the
//! HTTP node's `?where=` do: each filter is `COLUMN=VALUE`, the value JSON
//! (or bare text for a string), and the first filter uses the primary key
//! or an index on its column when there is one.

use std::ops::Bound;

use interstice_abi::{ReducerSchema, Value, encode_value};
use serde_json::Value as Json;

use crate::json::{JsonError, from_json};
use bytes::Bytes;

use crate::table::{Row, RowRef, Table};

/// A filter or argument list that does not fit the schema.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The filter is not `COLUMN=VALUE`.
    #[error("`{0}`: expected COLUMN=VALUE")]
    Syntax(String),
    /// The table has no such column.
    #[error("`{filter}`: no column `{column}`; columns: {columns}")]
    NoSuchColumn {
        /// The filter as given.
        filter: String,
        /// The column named.
        column: String,
        /// The table's columns, comma-separated.
        columns: String,
    },
    /// The value does not fit the column's type.
    #[error("`{filter}`: {source}")]
    BadValue {
        /// The filter as given.
        filter: String,
        /// Why.
        #[source]
        source: JsonError,
    },
    /// The arguments do not fit the reducer's parameters.
    #[error("arguments do not fit {reducer}({signature}): {source}")]
    BadArguments {
        /// The reducer.
        reducer: String,
        /// Its parameters, `name: type, ...`.
        signature: String,
        /// Why.
        #[source]
        source: JsonError,
    },
    /// The arguments could not be encoded.
    #[error("cannot encode the arguments: {0}")]
    Encoding(#[from] interstice_abi::EncodingError),
}

/// One `COLUMN=VALUE` condition, resolved against a table's schema.
#[derive(Clone, Debug, PartialEq)]
pub struct Filter {
    /// The column's position.
    pub column: usize,
    /// The value it must equal.
    pub value: Value,
}

impl Filter {
    /// Parses `COLUMN=VALUE` for `table`: VALUE is JSON, or else the bare
    /// text as a string.
    pub fn parse(table: &Table, text: &str) -> Result<Self, QueryError> {
        let schema = table.schema();
        let Some((col, raw)) = text.split_once('=') else {
            return Err(QueryError::Syntax(text.to_owned()));
        };
        let Some(column) = schema.columns.iter().position(|c| c.name == col) else {
            let names: Vec<_> = schema.columns.iter().map(|c| c.name.as_str()).collect();
            return Err(QueryError::NoSuchColumn {
                filter: text.to_owned(),
                column: col.to_owned(),
                columns: names.join(", "),
            });
        };
        let json = serde_json::from_str(raw).unwrap_or(Json::String(raw.into()));
        let value = from_json(&json, &schema.columns[column].ty, col).map_err(|source| {
            QueryError::BadValue {
                filter: text.to_owned(),
                source,
            }
        })?;
        Ok(Self { column, value })
    }

    /// Whether `row` passes.
    pub fn matches(&self, row: &[Value]) -> bool {
        row.get(self.column) == Some(&self.value)
    }
}

/// The first `limit` rows of `table` matching every filter, in
/// primary-key (or index) order. The first filter uses the primary key or
/// an index whose first column is its column, when there is one; the rest
/// are checked row by row. The rows are decoded copies: a reader can take
/// them under the runtime's lock and render them after releasing it.
pub fn select(table: &Table, filters: &[Filter], limit: usize) -> Vec<Row> {
    let schema = table.schema();
    let candidates: Box<dyn Iterator<Item = RowRef<'_>> + '_> = match filters.first() {
        None => Box::new(table.iter()),
        Some(f) if f.column == schema.primary_key as usize => {
            Box::new(table.get(&f.value).into_iter())
        }
        Some(f) => match schema
            .indexes
            .iter()
            .position(|ix| ix.columns[0] as usize == f.column)
        {
            Some(ix) => {
                let key = std::slice::from_ref(&f.value);
                Box::new(table.index_range(ix, Bound::Included(key), Bound::Included(key)))
            }
            None => Box::new(table.iter()),
        },
    };
    candidates
        .filter_map(|row| {
            let values = row.values();
            let keep = filters.iter().all(|f| f.matches(&values));
            keep.then(|| Row::new(values, Bytes::copy_from_slice(row.bytes())))
        })
        .take(limit)
        .collect()
}

/// Encodes JSON arguments (an array by position or an object by name) for
/// `reducer`, checking them against its parameters.
pub fn encode_args(reducer: &ReducerSchema, json: &Json) -> Result<Vec<u8>, QueryError> {
    let value = from_json(json, &reducer.args_type(), "").map_err(|source| {
        let sig: Vec<_> = reducer
            .params
            .iter()
            .map(|p| format!("{}: {}", p.name, p.ty))
            .collect();
        QueryError::BadArguments {
            reducer: reducer.name.clone(),
            signature: sig.join(", "),
            source,
        }
    })?;
    Ok(encode_value(&value)?)
}
