//! The ports that storage backends implement.

use async_trait::async_trait;
use uuid::Uuid;

use crate::{
    ApiKey, ApiKeyHash, AuditLog, AuditLogFilter, NewApiKey, NewAuditLog, StoreError, Tenant,
};

/// One page of a result and the number of all matching items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items of the page, in order.
    pub items: Vec<T>,
    /// How many items match, ignoring pagination.
    pub total: u64,
}

/// Where entries are kept.
#[async_trait]
pub trait AuditLogStore: Send + Sync {
    /// Stores a batch atomically: every entry or none. An entry whose `id` is already
    /// stored in the tenant with the same content is not stored again and counts as
    /// success; with other content the batch fails with [`StoreError::Conflict`].
    /// Returns the stored entry for each submitted one, in the order submitted, once
    /// the batch is durable.
    async fn append(
        &self,
        tenant_id: Uuid,
        entries: Vec<NewAuditLog>,
    ) -> Result<Vec<AuditLog>, StoreError>;

    /// The tenant's entries that match `filter`, newest first (`created_at desc, id desc`),
    /// the page that `filter` asks for, and how many match in all.
    async fn list(
        &self,
        tenant_id: Uuid,
        filter: &AuditLogFilter,
    ) -> Result<Page<AuditLog>, StoreError>;

    /// Answers when the backend can serve requests.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Where tenants and API keys are kept.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Creates the tenant unless it exists; returns it either way.
    async fn ensure_tenant(&self, id: Uuid, name: &str) -> Result<Tenant, StoreError>;

    /// Every tenant.
    async fn tenants(&self) -> Result<Vec<Tenant>, StoreError>;

    /// Registers a key unless a key with the same secret exists (revoked or not), in
    /// which case that key is returned unchanged.
    async fn register_key(&self, key: NewApiKey) -> Result<ApiKey, StoreError>;

    /// The key whose secret has this hash, revoked or not.
    async fn find_key(&self, hash: &ApiKeyHash) -> Result<Option<ApiKey>, StoreError>;

    /// The keys of one tenant, or of all.
    async fn keys(&self, tenant_id: Option<Uuid>) -> Result<Vec<ApiKey>, StoreError>;

    /// Revokes a key with immediate effect; `false` when no such key exists.
    async fn revoke_key(&self, id: Uuid) -> Result<bool, StoreError>;
}

/// Checks a batch before it is stored: each entry's validity, and ids given
/// twice in it. Returns the validated entries, with duplicates (same id, same content)
/// marked by the index of their first occurrence.
pub fn prepare_batch(
    entries: Vec<NewAuditLog>,
    now: time::OffsetDateTime,
) -> Result<Vec<(NewAuditLog, Option<usize>)>, StoreError> {
    let mut prepared: Vec<(NewAuditLog, Option<usize>)> = Vec::with_capacity(entries.len());
    let mut first_by_id = std::collections::HashMap::new();
    for (index, entry) in entries.into_iter().enumerate() {
        let entry = entry
            .validate(now)
            .map_err(|source| StoreError::InvalidEntry { index, source })?;
        let mut duplicate_of = None;
        if let Some(id) = entry.id {
            if let Some(&first) = first_by_id.get(&id) {
                let (first_entry, _): &(NewAuditLog, Option<usize>) = &prepared[first];
                if first_entry != &entry {
                    return Err(StoreError::Conflict {
                        id,
                        index,
                        other_index: Some(first),
                    });
                }
                duplicate_of = Some(first);
            } else {
                first_by_id.insert(id, index);
            }
        }
        prepared.push((entry, duplicate_of));
    }
    Ok(prepared)
}
