//! What can go wrong talking to a node: its error answers, typed by code
//! (`docs/http-api.md`, "Errors"), and the transport's failures.

use std::fmt;

use crate::json::DecodeError;

/// The error codes a node answers with (`{"error": {"code": ...}}`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `reducer_failed`: the reducer returned an error; nothing committed.
    ReducerFailed,
    /// `reducer_trapped`: the reducer panicked or trapped.
    ReducerTrapped,
    /// `bad_arguments`: the arguments do not fit the reducer's parameters.
    BadArguments,
    /// `table_constraint`: a unique index or a missing row refused the change.
    TableConstraint,
    /// `limit_exceeded`: fuel, memory, row, write-set or commit size.
    LimitExceeded,
    /// `capability_violation`: the reducer did something it may not.
    CapabilityViolation,
    /// `request_id_reused`: the idempotency key went with another call.
    RequestIdReused,
    /// `bad_request_id`: the idempotency key is empty, too long or not text.
    BadRequestId,
    /// `outcome_unknown`: the commit may or may not be in the log; retry
    /// with the same idempotency key once a node serves the log again.
    OutcomeUnknown,
    /// `store_unavailable`: the log failed; nothing of this call committed.
    StoreUnavailable,
    /// `follower`: this node only follows the log; call the writer.
    Follower,
    /// `unauthorized`: the token is missing or wrong.
    Unauthorized,
    /// `admin_only`: publishing needs the admin token.
    AdminOnly,
    /// `private_reducer`: a private reducer needs the admin token.
    PrivateReducer,
    /// `no_such_module`.
    NoSuchModule,
    /// `no_such_reducer`.
    NoSuchReducer,
    /// `no_such_table`.
    NoSuchTable,
    /// `no_such_offset`: a commit the log does not hold.
    NoSuchOffset,
    /// `bad_filter`: a `where` filter is wrong.
    BadFilter,
    /// `bad_query`: the query string is wrong.
    BadQuery,
    /// `too_many_subscribers`: the node's subscription limit.
    TooManySubscribers,
    /// `too_many_connections`: the node's connection limit.
    TooManyConnections,
    /// `body_too_large`: more than 1 MiB of arguments.
    BodyTooLarge,
    /// Any other code (the node's, as it sent it).
    Other(String),
}

impl ErrorCode {
    /// The code as the node writes it.
    pub fn parse(code: &str) -> Self {
        match code {
            "reducer_failed" => Self::ReducerFailed,
            "reducer_trapped" => Self::ReducerTrapped,
            "bad_arguments" => Self::BadArguments,
            "table_constraint" => Self::TableConstraint,
            "limit_exceeded" => Self::LimitExceeded,
            "capability_violation" => Self::CapabilityViolation,
            "request_id_reused" => Self::RequestIdReused,
            "bad_request_id" => Self::BadRequestId,
            "outcome_unknown" => Self::OutcomeUnknown,
            "store_unavailable" => Self::StoreUnavailable,
            "follower" => Self::Follower,
            "unauthorized" => Self::Unauthorized,
            "admin_only" => Self::AdminOnly,
            "private_reducer" => Self::PrivateReducer,
            "no_such_module" => Self::NoSuchModule,
            "no_such_reducer" => Self::NoSuchReducer,
            "no_such_table" => Self::NoSuchTable,
            "no_such_offset" => Self::NoSuchOffset,
            "bad_filter" => Self::BadFilter,
            "bad_query" => Self::BadQuery,
            "too_many_subscribers" => Self::TooManySubscribers,
            "too_many_connections" => Self::TooManyConnections,
            "body_too_large" => Self::BodyTooLarge,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The code as the node writes it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::ReducerFailed => "reducer_failed",
            Self::ReducerTrapped => "reducer_trapped",
            Self::BadArguments => "bad_arguments",
            Self::TableConstraint => "table_constraint",
            Self::LimitExceeded => "limit_exceeded",
            Self::CapabilityViolation => "capability_violation",
            Self::RequestIdReused => "request_id_reused",
            Self::BadRequestId => "bad_request_id",
            Self::OutcomeUnknown => "outcome_unknown",
            Self::StoreUnavailable => "store_unavailable",
            Self::Follower => "follower",
            Self::Unauthorized => "unauthorized",
            Self::AdminOnly => "admin_only",
            Self::PrivateReducer => "private_reducer",
            Self::NoSuchModule => "no_such_module",
            Self::NoSuchReducer => "no_such_reducer",
            Self::NoSuchTable => "no_such_table",
            Self::NoSuchOffset => "no_such_offset",
            Self::BadFilter => "bad_filter",
            Self::BadQuery => "bad_query",
            Self::TooManySubscribers => "too_many_subscribers",
            Self::TooManyConnections => "too_many_connections",
            Self::BodyTooLarge => "body_too_large",
            Self::Other(code) => code,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error answer from the node: nothing of the request committed, except
/// possibly under [`ErrorCode::OutcomeUnknown`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} ({status} {code})")]
pub struct NodeError {
    /// The HTTP status.
    pub status: u16,
    /// What kind of error.
    pub code: ErrorCode,
    /// The node's message, naming the problem.
    pub message: String,
}

/// Why a request to a node failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The node answered with an error.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// The node could not be reached, or the connection broke.
    #[error("cannot reach the node at {url}: {source}")]
    Unreachable {
        /// The node's address.
        url: String,
        /// What the HTTP client saw.
        #[source]
        source: reqwest::Error,
    },
    /// The node's answer does not fit the types this client was generated
    /// with (a schema changed incompatibly: generate the client again).
    #[error("the node's answer does not fit this client: {0}")]
    Decode(#[from] DecodeError),
    /// The node's answer is not what its API says.
    #[error("the node answered something unexpected: {0}")]
    Protocol(String),
    /// The client is configured wrongly.
    #[error("{0}")]
    Config(String),
}

impl Error {
    /// The node's error code, if the node answered with one.
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            Self::Node(e) => Some(&e.code),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_back_as_written() {
        for code in [
            "reducer_failed",
            "outcome_unknown",
            "no_such_table",
            "too_many_subscribers",
            "something_new",
        ] {
            assert_eq!(ErrorCode::parse(code).as_str(), code);
        }
        assert_eq!(
            ErrorCode::parse("something_new"),
            ErrorCode::Other("something_new".into())
        );
    }
}
