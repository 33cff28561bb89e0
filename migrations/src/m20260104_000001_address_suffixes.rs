//! PostgreSQL: a fragment of an address is found by a range scan, not by trigrams.
//!
//! Addresses are written with eleven characters (digits and `.`) or seventeen (hex
//! digits and `:`), so each of their trigrams is in a large share of a tenant's
//! addresses, and a trigram lookup of a fragment such as `203.0.192.` intersected
//! posting lists of tens of thousands of values. `audit_log_ip_suffixes` now holds,
//! for every address term, each of its suffixes that begins right after a `.` or `:`
//! (`0.192.146`, `192.146` and `146` for `203.0.192.146`), in byte order. A fragment
//! that contains a separator followed by more text can only occur in an address where
//! its first separator meets one of the address's, so the text after its first
//! separator begins one of these suffixes: a prefix range on them finds every address
//! that may contain the fragment, and the exact `LIKE` on the address decides.
//!
//! A statement trigger on `audit_log_terms` fills the table from the terms each
//! statement inserts, whoever inserts them. The trigram index is split in two, one for
//! the addresses and one for the other terms, so that a search of the e-mail addresses
//! and user ids no longer walks the addresses' long posting lists.
//! SQLite keeps its FTS5 trigram table.

use sea_orm_migration::prelude::*;

use crate::{m20260103_000001_search_words::words_index_sql, on_postgres};

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

/// The table's rows for the address terms in `terms` (a table or transition table
/// with `tenant_id`, `field` and `value`), as a query that begins with `select`
/// (`SELECT`, or `SELECT DISTINCT` as this migration wrote it).
pub(crate) fn suffixes_sql(select: &str, terms: &str) -> String {
    format!(
        "{select} t.tenant_id, substr(t.value, i + 1), t.value \
         FROM {terms} AS t, generate_series(1, length(t.value) - 1) AS i \
         WHERE t.field = 0 AND substr(t.value, i, 1) IN ('.', ':')"
    )
}

/// The trigger function that records the suffixes of the address terms a statement
/// inserted, as `CREATE OR REPLACE FUNCTION`; `suffixes` is the `SELECT` of them from
/// the transition table `new_terms`.
pub(crate) fn suffixes_function_sql(suffixes: &str) -> String {
    format!(
        "CREATE OR REPLACE FUNCTION audit_log_ip_suffixes_add() RETURNS trigger \
         LANGUAGE plpgsql AS $$ BEGIN \
           INSERT INTO audit_log_ip_suffixes (tenant_id, suffix, value) {suffixes} \
           ON CONFLICT DO NOTHING; \
           RETURN NULL; \
         END $$"
    )
}

/// This migration's trigger function, as it was written.
pub(crate) fn distinct_suffixes_function_sql() -> String {
    suffixes_function_sql(&suffixes_sql("SELECT DISTINCT", "new_terms"))
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(
            manager,
            &[
                "CREATE TABLE IF NOT EXISTS audit_log_ip_suffixes ( \
                   tenant_id uuid NOT NULL, \
                   suffix text COLLATE \"C\" NOT NULL, \
                   value text NOT NULL, \
                   PRIMARY KEY (tenant_id, suffix, value))"
                    .to_owned(),
                distinct_suffixes_function_sql(),
                "CREATE OR REPLACE TRIGGER audit_log_terms_ip_suffixes AFTER INSERT ON audit_log_terms \
                 REFERENCING NEW TABLE AS new_terms FOR EACH STATEMENT \
                 EXECUTE FUNCTION audit_log_ip_suffixes_add()"
                    .to_owned(),
                format!(
                    "INSERT INTO audit_log_ip_suffixes (tenant_id, suffix, value) {} \
                     ON CONFLICT DO NOTHING",
                    suffixes_sql("SELECT DISTINCT", "audit_log_terms")
                ),
                "DROP INDEX IF EXISTS ix_audit_log_terms_words".to_owned(),
                words_index_sql("ix_audit_log_terms_words", " WHERE field <> 0"),
                words_index_sql("ix_audit_log_terms_ip_words", " WHERE field = 0"),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut statements: Vec<String> = [
            "DROP INDEX IF EXISTS ix_audit_log_terms_ip_words",
            "DROP INDEX IF EXISTS ix_audit_log_terms_words",
            "DROP TRIGGER IF EXISTS audit_log_terms_ip_suffixes ON audit_log_terms",
            "DROP FUNCTION IF EXISTS audit_log_ip_suffixes_add()",
            "DROP TABLE IF EXISTS audit_log_ip_suffixes",
        ]
        .map(str::to_owned)
        .into();
        // The index of m20260103 again.
        statements.push(words_index_sql("ix_audit_log_terms_words", ""));
        on_postgres(manager, &statements).await
    }
}
