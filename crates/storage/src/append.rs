//! The write path: a batch is validated, inserted with `ON CONFLICT DO NOTHING`, then
//! read back and compared, all on the caller's connection or transaction.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::LazyLock,
};

use auditlog_domain::{AuditLog, NewAuditLog, StoreError, store::prepare_batch};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, Statement, Value,
};
use uuid::Uuid;

use crate::{
    columns,
    convert::{entry_from_row, entry_to_row, now},
    counts,
    entity::audit_log,
    error::db_error,
    terms::{self, Epoch, KnownTerms, Learned},
};

/// Rows per `INSERT`: 15 bind parameters each stays far below the limits of SQLite
/// (32766) and PostgreSQL (65535).
const INSERT_ROWS: usize = 500;
/// Ids per `SELECT ... IN (...)`, for the same reason.
const SELECT_IDS: usize = 1000;

/// Where the answer for one submitted entry comes from.
enum Slot {
    /// An entry of its own, stored under this id; `Some` holds the submission when it
    /// carried the id, so that an entry already stored can be compared with it.
    Own(Uuid, Option<Box<NewAuditLog>>),
    /// The same id and content as the entry at this earlier index of the batch.
    SameAs(usize),
}

/// Stores a batch in `tenant_id` on `conn`, which may be the caller's own
/// [`sea_orm::DatabaseTransaction`]: the entries are recorded or rolled back with it.
///
/// Every entry is validated first; an entry whose id is already stored with the same
/// content is not stored again. Returns the stored entry for each submitted one, in the
/// order submitted (an id given twice gets the same stored entry twice).
///
/// On an error nothing of the batch is visible once the transaction is rolled back;
/// rolling back is the caller's duty (the batch may be partly inserted when an error
/// is returned, a [`StoreError::Conflict`] or any other). [`auditlog_domain::AuditLogStore::append`] of
/// [`crate::SeaOrmStore`] does it in a transaction of its own.
pub async fn append_in<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    entries: Vec<NewAuditLog>,
) -> Result<Vec<AuditLog>, StoreError> {
    // The caller commits: what the write could teach is not known to be stored.
    append_with(conn, tenant_id, entries, None)
        .await
        .map(|(stored, _)| stored)
}

/// [`append_in`], skipping the search terms that `known` holds; also returns what the
/// write teaches `known` once its transaction has committed.
pub(crate) async fn append_with<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    entries: Vec<NewAuditLog>,
    known: Option<&KnownTerms>,
) -> Result<(Vec<AuditLog>, Learned), StoreError> {
    if entries.is_empty() {
        return Ok((Vec::new(), Learned::default()));
    }
    let now = now();
    let prepared = prepare_batch(entries, now)?;

    let mut slots = Vec::with_capacity(prepared.len());
    let mut own: HashMap<Uuid, AuditLog> = HashMap::with_capacity(prepared.len());
    for (entry, duplicate_of) in prepared {
        if let Some(first) = duplicate_of {
            slots.push(Slot::SameAs(first));
            continue;
        }
        let submitted = entry.id.is_some().then(|| Box::new(entry.clone()));
        let stored = entry.into_entry(tenant_id, now);
        slots.push(Slot::Own(stored.id, submitted));
        own.insert(stored.id, stored);
    }

    // Insert first, then read: a reader that later writes is refused with SQLITE_BUSY
    // under concurrency, and on PostgreSQL the insert waits for a concurrent inserter
    // of the same id, so that the read below sees its row.
    let (inserted, learned) = insert_new(conn, tenant_id, own.values(), known).await?;

    // Only ids that were stored before need reading: the rest are as inserted.
    let existing: Vec<Uuid> = own
        .keys()
        .filter(|id| !inserted.contains(id))
        .copied()
        .collect();
    for chunk in existing.chunks(SELECT_IDS) {
        let found = audit_log::Entity::find()
            .filter(audit_log::Column::TenantId.eq(tenant_id))
            .filter(audit_log::Column::Id.is_in(chunk.iter().copied()))
            .all(conn)
            .await
            .map_err(db_error)?;
        for row in found {
            let entry = entry_from_row(row)?;
            own.insert(entry.id, entry);
        }
    }

    let mut answer: Vec<AuditLog> = Vec::with_capacity(slots.len());
    for (index, slot) in slots.into_iter().enumerate() {
        let entry = match slot {
            Slot::SameAs(first) => answer.get(first).cloned(),
            Slot::Own(id, submitted) => {
                let entry = own.get(&id).cloned();
                let conflict = match (&submitted, &entry) {
                    (Some(submitted), Some(entry)) => !submitted.same_content_as(entry),
                    // An id of our own making that was taken: vanishingly unlikely, and
                    // never silently answered with another entry.
                    (None, _) => !inserted.contains(&id),
                    (Some(_), None) => false,
                };
                if conflict {
                    return Err(StoreError::Conflict {
                        id,
                        index,
                        other_index: None,
                    });
                }
                entry
            }
        };
        let entry = entry.ok_or_else(|| {
            StoreError::Backend(format!(
                "entry {index} was inserted but cannot be read back"
            ))
        })?;
        answer.push(entry);
    }
    Ok((answer, learned))
}

/// Inserts `entries` into `tenant_id` with `ON CONFLICT DO NOTHING`, adds the ones
/// inserted to the daily counts and their new values to the search terms (on
/// PostgreSQL, those that `known` does not hold); returns the ids inserted and what
/// the write teaches `known` once committed. Rows go in id order, so two batches that
/// share ids wait for each other in one order and never deadlock.
pub(crate) async fn insert_new<'a, C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    entries: impl Iterator<Item = &'a AuditLog>,
    known: Option<&KnownTerms>,
) -> Result<(HashSet<Uuid>, Learned), StoreError> {
    let mut rows = entries.map(entry_to_row).collect::<Result<Vec<_>, _>>()?;
    rows.sort_unstable_by_key(|row| row.id);
    let (inserted, learned) = if conn.get_database_backend() == DbBackend::Postgres {
        // The new terms are recorded by the same statement.
        insert_new_postgres(conn, tenant_id, &rows, known).await?
    } else {
        let inserted = insert_new_sqlite(conn, &rows).await?;
        let new_rows = rows.iter().filter(|row| inserted.contains(&row.id));
        terms::add(conn, tenant_id, terms::of_rows(new_rows)).await?;
        (inserted, Learned::default())
    };
    let mut per_day: BTreeMap<i64, i64> = BTreeMap::new();
    for row in rows.iter().filter(|row| inserted.contains(&row.id)) {
        *per_day.entry(counts::day_of(row.created_at)).or_default() += 1;
    }
    // Last, so that the day's row, which every writer of the day updates, stays locked
    // only until the commit that follows.
    counts::add(conn, tenant_id, &per_day).await?;
    Ok((inserted, learned))
}

/// Inserts rows with `ON CONFLICT DO NOTHING`, a few hundred a statement; returns the
/// ids inserted. A failure may leave part of a statement's rows
/// ([`columns::sqlite_insert`]):
/// the batch's transaction is rolled back on any error.
async fn insert_new_sqlite<C: ConnectionTrait>(
    conn: &C,
    rows: &[audit_log::Model],
) -> Result<HashSet<Uuid>, StoreError> {
    let mut inserted: HashSet<Uuid> = HashSet::with_capacity(rows.len());
    for chunk in rows.chunks(INSERT_ROWS) {
        let sql = columns::sqlite_insert(chunk.len(), SQLITE_INSERT_TAIL);
        let values: Vec<Value> = chunk.iter().cloned().flat_map(columns::values).collect();
        let answer = conn
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                sql,
                values,
            ))
            .await
            .map_err(db_error)?;
        for row in answer {
            inserted.insert(row.try_get::<Uuid>("", "id").map_err(db_error)?);
        }
    }
    Ok(inserted)
}

/// What follows the rows of [`insert_new_sqlite`]'s statement.
const SQLITE_INSERT_TAIL: &str = "ON CONFLICT (tenant_id, id) DO NOTHING RETURNING id";

/// PostgreSQL inserts the rows and their new terms in one statement: the rows travel
/// as 15 arrays (a few parameters however large the batch), and so do their search
/// terms, each marked when `known` holds it. The statement records the terms of the
/// rows it inserted, skipping the marked ones unless the epoch they were learned at
/// has passed.
async fn insert_new_postgres<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    rows: &[audit_log::Model],
    known: Option<&KnownTerms>,
) -> Result<(HashSet<Uuid>, Learned), StoreError> {
    if rows.is_empty() {
        return Ok((HashSet::new(), Learned::default()));
    }
    let terms = terms::of_rows(rows);
    let (epoch, flags) = match known {
        Some(known) => known.lookup(tenant_id, &terms),
        None => (None, vec![false; terms.len()]),
    };
    let mut values = postgres_arrays(rows);
    values.push(tenant_id.into());
    values.push(terms.iter().map(|t| t.0).collect::<Vec<i16>>().into());
    values.push(
        terms
            .iter()
            .map(|t| t.1.clone())
            .collect::<Vec<String>>()
            .into(),
    );
    values.push(
        terms
            .iter()
            .map(|t| t.2.clone())
            .collect::<Vec<Vec<u8>>>()
            .into(),
    );
    values.push(flags.into());
    values.push(epoch.as_ref().map(|e| e.value).into());
    values.push(epoch.map(|e| e.origin).into());
    let statement =
        Statement::from_sql_and_values(DbBackend::Postgres, POSTGRES_INSERT.as_str(), values);
    let answer = conn.query_all_raw(statement).await.map_err(db_error)?;
    let mut inserted = HashSet::with_capacity(answer.len());
    let mut epoch = None;
    for row in answer {
        inserted.insert(row.try_get::<Uuid>("", "id").map_err(db_error)?);
        epoch = Some(Epoch {
            value: row.try_get("", "epoch").map_err(db_error)?,
            origin: row.try_get("", "origin").map_err(db_error)?,
        });
    }
    // What the statement recorded: the terms of the rows it inserted (all of them,
    // unless some ids were stored before).
    let recorded = if inserted.len() == rows.len() {
        terms
    } else {
        terms::of_rows(rows.iter().filter(|row| inserted.contains(&row.id)))
    };
    let learned = Learned {
        epoch,
        terms: recorded
            .into_iter()
            .map(|(field, value, _)| (tenant_id, field, value))
            .collect(),
    };
    Ok((inserted, learned))
}

/// The rows as the 15 arrays of [`POSTGRES_INSERT`] and [`POSTGRES_BULK_INSERT`].
pub(crate) fn postgres_arrays(rows: &[audit_log::Model]) -> Vec<Value> {
    // Arrays cannot carry NULL here; the nullable texts travel as "" and come back as
    // NULL. Validation turns an empty optional field into an absent one, and details
    // are never empty JSON, so "" stands for nothing else.
    fn texts(
        rows: &[audit_log::Model],
        field: impl Fn(&audit_log::Model) -> &Option<String>,
    ) -> Value {
        rows.iter()
            .map(|r| field(r).clone().unwrap_or_default())
            .collect::<Vec<String>>()
            .into()
    }
    vec![
        rows.iter()
            .map(|r| r.tenant_id)
            .collect::<Vec<Uuid>>()
            .into(),
        rows.iter().map(|r| r.id).collect::<Vec<Uuid>>().into(),
        rows.iter()
            .map(|r| r.r#type.clone())
            .collect::<Vec<String>>()
            .into(),
        texts(rows, |r| &r.error),
        rows.iter()
            .map(|r| r.meta_http_request_id.clone())
            .collect::<Vec<String>>()
            .into(),
        rows.iter()
            .map(|r| r.meta_source_ip.clone())
            .collect::<Vec<String>>()
            .into(),
        rows.iter()
            .map(|r| r.ip_key.clone())
            .collect::<Vec<Vec<u8>>>()
            .into(),
        rows.iter()
            .map(|r| r.meta_user_agent.clone())
            .collect::<Vec<String>>()
            .into(),
        texts(rows, |r| &r.actor_user_id),
        texts(rows, |r| &r.actor_user_id_ci),
        texts(rows, |r| &r.actor_email),
        texts(rows, |r| &r.actor_email_ci),
        texts(rows, |r| &r.details),
        rows.iter()
            .map(|r| r.created_at)
            .collect::<Vec<i64>>()
            .into(),
        rows.iter()
            .map(|r| r.updated_at)
            .collect::<Vec<i64>>()
            .into(),
    ]
}

/// The rows of [`postgres_arrays`] straight into `audit_logs`.
const POSTGRES_BULK_INSERT: &str = concat!(
    "INSERT INTO audit_logs (",
    columns::entry_columns!(),
    ") \
   SELECT t, i, ty, NULLIF(e, ''), rid, ip, k, ua, NULLIF(u, ''), NULLIF(uci, ''), NULLIF(em, ''), \
     NULLIF(emci, ''), NULLIF(d, ''), c, up \
   FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bytea[], \
     $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::int8[], $15::int8[]) \
     AS x (t, i, ty, e, rid, ip, k, ua, u, uci, em, emci, d, c, up)"
);

/// The statement of [`insert_new_postgres`], built once from constants: `$16` is the
/// tenant, `$17` to `$19` the terms' fields, values and address keys (empty for other
/// fields), `$20` which of them are known, `$21` and `$22` the epoch they are known
/// at (its value and origin).
static POSTGRES_INSERT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH inserted AS ({POSTGRES_BULK_INSERT} \
           ON CONFLICT (tenant_id, id) DO NOTHING \
           RETURNING id, meta_source_ip, actor_user_id_ci, actor_email_ci), \
         epoch AS ( \
           SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS value, \
             extract(epoch FROM pg_postmaster_start_time())::text || '/' || tableoid::text AS origin \
           FROM audit_log_terms_epoch), \
         terms AS ( \
           INSERT INTO audit_log_terms (tenant_id, field, value, key) \
           SELECT $16::uuid, f, v, NULLIF(k, ''::bytea) \
           FROM UNNEST($17::int2[], $18::text[], $19::bytea[], $20::bool[]) AS x (f, v, k, known) \
           WHERE (NOT known OR NOT EXISTS ( \
               SELECT 1 FROM epoch WHERE value = $21::int8 AND origin = $22::text)) \
             AND (f, v COLLATE \"C\") IN ( \
               SELECT 0::int2, meta_source_ip COLLATE \"C\" FROM inserted \
               UNION ALL SELECT 1::int2, actor_user_id_ci FROM inserted \
               UNION ALL SELECT 2::int2, actor_email_ci FROM inserted) \
           ORDER BY f, v COLLATE \"C\" \
           ON CONFLICT DO NOTHING) \
         SELECT id, epoch.value AS epoch, epoch.origin FROM inserted, epoch"
    )
});
