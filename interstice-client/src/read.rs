//! Reading a table: the rows that match filters, now.

use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;

use serde_json::Value;

use crate::client::{Client, where_query};
use crate::error::Error;
use crate::json::Json;
use crate::subscription::Row;

/// A read of `R`'s table to be made: add filters and a limit, then await
/// it for the rows, in primary-key order (index order with an indexed
/// first filter).
#[must_use = "a read does nothing until it is awaited"]
pub struct Read<R> {
    client: Client,
    filters: Vec<(String, Value)>,
    limit: Option<u64>,
    row: PhantomData<fn() -> R>,
}

impl Client {
    /// A read of `R`'s table.
    pub fn read<R: Row>(&self) -> Read<R> {
        Read {
            client: self.clone(),
            filters: Vec::new(),
            limit: None,
            row: PhantomData,
        }
    }
}

impl<R: Row> Read<R> {
    /// Keeps only rows whose `column` equals `value` (several filters must
    /// all hold; the first uses the primary key or an index on it).
    pub fn filter(mut self, column: &str, value: impl Json) -> Self {
        self.filters.push((column.to_owned(), value.to_json()));
        self
    }

    /// At most `n` rows (the node's default is 1000, its maximum 100,000).
    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    /// Sends the read.
    pub async fn send(self) -> Result<Vec<R>, Error> {
        let mut query = where_query(&self.filters);
        if let Some(limit) = self.limit {
            query.push(("limit".into(), limit.to_string()));
        }
        let path = format!("/v1/modules/{}/tables/{}", R::MODULE, R::TABLE);
        let request = self
            .client
            .request(reqwest::Method::GET, &path)
            .query(&query);
        let answer: Value = self
            .client
            .send(request)
            .await?
            .json()
            .await
            .map_err(|e| self.client.unreachable(e))?;
        let rows = answer
            .get("rows")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::Protocol(format!("no rows in {answer:.200}")))?;
        rows.iter()
            .enumerate()
            .map(|(i, r)| R::from_json(r, &format!("{}[{i}]", R::TABLE)).map_err(Error::from))
            .collect()
    }
}

impl<R: Row> IntoFuture for Read<R> {
    type Output = Result<Vec<R>, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}
