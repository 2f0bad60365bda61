//! `call`: a public reducer of another module, run inside the caller's
//! transaction. Its writes are undone if it fails; the caller may go on.

use std::sync::Arc;

use interstice_abi::wasm::OK;
use interstice_abi::{Visibility, decode_value};
use wasmtime::Caller;

use super::{Result, doomed, fail, read_bytes, read_str};
use crate::error::{CallError, CallErrorKind, LimitKind};
use crate::host::state::{HostState, Timed};
use crate::host::{CompiledModule, Invocation, ReducerEntry, run};
use crate::observe::Figures;
use crate::spans::{CalledBy, Observed};

/// `call(module, reducer, args)`: [`OK`], or `ERROR` when the callee is
/// refused or fails.
pub(super) fn call(
    mut c: Caller<'_, HostState>,
    mp: i32,
    ml: i32,
    rp: i32,
    rl: i32,
    ap: i32,
    al: i32,
) -> Result<i64> {
    let module = read_str(&mut c, mp, ml)?;
    let reducer = read_str(&mut c, rp, rl)?;
    let args = read_bytes(&mut c, ap, al)?;
    let (target, entry) = match resolve(c.data(), &module, &reducer, &args) {
        Ok(found) => found,
        Err(Refused::Fail(message)) => return Ok(fail(&mut c, message)),
        Err(Refused::CallErrorKind(d)) => return Ok(doomed(c.data_mut(), d)),
    };
    let savepoint = c.data().ws.savepoint();
    let result = run_nested(&mut c, &target, &entry, &args)?;
    let s = c.data_mut();
    let Err(e) = result else {
        return Ok(OK);
    };
    match e.kind {
        CallErrorKind::Failed { message } | CallErrorKind::Trap { message } => {
            s.ws.rollback_to(&mut s.db, savepoint);
            Ok(fail(
                &mut c,
                format!("{module}.{reducer} failed: {message}"),
            ))
        }
        kind @ (CallErrorKind::Capability { .. }
        | CallErrorKind::Table(_)
        | CallErrorKind::Limit { .. }) => Ok(doomed(s, kind)),
        kind => {
            let message = CallError::new(&module, &reducer, kind).to_string();
            Ok(doomed(s, CallErrorKind::capability(message)))
        }
    }
}

/// Why a call is refused before it runs: an error the caller may handle,
/// or a broken rule that dooms the transaction.
enum Refused {
    Fail(String),
    CallErrorKind(CallErrorKind),
}

/// The callee, if the caller may call it with these arguments.
fn resolve(
    s: &HostState,
    module: &str,
    reducer: &str,
    args: &[u8],
) -> std::result::Result<(Arc<CompiledModule>, Arc<ReducerEntry>), Refused> {
    let target = s
        .env
        .modules
        .values()
        .find(|m| m.schema.name == module)
        .cloned()
        .ok_or_else(|| Refused::Fail(format!("no module `{module}`")))?;
    let entry = target
        .reducer(reducer)
        .cloned()
        .ok_or_else(|| Refused::Fail(format!("module `{module}` has no reducer `{reducer}`")))?;
    allowed(s, module, &entry).map_err(Refused::CallErrorKind)?;
    decode_value(&entry.args_type, args)
        .map_err(|e| Refused::Fail(format!("bad arguments for `{module}.{reducer}`: {e}")))?;
    Ok((target, entry))
}

/// The rules of a cross-module call: a public reducer, of a declared
/// dependency, that does not write if the caller may not, within the
/// nesting limit.
fn allowed(
    s: &HostState,
    module: &str,
    entry: &ReducerEntry,
) -> std::result::Result<(), CallErrorKind> {
    let reducer = &entry.schema.name;
    if entry.schema.visibility != Visibility::Public {
        return Err(CallErrorKind::capability(format!(
            "`{}` may not call private reducer `{module}.{reducer}`",
            s.module_name
        )));
    }
    let declared = s
        .env
        .modules
        .get(&s.module_id)
        .is_some_and(|m| m.schema.dependencies.iter().any(|d| d.module == module));
    if !declared {
        return Err(CallErrorKind::capability(format!(
            "`{}` calls `{module}.{reducer}` without declaring a dependency on `{module}`",
            s.module_name
        )));
    }
    if s.read_only && !entry.schema.read_only {
        return Err(CallErrorKind::capability(format!(
            "read-only reducer `{}` may not call `{module}.{reducer}`, which writes",
            s.reducer
        )));
    }
    if s.depth + 1 > s.env.limits.max_call_depth {
        return Err(CallErrorKind::limit(
            LimitKind::CallDepth,
            format!(
                "more than {} nested cross-module calls",
                s.env.limits.max_call_depth
            ),
        ));
    }
    Ok(())
}

/// Runs the callee in an instance of its own, on the caller's database and
/// write set and out of the caller's fuel; takes back what it changed and
/// logged. Counted and traced as a call of its own, in the caller's span.
fn run_nested(
    c: &mut Caller<'_, HostState>,
    target: &Arc<CompiledModule>,
    entry: &ReducerEntry,
    args: &[u8],
) -> Result<std::result::Result<(), CallError>> {
    let fuel = c.get_fuel()?;
    let s = c.data_mut();
    let by = CalledBy::Reducer(&s.module_name, &s.reducer);
    let observed = Observed::start(s.env.observe, &target.name, &entry.name, by);
    let _in_span = observed.enter();
    let (db, ws) = (std::mem::take(&mut s.db), std::mem::take(&mut s.ws));
    let written_before = ws.mutations().len();
    let call = Invocation {
        module: target,
        reducer: entry,
        args,
        ctx: s.ctx,
        fuel,
        depth: s.depth + 1,
    };
    let out = run(s.env.clone(), db, ws, call, None);
    let figures = Figures {
        micros: out.micros,
        fuel: out.fuel_used,
        rows_read: out.rows_read,
        // What a failed callee wrote is undone by the caller.
        rows_written: match out.result {
            Ok(()) => (out.ws.mutations().len() - written_before) as u64,
            Err(_) => 0,
        },
        bytes: 0,
    };
    let result = out.result.as_ref().map(|()| "ok").map_err(CallError::code);
    observed.end(&entry.stats, &figures, None, result);
    let s = c.data_mut();
    s.db = out.db;
    s.ws = out.ws;
    s.ctx.rng = out.rng;
    s.rows_read += out.rows_read;
    // This call, then the ones it made, under it.
    let at = s.calls.len();
    s.calls.push(Timed {
        parent: None,
        module: target.name.clone(),
        reducer: entry.name.clone(),
        start: out.started,
        micros: out.micros,
        failed: out.result.is_err(),
    });
    s.calls.extend(out.calls.into_iter().map(|c| Timed {
        parent: Some(c.parent.map_or(at, |p| at + 1 + p)),
        ..c
    }));
    s.logs.extend(out.logs);
    c.set_fuel(fuel.saturating_sub(out.fuel_used))?;
    Ok(out.result)
}
