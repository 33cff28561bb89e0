//! A tenant's log held in memory, for the tests of exports: the plain model that a
//! store's `export_page` is described by, with failures on demand.

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use auditlog_domain::{
    AuditLog, AuditLogFilter, AuditLogType, ExportPage, LogError, LogStore, NewAuditLog,
    StoreError,
    store::{ConsistencyProof, InclusionProof, SignedCheckpoint},
};
use uuid::Uuid;

/// A log held in memory: leaf `i` is `entries[i]`. Pages follow the domain's
/// description of `export_page`, with the filter's own `matches` as the model;
/// `fail_at` makes that page fail and `stall` makes every page stand still.
pub(crate) struct MemoryLog {
    pub(crate) entries: Vec<AuditLog>,
    pub(crate) size: u64,
    pub(crate) fail_at: Option<usize>,
    pub(crate) stall: bool,
    pages: AtomicUsize,
}

impl MemoryLog {
    pub(crate) fn new(count: usize) -> Self {
        let tenant = auditlog_domain::DEFAULT_TENANT_ID;
        let now = time::OffsetDateTime::now_utc();
        let entries = (0..count)
            .map(|n| {
                let kind = if n % 3 == 0 {
                    AuditLogType::LoginFailure
                } else {
                    AuditLogType::LoginSuccess
                };
                let ip = std::net::IpAddr::from([10, 0, 0, n as u8]);
                NewAuditLog::new(kind, format!("r{n}"), ip, "agent").into_entry(tenant, now)
            })
            .collect::<Vec<_>>();
        Self {
            size: entries.len() as u64,
            entries,
            fail_at: None,
            stall: false,
            pages: AtomicUsize::new(0),
        }
    }
}

#[async_trait]
impl LogStore for MemoryLog {
    async fn latest_checkpoint(
        &self,
        _tenant_id: Uuid,
    ) -> Result<Option<SignedCheckpoint>, StoreError> {
        Ok((self.size > 0).then(|| SignedCheckpoint {
            size: self.size,
            note: format!("origin\n{}\nroot\n\nsignature\n", self.size),
        }))
    }

    async fn inclusion_proof(
        &self,
        _tenant_id: Uuid,
        _entry_id: Uuid,
        _tree_size: Option<u64>,
    ) -> Result<InclusionProof, LogError> {
        Err(LogError::EntryNotFound)
    }

    async fn consistency_proof(
        &self,
        _tenant_id: Uuid,
        _from: u64,
        _to: u64,
    ) -> Result<ConsistencyProof, LogError> {
        Err(LogError::EntryNotFound)
    }

    async fn export_page(
        &self,
        _tenant_id: Uuid,
        filter: &AuditLogFilter,
        from: u64,
        end: u64,
        leaves: u64,
    ) -> Result<ExportPage, StoreError> {
        let page = self.pages.fetch_add(1, Ordering::SeqCst);
        if self.fail_at == Some(page) {
            return Err(StoreError::Unavailable("the database went away".into()));
        }
        if self.stall {
            return Ok(ExportPage {
                entries: Vec::new(),
                removed: Vec::new(),
                erased: Vec::new(),
                next: from,
            });
        }
        let to = end.min(from + leaves.max(1));
        let entries = (from..to)
            .map(|i| (i, self.entries[i as usize].clone()))
            .filter(|(_, entry)| filter.matches(entry))
            .collect();
        Ok(ExportPage {
            entries,
            removed: Vec::new(),
            erased: Vec::new(),
            next: to,
        })
    }
}
