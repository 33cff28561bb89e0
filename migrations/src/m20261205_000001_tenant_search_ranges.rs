//! SQLite: each tenant's search terms in a range of the trigram index of their own.
//!
//! FTS5 keeps one list of rows per trigram across all tenants, and the lookup of `q`
//! applied the tenant after the trigram match, so its time grew with the values that
//! other tenants hold. Each tenant now gets a number (`audit_log_search_tenants`), and
//! its terms the rowids `number << 36` to `((number + 1) << 36) - 1` of
//! `audit_log_terms_search`: the lookup bounds the rowid by the tenant's range, which
//! FTS5 seeks to in each trigram's list, so it reads only the tenant's own rows (and,
//! below three characters, scans only them). Room: 2^27 tenants of 2^36 terms each.
//! PostgreSQL's trigram lookup is unchanged.

use sea_orm_migration::prelude::*;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

use crate::SEARCH_TERM_BITS as TERM_BITS;

/// The FTS5 table of the terms, as `m20260102_000001_search_and_counts` made it.
const CREATE_SEARCH: &str = "CREATE VIRTUAL TABLE audit_log_terms_search USING fts5(\
     value, tenant_id UNINDEXED, field UNINDEXED, key UNINDEXED, tokenize = 'trigram')";

/// The statements that move the terms to ranges by tenant.
fn up_sql() -> Vec<String> {
    vec![
        "CREATE TABLE audit_log_search_tenants (\
         number INTEGER PRIMARY KEY, tenant_id BLOB NOT NULL UNIQUE, next INTEGER NOT NULL)"
            .to_owned(),
        "INSERT INTO audit_log_search_tenants (tenant_id, next) \
         SELECT tenant_id, COUNT(*) FROM audit_log_terms GROUP BY tenant_id"
            .to_owned(),
        "DROP TRIGGER IF EXISTS audit_log_terms_search_insert".to_owned(),
        "DROP TABLE IF EXISTS audit_log_terms_search".to_owned(),
        CREATE_SEARCH.to_owned(),
        format!(
            "INSERT INTO audit_log_terms_search (rowid, value, tenant_id, field, key) \
             SELECT (t.number << {TERM_BITS}) + row_number() OVER (PARTITION BY a.tenant_id), \
             a.value, a.tenant_id, a.field, a.key \
             FROM audit_log_terms a JOIN audit_log_search_tenants t ON t.tenant_id = a.tenant_id"
        ),
        // Only terms actually inserted fire it: a value is indexed once.
        format!(
            "CREATE TRIGGER audit_log_terms_search_insert AFTER INSERT ON audit_log_terms BEGIN \
             INSERT INTO audit_log_search_tenants (tenant_id, next) VALUES (new.tenant_id, 1) \
             ON CONFLICT (tenant_id) DO UPDATE SET next = next + 1; \
             INSERT INTO audit_log_terms_search (rowid, value, tenant_id, field, key) \
             SELECT (number << {TERM_BITS}) + next, new.value, new.tenant_id, new.field, new.key \
             FROM audit_log_search_tenants WHERE tenant_id = new.tenant_id; END"
        ),
    ]
}

/// The statements that bring back one range for all tenants.
fn down_sql() -> Vec<String> {
    vec![
        "DROP TRIGGER IF EXISTS audit_log_terms_search_insert".to_owned(),
        "DROP TABLE IF EXISTS audit_log_terms_search".to_owned(),
        "DROP TABLE IF EXISTS audit_log_search_tenants".to_owned(),
        CREATE_SEARCH.to_owned(),
        "INSERT INTO audit_log_terms_search (value, tenant_id, field, key) \
         SELECT value, tenant_id, field, key FROM audit_log_terms"
            .to_owned(),
        "CREATE TRIGGER audit_log_terms_search_insert AFTER INSERT ON audit_log_terms BEGIN \
         INSERT INTO audit_log_terms_search (value, tenant_id, field, key) \
         VALUES (new.value, new.tenant_id, new.field, new.key); END"
            .to_owned(),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::on_sqlite(manager, &up_sql()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::on_sqlite(manager, &down_sql()).await
    }
}
