//! PostgreSQL: the text columns that indexes sort (the entries' type and folded user
//! id and e-mail address, the search terms and their address suffixes) compare byte
//! by byte (`COLLATE "C"`), and the address suffixes are written without a sort.
//!
//! Every index on them serves equality, `IN` lists and `LIKE '%...%'`; none serves an
//! order that a reader sees (entries are listed by time and id). The database's own
//! collation (say `en_US.UTF-8`) compares through the C library's `strcoll`, which
//! made each of these index builds and insertions slower, and whose order can change
//! with an operating system upgrade, leaving such indexes to be rebuilt. In byte order
//! two texts are equal exactly when they were equal before (every libc collation that
//! PostgreSQL offers is deterministic), so every answer stays the same. Altering the
//! columns rebuilds their indexes once, while the tables are locked.
//!
//! The suffixes of one new address term are distinct (they have different lengths),
//! and the terms a statement inserts are distinct (their primary key), so the trigger
//! no longer sorts them for `DISTINCT`.
//!
//! The sequence `audit_log_terms_epoch` advances whenever search terms are removed
//! (only a bulk load into a store without entries removes them): a writer that
//! remembers which terms are stored trusts that only while the sequence, the sequence's
//! identity and the database server's start time stay the same.
//! SQLite compares text byte by byte already, and its writers remember no terms.

use sea_orm_migration::prelude::*;

use crate::{
    m20260104_000001_address_suffixes::{
        distinct_suffixes_function_sql, suffixes_function_sql, suffixes_sql,
    },
    on_postgres,
};

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

/// The columns, by table.
const COLUMNS: [(&str, &[&str]); 3] = [
    (
        "audit_logs",
        &["type", "actor_user_id_ci", "actor_email_ci"],
    ),
    ("audit_log_terms", &["value"]),
    ("audit_log_ip_suffixes", &["value"]),
];

/// `ALTER TABLE` statements that give [`COLUMNS`] `collation`.
fn collate_sql(collation: &str) -> Vec<String> {
    COLUMNS
        .iter()
        .map(|(table, columns)| {
            let alter: Vec<String> = columns
                .iter()
                .map(|column| format!("ALTER COLUMN {column} TYPE text COLLATE \"{collation}\""))
                .collect();
            format!("ALTER TABLE {table} {}", alter.join(", "))
        })
        .collect()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut statements = collate_sql("C");
        statements.push(suffixes_function_sql(&suffixes_sql("SELECT", "new_terms")));
        statements.push("CREATE SEQUENCE IF NOT EXISTS audit_log_terms_epoch".to_owned());
        on_postgres(manager, &statements).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut statements = collate_sql("default");
        statements.push(distinct_suffixes_function_sql());
        statements.push("DROP SEQUENCE IF EXISTS audit_log_terms_epoch".to_owned());
        on_postgres(manager, &statements).await
    }
}
