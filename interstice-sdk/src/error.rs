//! What can go wrong in a module, as a module sees it.

use std::fmt;

/// A failed table operation or cross-module call. Most of them (a
/// duplicate key, a capability violation) also abort the transaction, so a
/// reducer usually returns them with `?`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The host refused the operation; the message says why.
    Host(String),
    /// Bytes from the host did not decode as the expected type.
    Decode(String),
    /// A cross-module reducer call failed (its writes are undone).
    Call {
        /// `module.reducer` that was called.
        reducer: String,
        /// Its error.
        message: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Host(m) => f.write_str(m),
            Error::Decode(m) => write!(f, "cannot decode {m}"),
            Error::Call { reducer, message } => write!(f, "call to {reducer} failed: {message}"),
        }
    }
}

impl std::error::Error for Error {}

/// So reducers returning `Result<(), String>` can use `?` on table calls.
impl From<Error> for String {
    fn from(e: Error) -> String {
        e.to_string()
    }
}
