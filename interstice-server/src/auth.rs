//! Who a request is: bearer tokens and the role they give.
//!
//! The node has up to two tokens. The callers' token (when set) is needed
//! for every request; the admin token (when set) is needed to publish and
//! to call private reducers, and is accepted wherever the callers' token
//! is. Tokens are compared in constant time (`subtle`).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::NodeState;
use crate::error::ApiError;

/// What a request may do, put in its extensions by [`require_token`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// Calls public reducers, reads, subscribes; publishes only when the
    /// node has no admin token.
    Client,
    /// Carried the admin token: also publishes and calls private reducers.
    Admin,
}

impl Role {
    /// `Ok` when this role may publish on a node configured as `state` is.
    pub(crate) fn may_publish(self, state: &NodeState) -> Result<(), ApiError> {
        if self == Role::Admin || state.config.admin_token.is_none() {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "admin_only",
            "publishing needs the node's admin token (`Authorization: Bearer <admin token>`)",
        ))
    }
}

/// Refuses requests without a token the node accepts (when it has one) with
/// 401, and tells the handlers the request's [`Role`].
pub(crate) async fn require_token(
    State(state): State<Arc<NodeState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let given = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let matches = |token: &Option<String>| {
        token
            .as_deref()
            .zip(given)
            .is_some_and(|(t, g)| bool::from(t.as_bytes().ct_eq(g.as_bytes())))
    };
    let role = if matches(&state.config.admin_token) {
        Role::Admin
    } else if state.config.token.is_none() || matches(&state.config.token) {
        Role::Client
    } else if given.is_some() {
        return unauthorized("the bearer token is wrong");
    } else {
        return unauthorized("this node needs `Authorization: Bearer <token>`");
    };
    request.extensions_mut().insert(role);
    next.run(request).await
}

fn unauthorized(message: &str) -> Response {
    let mut response =
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response();
    response
        .headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}
