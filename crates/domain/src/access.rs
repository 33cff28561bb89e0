//! Who read the log: a record of every read of a tenant's entries (a list, one entry,
//! an export, a proof, a checkpoint, and the access log itself), kept apart from the
//! entries, so that the 54 event types stay the producers' own. It answers PCI DSS
//! 10.2.1.3 ("all access to audit logs is logged").
//!
//! A record names when, which key of which tenant, which operation on which path with
//! which query parameters, and how many entries the answer held. The store keeps the
//! records append-only; [`AccessLogStore`] is its port.

use async_trait::async_trait;
use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{StoreError, entry::timestamp};

/// The operations a record names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessOperation {
    /// A page of entries.
    ListAuditLogs,
    /// One entry by its id.
    GetAuditLog,
    /// A verifiable export, over HTTP or from the command line.
    ExportAuditLogs,
    /// The newest signed checkpoint.
    GetCheckpoint,
    /// An entry's inclusion proof.
    GetInclusionProof,
    /// A consistency proof between two tree sizes.
    GetConsistencyProof,
    /// A page of this access log.
    ListAccessLogs,
    /// Reads that happened but whose records could not be written (the database
    /// refused them); `returned` holds how many.
    ReadsNotRecorded,
}

impl AccessOperation {
    /// Every operation, in the order of their names' documentation.
    pub const ALL: [AccessOperation; 8] = [
        Self::ListAuditLogs,
        Self::GetAuditLog,
        Self::ExportAuditLogs,
        Self::GetCheckpoint,
        Self::GetInclusionProof,
        Self::GetConsistencyProof,
        Self::ListAccessLogs,
        Self::ReadsNotRecorded,
    ];

    /// The operation's name, as records and the `operation` filter spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ListAuditLogs => "list_audit_logs",
            Self::GetAuditLog => "get_audit_log",
            Self::ExportAuditLogs => "export_audit_logs",
            Self::GetCheckpoint => "get_checkpoint",
            Self::GetInclusionProof => "get_inclusion_proof",
            Self::GetConsistencyProof => "get_consistency_proof",
            Self::ListAccessLogs => "list_access_logs",
            Self::ReadsNotRecorded => "reads_not_recorded",
        }
    }

    /// The operation of this name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.as_str() == name)
    }
}

/// One read of a tenant's log.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "id": "019a7c3e-5b1f-7c2a-9d4e-2f6b8a1c3d5e",
    "tenant_id": "00000000-0000-0000-0000-000000000001",
    "key_id": "019a7c3d-0a2b-7e11-8c3d-4e5f6a7b8c9d",
    "at": "2026-12-01T09:30:12.481516Z",
    "operation": "list_audit_logs",
    "path": "/00000000-0000-0000-0000-000000000001/audit_logs",
    "parameters": {"actor_email": "alice@example.com", "per_page": "50"},
    "returned": 12,
    "request_id": "6f1c2f5e-3a41-4f0e-9a8e-1b2c3d4e5f60"
})))]
pub struct AccessRecord {
    /// The record's id, a UUIDv7: records sort by it in the order they were made.
    pub id: Uuid,
    /// The tenant whose log was read.
    pub tenant_id: Uuid,
    /// The API key that read it; absent for a read from the command line, which uses
    /// the database's own credentials.
    pub key_id: Option<Uuid>,
    /// When the read was answered: RFC 3339, UTC, microseconds.
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: OffsetDateTime,
    /// What was read: `list_audit_logs`, `get_audit_log`, `export_audit_logs`,
    /// `get_checkpoint`, `get_inclusion_proof`, `get_consistency_proof`,
    /// `list_access_logs`, or `reads_not_recorded` for reads whose records were lost.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub operation: String,
    /// The path that was read (`cli` from the command line).
    pub path: String,
    /// The query's parameters as sent, those the reads take (empty ones and other
    /// names left out): a value a name, or an array of them when the name was repeated.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub parameters: Map<String, Value>,
    /// How many entries the answer held (for a proof or a checkpoint, none; for
    /// `reads_not_recorded`, how many reads).
    pub returned: u64,
    /// The request's `X-Request-Id`, as in the server's request log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl AccessRecord {
    /// A record of `operation` made now.
    pub fn now(tenant_id: Uuid, key_id: Option<Uuid>, operation: AccessOperation) -> Self {
        Self {
            id: Uuid::now_v7(),
            tenant_id,
            key_id,
            at: crate::entry::truncate_to_micros(OffsetDateTime::now_utc()),
            operation: operation.as_str().to_owned(),
            path: String::new(),
            parameters: Map::new(),
            returned: 0,
            request_id: None,
        }
    }
}

/// Adds a query parameter to a record's `parameters`: the value, or, when the name was
/// given before, an array of every value in the order given.
pub fn add_parameter(parameters: &mut Map<String, Value>, name: &str, value: String) {
    let value = Value::String(value);
    match parameters.get_mut(name) {
        Some(Value::Array(values)) => values.push(value),
        Some(first) => {
            let earlier = first.take();
            *first = Value::Array(vec![earlier, value]);
        }
        None => {
            parameters.insert(name.to_owned(), value);
        }
    }
}

/// Which records a page of the access log holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessQuery {
    /// Only the records of this key.
    pub key_id: Option<Uuid>,
    /// Only the records of this operation.
    pub operation: Option<AccessOperation>,
    /// Only the records made before this one (its id): the cursor of the previous page.
    pub before: Option<Uuid>,
    /// How many records at most, newest first.
    pub limit: u64,
}

/// Where access records are kept.
#[async_trait]
pub trait AccessLogStore: Send + Sync {
    /// Appends `records`, in one statement where the backend can.
    async fn record_access(&self, records: &[AccessRecord]) -> Result<(), StoreError>;

    /// The tenant's records that `query` asks for, newest first.
    async fn access_log(
        &self,
        tenant_id: Uuid,
        query: &AccessQuery,
    ) -> Result<Vec<AccessRecord>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_reads_back_by_its_name() {
        for op in AccessOperation::ALL {
            assert_eq!(AccessOperation::parse(op.as_str()), Some(op));
        }
        assert_eq!(AccessOperation::parse("delete_audit_logs"), None);
    }
}
