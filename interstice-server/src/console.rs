//! The web console at `/`: one page, its script and its style, built into
//! the binary (no request leaves the node). It uses only the public API,
//! with the token the user gives it (kept for the browser tab only). Also
//! `GET /v1/graph`, the module graph as SVG, which the page shows.

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};

use crate::routes::Shared;

const INDEX: &str = include_str!("console/index.html");
const SCRIPT: &str = include_str!("console/console.js");
const STYLE: &str = include_str!("console/console.css");

/// Only this node's own script, style, API and inline SVG.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn asset(body: &'static str, kind: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, kind),
            (CACHE_CONTROL, "no-cache"),
            (CONTENT_SECURITY_POLICY, POLICY),
        ],
        body,
    )
        .into_response()
}

pub(crate) async fn index() -> Response {
    asset(INDEX, "text/html; charset=utf-8")
}

pub(crate) async fn script() -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

pub(crate) async fn style() -> Response {
    asset(STYLE, "text/css; charset=utf-8")
}

/// `GET /v1/graph`: the published modules, their tables and reducers, and
/// who writes, calls and triggers what, as SVG (`interstice graph`'s).
pub(crate) async fn graph(State(s): Shared) -> Response {
    let svg = interstice_core::graph::svg::render(&s.runtime.graph());
    ([(CONTENT_TYPE, "image/svg+xml")], svg).into_response()
}
