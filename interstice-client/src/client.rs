//! The connection to a node: where it is, the token, and the requests
//! generated code makes (calls and reads).

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use serde_json::Value;

use crate::error::{Error, ErrorCode, NodeError};
use crate::json::DecodeError;

/// Where a node is when nothing says otherwise.
pub const DEFAULT_URL: &str = "http://127.0.0.1:7700";

/// A node's address and the token to present: cheap to clone (clones
/// share connections).
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    url: String,
    token: Option<String>,
}

impl Client {
    /// A client of the node at `url` (`http://HOST:PORT`), without a token.
    pub fn new(url: impl Into<String>) -> Result<Self, Error> {
        let url = url.into().trim_end_matches('/').to_owned();
        if !url.starts_with("http://") && !url.starts_with("https://") {
            return Err(Error::Config(format!(
                "`{url}` is not a node address: give http://HOST:PORT"
            )));
        }
        Ok(Self {
            http: reqwest::Client::new(),
            url,
            token: None,
        })
    }

    /// A client configured from the environment: the node at
    /// `INTERSTICE_NODE` (default [`DEFAULT_URL`]) with the token in
    /// `INTERSTICE_TOKEN`, if set.
    pub fn from_env() -> Result<Self, Error> {
        let url = std::env::var("INTERSTICE_NODE").unwrap_or_else(|_| DEFAULT_URL.to_owned());
        let client = Self::new(url)?;
        Ok(match std::env::var("INTERSTICE_TOKEN") {
            Ok(token) if !token.is_empty() => client.with_token(token),
            _ => client,
        })
    }

    /// The same client presenting `token` (`Authorization: Bearer`).
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The node's address.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A request to `path` (starting with `/`) with the token.
    pub(crate) fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let r = self.http.request(method, format!("{}{path}", self.url));
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    /// Sends a request; an error answer becomes [`Error::Node`].
    pub(crate) async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, Error> {
        let response = request.send().await.map_err(|e| self.unreachable(e))?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(self.error_answer(response).await)
    }

    /// The error in a node's non-success answer.
    pub(crate) async fn error_answer(&self, response: reqwest::Response) -> Error {
        let status = response.status().as_u16();
        let body = match response.text().await {
            Ok(body) => body,
            Err(e) => return self.unreachable(e),
        };
        let parsed: Option<(String, String)> =
            serde_json::from_str::<Value>(&body).ok().and_then(|j| {
                let e = j.get("error")?;
                Some((
                    e.get("code")?.as_str()?.to_owned(),
                    e.get("message")?.as_str()?.to_owned(),
                ))
            });
        match parsed {
            Some((code, message)) => Error::Node(NodeError {
                status,
                code: ErrorCode::parse(&code),
                message,
            }),
            None => Error::Protocol(format!(
                "status {status} without an error body: {body:.200}"
            )),
        }
    }

    pub(crate) fn unreachable(&self, source: reqwest::Error) -> Error {
        Error::Unreachable {
            url: self.url.clone(),
            source,
        }
    }

    /// A call of `module.reducer` with `args`, a JSON array of the
    /// arguments by position: what generated reducer functions return.
    /// Await it to make the call.
    pub fn call(&self, module: &str, reducer: &str, args: Vec<Value>) -> Call {
        Call {
            client: self.clone(),
            path: format!("/v1/modules/{module}/reducers/{reducer}"),
            args: Value::Array(args),
            idempotency_key: None,
        }
    }
}

/// `where=COLUMN=VALUE` pairs, the value as JSON.
pub(crate) fn where_query(filters: &[(String, Value)]) -> Vec<(String, String)> {
    filters
        .iter()
        .map(|(column, value)| ("where".to_owned(), format!("{column}={value}")))
        .collect()
}

/// A line a reducer logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// `error`, `warn`, `info`, `debug` or `trace`.
    pub level: String,
    /// The text.
    pub message: String,
}

/// What a committed call answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// The commit's offset in the log, durable by the time this is
    /// returned; `None` when the reducer changed nothing (nothing was
    /// logged).
    pub offset: Option<u64>,
    /// What the reducer logged (none for a replayed call).
    pub logs: Vec<LogLine>,
    /// The call was a retry of one already committed with the same
    /// idempotency key: nothing ran this time.
    pub replayed: bool,
}

impl Receipt {
    fn from_answer(answer: &Value) -> Result<Self, DecodeError> {
        let object = crate::json::object(answer, "answer", "call answer")?;
        let logs = match object.get("logs") {
            Some(Value::Array(lines)) => lines
                .iter()
                .map(|l| LogLine {
                    level: l["level"].as_str().unwrap_or("info").to_owned(),
                    message: l["message"].as_str().unwrap_or_default().to_owned(),
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok(Self {
            offset: crate::json::field(object, "offset", "answer")?,
            logs,
            replayed: crate::json::field::<Option<bool>>(object, "replayed", "answer")?
                .unwrap_or(false),
        })
    }
}

/// A reducer call to be made: await it (`.await?` gives the [`Receipt`]
/// once the commit is durable), optionally with an idempotency key first.
#[must_use = "a call does nothing until it is awaited"]
#[derive(Debug)]
pub struct Call {
    client: Client,
    path: String,
    args: Value,
    idempotency_key: Option<String>,
}

impl Call {
    /// Makes the call exactly once per `key`: a retry with the same key
    /// (after a lost answer, or [`ErrorCode::OutcomeUnknown`]) runs nothing
    /// and answers the first commit's offset, `replayed` set.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// Sends the call and waits for the node's answer.
    pub async fn send(self) -> Result<Receipt, Error> {
        let mut request = self
            .client
            .request(reqwest::Method::POST, &self.path)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(self.args.to_string());
        if let Some(key) = &self.idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        let response = self.client.send(request).await?;
        let answer: Value = response
            .json()
            .await
            .map_err(|e| self.client.unreachable(e))?;
        Ok(Receipt::from_answer(&answer)?)
    }
}

impl IntoFuture for Call {
    type Output = Result<Receipt, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn addresses_are_checked_and_trimmed() {
        assert_eq!(
            Client::new("http://127.0.0.1:7700/").unwrap().url(),
            "http://127.0.0.1:7700"
        );
        let err = Client::new("127.0.0.1:7700").unwrap_err();
        assert!(err.to_string().contains("http://HOST:PORT"), "{err}");
    }

    #[test]
    fn receipts_read_the_node_answer() {
        let r = Receipt::from_answer(&json!({
            "offset": 3, "logs": [{"level": "info", "message": "hi"}], "replayed": false
        }))
        .unwrap();
        assert_eq!(r.offset, Some(3));
        assert_eq!(r.logs[0].message, "hi");
        let r = Receipt::from_answer(&json!({"offset": null, "logs": []})).unwrap();
        assert_eq!((r.offset, r.replayed), (None, false));
    }

    #[test]
    fn filters_are_json_values() {
        assert_eq!(
            where_query(&[("name".into(), json!("ada")), ("id".into(), json!(3))]),
            [
                ("where".to_owned(), "name=\"ada\"".to_owned()),
                ("where".to_owned(), "id=3".to_owned())
            ]
        );
    }
}
