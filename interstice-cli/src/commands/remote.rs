//! `--node URL`: `call`, `query`, `publish` and `trace` against a running
//! `interstice serve` instead of opening the log here.

use anyhow::{Context, Result};
use interstice_abi::{ModuleSchema, Value};
use interstice_core::json::from_json;
use serde_json::Value as Json;

/// A node's error answer: its status, its error code (`docs/http-api.md`)
/// and message.
#[derive(Debug)]
pub struct NodeRefused {
    pub status: reqwest::StatusCode,
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for NodeRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the node answered {}: {}", self.status, self.message)
    }
}

impl std::error::Error for NodeRefused {}

/// A node's address and the token to send.
pub struct Node<'a> {
    pub url: &'a str,
    pub token: Option<&'a str>,
}

impl Node<'_> {
    /// A request to the node's path made of `segments` (each
    /// percent-encoded as a path segment).
    fn request(
        &self,
        method: reqwest::Method,
        segments: &[&str],
    ) -> Result<reqwest::RequestBuilder> {
        let mut url = reqwest::Url::parse(self.url)
            .ok()
            .filter(|u| u.scheme() == "http" && u.host().is_some())
            .with_context(|| format!("--node {}: expected http://HOST:PORT", self.url))?;
        url.path_segments_mut()
            .map_err(|()| anyhow::anyhow!("--node {}: expected http://HOST:PORT", self.url))?
            .pop_if_empty()
            .extend(segments);
        let client = reqwest::Client::new();
        let mut request = client.request(method, url);
        if let Some(t) = self.token {
            request = request.bearer_auth(t);
        }
        Ok(request)
    }

    /// Sends `request`; the JSON answer, or the node's error message.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Json> {
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach the node at {}", self.url))?;
        let status = response.status();
        let body: Json = response
            .json()
            .await
            .with_context(|| format!("the node at {} did not answer JSON", self.url))?;
        if !status.is_success() {
            let text = |key: &str| body["error"][key].as_str().unwrap_or("").to_owned();
            return Err(NodeRefused {
                status,
                code: text("code"),
                message: Some(text("message"))
                    .filter(|m| !m.is_empty())
                    .unwrap_or_else(|| "(no message)".into()),
            }
            .into());
        }
        Ok(body)
    }

    /// Calls `module.reducer` (once per `request_id`, when given: the
    /// `Idempotency-Key` header); the node answers once the commit is
    /// durable.
    pub async fn call(
        &self,
        module: &str,
        reducer: &str,
        args: &Json,
        request_id: Option<&str>,
    ) -> Result<Json> {
        let path = ["v1", "modules", module, "reducers", reducer];
        let mut request = self.request(reqwest::Method::POST, &path)?.json(args);
        if let Some(id) = request_id {
            request = request.header("Idempotency-Key", id);
        }
        self.send(request).await
    }

    /// Publishes `wasm` (`POST /v1/modules`; the admin token).
    pub async fn publish(&self, wasm: Vec<u8>) -> Result<Json> {
        let request = self
            .request(reqwest::Method::POST, &["v1", "modules"])?
            .header(reqwest::header::CONTENT_TYPE, "application/wasm")
            .body(wasm);
        self.send(request).await
    }

    /// Unpublishes `module` (`DELETE /v1/modules/{module}`; the admin
    /// token).
    pub async fn unpublish(&self, module: &str) -> Result<Json> {
        let request = self.request(reqwest::Method::DELETE, &["v1", "modules", module])?;
        self.send(request).await
    }

    /// The node's trace of `range` (`GET /v1/trace`).
    pub async fn trace(
        &self,
        range: &super::trace::Range,
        format: super::trace::Format,
    ) -> Result<Json> {
        let mut query: Vec<(&str, String)> = vec![("format", format.as_str().into())];
        for (key, value) in [("from", range.from), ("to", range.to)] {
            if let Some(v) = value {
                query.push((key, v.to_string()));
            }
        }
        for (key, value) in [("module", &range.module), ("reducer", &range.reducer)] {
            if let Some(v) = value {
                query.push((key, v.clone()));
            }
        }
        let request = self.request(reqwest::Method::GET, &["v1", "trace"])?;
        self.send(request.query(&query)).await
    }

    /// Every module's schema (`GET /v1/modules`).
    pub async fn modules(&self) -> Result<Vec<ModuleSchema>> {
        let json = self
            .send(self.request(reqwest::Method::GET, &["v1", "modules"])?)
            .await?;
        let Json::Array(items) = json else {
            anyhow::bail!("the node sent something other than a list of modules");
        };
        items
            .into_iter()
            .map(|j| {
                ModuleSchema::deserialize_from(j)
                    .context("the node sent a schema this CLI cannot read")
            })
            .collect()
    }

    /// The module's schema.
    pub async fn schema(&self, module: &str) -> Result<ModuleSchema> {
        let path = ["v1", "modules", module];
        let json = self
            .send(self.request(reqwest::Method::GET, &path)?)
            .await?;
        ModuleSchema::deserialize_from(json).context("the node sent a schema this CLI cannot read")
    }

    /// Every row of `module.table` matching the `COLUMN=VALUE` filters, as
    /// values of the table's columns.
    pub async fn query(
        &self,
        schema: &ModuleSchema,
        table: &str,
        filters: &[String],
        limit: Option<usize>,
        at: Option<u64>,
    ) -> Result<Vec<Vec<Value>>> {
        let (_, t) = schema.find_table(table)?;
        let mut query: Vec<(&str, &str)> = filters.iter().map(|f| ("where", f.as_str())).collect();
        let limit = limit.unwrap_or(100_000).to_string();
        query.push(("limit", &limit));
        let at = at.map(|a| a.to_string());
        if let Some(at) = &at {
            query.push(("at", at));
        }
        let path = ["v1", "modules", schema.name.as_str(), "tables", table];
        let body = self
            .send(self.request(reqwest::Method::GET, &path)?.query(&query))
            .await?;
        if body["more"].as_bool() == Some(true) {
            eprintln!("warning: only the first {limit} rows are shown (--limit)");
        }
        let rows = body["rows"].as_array().cloned().unwrap_or_default();
        rows.iter()
            .map(|row| {
                t.columns
                    .iter()
                    .map(|c| {
                        from_json(&row[&c.name], &c.ty, &c.name)
                            .context("the node sent a row that does not fit the schema")
                    })
                    .collect()
            })
            .collect()
    }
}
