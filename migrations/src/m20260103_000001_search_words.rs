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

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

/// The indexed form of `expr` (a value, or a `LIKE` pattern of one): each `.`, `:`,
/// `-` and `@` becomes a letter and nothing else changes, so a value that contains a
/// text also contains it in this form (the converse may fail: the form only narrows).
pub fn search_words_sql(expr: &str) -> String {
    format!("translate({expr}, '.:-@', 'xyzw')")
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX IF EXISTS ix_audit_log_terms_value")
            .await?;
        db.execute_unprepared(&format!(
            "CREATE INDEX IF NOT EXISTS ix_audit_log_terms_words ON audit_log_terms \
             USING gin ({} gin_trgm_ops)",
            search_words_sql("value")
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX IF EXISTS ix_audit_log_terms_words")
            .await?;
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS ix_audit_log_terms_value ON audit_log_terms USING gin (value gin_trgm_ops)",
        )
        .await?;
        Ok(())
    }
}
