//! What a request must look like to be served, whatever its token: the
//! doors a web browser would otherwise open to any page it visits.
//!
//! - `Host` must name the node (on a loopback listener: the loopback
//!   address or `localhost`, with the node's port), so a page on another
//!   name that resolves to 127.0.0.1 (DNS rebinding) is refused.
//! - `Origin`, when a browser sends one, must be the node's own.
//! - Bodies must say what they are: `application/json` for calls,
//!   `application/wasm` (or `application/octet-stream`) for modules. A
//!   page can POST `text/plain` anywhere without asking; these types it
//!   cannot send cross-site without a preflight the node never answers.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, HOST, ORIGIN};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::NodeState;
use crate::error::ApiError;

/// Refuses a request whose `Host` or `Origin` is not the node's (403).
pub(crate) async fn same_site(
    State(state): State<Arc<NodeState>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(listen) = state.listen.get() else {
        return next.run(request).await;
    };
    let headers = request.headers();
    let host = headers.get(HOST).and_then(|h| h.to_str().ok());
    let Some(host) = host.filter(|h| host_allowed(h, *listen)) else {
        return forbidden(
            "bad_host",
            format!(
                "the Host header ({}) does not name this node ({listen})",
                host.unwrap_or("missing")
            ),
        );
    };
    if let Some(origin) = headers.get(ORIGIN) {
        let own = format!("http://{host}");
        if origin.to_str().ok() != Some(own.as_str()) {
            return forbidden(
                "bad_origin",
                format!(
                    "requests from {} are refused: this node serves only its own origin {own}",
                    origin.to_str().unwrap_or("(not text)")
                ),
            );
        }
    }
    next.run(request).await
}

/// Whether `host` (a `Host` header) names a node listening on `listen`. A
/// node listening beyond loopback (`--allow-remote`) has names this code
/// cannot know: any host is accepted there, and the token guards it.
fn host_allowed(host: &str, listen: SocketAddr) -> bool {
    if !listen.ip().is_loopback() {
        return true;
    }
    let port = listen.port().to_string();
    let Some((name, p)) = host.rsplit_once(':') else {
        return false;
    };
    let ip = name.trim_start_matches('[').trim_end_matches(']');
    p == port
        && (matches!(name, "localhost" | "127.0.0.1" | "[::1]")
            || ip
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip == listen.ip()))
}

fn forbidden(code: &'static str, message: String) -> Response {
    ApiError::new(StatusCode::FORBIDDEN, code, message).into_response()
}

/// `Ok` when the body's `Content-Type` is one of `allowed` (parameters
/// such as `; charset=utf-8` aside), else 415 naming them.
pub(crate) fn content_type(headers: &HeaderMap, allowed: &[&str]) -> Result<(), ApiError> {
    let given = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    if given.as_deref().is_some_and(|g| allowed.contains(&g)) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        format!(
            "the body must be sent as {} (Content-Type was {})",
            allowed.join(" or "),
            given.as_deref().unwrap_or("missing")
        ),
    ))
}
