//! The tracing of reducer calls: one span per call (cross-module calls
//! are child spans of their caller's), with who called, what it did and
//! how it ended, and the messages the reducers logged, traced once the
//! call has ended so that they carry its offset.
//!
//! Call spans are at `DEBUG` under the target `interstice::call`, so that
//! a node at the default level pays one check of the filter per call for
//! them (`--log-level interstice::call=debug` shows them). The fields:
//!
//! | field | value |
//! |---|---|
//! | `module`, `reducer` | the reducer called |
//! | `caller` | `client`, `reducer` (a cross-module call), or `subscription` |
//! | `by` | for a cross-module call, the calling `module.reducer`; for a subscription, the event that triggered it (`chat.messages.insert`) |
//! | `cause` | for a subscription, the offset of the commit that triggered it |
//! | `offset` | the commit's offset (top-level calls that committed) |
//! | `duration_us` | time the reducer ran, nested calls included |
//! | `fuel`, `rows_read`, `rows_written` | what it used and did |
//! | `bytes` | bytes of the commit's frame (top-level calls) |
//! | `outcome` | `committed`, `unchanged` (nothing to log), or an error code ([`crate::CallError::code`]) |

use interstice_abi::wasm::LogLevel;
use tracing::Span;
use tracing::field::Empty;

use crate::host::state::Logged;
use crate::observe::{Figures, ReducerStats};

/// A call being observed: its span, and whether it is counted (see
/// [`crate::WasmHost::observing`]).
pub(crate) struct Observed {
    span: Span,
    on: bool,
}

impl Observed {
    /// Starts observing a call of `module.reducer` made `by`; when `on`
    /// is false, nothing is traced or counted.
    pub(crate) fn start(on: bool, module: &str, reducer: &str, by: CalledBy<'_>) -> Self {
        let span = if on {
            call_span(module, reducer, by)
        } else {
            Span::none()
        };
        Self { span, on }
    }

    /// Enters its span: what is traced meanwhile is inside the call.
    pub(crate) fn enter(&self) -> tracing::span::Entered<'_> {
        self.span.enter()
    }

    /// Counts the call in `stats` and records how it ended on its span:
    /// `Ok(outcome)` (`committed`, `unchanged`, `ok`) or `Err(code)`.
    pub(crate) fn end(
        &self,
        stats: &ReducerStats,
        figures: &Figures,
        offset: Option<u64>,
        result: Result<&'static str, &'static str>,
    ) {
        if !self.on {
            return;
        }
        stats.record(figures, result.err());
        let (Ok(outcome) | Err(outcome)) = result;
        ended(&self.span, figures, offset, outcome);
    }

    /// Records a call refused before it ran (no reducer to count it on).
    pub(crate) fn refused(&self, code: &'static str) {
        if self.on {
            ended(&self.span, &Figures::default(), None, code);
        }
    }
}

/// Who made a call, for its span.
#[derive(Clone, Copy, Debug)]
pub(crate) enum CalledBy<'a> {
    /// A client (a caller of the runtime).
    Client,
    /// Another reducer, `module.reducer`, inside its transaction.
    Reducer(&'a str, &'a str),
    /// A subscription: the event that triggered it, and the commit.
    Subscription { trigger: &'a str, cause: u64 },
    /// A schedule: its table (`module.table`), and when the row was due.
    Schedule { table: &'a str, due: u64 },
}

/// The span of a call of `module.reducer`, a child of the current span.
fn call_span(module: &str, reducer: &str, by: CalledBy<'_>) -> Span {
    let span = tracing::debug_span!(
        target: "interstice::call",
        "call",
        module,
        reducer,
        caller = Empty,
        by = Empty,
        cause = Empty,
        due = Empty,
        offset = Empty,
        duration_us = Empty,
        fuel = Empty,
        rows_read = Empty,
        rows_written = Empty,
        bytes = Empty,
        outcome = Empty,
    );
    if span.is_disabled() {
        return span;
    }
    match by {
        CalledBy::Client => {
            span.record("caller", "client");
        }
        CalledBy::Reducer(m, r) => {
            span.record("caller", "reducer");
            span.record("by", tracing::field::display(format_args!("{m}.{r}")));
        }
        CalledBy::Subscription { trigger, cause } => {
            span.record("caller", "subscription");
            span.record("by", trigger);
            span.record("cause", cause);
        }
        CalledBy::Schedule { table, due } => {
            span.record("caller", "schedule");
            span.record("by", table);
            span.record("due", due);
        }
    }
    span
}

/// Records how a call ended on its span.
fn ended(span: &Span, figures: &Figures, offset: Option<u64>, outcome: &str) {
    if span.is_disabled() {
        return;
    }
    if let Some(offset) = offset {
        span.record("offset", offset);
    }
    span.record("duration_us", figures.micros);
    span.record("fuel", figures.fuel);
    span.record("rows_read", figures.rows_read);
    span.record("rows_written", figures.rows_written);
    if figures.bytes > 0 {
        span.record("bytes", figures.bytes);
    }
    span.record("outcome", outcome);
}

/// Traces what the reducers of a call logged (target
/// `interstice::module`), with the call's offset when it committed.
pub(crate) fn trace_logs(logs: &[Logged], offset: Option<u64>) {
    for l in logs {
        let (module, reducer, msg) = (&*l.module, &*l.reducer, &l.message);
        match l.level {
            LogLevel::Error => {
                tracing::error!(target: "interstice::module", module, reducer, offset, "{msg}")
            }
            LogLevel::Warn => {
                tracing::warn!(target: "interstice::module", module, reducer, offset, "{msg}")
            }
            LogLevel::Info => {
                tracing::info!(target: "interstice::module", module, reducer, offset, "{msg}")
            }
            LogLevel::Debug => {
                tracing::debug!(target: "interstice::module", module, reducer, offset, "{msg}")
            }
        }
    }
}
