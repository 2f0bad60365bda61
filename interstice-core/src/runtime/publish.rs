//! Publishing a module: checks, compatibility, and logging its record.

use std::sync::Arc;

use bytes::Bytes;
use interstice_abi::writes::ModuleWrites;
use interstice_abi::{ModuleSchema, Version, Visibility};
use interstice_log::codec::{MUTATION_OVERHEAD, frame_size};
use interstice_log::{Commit, Invocation as LogInvocation};
use tokio::sync::oneshot;

use super::{Exec, PUBLISH_INVOCATION, Published, Receipt, Request, Runtime, seed};
use crate::error::CallError;
use crate::host::state::CallContext;
use crate::spans;

/// The reducer [`Runtime::publish_and_init`] runs after a first publish.
pub const INIT_REDUCER: &str = "init";
use crate::cycles::{Declared, SubscriptionGraph};
use crate::db::{Database, WriteSet};
use crate::error::PublishError;
use crate::host::Inspected;

impl Runtime {
    /// Publishes (or updates) a module: checks its imports, exports and
    /// schema, refuses incompatible changes with the diff, logs the module
    /// record, and returns once it is durable.
    pub async fn publish(&self, wasm: &[u8]) -> Result<Published, PublishError> {
        self.check_running()?;
        if self.inner.config.follow.is_some() {
            let refused = CallError::new("", PUBLISH_INVOCATION, crate::CallErrorKind::Follower);
            return Err(refused.into());
        }
        // Compiling takes milliseconds to seconds of CPU: off the async
        // workers, so that a publish does not hold up calls and reads.
        let host = self.inner.host.clone();
        let bytes = wasm.to_vec();
        let inspected = tokio::task::spawn_blocking(move || host.inspect(&bytes))
            .await
            .map_err(|e| PublishError::describe(format!("the compilation task failed: {e}")))?;
        let (reply, rx) = oneshot::channel();
        let request = Request::Install {
            module: inspected?,
            wasm: wasm.to_vec(),
            reply,
        };
        if self.inner.requests.send(request).is_err() {
            return Err(self.gone().into());
        }
        rx.await.unwrap_or_else(|_| Err(self.gone().into()))
    }

    /// Publishes like [`Runtime::publish`], then, when this was the
    /// module's first version and it has a reducer named `init` taking no
    /// arguments, calls it (its own transaction, after the module record).
    /// The receipt is `None` when no `init` ran.
    pub async fn publish_and_init(
        &self,
        wasm: &[u8],
    ) -> Result<(Published, Option<Result<Receipt, CallError>>), PublishError> {
        let published = self.publish(wasm).await?;
        let first = published.first_version;
        let init = self.read_executed(|db| {
            db.module(published.module_id).and_then(|m| {
                let has_init = m
                    .schema
                    .reducers
                    .iter()
                    .any(|r| r.name == INIT_REDUCER && r.params.is_empty());
                has_init.then(|| m.schema.name.clone())
            })
        })?;
        let receipt = match init {
            Some(module) if first => Some(self.call(&module, INIT_REDUCER, &[]).await),
            _ => None,
        };
        Ok((published, receipt))
    }

    /// Installs a checked module under the executor lock and hands its
    /// module record to the pipeline.
    pub(super) fn install(
        &self,
        exec: &mut Exec,
        module: Inspected,
        wasm: &[u8],
        reply: oneshot::Sender<Result<Published, PublishError>>,
    ) {
        if let Err(e) = self.check_running() {
            let _ = reply.send(Err(e.into()));
            return;
        }
        match self.install_record(exec, module, wasm) {
            Err(e) => drop(reply.send(Err(e))),
            Ok((published, commit)) => self.submit(commit, published, reply, None),
        }
    }

    /// Installs a checked module in the executor's state: its module
    /// record's commit, at the next offset.
    fn install_record(
        &self,
        exec: &mut Exec,
        module: Inspected,
        wasm: &[u8],
    ) -> Result<(Published, Commit), PublishError> {
        let Inspected {
            module,
            schema,
            schema_bytes,
            writes,
        } = module;
        let existing = exec.db.module_by_name(&schema.name);
        let first_version = existing.is_none();
        let id = existing.map_or_else(|| exec.db.next_module_id(), |m| m.id);
        let (schema, schema_bytes, diff) = against(existing, schema, schema_bytes)?;
        self.check_record_size(&schema, &schema_bytes, wasm)?;
        check_capabilities(&exec.db, &schema)?;
        let published: Vec<Declared<'_>> = exec
            .modules
            .values()
            .map(|m| Declared {
                schema: &m.schema,
                writes: &m.writes,
            })
            .collect();
        check_cycles(&published, &schema, &writes)?;
        let linked = Arc::new(self.inner.host.link(id, schema.clone(), writes, &module)?);
        let mut modules = (*exec.modules).clone();
        modules.insert(id, linked.clone());
        let modules = Arc::new(modules);
        let mut ws = WriteSet::default();
        let retired = ws
            .install_module(
                &mut exec.db,
                id,
                schema.clone(),
                Bytes::from(schema_bytes),
                Bytes::copy_from_slice(wasm),
            )
            .map_err(|e| PublishError::describe(format!("cannot install: {e}")))?;
        let timestamp = exec.next_timestamp();
        let mut migrations = Vec::new();
        if !retired.is_empty() {
            let env = self.inner.host.env(modules.clone());
            let ctx = CallContext {
                timestamp,
                rng: seed(exec.next_offset, timestamp),
                scheduled: None,
            };
            let fuel = self.inner.config.limits.fuel;
            let db = std::mem::take(&mut exec.db);
            let out = crate::migrate::run(&env, db, ws, &linked, retired, ctx, fuel);
            exec.db = out.db;
            spans::trace_logs(&out.logs, None);
            let size = frame_size(
                schema.name.len(),
                PUBLISH_INVOCATION.len(),
                0,
                0,
                None,
                false,
                out.ws.payload_len(),
            );
            let max = self.inner.config.limits.max_commit_size;
            let refused = match out.result {
                Err(failure) => Some(PublishError::Migration(Box::new(failure))),
                Ok(()) if size > max => Some(PublishError::TooLarge { size, max }),
                Ok(()) => None,
            };
            if let Some(e) = refused {
                out.ws.rollback(&mut exec.db);
                return Err(e);
            }
            ws = out.ws;
            migrations = out.runs;
        }
        exec.modules = modules;
        *self.inner.catalog.lock().unwrap_or_else(|p| p.into_inner()) = exec.modules.clone();
        let invocation = LogInvocation {
            module: schema.name.clone(),
            reducer: PUBLISH_INVOCATION.into(),
            args: Bytes::new(),
            request_id: None,
            timing: None,
            scheduled: None,
        };
        let commit = exec.seal(timestamp, None, invocation, ws.commit());
        tracing::info!(
            module = %schema.name,
            version = %schema.version,
            offset = commit.offset,
            first_version,
            "module published"
        );
        let published = Published {
            module_id: id,
            offset: commit.offset,
            diff,
            first_version,
            migrations,
        };
        Ok((published, commit))
    }

    /// The module record (name, schema, wasm with their lengths, in one
    /// mutation of a commit logged as `@publish`) must fit in a commit.
    fn check_record_size(
        &self,
        schema: &ModuleSchema,
        schema_bytes: &[u8],
        wasm: &[u8],
    ) -> Result<(), PublishError> {
        let record = 2 + schema.name.len() + 4 + schema_bytes.len() + 4 + wasm.len();
        let size = frame_size(
            schema.name.len(),
            PUBLISH_INVOCATION.len(),
            0,
            0,
            None,
            false,
            (MUTATION_OVERHEAD + record) as u64,
        );
        let max = self.inner.config.limits.max_commit_size;
        if size > max {
            return Err(PublishError::TooLarge { size, max });
        }
        Ok(())
    }
}

/// A new version checked against the installed one (`existing`): its
/// tables in the installed order (the schema re-encoded if that moved
/// them), and the changes, none of them breaking.
pub(crate) fn against(
    existing: Option<&crate::db::ModuleState>,
    mut schema: ModuleSchema,
    mut schema_bytes: Vec<u8>,
) -> Result<(ModuleSchema, Vec<u8>, interstice_abi::compat::SchemaDiff), PublishError> {
    let Some(old) = existing else {
        return Ok((schema, schema_bytes, Default::default()));
    };
    if interstice_abi::compat::keep_table_order(&old.schema, &mut schema) {
        schema_bytes = interstice_abi::encode_schema(&schema)
            .map_err(|e| PublishError::describe(format!("cannot re-encode the schema: {e}")))?;
    }
    let diff = interstice_abi::compat::diff(&old.schema, &schema);
    if diff.is_breaking() {
        return Err(PublishError::Incompatible {
            module: schema.name.clone(),
            diff,
        });
    }
    Ok((schema, schema_bytes, diff))
}

/// The module's subscriptions, with those of the published modules (its
/// earlier version replaced), must not trigger each other in a cycle
/// through it. A cycle elsewhere was published before declarations
/// existed: it is left to the runtime's depth cut, and said.
pub(crate) fn check_cycles(
    published: &[Declared<'_>],
    schema: &ModuleSchema,
    writes: &ModuleWrites,
) -> Result<(), PublishError> {
    let mut modules: Vec<Declared<'_>> = published
        .iter()
        .filter(|m| m.schema.name != schema.name)
        .copied()
        .collect();
    modules.push(Declared { schema, writes });
    let graph = SubscriptionGraph::new(&modules);
    if let Some(cycle) = graph.cycle_through(&schema.name) {
        return Err(PublishError::SubscriptionCycle(cycle));
    }
    if let Some(cycle) = graph.cycle() {
        tracing::warn!(%cycle, "published modules' subscriptions can trigger each other in a cycle");
    }
    Ok(())
}

/// Subscriptions to other modules need a public table; dependencies must be
/// published with a compatible version.
pub(crate) fn check_capabilities(db: &Database, schema: &ModuleSchema) -> Result<(), PublishError> {
    for s in &schema.subscriptions {
        if s.module == schema.name {
            continue;
        }
        let Some(m) = db.module_by_name(&s.module) else {
            return Err(PublishError::Capability(format!(
                "subscription to `{}.{}`: module `{}` is not published",
                s.module, s.table, s.module
            )));
        };
        match m.table_by_name(&s.table) {
            None => {
                return Err(PublishError::Capability(format!(
                    "subscription to `{}.{}`: no such table",
                    s.module, s.table
                )));
            }
            Some((_, t)) if t.schema().visibility != Visibility::Public => {
                return Err(PublishError::Capability(format!(
                    "subscription to `{}.{}`: the table is private",
                    s.module, s.table
                )));
            }
            Some(_) => {}
        }
    }
    for d in &schema.dependencies {
        let Some(m) = db.module_by_name(&d.module) else {
            return Err(PublishError::Capability(format!(
                "depends on `{}`, which is not published",
                d.module
            )));
        };
        let v: Version = m.schema.version;
        if v.major != d.min_version.major || v < d.min_version {
            return Err(PublishError::Capability(format!(
                "depends on `{}` >= {} (same major version), but {} is published",
                d.module, d.min_version, v
            )));
        }
    }
    Ok(())
}
