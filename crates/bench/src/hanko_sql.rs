//! The baseline's SQL: what Hanko's `auditLogPersister` sends for one list request
//! (pop's `Paginate(...).Order("created_at desc").All(...)`, then `Count(...)` with the
//! same filters: two queries per request), and its one-row `INSERT`.

use std::hint::black_box;

use anyhow::Context;
use sea_orm::{ConnectionTrait, DatabaseConnection, QueryResult, Statement, Value};
use time::{OffsetDateTime, PrimitiveDateTime};
use uuid::Uuid;

use crate::{
    args::BackendKind,
    backend::Target,
    baseline_schema::{COLUMNS, TABLE},
    params::{PER_PAGE, tenant_value, time_value},
    scenario::HankoFilter,
};

/// The two statements of one list request.
#[derive(Debug, Clone)]
pub struct ListRequest {
    pub list: Statement,
    pub count: Statement,
}

/// Hanko's `WHERE` for these filters, with `$n` placeholders, and the values.
fn where_clause(kind: BackendKind, tenant: Uuid, filters: &[HankoFilter]) -> (String, Vec<Value>) {
    let as_text = |column: &str| match kind {
        BackendKind::Postgres => format!("{column}::text"),
        BackendKind::Sqlite => column.to_owned(),
    };
    // The passkey server scopes by tenant; the plain comparison can use the index.
    let mut conditions = vec!["tenant_id = $1".to_owned()];
    let mut values = vec![tenant_value(kind, tenant)];
    let bind = |values: &mut Vec<Value>, value: Value| {
        values.push(value);
        format!("${}", values.len())
    };
    for filter in filters {
        match filter {
            HankoFilter::Window(start, end) => {
                let s = bind(&mut values, time_value(kind, *start));
                conditions.push(format!("created_at > {s}"));
                let e = bind(&mut values, time_value(kind, *end));
                conditions.push(format!("created_at < {e}"));
            }
            HankoFilter::Types(types) => {
                let joined = types.join("','");
                conditions.push(format!("type IN ('{joined}')"));
            }
            HankoFilter::UserId(user) => {
                let p = bind(&mut values, format!("%{user}%").into());
                conditions.push(format!("{} LIKE {p}", as_text("actor_user_id")));
            }
            HankoFilter::Search(text) => {
                let arg = format!("%{text}%");
                let a = bind(&mut values, arg.clone().into());
                let b = bind(&mut values, arg.clone().into());
                let c = bind(&mut values, arg.into());
                conditions.push(format!(
                    "(actor_email LIKE {a} OR meta_source_ip LIKE {b} OR {} LIKE {c})",
                    as_text("actor_user_id")
                ));
            }
        }
    }
    (conditions.join(" AND "), values)
}

/// The statements of one list request with `filters` at `offset`.
pub fn list_request(
    target: &Target,
    tenant: Uuid,
    filters: &[HankoFilter],
    offset: u64,
) -> ListRequest {
    let (conditions, values) = where_clause(target.kind, tenant, filters);
    let select = format!(
        "SELECT {} FROM {TABLE} AS {TABLE} WHERE {conditions}",
        COLUMNS
            .iter()
            .map(|c| format!("{TABLE}.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    ListRequest {
        list: target.statement(
            &format!("{select} ORDER BY created_at desc LIMIT {PER_PAGE} OFFSET {offset}"),
            values.clone(),
        ),
        count: target.statement(
            &format!("SELECT COUNT(*) AS row_count FROM ({select}) a"),
            values,
        ),
    }
}

/// Runs both statements, decoding every row as the ORM would; returns the rows on the
/// page and the total.
pub async fn execute(
    kind: BackendKind,
    db: &DatabaseConnection,
    request: &ListRequest,
) -> anyhow::Result<(usize, u64)> {
    let rows = db
        .query_all_raw(request.list.clone())
        .await
        .context("the baseline's list query failed")?;
    for row in &rows {
        decode(kind, row)?;
    }
    let count = db
        .query_one_raw(request.count.clone())
        .await
        .context("the baseline's count query failed")?
        .context("the count query returned no row")?;
    let total: i64 = count.try_get("", "row_count")?;
    Ok((rows.len(), u64::try_from(total).unwrap_or(0)))
}

fn decode(kind: BackendKind, row: &QueryResult) -> anyhow::Result<()> {
    let text = |c: &str| row.try_get::<String>("", c);
    let opt_text = |c: &str| row.try_get::<Option<String>>("", c);
    black_box((
        text("type")?,
        text("meta_http_request_id")?,
        text("meta_source_ip")?,
        text("meta_user_agent")?,
        opt_text("error")?,
        opt_text("actor_email")?,
        opt_text("details")?,
    ));
    match kind {
        BackendKind::Postgres => {
            black_box((
                row.try_get::<Uuid>("", "id")?,
                row.try_get::<Option<Uuid>>("", "actor_user_id")?,
                row.try_get::<Option<Uuid>>("", "tenant_id")?,
                row.try_get::<PrimitiveDateTime>("", "created_at")?,
                row.try_get::<PrimitiveDateTime>("", "updated_at")?,
            ));
        }
        BackendKind::Sqlite => {
            black_box((
                text("id")?,
                opt_text("actor_user_id")?,
                opt_text("tenant_id")?,
                text("created_at")?,
                text("updated_at")?,
            ));
        }
    }
    Ok(())
}

/// A row to insert in the ingestion scenario, copied from a stored one.
#[derive(Debug, Clone)]
pub struct Template {
    pub r#type: String,
    pub error: Option<String>,
    pub meta_http_request_id: String,
    pub meta_source_ip: String,
    pub meta_user_agent: String,
    pub actor_user_id: Option<String>,
    pub actor_email: Option<String>,
    pub details: Option<String>,
}

/// The newest `n` entries of `tenant`, as templates for S6.
pub async fn templates(
    target: &Target,
    db: &DatabaseConnection,
    tenant: Uuid,
    n: usize,
) -> anyhow::Result<Vec<Template>> {
    let user = match target.kind {
        BackendKind::Postgres => "actor_user_id::text AS actor_user_id",
        BackendKind::Sqlite => "actor_user_id",
    };
    let sql = format!(
        "SELECT type, error, meta_http_request_id, meta_source_ip, meta_user_agent, {user},
                actor_email, details
         FROM {TABLE} WHERE tenant_id = $1 ORDER BY created_at DESC LIMIT {n}"
    );
    let rows = db
        .query_all_raw(target.statement(&sql, vec![tenant_value(target.kind, tenant)]))
        .await
        .context("cannot read the ingestion templates")?;
    rows.iter()
        .map(|row| {
            Ok(Template {
                r#type: row.try_get("", "type")?,
                error: row.try_get("", "error")?,
                meta_http_request_id: row.try_get("", "meta_http_request_id")?,
                meta_source_ip: row.try_get("", "meta_source_ip")?,
                meta_user_agent: row.try_get("", "meta_user_agent")?,
                actor_user_id: row.try_get("", "actor_user_id")?,
                actor_email: row.try_get("", "actor_email")?,
                details: row.try_get("", "details")?,
            })
        })
        .collect()
}

/// Hanko's `Create`: one `INSERT` of one row, committed on its own.
pub fn insert(target: &Target, tenant: Uuid, row: &Template, now: OffsetDateTime) -> Statement {
    let kind = target.kind;
    let uuid = |u: Uuid| match kind {
        BackendKind::Postgres => Value::from(u),
        BackendKind::Sqlite => Value::from(u.to_string()),
    };
    let user = row
        .actor_user_id
        .as_deref()
        .and_then(|u| Uuid::parse_str(u).ok());
    let values = vec![
        uuid(Uuid::new_v4()),
        row.r#type.clone().into(),
        row.error.clone().into(),
        row.meta_http_request_id.clone().into(),
        row.meta_source_ip.clone().into(),
        row.meta_user_agent.clone().into(),
        match (kind, user) {
            (BackendKind::Postgres, None) => Value::from(None::<Uuid>),
            (BackendKind::Sqlite, None) => Value::from(None::<String>),
            (BackendKind::Postgres, Some(u)) => Value::from(u),
            (BackendKind::Sqlite, Some(u)) => Value::from(u.to_string()),
        },
        row.actor_email.clone().into(),
        uuid(tenant),
        row.details.clone().into(),
        time_value(kind, now),
        time_value(kind, now),
    ];
    target.statement(
        &format!(
            "INSERT INTO {TABLE} (id, type, error, meta_http_request_id, meta_source_ip,
                meta_user_agent, actor_user_id, actor_email, tenant_id, details, created_at,
                updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ),
        values,
    )
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use time::macros::datetime;

    use super::*;
    use crate::args::Args;

    #[test]
    fn list_request_is_pops_pair_of_queries() {
        let args = Args::parse_from(["bench"]);
        let target = Target::new(BackendKind::Postgres, &args).expect("target");
        let filters = [
            HankoFilter::Window(
                datetime!(2025-12-25 0:00 UTC),
                datetime!(2026-01-01 0:00 UTC),
            ),
            HankoFilter::Types(vec!["login_success".into(), "login_failure".into()]),
            HankoFilter::Search("rossi".into()),
        ];
        let request = list_request(&target, Uuid::from_u128(1), &filters, 40);
        let list = request.list.to_string();
        assert!(
            list.starts_with(
                "SELECT hanko_audit_logs.actor_email, hanko_audit_logs.actor_user_id, "
            )
        );
        assert!(list.contains(
            "WHERE tenant_id = '00000000-0000-0000-0000-000000000001' \
             AND created_at > '2025-12-25 00:00:00.000000' AND created_at < '2026-01-01 00:00:00.000000' \
             AND type IN ('login_success','login_failure') \
             AND (actor_email LIKE '%rossi%' OR meta_source_ip LIKE '%rossi%' \
             OR actor_user_id::text LIKE '%rossi%') \
             ORDER BY created_at desc LIMIT 20 OFFSET 40"
        ));
        let count = request.count.to_string();
        assert!(count.starts_with("SELECT COUNT(*) AS row_count FROM (SELECT "));
        assert!(count.ends_with("OR actor_user_id::text LIKE '%rossi%')) a"));
    }
}
