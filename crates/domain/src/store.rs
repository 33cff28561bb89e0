//! The ports that storage backends implement.

use async_trait::async_trait;
use uuid::Uuid;

use crate::{
    ApiKey, ApiKeyHash, AuditLog, AuditLogFilter, Cursor, NewApiKey, NewAuditLog, StoreError,
    Tenant,
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

    /// The tenant's entry with this id, as a list serves it; `None` when the tenant has
    /// none, whether or not another tenant has an entry with the id.
    async fn get(&self, tenant_id: Uuid, id: Uuid) -> Result<Option<AuditLog>, StoreError>;

    /// What [`AuditLogStore::list`] answers, with each entry's position in the order
    /// (its `created_at` and id) instead of the entry: a large page is read by it, and
    /// its entries then a slice at a time ([`AuditLogStore::get_many`]), so that a
    /// reader holds a slice, not a page. The default reads the page whole.
    async fn list_positions(
        &self,
        tenant_id: Uuid,
        filter: &AuditLogFilter,
    ) -> Result<Page<Cursor>, StoreError> {
        let page = self.list(tenant_id, filter).await?;
        Ok(Page {
            items: page.items.iter().map(Cursor::after).collect(),
            total: page.total,
        })
    }

    /// The tenant's entries with these ids, as a list serves them, in the order of
    /// `ids`; an id the tenant has no entry with is left out. The default reads them
    /// one by one.
    async fn get_many(&self, tenant_id: Uuid, ids: &[Uuid]) -> Result<Vec<AuditLog>, StoreError> {
        let mut entries = Vec::with_capacity(ids.len());
        for &id in ids {
            entries.extend(self.get(tenant_id, id).await?);
        }
        Ok(entries)
    }

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

    /// Records that the key `id` was used at `at`, unless the use it keeps is less than
    /// [`crate::keys::KEY_USE_RESOLUTION`] older (so concurrent uses write once).
    async fn note_key_used(&self, id: Uuid, at: time::OffsetDateTime) -> Result<(), StoreError>;
}

/// A tenant's newest signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// The tree size it covers.
    pub size: u64,
    /// The signed note (C2SP tlog-checkpoint), exactly as served.
    pub note: String,
}

/// The proof that an entry is a leaf of its tenant's tree at some size (RFC 9162).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// The entry's leaf index.
    pub leaf_index: u64,
    /// The tree size the proof is for.
    pub tree_size: u64,
    /// The proof's hashes, from the leaf up.
    pub proof: Vec<crate::log::Hash>,
    /// The signed checkpoint of that size.
    pub checkpoint: String,
}

/// The proof that a tenant's tree at `from` leaves is a prefix of the tree at `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyProof {
    /// The older size.
    pub from: u64,
    /// The newer size.
    pub to: u64,
    /// The proof's hashes (RFC 9162 section 2.1.4).
    pub proof: Vec<crate::log::Hash>,
}

/// Why the log cannot answer.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The tenant has no such entry.
    #[error("the tenant has no entry with this id")]
    EntryNotFound,
    /// The entry is stored but no checkpoint covers it yet (the log takes entries in
    /// within about a second).
    #[error(
        "the entry is stored but not yet covered by a checkpoint of the log; try again in a second"
    )]
    NotYetInLog,
    /// A size beyond what the log has reached.
    #[error("{parameter} {asked} is beyond {size}, the largest size allowed here")]
    SizeNotReached {
        /// The parameter that asked for it.
        parameter: &'static str,
        /// The size asked for.
        asked: u64,
        /// The largest size allowed.
        size: u64,
    },
    /// A tree size that does not hold the entry's leaf.
    #[error(
        "tree_size {asked} does not hold the entry, which is leaf {leaf_index}: give a size above {leaf_index}"
    )]
    SizeBelowLeaf {
        /// The size asked for.
        asked: u64,
        /// The entry's leaf index.
        leaf_index: u64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A page of a verifiable export: the entries of leaves `from..next` that a filter
/// matches, in log order, and where the next page starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportPage {
    /// The matching entries with their leaf index, in log order.
    pub entries: Vec<(u64, AuditLog)>,
    /// In an export of the whole log (no filter): the leaves of the page whose entries
    /// are gone (removed on purpose, see [`crate::log::Removal`]), with their recorded
    /// leaf hashes, in log order.
    pub removed: Vec<(u64, crate::log::Hash)>,
    /// In an export of the whole log: the leaves of the page whose entries were erased
    /// (their details hold [`crate::ERASURE_MARKER`]), with their recorded leaf hashes,
    /// the hashes of the entries as they were written, in log order.
    pub erased: Vec<(u64, crate::log::Hash)>,
    /// The leaf index the next page starts at.
    pub next: u64,
}

/// Where each tenant's log (the Merkle tree of its entries) is kept.
#[async_trait]
pub trait LogStore: Send + Sync {
    /// The tenant's newest checkpoint; `None` before its first entry joins the log.
    async fn latest_checkpoint(
        &self,
        tenant_id: Uuid,
    ) -> Result<Option<SignedCheckpoint>, StoreError>;

    /// The proof that entry `entry_id` is in the tenant's tree at `tree_size` (the newest
    /// checkpoint's size when `None`).
    async fn inclusion_proof(
        &self,
        tenant_id: Uuid,
        entry_id: Uuid,
        tree_size: Option<u64>,
    ) -> Result<InclusionProof, LogError>;

    /// The proof that the tenant's tree at `from` leaves is a prefix of its tree at `to`.
    async fn consistency_proof(
        &self,
        tenant_id: Uuid,
        from: u64,
        to: u64,
    ) -> Result<ConsistencyProof, LogError>;

    /// The entries of the tenant's leaves `from..` (at most `leaves` leaves, and none at
    /// or past `end`) that `filter` matches, in log order, and the leaf the next page
    /// starts at, which is above `from` unless `from` is at `end` already. Pagination in
    /// the filter is ignored: an export's own is by leaf, and whatever the size of the
    /// log a reader holds one page.
    async fn export_page(
        &self,
        tenant_id: Uuid,
        filter: &AuditLogFilter,
        from: u64,
        end: u64,
        leaves: u64,
    ) -> Result<ExportPage, StoreError>;

    /// The signed notes of the tenant's removals ([`crate::log::Removal`]), oldest
    /// first: what a whole export carries so that its removed leaves can be checked.
    async fn removal_notes(&self, _tenant_id: Uuid) -> Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }
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
