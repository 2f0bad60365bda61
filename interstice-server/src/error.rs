//! Errors as HTTP answers: a status and a JSON body naming the problem,
//! `{"error": {"code": "...", "message": "..."}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use interstice_abi::NotFound;
use interstice_core::query::QueryError;
use interstice_core::{CallError, CallErrorKind, PublishError, Stopped};

/// A request that could not be served.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable, machine-readable name for the problem (`no_such_module`).
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 with `code`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404 with `code`.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": { "code": self.code, "message": self.message }
        });
        (self.status, Json(body)).into_response()
    }
}

impl From<CallError> for ApiError {
    fn from(e: CallError) -> Self {
        use CallErrorKind as K;
        use StatusCode as S;
        let status = match &e.kind {
            K::NoSuchModule | K::NoSuchReducer => S::NOT_FOUND,
            K::BadArguments { .. } => S::BAD_REQUEST,
            K::Failed { .. } | K::Limit { .. } | K::RequestIdReused { .. } => {
                S::UNPROCESSABLE_ENTITY
            }
            K::Table(_) => S::CONFLICT,
            K::Capability { .. } => S::FORBIDDEN,
            K::Follower => S::MISDIRECTED_REQUEST,
            K::Log(_) | K::Stopped { .. } => S::SERVICE_UNAVAILABLE,
            _ => S::INTERNAL_SERVER_ERROR,
        };
        let code = e.code();
        Self::new(status, code, e.to_string())
    }
}

impl From<NotFound> for ApiError {
    fn from(e: NotFound) -> Self {
        let code = match &e {
            NotFound::Module { .. } => "no_such_module",
            NotFound::Table { .. } => "no_such_table",
            NotFound::Reducer { .. } => "no_such_reducer",
            _ => "not_found",
        };
        Self::not_found(code, e.to_string())
    }
}

impl From<Stopped> for ApiError {
    fn from(e: Stopped) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            e.to_string(),
        )
    }
}

impl From<PublishError> for ApiError {
    fn from(e: PublishError) -> Self {
        use StatusCode as S;
        let (status, code) = match e {
            PublishError::Commit(call) => return call.into(),
            PublishError::Stopped(stopped) => return stopped.into(),
            PublishError::Incompatible { .. } => (S::CONFLICT, "incompatible_schema"),
            PublishError::SubscriptionCycle(_) => (S::CONFLICT, "subscription_cycle"),
            PublishError::Capability(_) => (S::FORBIDDEN, "capability_violation"),
            PublishError::TooLarge { .. } => (S::UNPROCESSABLE_ENTITY, "limit_exceeded"),
            PublishError::Migration(_) => (S::UNPROCESSABLE_ENTITY, "migration_failed"),
            PublishError::NoSuchModule(_) => (S::NOT_FOUND, "no_such_module"),
            PublishError::InUse { .. } => (S::CONFLICT, "module_in_use"),
            _ => (S::BAD_REQUEST, "invalid_module"),
        };
        Self::new(status, code, e.to_string())
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        let code = match &e {
            QueryError::BadArguments { .. } | QueryError::Encoding(_) => "bad_arguments",
            _ => "bad_filter",
        };
        Self::bad_request(code, e.to_string())
    }
}
