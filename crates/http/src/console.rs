//! Console output: every recorded entry also written as one JSON line to stdout or
//! stderr, as Hanko's operators know it, by wrapping any [`AuditLogStore`].

use std::{fmt, io::Write, str::FromStr, sync::Arc};

use async_trait::async_trait;
use auditlog_domain::{
    AuditLog, AuditLogFilter, AuditLogStore, Cursor, NewAuditLog, Page, StoreError,
};
use uuid::Uuid;

/// Where console output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleTarget {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl FromStr for ConsoleTarget {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "stdout" => Ok(Self::Stdout),
            "stderr" => Ok(Self::Stderr),
            other => Err(format!("'{other}' is not one of stdout, stderr, off")),
        }
    }
}

/// A store that writes each entry it records as a JSON line, after the commit.
pub struct ConsoleEcho {
    inner: Arc<dyn AuditLogStore>,
    target: ConsoleTarget,
}

impl fmt::Debug for ConsoleEcho {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsoleEcho")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl ConsoleEcho {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn AuditLogStore>, target: ConsoleTarget) -> Self {
        Self { inner, target }
    }

    fn write(&self, entries: &[AuditLog]) {
        let mut lines = Vec::new();
        for entry in entries {
            if serde_json::to_writer(&mut lines, entry).is_ok() {
                lines.push(b'\n');
            }
        }
        // Console output is a convenience; a closed stream must not fail the request.
        let _ = match self.target {
            ConsoleTarget::Stdout => std::io::stdout().lock().write_all(&lines),
            ConsoleTarget::Stderr => std::io::stderr().lock().write_all(&lines),
        };
    }
}

#[async_trait]
impl AuditLogStore for ConsoleEcho {
    async fn append(
        &self,
        tenant_id: Uuid,
        entries: Vec<NewAuditLog>,
    ) -> Result<Vec<AuditLog>, StoreError> {
        let stored = self.inner.append(tenant_id, entries).await?;
        self.write(&stored);
        Ok(stored)
    }

    async fn list(
        &self,
        tenant_id: Uuid,
        filter: &AuditLogFilter,
    ) -> Result<Page<AuditLog>, StoreError> {
        self.inner.list(tenant_id, filter).await
    }

    async fn get(&self, tenant_id: Uuid, id: Uuid) -> Result<Option<AuditLog>, StoreError> {
        self.inner.get(tenant_id, id).await
    }

    async fn list_positions(
        &self,
        tenant_id: Uuid,
        filter: &AuditLogFilter,
    ) -> Result<Page<Cursor>, StoreError> {
        self.inner.list_positions(tenant_id, filter).await
    }

    async fn get_many(&self, tenant_id: Uuid, ids: &[Uuid]) -> Result<Vec<AuditLog>, StoreError> {
        self.inner.get_many(tenant_id, ids).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
}
