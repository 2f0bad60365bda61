//! A `mockall` double of [`LogStore`] (feature `mock`), for unit tests of
//! the runtime and the ReplayEngine: set expectations per method, make
//! appends fail or stall, feed reads a crafted stream.

use async_trait::async_trait;

use crate::{
    CommitBatch, CommitStream, Error, LogStore, PrefixReport, TruncateReport, VerifyReport,
};

mockall::mock! {
    /// A [`LogStore`] whose every method is an expectation.
    pub LogStore {}

    impl std::fmt::Debug for LogStore {
        fn fmt<'a>(&self, f: &mut std::fmt::Formatter<'a>) -> std::fmt::Result;
    }

    #[async_trait]
    impl LogStore for LogStore {
        async fn append(&self, batch: &CommitBatch) -> Result<(), Error>;
        async fn read_from(&self, from: u64) -> Result<CommitStream, Error>;
        async fn last_offset(&self) -> Result<Option<u64>, Error>;
        async fn first_offset(&self) -> Result<u64, Error>;
        async fn remove_before(&self, before: u64) -> Result<PrefixReport, Error>;
        async fn verify(&self) -> Result<VerifyReport, Error>;
        async fn truncate(&self, from: u64) -> Result<TruncateReport, Error>;
    }
}
