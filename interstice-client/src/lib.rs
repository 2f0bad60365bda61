//! The runtime of generated Rust clients of an Interstice node.
//!
//! `interstice generate --lang rust` writes, from module schemas, a type
//! per row and custom type, a function per public reducer and a typed
//! subscription per public table; this crate is what that code builds on.
//! It speaks the node's HTTP API (`docs/http-api.md`): a call is a `POST`
//! answered once its commit is durable, a subscription a Server-Sent Events
//! stream that [`Subscription`] turns into a local copy of the rows,
//! reconnecting when the stream breaks. Values follow the node's JSON
//! mapping through the [`Json`] trait, without loss for 64- and 128-bit
//! integers. `docs/clients.md` shows it in use.
//!
//! ```no_run
//! # async fn example() -> Result<(), interstice_client::Error> {
//! use interstice_client::Client;
//!
//! let node = Client::from_env()?; // INTERSTICE_NODE, INTERSTICE_TOKEN
//! let args = vec![serde_json::json!("ada")];
//! let receipt = node.call("chat", "register", args).await?;
//! println!("committed at {:?}", receipt.offset);
//! # Ok(())
//! # }
//! ```

mod client;
mod error;
pub mod json;
mod read;
mod subscription;

pub use client::{Call, Client, DEFAULT_URL, LogLine, Receipt};
pub use error::{Error, ErrorCode, NodeError};
pub use json::{Bytes, DecodeError, Json};
pub use read::Read;
/// The JSON values generated code builds and reads.
pub use serde_json;
pub use subscription::{Change, Row, Rows, Status, Subscription, SubscriptionBuilder};
