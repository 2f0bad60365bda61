//! Unpublishing a module: it and its tables leave the state in one commit
//! (its removal record); the log keeps their history before it.

use std::sync::Arc;

use bytes::Bytes;
use interstice_log::{Commit, Invocation as LogInvocation};
use tokio::sync::oneshot;

use super::{Exec, Request, Runtime, UNPUBLISH_INVOCATION};
use crate::db::{Database, WriteSet};
use crate::error::{CallError, CallErrorKind, PublishError};

/// A module unpublished.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unpublished {
    /// The module's id in the log.
    pub module_id: u32,
    /// Offset of the commit that removed it.
    pub offset: u64,
    /// Its tables as they were, with their rows (now in the log's history
    /// only).
    pub tables: Vec<(String, u64)>,
}

impl Runtime {
    /// Unpublishes module `name`: refused while another published module
    /// depends on it or subscribes to one of its tables. Its tables and
    /// their rows leave the state; calls to it fail from then on. Returns
    /// once the removal is durable.
    pub async fn unpublish(&self, name: &str) -> Result<Unpublished, PublishError> {
        self.check_running()?;
        if self.inner.config.follow.is_some() {
            let refused = CallError::new(name, UNPUBLISH_INVOCATION, CallErrorKind::Follower);
            return Err(refused.into());
        }
        let (reply, rx) = oneshot::channel();
        let request = Request::Uninstall {
            module: name.to_owned(),
            reply,
        };
        if self.inner.requests.send(request).is_err() {
            return Err(self.gone().into());
        }
        rx.await.unwrap_or_else(|_| Err(self.gone().into()))
    }

    /// Removes the module under the executor lock and hands its removal
    /// record to the pipeline.
    pub(super) fn uninstall(
        &self,
        exec: &mut Exec,
        name: &str,
        reply: oneshot::Sender<Result<Unpublished, PublishError>>,
    ) {
        if let Err(e) = self.check_running() {
            let _ = reply.send(Err(e.into()));
            return;
        }
        match self.removal(exec, name) {
            Err(e) => drop(reply.send(Err(e))),
            Ok((unpublished, commit)) => self.submit(commit, unpublished, reply, None),
        }
    }

    fn removal(&self, exec: &mut Exec, name: &str) -> Result<(Unpublished, Commit), PublishError> {
        let module = exec.db.find_module(name)?;
        let id = module.id;
        let tables = module
            .tables
            .iter()
            .map(|t| (t.schema().name.clone(), t.len() as u64))
            .collect();
        check_unused(&exec.db, name)?;
        let mut ws = WriteSet::default();
        ws.remove_module(&mut exec.db, id)
            .map_err(|e| PublishError::describe(format!("cannot remove: {e}")))?;
        let mut modules = (*exec.modules).clone();
        modules.remove(&id);
        exec.modules = Arc::new(modules);
        *self.inner.catalog.lock().unwrap_or_else(|p| p.into_inner()) = exec.modules.clone();
        let invocation = LogInvocation {
            module: name.to_owned(),
            reducer: UNPUBLISH_INVOCATION.into(),
            args: Bytes::new(),
            request_id: None,
            timing: None,
            scheduled: None,
        };
        let commit = exec.seal(exec.next_timestamp(), None, invocation, ws.commit());
        tracing::info!(module = name, offset = commit.offset, "module unpublished");
        let unpublished = Unpublished {
            module_id: id,
            offset: commit.offset,
            tables,
        };
        Ok((unpublished, commit))
    }
}

/// Nothing else published may depend on module `name` or subscribe to its
/// tables.
pub(crate) fn check_unused(db: &Database, name: &str) -> Result<(), PublishError> {
    let mut used_by = Vec::new();
    for m in db.modules().filter(|m| m.schema.name != name) {
        if m.schema.dependencies.iter().any(|d| d.module == name) {
            used_by.push(format!("`{}` depends on it", m.schema.name));
        }
        for s in m.schema.subscriptions.iter().filter(|s| s.module == name) {
            used_by.push(format!(
                "`{}.{}` subscribes to `{}.{}.{}`",
                m.schema.name, s.reducer, s.module, s.table, s.event
            ));
        }
    }
    if used_by.is_empty() {
        Ok(())
    } else {
        Err(PublishError::InUse {
            module: name.to_owned(),
            used_by,
        })
    }
}
