//! PostgreSQL: the trigram index of the search terms reads each value as one word.
//!
//! pg_trgm cuts text into words at every character that is not a letter or a digit, and
//! takes the trigrams of each word. An address is then words of one to three digits
//! (`203`, `0`, `192`) whose trigrams (`  1`, ` 0 `, ...) almost every address has, so
//! a fragment of an address had to intersect posting lists of most of the index. The
//! index now covers [`search_words_sql`] of the value, where `.`, `:`, `-` and `@` are
//! letters, so `203.0.192.` is one word with selective trigrams (`3x0`, `x19`, ...). The index only
//! narrows: the exact `LIKE` on the value itself decides, so answers are unchanged.
//! SQLite's FTS5 trigram tokenizer indexes every three characters already.

use sea_orm_migration::prelude::*;

use crate::on_postgres;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

/// The indexed form of `expr` (a value, or a `LIKE` pattern of one): each `.`, `:`,
/// `-` and `@` becomes a letter and nothing else changes, so a value that contains a
/// text also contains it in this form (the converse may fail: the form only narrows).
pub(crate) fn search_words_sql(expr: &str) -> String {
    format!("translate({expr}, '.:-@', 'xyzw')")
}

/// The trigram index `name` of the terms' [`search_words_sql`], over the terms that
/// `filter` keeps (`""` for all, or a ` WHERE ...` clause).
pub(crate) fn words_index_sql(name: &str, filter: &str) -> String {
    format!(
        "CREATE INDEX IF NOT EXISTS {name} ON audit_log_terms \
         USING gin ({} gin_trgm_ops){filter}",
        search_words_sql("value")
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(
            manager,
            &[
                "DROP INDEX IF EXISTS ix_audit_log_terms_value".to_owned(),
                words_index_sql("ix_audit_log_terms_words", ""),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(
            manager,
            &[
                "DROP INDEX IF EXISTS ix_audit_log_terms_words".to_owned(),
                "CREATE INDEX IF NOT EXISTS ix_audit_log_terms_value ON audit_log_terms USING gin (value gin_trgm_ops)".to_owned(),
            ],
        )
        .await
    }
}
