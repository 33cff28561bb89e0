//! `api_keys`: keys by the SHA-256 hash of their secret.

use auditlog_domain::{ApiKey, ApiKeyHash, Scopes, StoreError, entry::timestamp::from_micros};
use sea_orm::entity::prelude::*;

use super::unreadable;

/// A row of `api_keys`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    /// The key's id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The tenant it belongs to.
    pub tenant_id: Uuid,
    /// A name for people.
    pub name: String,
    /// What identifies it in listings (`ApiKeySecret::display_prefix`): never more of
    /// a chosen secret than its hash.
    pub prefix: String,
    /// The SHA-256 hash of the secret, 32 bytes; unique.
    pub hash: Vec<u8>,
    /// Whether the key may list entries.
    pub scope_read: bool,
    /// Whether the key may record entries.
    pub scope_write: bool,
    /// Whether the key may read the access log.
    pub scope_access_log: bool,
    /// When it was created, in microseconds since the Unix epoch.
    pub created_at: i64,
    /// When it was revoked, in microseconds since the Unix epoch.
    pub revoked_at: Option<i64>,
    /// When it expires, in microseconds since the Unix epoch.
    pub expires_at: Option<i64>,
    /// When it was last used (to the minute), in microseconds since the Unix epoch.
    pub last_used_at: Option<i64>,
}

/// No relations (no foreign keys in the schema).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The key this row stores.
    pub(crate) fn into_key(self) -> Result<ApiKey, StoreError> {
        let id = self.id;
        let unreadable = |column: &str| unreadable("api_keys", id, column);
        let hash: [u8; 32] = self
            .hash
            .as_slice()
            .try_into()
            .map_err(|_| unreadable("hash"))?;
        let time = |micros: Option<i64>, column: &str| {
            micros
                .map(|micros| from_micros(micros).ok_or_else(|| unreadable(column)))
                .transpose()
        };
        let revoked_at = time(self.revoked_at, "revoked_at")?;
        let expires_at = time(self.expires_at, "expires_at")?;
        let last_used_at = time(self.last_used_at, "last_used_at")?;
        Ok(ApiKey {
            id,
            tenant_id: self.tenant_id,
            name: self.name,
            prefix: self.prefix,
            hash: ApiKeyHash(hash),
            scopes: Scopes {
                read: self.scope_read,
                write: self.scope_write,
                access_log: self.scope_access_log,
            },
            created_at: from_micros(self.created_at).ok_or_else(|| unreadable("created_at"))?,
            revoked_at,
            expires_at,
            last_used_at,
        })
    }
}
