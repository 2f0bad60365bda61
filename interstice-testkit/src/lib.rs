//! What the workspace's tests and benchmarks share, so that no test file
//! reaches into another crate's: the example modules as built
//! ([`built`]), test modules written in WAT ([`wasm_modules`]), schemas
//! and whole-database helpers ([`schemas`]), calls under load and what the
//! log must hold after them ([`calls`]), the benchmarks' measurements
//! ([`measure`]), a reader of Chrome trace-event files
//! ([`trace_events`]), and, with the `s3` feature, the S3 test servers
//! ([`s3`]). Not published: it exists for this workspace's tests.

pub mod bank;
pub mod built;
pub mod calls;
pub mod evolving;
pub mod measure;
#[cfg(feature = "s3")]
pub mod s3;
pub mod schemas;
pub mod trace_events;
pub mod wasm_modules;
