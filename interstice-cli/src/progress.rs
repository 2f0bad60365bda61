//! A progress bar on stderr for long reads of a log (replays, dumps,
//! inspection), drawn only when stderr is a terminal and the log holds
//! more than a few thousand commits.

use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use interstice_log::{
    CommitBatch, CommitStream, Error, LogStore, PrefixReport, TruncateReport, VerifyReport,
};

/// Fewer commits than this read too fast to need a bar.
const MIN_COMMITS: u64 = 5_000;

/// A store whose reads tick a progress bar.
#[derive(Debug)]
pub struct Progress {
    inner: Arc<dyn LogStore>,
    what: &'static str,
}

/// Wraps `store` so that `read_from` shows progress, labelled `what`.
pub fn wrap(store: Arc<dyn LogStore>, what: &'static str) -> Arc<dyn LogStore> {
    Arc::new(Progress { inner: store, what })
}

#[async_trait]
impl LogStore for Progress {
    async fn append(&self, batch: &CommitBatch) -> Result<(), Error> {
        self.inner.append(batch).await
    }

    async fn read_from(&self, from: u64) -> Result<CommitStream, Error> {
        let stream = self.inner.read_from(from).await?;
        let total = self
            .inner
            .last_offset()
            .await?
            .map_or(0, |last| (last + 1).saturating_sub(from));
        if total < MIN_COMMITS {
            return Ok(stream);
        }
        let bar = ProgressBar::new(total).with_style(
            ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} commits ({per_sec}, {eta})")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar.set_message(self.what);
        let done = bar.clone();
        Ok(Box::pin(stream.inspect(move |_| bar.inc(1)).chain(
            futures::stream::poll_fn(move |_| {
                done.finish_and_clear();
                std::task::Poll::Ready(None)
            }),
        )))
    }

    async fn last_offset(&self) -> Result<Option<u64>, Error> {
        self.inner.last_offset().await
    }

    async fn first_offset(&self) -> Result<u64, Error> {
        self.inner.first_offset().await
    }

    async fn remove_before(&self, before: u64) -> Result<PrefixReport, Error> {
        self.inner.remove_before(before).await
    }

    async fn verify(&self) -> Result<VerifyReport, Error> {
        let spinner = ProgressBar::new_spinner().with_message(format!("{}...", self.what));
        spinner.enable_steady_tick(std::time::Duration::from_millis(120));
        let report = self.inner.verify().await;
        spinner.finish_and_clear();
        report
    }

    async fn truncate(&self, from: u64) -> Result<TruncateReport, Error> {
        self.inner.truncate(from).await
    }

    async fn refresh(&self) -> Result<u64, Error> {
        self.inner.refresh().await
    }

    async fn release(&self) -> Result<(), Error> {
        self.inner.release().await
    }
}
