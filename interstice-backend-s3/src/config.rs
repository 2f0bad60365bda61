//! Where an S3 log lives and how to reach it.

use std::sync::Arc;
use std::time::Duration;

use interstice_log::Error;
use object_store::aws::AmazonS3Builder;
use object_store::{ClientOptions, ObjectStore, RetryConfig};

/// The location of a log (`s3://bucket/prefix`) and the connection
/// settings. Anything left `None` comes from the usual `AWS_*` variables
/// (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, ...), as the AWS tools read them.
#[derive(Clone, Debug, Default)]
pub struct S3Config {
    /// The bucket.
    pub bucket: String,
    /// The key prefix of the log inside the bucket (no leading or trailing
    /// `/` needed).
    pub prefix: String,
    /// The server, e.g. `http://127.0.0.1:3900`; `None` for AWS itself or
    /// `AWS_ENDPOINT_URL`.
    pub endpoint: Option<String>,
    /// The signing region (Garage requires its `s3_region`).
    pub region: Option<String>,
    /// Access key id.
    pub access_key_id: Option<String>,
    /// Secret access key.
    pub secret_access_key: Option<String>,
    /// The operator guarantees there is only one writer. Needed to write
    /// to a server that does not enforce create-only puts (see
    /// `docs/s3.md`); never needed otherwise.
    pub single_writer: bool,
    /// Per-request timeout (default 30 s).
    pub request_timeout: Option<Duration>,
    /// Retries of a failed request (timeouts, 5xx) with exponential backoff
    /// (default 5).
    pub max_retries: Option<usize>,
    /// Objects fetched at once when reading (default 8).
    pub fetch_concurrency: Option<usize>,
}

impl S3Config {
    /// A log at `s3://bucket/prefix`; the rest from the environment.
    pub fn new(bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            prefix: prefix.into(),
            ..Self::default()
        }
    }

    /// Parses `s3://bucket/prefix`.
    pub fn from_url(url: &str) -> Result<Self, Error> {
        let rest = url.strip_prefix("s3://").ok_or_else(|| {
            Error::InvalidOptions(format!("`{url}` is not an s3://bucket/prefix address"))
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(Error::InvalidOptions(format!("`{url}` names no bucket")));
        }
        Ok(Self::new(bucket, prefix.trim_matches('/')))
    }

    /// The server's address.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// The signing region.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Static credentials.
    pub fn credentials(mut self, key_id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.access_key_id = Some(key_id.into());
        self.secret_access_key = Some(secret.into());
        self
    }

    /// See [`S3Config::single_writer`].
    pub fn single_writer(mut self, yes: bool) -> Self {
        self.single_writer = yes;
        self
    }

    /// See [`S3Config::request_timeout`].
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }

    /// See [`S3Config::max_retries`].
    pub fn max_retries(mut self, retries: usize) -> Self {
        self.max_retries = Some(retries);
        self
    }

    /// `s3://bucket/prefix`, for messages.
    pub fn location(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }

    /// Builds the client: path-style addressing, plain HTTP allowed for an
    /// `http://` endpoint, and object_store's own retries with backoff for
    /// timeouts and 5xx answers (never for a failed precondition).
    pub fn client(&self) -> Result<Arc<dyn ObjectStore>, Error> {
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(&self.bucket)
            .with_virtual_hosted_style_request(false);
        if let Some(e) = &self.endpoint {
            b = b.with_endpoint(e);
        }
        if let Some(r) = &self.region {
            b = b.with_region(r);
        }
        if let Some(k) = &self.access_key_id {
            b = b.with_access_key_id(k);
        }
        if let Some(s) = &self.secret_access_key {
            b = b.with_secret_access_key(s);
        }
        let endpoint = self
            .endpoint
            .clone()
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
            .unwrap_or_default();
        let timeout = self.request_timeout.unwrap_or(Duration::from_secs(30));
        b = b
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(endpoint.starts_with("http://"))
                    .with_timeout(timeout)
                    .with_connect_timeout(Duration::from_secs(5)),
            )
            .with_retry(RetryConfig {
                max_retries: self.max_retries.unwrap_or(5),
                retry_timeout: timeout * 4,
                ..RetryConfig::default()
            });
        let store = b.build().map_err(|e| Error::Backend {
            message: format!("cannot configure S3 for {}: {e}", self.location()),
            source: Some(Box::new(e)),
        })?;
        Ok(Arc::new(store))
    }
}
