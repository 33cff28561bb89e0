//! Erasure: one person's personal data removed from their entries, which stay in place.
//!
//! An erased entry keeps its id, tenant, type, request id and times; its user id,
//! e-mail address, user agent, error and details are gone, its source address is
//! `0.0.0.0`, and its details are the marker [`ERASURE_MARKER`] with when and under
//! which removal. Each batch of up to 1,000 entries (250 on SQLite) is one transaction that erases them,
//! forgets the search terms no entry holds any more, and records an erasure signed by
//! the log key that names the leaves and, for each, the leaf hash of the entry as
//! erased: `verify` then accepts the changed entries, and only as erased.
//!
//! Entries still queued for the tree are taken in first, so that each has a leaf.

use std::{collections::HashMap, net::Ipv4Addr};

use auditlog_domain::{
    ERASURE_MARKER, StoreError,
    entry::timestamp::to_micros,
    log::{LeafRanges, Removal, RemovalReason, tenant_origin},
    text::fold_case,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter,
    sea_query::{Expr, SimpleExpr},
};
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::{
    LogSigner, SeaOrmStore,
    error::db_error,
    log::sequence::leaf_of,
    retention::{Values, forget, logged_entries, open_gate, record},
    schema::{entry, ip_key, now},
    search::{self, extract::IP},
    write::txn::WriteTxn,
};

/// Whose entries to erase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Person {
    /// The entries whose `actor_user_id` is exactly this.
    UserId(String),
    /// The entries whose `actor_email` is this, ignoring ASCII case (as the filter).
    Email(String),
}

impl Person {
    /// The condition on the entries' columns, as the list's filters apply it.
    fn condition(&self) -> SimpleExpr {
        match self {
            Person::UserId(id) => entry::Column::ActorUserId.eq(id.as_str()),
            Person::Email(email) => entry::Column::ActorEmailCi.eq(fold_case(email)),
        }
    }

    /// How the rule names what chose the entries (never the value itself).
    fn chosen_by(&self) -> &'static str {
        match self {
            Person::UserId(_) => "actor_user_id",
            Person::Email(_) => "actor_email",
        }
    }
}

/// What an erasure did, or would do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Erasure {
    /// Entries erased (in a dry run: that would be).
    pub entries: u64,
    /// The erasures recorded, one a batch.
    pub removals: Vec<Uuid>,
}

/// The address an erased entry shows.
const ERASED_IP: Ipv4Addr = Ipv4Addr::UNSPECIFIED;

impl SeaOrmStore {
    /// Erases the personal data of `person`'s entries in the tenant (`dry_run`: only
    /// counts them), signing each batch's record with `signer`.
    pub async fn erase(
        &self,
        signer: &LogSigner,
        tenant_id: Uuid,
        person: &Person,
        dry_run: bool,
    ) -> Result<Erasure, StoreError> {
        if dry_run {
            let entries = entry::Entity::find()
                .filter(entry::Column::TenantId.eq(tenant_id))
                .filter(person.condition())
                .count(self.connection())
                .await
                .map_err(db_error)?;
            return Ok(Erasure {
                entries,
                removals: Vec::new(),
            });
        }
        self.integrate_now(signer).await?;
        let mut done = Erasure::default();
        loop {
            let started = std::time::Instant::now();
            let txn = WriteTxn::begin(self).await?;
            let result = erase_batch(&txn, signer, tenant_id, person, self.removal_batch()).await;
            match txn.end(result).await? {
                Some((id, erased)) => {
                    done.entries += erased;
                    done.removals.push(id);
                    if erased < self.removal_batch() {
                        break;
                    }
                    self.let_writers_in(started.elapsed()).await;
                }
                None => break,
            }
        }
        if done.entries > 0 {
            tracing::info!(%tenant_id, entries = done.entries, by = person.chosen_by(), "personal data erased");
        }
        Ok(done)
    }
}

/// One batch: up to `batch` of the person's entries that have a leaf. Returns
/// the erasure recorded and how many entries it erased, or `None` when none was left.
async fn erase_batch(
    txn: &WriteTxn<'_>,
    signer: &LogSigner,
    tenant_id: Uuid,
    person: &Person,
    batch: u64,
) -> Result<Option<(Uuid, u64)>, StoreError> {
    let conn = &**txn;
    let query = logged_entries(tenant_id)
        .column((entry::Entity, entry::Column::Id))
        .and_where(person.condition())
        .limit(batch)
        .to_owned();
    let found = Found::find_by_statement(conn.get_database_backend().build(&query))
        .all(conn)
        .await
        .map_err(db_error)?;
    if found.is_empty() {
        return Ok(None);
    }
    let index_of: HashMap<Uuid, u64> = found
        .iter()
        .map(|f| (f.id, u64::try_from(f.leaf_index).unwrap_or(u64::MAX)))
        .collect();
    let mut rows = entry::Entity::find()
        .filter(entry::Column::TenantId.eq(tenant_id))
        .filter(entry::Column::Id.is_in(index_of.keys().copied()))
        .all(conn)
        .await
        .map_err(db_error)?;
    rows.sort_by_key(|row| index_of.get(&row.id).copied());
    open_gate(conn, tenant_id).await?;

    let (id, at) = (Uuid::now_v7(), now());
    let erased_at = at
        .format(&Rfc3339)
        .map_err(|err| StoreError::Backend(format!("the erasure's time: {err}")))?;
    let marker =
        serde_json::json!({ ERASURE_MARKER: { "erased_at": erased_at, "removal_id": id } })
            .to_string();
    let ip = std::net::IpAddr::V4(ERASED_IP);
    let key = ip_key::of(ip).to_vec();
    let mut erased_hashes = Vec::with_capacity(rows.len());
    for row in &rows {
        let erased = entry::Model {
            error: None,
            meta_source_ip: ip.to_string(),
            ip_key: key.clone(),
            meta_user_agent: String::new(),
            actor_user_id: None,
            actor_user_id_ci: None,
            actor_email: None,
            actor_email_ci: None,
            details: Some(marker.clone()),
            updated_at: to_micros(at),
            ..row.clone()
        };
        erased_hashes.push(leaf_of(&erased)?.into());
    }
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    let updated = entry::Entity::update_many()
        .col_expr(entry::Column::Error, Expr::value(None::<String>))
        .col_expr(entry::Column::MetaSourceIp, Expr::value(ip.to_string()))
        .col_expr(entry::Column::IpKey, Expr::value(key.clone()))
        .col_expr(entry::Column::MetaUserAgent, Expr::value(String::new()))
        .col_expr(entry::Column::ActorUserId, Expr::value(None::<String>))
        .col_expr(entry::Column::ActorUserIdCi, Expr::value(None::<String>))
        .col_expr(entry::Column::ActorEmail, Expr::value(None::<String>))
        .col_expr(entry::Column::ActorEmailCi, Expr::value(None::<String>))
        .col_expr(entry::Column::Details, Expr::value(marker.clone()))
        .col_expr(entry::Column::UpdatedAt, Expr::value(to_micros(at)))
        .filter(entry::Column::TenantId.eq(tenant_id))
        .filter(entry::Column::Id.is_in(ids))
        .exec(conn)
        .await
        .map_err(db_error)?
        .rows_affected;
    if updated != rows.len() as u64 {
        return Err(StoreError::Unavailable(
            "the entries changed during the erasure; try again".to_owned(),
        ));
    }
    // The address they show now is searchable as any other; the values they held are
    // forgotten where no entry holds them any more.
    search::record::record(conn, tenant_id, vec![(IP, ip.to_string(), key)]).await?;
    let mut values = Values::default();
    for row in &rows {
        values.add(
            &row.meta_source_ip,
            row.actor_user_id_ci.as_deref(),
            row.actor_email_ci.as_deref(),
        );
    }
    forget(conn, tenant_id, values).await?;

    let removal = Removal {
        origin: tenant_origin(&signer.origin, tenant_id),
        id,
        at,
        reason: RemovalReason::Erasure,
        rule: format!(
            "erasure of one person's entries, chosen by {}",
            person.chosen_by()
        ),
        leaves: LeafRanges::of(index_of.values().copied()),
        erased: erased_hashes,
    };
    record(conn, signer, tenant_id, &removal).await?;
    Ok(Some((id, rows.len() as u64)))
}

/// An entry of the person and its leaf.
#[derive(Debug, FromQueryResult)]
struct Found {
    id: Uuid,
    leaf_index: i64,
}
