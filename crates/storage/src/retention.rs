//! Retention: each tenant's entries older than its retention are removed, in batches of
//! 1,000 (250 on SQLite), each batch one transaction that also
//! - takes the entries off the daily counts,
//! - removes the search terms that no remaining entry of the tenant holds,
//! - and records the removal, signed with the log key (`audit_log_removals`).
//!
//! The leaves stay: the tree, its checkpoints and every proof are unchanged, and
//! `auditlog verify` accepts a leaf without its entry only where a removal signed by
//! the log key names it. Entries not yet in the tree are left for a later round. A
//! tenant under legal hold keeps everything. A batch that fails or is killed leaves
//! nothing of itself (one transaction), so running the purge again completes it.
//!
//! On SQLite, where one writer writes at a time, a purge pauses after each batch for as
//! long as the batch took, so that the service's writes get the lock in between.
//!
//! On PostgreSQL a purge that removed 10,000 entries or more vacuums the tables it
//! removed from (plain `VACUUM`, which blocks neither reads nor writes), so that the
//! space is reused whether or not autovacuum runs; SQLite reuses freed pages itself.
//!
//! On PostgreSQL a batch takes `SHARE ROW EXCLUSIVE` on `audit_log_terms` once its
//! entries are gone, before it looks for the terms no entry holds: the writes in
//! progress (which insert terms) finish first, so that a term is removed only when no
//! entry holds it, committed or about to be; writes wait for the rest of the batch (the
//! terms, the record, the commit), not for its deletes. Two purges at once meet there
//! too; the second finds some of its batch gone and reads it again.

use std::collections::{BTreeMap, BTreeSet};

use auditlog_domain::{
    StoreError, Tenant,
    entry::timestamp::{from_micros, to_micros},
    log::{LeafRanges, Removal, RemovalReason, tenant_origin},
};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, PaginatorTrait,
    QueryFilter, QueryOrder,
    sea_query::{Alias, Expr, ExprTrait, JoinType, Query, SelectStatement},
};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::{
    LogSigner, SeaOrmStore, counts,
    error::db_error,
    schema::{entry, leaf, now, removal, tenant, term},
    search::extract::{EMAIL, IP, USER},
    write::txn::WriteTxn,
};

/// Entries a batch removes at most on PostgreSQL: one transaction's worth.
const BATCH: u64 = 1000;
/// Entries a batch removes at most on SQLite, where writes wait for each batch.
const SINGLE_WRITER_BATCH: u64 = 250;
/// Batches of one tenant read again because another purge took their entries first,
/// before the purge gives up (until its next round).
const RACES: u32 = 3;
/// Entries removed by one purge past which PostgreSQL's tables are vacuumed at once.
const VACUUM_AFTER: u64 = 10_000;
/// Values per `IN (...)` list.
const IN_LIST: usize = 1000;

/// What the purge of one tenant did, or would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantPurge {
    /// The tenant.
    pub tenant_id: Uuid,
    /// Its retention in days, and whether that is the service's default.
    pub retention_days: u32,
    /// Whether it is the default retention (the tenant sets none).
    pub by_default: bool,
    /// Entries created before this are expired.
    pub before: OffsetDateTime,
    /// Whether a legal hold kept everything.
    pub held: bool,
    /// Entries removed (or, in a dry run, that would be).
    pub removed: u64,
    /// Expired entries not yet in the tree, left for a later round.
    pub waiting: u64,
    /// The removals recorded, one a batch.
    pub removals: Vec<Uuid>,
}

/// An expiring entry, with what the batch must take off the counts and the search.
#[derive(Debug, FromQueryResult)]
struct Expiring {
    id: Uuid,
    leaf_index: i64,
    created_at: i64,
    meta_source_ip: String,
    actor_user_id_ci: Option<String>,
    actor_email_ci: Option<String>,
}

impl SeaOrmStore {
    /// Sets a tenant's retention (`Some(None)`: back to the default) and legal hold;
    /// `None` leaves either as it is. Returns the tenant, or `None` when there is no
    /// such tenant.
    pub async fn update_tenant(
        &self,
        id: Uuid,
        retention_days: Option<Option<u32>>,
        legal_hold: Option<bool>,
    ) -> Result<Option<Tenant>, StoreError> {
        let Some(row) = tenant::Entity::find_by_id(id)
            .one(self.connection())
            .await
            .map_err(db_error)?
        else {
            return Ok(None);
        };
        let mut change: tenant::ActiveModel = row.into();
        if let Some(days) = retention_days {
            let days = days
                .map(i32::try_from)
                .transpose()
                .map_err(|_| StoreError::Backend("retention days out of range".to_owned()))?;
            change.retention_days = Set(days);
        }
        if let Some(hold) = legal_hold {
            change.legal_hold = Set(hold);
        }
        let row = tenant::Entity::update(change)
            .exec(self.connection())
            .await
            .map_err(db_error)?;
        if let Some(hold) = legal_hold {
            tracing::info!(tenant_id = %id, legal_hold = hold, "legal hold set");
        }
        row.into_tenant().map(Some)
    }

    /// Removes every tenant's expired entries (`dry_run`: only counts them), as of
    /// `now`; `default_days` is the retention of tenants that set none (`None`: they
    /// keep everything). Signs each removal with `signer`.
    pub async fn purge(
        &self,
        signer: &LogSigner,
        default_days: Option<u32>,
        now: OffsetDateTime,
        dry_run: bool,
    ) -> Result<Vec<TenantPurge>, StoreError> {
        let settings: BTreeMap<Uuid, tenant::Model> = tenant::Entity::find()
            .all(self.connection())
            .await
            .map_err(db_error)?
            .into_iter()
            .map(|row| (row.id, row))
            .collect();
        // Without a default, only the tenants that set a retention can expire anything.
        let tenants = match default_days {
            Some(_) => self.log_tenants().await?,
            None => settings
                .values()
                .filter(|row| row.retention_days.is_some())
                .map(|row| row.id)
                .collect(),
        };
        let mut done = Vec::new();
        for tenant_id in tenants {
            let row = settings.get(&tenant_id);
            let own = row
                .and_then(|row| row.retention_days)
                .and_then(|days| u32::try_from(days).ok());
            let Some(days) = own.or(default_days) else {
                continue;
            };
            let before = now
                .checked_sub(Duration::days(i64::from(days)))
                .unwrap_or(OffsetDateTime::UNIX_EPOCH);
            let mut purge = TenantPurge {
                tenant_id,
                retention_days: days,
                by_default: own.is_none(),
                before,
                held: row.is_some_and(|row| row.legal_hold),
                removed: 0,
                waiting: 0,
                removals: Vec::new(),
            };
            if dry_run || purge.held {
                let (logged, waiting) = self.expired(tenant_id, before).await?;
                (purge.removed, purge.waiting) = if purge.held {
                    (0, logged + waiting)
                } else {
                    (logged, waiting)
                };
                done.push(purge);
                continue;
            }
            let mut raced = 0;
            loop {
                let started = std::time::Instant::now();
                let batch = match self.purge_batch(signer, &purge).await {
                    // Another purge took some of the batch's entries first: read again.
                    Err(StoreError::Unavailable(_)) if raced < RACES => {
                        raced += 1;
                        continue;
                    }
                    other => other?,
                };
                match batch {
                    Batch::Removed(id, removed) => {
                        purge.removed += removed;
                        purge.removals.push(id);
                        if removed < self.removal_batch() {
                            break;
                        }
                        self.let_writers_in(started.elapsed()).await;
                    }
                    Batch::Nothing => break,
                    Batch::Held => {
                        purge.held = true;
                        break;
                    }
                }
            }
            // What is still expired is what the tree had not taken in (or a hold kept).
            purge.waiting = self.count_expired(tenant_id, before).await?;
            done.push(purge);
        }
        let removed: u64 = done.iter().filter(|_| !dry_run).map(|p| p.removed).sum();
        if removed >= VACUUM_AFTER
            && self.connection().get_database_backend() == DbBackend::Postgres
        {
            // The space of the removed rows becomes reusable now, whether or not
            // autovacuum runs; VACUUM (not FULL) takes no lock that reads or writes wait on.
            for table in ["audit_logs", "audit_log_terms"] {
                self.connection()
                    .execute_unprepared(&format!("VACUUM (ANALYZE) {table}"))
                    .await
                    .map_err(db_error)?;
            }
        }
        Ok(done)
    }

    /// The most entries one batch of a purge or an erasure takes: 1,000, or 250 on a
    /// backend with one writer at a time (SQLite), where writes wait for each batch.
    pub fn removal_batch(&self) -> u64 {
        if self.single_writer() {
            SINGLE_WRITER_BATCH
        } else {
            BATCH
        }
    }

    /// On a backend with one writer at a time (SQLite), pauses as long as a batch took,
    /// so that the writes waiting for the lock get it between batches: a purge then
    /// takes at most half of the writing time, and no write waits for more than a batch.
    pub(crate) async fn let_writers_in(&self, batch_took: std::time::Duration) {
        if self.single_writer() {
            tokio::time::sleep(batch_took).await;
        }
    }

    /// The tenant's entries created before `before`: those in the tree, and those still
    /// queued for it.
    async fn expired(
        &self,
        tenant_id: Uuid,
        before: OffsetDateTime,
    ) -> Result<(u64, u64), StoreError> {
        let all = self.count_expired(tenant_id, before).await?;
        let logged = self.count_logged(tenant_id, before).await?;
        Ok((logged, all.saturating_sub(logged)))
    }

    /// How many of the tenant's entries were created before `before`.
    async fn count_expired(
        &self,
        tenant_id: Uuid,
        before: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        entry::Entity::find()
            .filter(entry::Column::TenantId.eq(tenant_id))
            .filter(entry::Column::CreatedAt.lt(to_micros(before)))
            .count(self.connection())
            .await
            .map_err(db_error)
    }

    /// How many of the tenant's entries created before `before` are in the tree.
    async fn count_logged(
        &self,
        tenant_id: Uuid,
        before: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let conn = self.connection();
        let query = expiring_query(tenant_id, before)
            .clear_selects()
            .expr_as(
                Expr::col((entry::Entity, entry::Column::Id)).count(),
                Alias::new("n"),
            )
            .to_owned();
        let statement = conn.get_database_backend().build(&query);
        let row = conn.query_one_raw(statement).await.map_err(db_error)?;
        let n: i64 = row
            .map(|row| row.try_get("", "n"))
            .transpose()
            .map_err(db_error)?
            .unwrap_or(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Up to [`SeaOrmStore::removal_batch`] of the tenant's entries created before `before` that are
    /// in the tree, oldest first.
    async fn expiring<C: ConnectionTrait>(
        &self,
        conn: &C,
        tenant_id: Uuid,
        before: OffsetDateTime,
    ) -> Result<Vec<Expiring>, StoreError> {
        let mut query = expiring_query(tenant_id, before);
        query
            .order_by(
                (entry::Entity, entry::Column::CreatedAt),
                sea_orm::Order::Asc,
            )
            .order_by((entry::Entity, entry::Column::Id), sea_orm::Order::Asc)
            .limit(self.removal_batch());
        let statement = conn.get_database_backend().build(&query);
        Expiring::find_by_statement(statement)
            .all(conn)
            .await
            .map_err(db_error)
    }

    /// One batch of the tenant's purge, in one transaction.
    async fn purge_batch(
        &self,
        signer: &LogSigner,
        purge: &TenantPurge,
    ) -> Result<Batch, StoreError> {
        let txn = WriteTxn::begin(self).await?;
        let result = self.purge_batch_in(&txn, signer, purge).await;
        txn.end(result).await
    }

    async fn purge_batch_in(
        &self,
        txn: &WriteTxn<'_>,
        signer: &LogSigner,
        purge: &TenantPurge,
    ) -> Result<Batch, StoreError> {
        let tenant_id = purge.tenant_id;
        let held = tenant::Entity::find_by_id(tenant_id)
            .one(&**txn)
            .await
            .map_err(db_error)?
            .is_some_and(|row| row.legal_hold);
        if held {
            return Ok(Batch::Held);
        }
        let rows = self.expiring(&**txn, tenant_id, purge.before).await?;
        if rows.is_empty() {
            return Ok(Batch::Nothing);
        }
        open_gate(&**txn, tenant_id).await?;

        let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
        let mut deleted = 0;
        for chunk in ids.chunks(IN_LIST) {
            deleted += entry::Entity::delete_many()
                .filter(entry::Column::TenantId.eq(tenant_id))
                .filter(entry::Column::Id.is_in(chunk.iter().copied()))
                .exec(&**txn)
                .await
                .map_err(db_error)?
                .rows_affected;
        }
        if deleted != ids.len() as u64 {
            // Another removal took some of them first: this batch is rolled back and the
            // next round reads what is left.
            return Err(StoreError::Unavailable(format!(
                "{} of {} expired entries were removed meanwhile; try again",
                ids.len() as u64 - deleted,
                ids.len()
            )));
        }
        let mut per_day: BTreeMap<i64, i64> = BTreeMap::new();
        for row in &rows {
            *per_day.entry(counts::day_of(row.created_at)).or_default() -= 1;
        }
        counts::increment(&**txn, tenant_id, &per_day).await?;
        let mut values = Values::default();
        for row in &rows {
            values.add(
                &row.meta_source_ip,
                row.actor_user_id_ci.as_deref(),
                row.actor_email_ci.as_deref(),
            );
        }
        forget(&**txn, tenant_id, values).await?;
        let removal = Removal {
            origin: tenant_origin(&signer.origin, tenant_id),
            id: Uuid::now_v7(),
            at: now(),
            reason: RemovalReason::Retention,
            rule: rule(purge),
            leaves: LeafRanges::of(
                rows.iter()
                    .map(|row| u64::try_from(row.leaf_index).unwrap_or(u64::MAX)),
            ),
            erased: Vec::new(),
        };
        record(&**txn, signer, tenant_id, &removal).await?;
        tracing::debug!(
            %tenant_id,
            removal_id = %removal.id,
            entries = rows.len(),
            rule = %removal.rule,
            "expired entries removed"
        );
        Ok(Batch::Removed(removal.id, rows.len() as u64))
    }

    /// The tenant's removals, oldest first.
    pub(crate) async fn removals_of<C: ConnectionTrait>(
        conn: &C,
        tenant_id: Uuid,
    ) -> Result<Vec<removal::Model>, StoreError> {
        removal::Entity::find()
            .filter(removal::Column::TenantId.eq(tenant_id))
            .order_by_asc(removal::Column::Id)
            .all(conn)
            .await
            .map_err(db_error)
    }
}

/// On PostgreSQL, waits for the writes in progress and holds new ones until the
/// removal's transaction ends (see the module's documentation).
pub(crate) async fn hold_writers<C: ConnectionTrait>(txn: &C) -> Result<(), StoreError> {
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared("LOCK TABLE audit_log_terms IN SHARE ROW EXCLUSIVE MODE")
            .await
            .map_err(db_error)?;
    }
    Ok(())
}

/// Lets the tenant's entries be deleted or erased in this transaction.
pub(crate) async fn open_gate<C: ConnectionTrait>(
    txn: &C,
    tenant_id: Uuid,
) -> Result<(), StoreError> {
    let gate = Query::insert()
        .into_table(Alias::new("audit_log_removing"))
        .columns([Alias::new("tenant_id")])
        .values_panic([tenant_id.into()])
        .to_owned();
    txn.execute(&gate).await.map_err(db_error).map(drop)
}

/// Forgets the search terms among `values` that no entry of the tenant holds any more;
/// on PostgreSQL, writers that remember which terms are stored learn that some went.
pub(crate) async fn forget<C: ConnectionTrait>(
    txn: &C,
    tenant_id: Uuid,
    values: Values<'_>,
) -> Result<(), StoreError> {
    hold_writers(txn).await?;
    let forgotten = forget_terms(txn, tenant_id, values).await?;
    if forgotten > 0 && txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared("SELECT nextval('audit_log_terms_epoch')")
            .await
            .map_err(db_error)?;
    }
    Ok(())
}

/// Signs `removal` and records it, then closes the tenant's gate.
pub(crate) async fn record<C: ConnectionTrait>(
    txn: &C,
    signer: &LogSigner,
    tenant_id: Uuid,
    removal: &Removal,
) -> Result<(), StoreError> {
    let note = removal
        .sign(&signer.key)
        .map_err(|err| StoreError::Backend(err.to_string()))?;
    removal::Entity::insert(removal::ActiveModel {
        id: Set(removal.id),
        tenant_id: Set(tenant_id),
        removed_at: Set(to_micros(removal.at)),
        reason: Set(removal.reason.as_str().to_owned()),
        rule: Set(removal.rule.clone()),
        leaves: Set(removal.leaves.to_string()),
        entries: Set(i64::try_from(removal.leaves.count()).unwrap_or(i64::MAX)),
        note: Set(note),
    })
    .exec_without_returning(txn)
    .await
    .map_err(db_error)?;
    let ungate = Query::delete()
        .from_table(Alias::new("audit_log_removing"))
        .and_where(Expr::col(Alias::new("tenant_id")).eq(tenant_id))
        .to_owned();
    txn.execute(&ungate).await.map_err(db_error).map(drop)
}

/// What one batch did.
enum Batch {
    /// Removed this many entries under this removal.
    Removed(Uuid, u64),
    /// Nothing was expired any more.
    Nothing,
    /// A legal hold was set meanwhile.
    Held,
}

/// The rule of a purge, as its removals state it.
fn rule(purge: &TenantPurge) -> String {
    let before = from_micros(to_micros(purge.before))
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    format!(
        "retention of {} days{}: created before {before}",
        purge.retention_days,
        if purge.by_default { " (default)" } else { "" }
    )
}

/// The tenant's entries created before `before` that have a leaf, with the columns of
/// [`Expiring`].
fn expiring_query(tenant_id: Uuid, before: OffsetDateTime) -> SelectStatement {
    let e = entry::Entity;
    logged_entries(tenant_id)
        .columns([
            (e, entry::Column::Id),
            (e, entry::Column::CreatedAt),
            (e, entry::Column::MetaSourceIp),
            (e, entry::Column::ActorUserIdCi),
            (e, entry::Column::ActorEmailCi),
        ])
        .and_where(Expr::col((e, entry::Column::CreatedAt)).lt(to_micros(before)))
        .to_owned()
}

/// The tenant's entries that have a leaf, beside it: `leaf_index` is selected; the
/// caller adds the entries' columns and conditions.
pub(crate) fn logged_entries(tenant_id: Uuid) -> SelectStatement {
    let (e, l) = (entry::Entity, leaf::Entity);
    Query::select()
        .column((l, leaf::Column::LeafIndex))
        .from(e)
        .join(
            JoinType::InnerJoin,
            l,
            Expr::col((l, leaf::Column::TenantId))
                .equals((e, entry::Column::TenantId))
                .and(Expr::col((l, leaf::Column::EntryId)).equals((e, entry::Column::Id))),
        )
        .and_where(Expr::col((e, entry::Column::TenantId)).eq(tenant_id))
        .to_owned()
}

/// The searchable values that a removal takes from some entries: their source
/// addresses and folded user ids and e-mail addresses.
#[derive(Debug, Default)]
pub(crate) struct Values<'a> {
    pub ips: BTreeSet<&'a str>,
    pub users: BTreeSet<&'a str>,
    pub emails: BTreeSet<&'a str>,
}

impl<'a> Values<'a> {
    /// Takes in one entry's values.
    pub(crate) fn add(&mut self, ip: &'a str, user: Option<&'a str>, email: Option<&'a str>) {
        self.ips.insert(ip);
        self.users.extend(user);
        self.emails.extend(email);
    }
}

/// Removes the search terms among `values` that no remaining entry of the tenant
/// holds; returns how many.
pub(crate) async fn forget_terms<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    values: Values<'_>,
) -> Result<u64, StoreError> {
    let Values { ips, users, emails } = values;
    let (t, e) = (term::Entity, entry::Entity);
    let mut forgotten = 0;
    for (field, values, holds) in [
        (
            IP,
            ips,
            Expr::col((e, entry::Column::IpKey))
                .equals((t, term::Column::Key))
                .and(Expr::col((e, entry::Column::MetaSourceIp)).equals((t, term::Column::Value))),
        ),
        (
            USER,
            users,
            Expr::col((e, entry::Column::ActorUserIdCi)).equals((t, term::Column::Value)),
        ),
        (
            EMAIL,
            emails,
            Expr::col((e, entry::Column::ActorEmailCi)).equals((t, term::Column::Value)),
        ),
    ] {
        let values: Vec<&str> = values.into_iter().collect();
        for chunk in values.chunks(IN_LIST) {
            let still_held = Query::select()
                .expr(Expr::val(1))
                .from(e)
                .and_where(
                    Expr::col((e, entry::Column::TenantId)).equals((t, term::Column::TenantId)),
                )
                .and_where(holds.clone())
                .to_owned();
            let delete = Query::delete()
                .from_table(t)
                .and_where(Expr::col((t, term::Column::TenantId)).eq(tenant_id))
                .and_where(Expr::col((t, term::Column::Field)).eq(field))
                .and_where(Expr::col((t, term::Column::Value)).is_in(chunk.iter().copied()))
                .and_where(Expr::exists(still_held).not())
                .to_owned();
            forgotten += conn
                .execute(&delete)
                .await
                .map_err(db_error)?
                .rows_affected();
        }
    }
    Ok(forgotten)
}
