//! What an operator reads when the log is not where they said: a missing
//! bucket is named as such, once, without the server's XML, on every
//! server and whether the open would read or create (issue 17, item 8).

use interstice_backend_s3::{S3Config, S3LogStore};
use interstice_log::{Error, LogOptions};
use interstice_testkit::s3::{GARAGE, KEY_ID, MOTO, SECRET, Server};

fn no_bucket(server: Server) -> S3Config {
    server.require();
    S3Config::new("no-such-bucket-here", "app")
        .endpoint(server.endpoint)
        .region(server.region)
        .credentials(KEY_ID, SECRET)
        .max_retries(0)
        .single_writer(true)
}

#[tokio::test]
async fn a_missing_bucket_is_named_once_without_xml() {
    for server in [MOTO, GARAGE] {
        for opts in [
            LogOptions::default().read_only(true),
            LogOptions::default().create(true),
        ] {
            let err = S3LogStore::open(no_bucket(server), opts).await.unwrap_err();
            let text = error_chain(&err);
            assert!(
                matches!(err, Error::NoBucket { ref bucket, .. } if bucket == "no-such-bucket-here"),
                "{}: {text}",
                server.name
            );
            assert!(!text.contains('<'), "{}: {text}", server.name);
            assert_eq!(
                text.matches("no-such-bucket-here").count(),
                1,
                "{}: {text}",
                server.name
            );
        }
    }
}

#[tokio::test]
async fn a_missing_log_in_a_bucket_names_the_bucket_and_prefix() {
    let config = MOTO.config("missing-log");
    let err = S3LogStore::open(config.clone(), LogOptions::default().read_only(true))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    assert!(err.to_string().contains(&config.location()), "{err}");
}

/// The error and its sources, as the CLI prints them.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
