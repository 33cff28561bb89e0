//! The listed prefix of an API key whose secret an operator chose (a bootstrap key)
//! no longer shows the secret's first characters: it becomes `sha256:` and the first
//! 8 hex digits of the stored hash, as new keys of that kind are listed. Generated
//! keys (`alk_` and 64 random hex digits) keep their prefix of 8 random hex digits.
//!
//! Only the stored prefix tells the two apart here, so a chosen secret that itself
//! begins with `alk_` and 8 lowercase hex digits keeps its listed prefix (12 characters
//! stored earlier cannot look like the 15 of a hash prefix); keys
//! registered from now on are told apart by the whole secret. There is no way back:
//! the characters replaced are not kept anywhere.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

/// The statement for `backend`; built from constants only.
fn rewrite_sql(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => {
            "UPDATE api_keys SET prefix = 'sha256:' || encode(substring(hash FROM 1 FOR 4), 'hex') \
             WHERE prefix !~ '^alk_[0-9a-f]{8}$' AND prefix !~ '^sha256:[0-9a-f]{8}$'"
        }
        _ => {
            "UPDATE api_keys SET prefix = 'sha256:' || lower(hex(substr(hash, 1, 4))) \
             WHERE prefix NOT GLOB 'alk_[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]' \
               AND prefix NOT GLOB 'sha256:[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]'"
        }
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let sql = rewrite_sql(manager.get_database_backend());
        manager.get_connection().execute_unprepared(sql).await?;
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        // The replaced characters are gone; the new prefixes stay valid under the
        // older schema.
        Ok(())
    }
}
