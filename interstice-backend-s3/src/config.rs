//! Where an S3 log lives and how to reach it.

use std::sync::Arc;
use std::time::Duration;

use interstice_log::Error;
use object_store::aws::AmazonS3Builder;
use object_store::{ClientOptions, ObjectStore, RetryConfig};

/// Appends a writer keeps in flight unless [`S3Config::inflight`] says
/// otherwise (`docs/s3.md`, "Pipelined appends").
pub const DEFAULT_INFLIGHT: usize = 16;

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
    /// Appends (objects) a writer keeps in flight at once (default
    /// [`DEFAULT_INFLIGHT`]); each is still acknowledged only once it and
    /// every one before it is stored. 1 writes one object at a time.
    pub inflight: Option<usize>,
    /// Take credentials from the cloud machine's instance-metadata service
    /// (an AWS instance role) when none are configured. Off by default:
    /// without credentials, opening fails at once, saying where it looked,
    /// instead of asking a metadata address that outside a cloud machine
    /// only times out.
    pub instance_metadata: bool,
    /// How a writable open treats the writer lease (`docs/s3.md`,
    /// "Leases"): by default it refuses while another writer holds one.
    pub writer_lease: WriterLease,
    /// Take the log from a writer whose lease is fresh: this store takes
    /// the lease and appends a take-over commit at once, so the other
    /// writer's next append fails as fenced and it stops.
    pub take_over: bool,
}

/// What a writable open does about the writer lease: the object a serving
/// node keeps renewing (its heartbeat) while it writes the log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum WriterLease {
    /// Refuse ([`Error::InUse`], naming the node) while another writer's
    /// lease is fresh and being renewed.
    #[default]
    Respect,
    /// Respect, then hold the lease while open, renewing it (a serving
    /// node; `node` is the address callers should use instead).
    Hold {
        /// Where this writer answers calls.
        node: Option<String>,
    },
    /// Neither check nor hold it: for a store that will not append
    /// commits (compaction, which is safe beside a writer).
    Ignore,
}

/// Where credentials may come from without the instance-metadata service,
/// as the AWS tools read them.
const CREDENTIAL_SOURCES: &str = "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; \
AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN; AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or \
AWS_CONTAINER_CREDENTIALS_FULL_URI; AWS_SKIP_SIGNATURE=true for a public bucket";

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

    /// See [`S3Config::inflight`].
    pub fn inflight(mut self, n: usize) -> Self {
        self.inflight = Some(n);
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

    /// See [`S3Config::writer_lease`].
    pub fn writer_lease(mut self, lease: WriterLease) -> Self {
        self.writer_lease = lease;
        self
    }

    /// See [`S3Config::take_over`].
    pub fn take_over(mut self, yes: bool) -> Self {
        self.take_over = yes;
        self
    }

    /// `s3://bucket/prefix`, for messages.
    pub fn location(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }

    /// The server asked, for messages: the endpoint (given, or
    /// `AWS_ENDPOINT_URL`), else AWS S3 in the region.
    pub fn endpoint_name(&self) -> String {
        self.endpoint
            .clone()
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
            .unwrap_or_else(|| {
                let region = self
                    .region
                    .clone()
                    .or_else(|| std::env::var("AWS_REGION").ok())
                    .unwrap_or_else(|| "us-east-1".into());
                format!("AWS S3 ({region})")
            })
    }

    /// Why no credentials can be found without the instance-metadata
    /// service (which only [`S3Config::instance_metadata`] allows), with
    /// where they were looked for and how to give them; `None` when some
    /// are there. `env` reads a variable.
    pub fn missing_credentials(&self, env: impl Fn(&str) -> Option<String>) -> Option<String> {
        let set = |k: &str| env(k).is_some_and(|v| !v.is_empty());
        let keys = (self.access_key_id.is_some() || set("AWS_ACCESS_KEY_ID"))
            && (self.secret_access_key.is_some() || set("AWS_SECRET_ACCESS_KEY"));
        let found = keys
            || set("AWS_WEB_IDENTITY_TOKEN_FILE") && set("AWS_ROLE_ARN")
            || set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
            || set("AWS_CONTAINER_CREDENTIALS_FULL_URI")
            || env("AWS_SKIP_SIGNATURE").is_some_and(|v| v.eq_ignore_ascii_case("true"))
            || self.instance_metadata;
        (!found).then(|| {
            format!(
                "no S3 credentials for {}: looked for {CREDENTIAL_SOURCES}. Set \
                 AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or on a cloud machine whose \
                 instance role grants access, pass --s3-instance-credentials",
                self.location()
            )
        })
    }

    /// Builds the client: path-style addressing, plain HTTP allowed for an
    /// `http://` endpoint, and object_store's own retries with backoff for
    /// timeouts and 5xx answers (never for a failed precondition).
    pub fn client(&self) -> Result<Arc<dyn ObjectStore>, Error> {
        if let Some(message) = self.missing_credentials(|k| std::env::var(k).ok()) {
            return Err(Error::Backend {
                message,
                source: None,
            });
        }
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
        if !self.instance_metadata {
            // Never fall back to the metadata address: asked for above.
            b = b.with_metadata_endpoint("http://127.0.0.1:9");
        }
        let store = b.build().map_err(|e| Error::Backend {
            message: format!("cannot configure S3 for {}: {e}", self.location()),
            source: Some(Box::new(e)),
        })?;
        Ok(Arc::new(store))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn without_credentials_it_says_where_it_looked_instead_of_asking_the_metadata_service() {
        let config = S3Config::new("bucket", "log");
        let message = config
            .missing_credentials(env(&[]))
            .expect("no credentials");
        assert!(message.contains("s3://bucket/log"), "{message}");
        assert!(
            message.contains("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
            "{message}"
        );
        assert!(message.contains("--s3-instance-credentials"), "{message}");
        // A key id alone is not enough.
        assert!(
            config
                .missing_credentials(env(&[("AWS_ACCESS_KEY_ID", "k")]))
                .is_some()
        );
        // Any one source is.
        for vars in [
            &[("AWS_ACCESS_KEY_ID", "k"), ("AWS_SECRET_ACCESS_KEY", "s")][..],
            &[
                ("AWS_WEB_IDENTITY_TOKEN_FILE", "/t"),
                ("AWS_ROLE_ARN", "arn"),
            ],
            &[("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/creds")],
            &[("AWS_SKIP_SIGNATURE", "true")],
        ] {
            assert_eq!(config.missing_credentials(env(vars)), None, "{vars:?}");
        }
        let given = S3Config::new("bucket", "log").credentials("k", "s");
        assert_eq!(given.missing_credentials(env(&[])), None);
        let cloud = S3Config {
            instance_metadata: true,
            ..S3Config::new("bucket", "log")
        };
        assert_eq!(cloud.missing_credentials(env(&[])), None);
        // And with none, the client is never built.
        let err = config.client().err().map(|e| e.to_string());
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            assert!(err.is_some_and(|e| e.contains("no S3 credentials")));
        }
    }
}
