//! The listed prefix of an API key whose secret an operator chose no longer shows the
//! first 8 hex digits of the secret's unsalted SHA-256 hash, which let a weak secret be
//! confirmed offline: it becomes `chosen`, as new keys of that kind are listed.
//! Generated keys (`alk_` and 8 random hex digits) keep their prefix. There is no way
//! back: the digits replaced are not kept anywhere (the whole hash stays, in `hash`).

use sea_orm_migration::prelude::*;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Constants only; `sha256:` prefixes are what the step before this one wrote.
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE api_keys SET prefix = 'chosen' WHERE prefix LIKE 'sha256:%'",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        // The digits are gone; `chosen` stays valid under the older schema.
        Ok(())
    }
}
