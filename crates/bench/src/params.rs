//! The scenarios' parameters, picked from the data deterministically: the same dataset
//! gives the same parameters on every backend and every run.

use anyhow::{Context, bail};
use sea_orm::{ConnectionTrait, DatabaseConnection, QueryResult, Value};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime, PrimitiveDateTime, format_description::well_known::Rfc3339};
use uuid::Uuid;

use crate::{args::BackendKind, backend::Target, baseline_schema::TABLE};

/// The deep page of S5: offset 500,000 = page 25,001 of 20.
const DEEP_OFFSET: u64 = 500_000;
/// Entries on a page in every read scenario (the APIs' default).
pub const PER_PAGE: u64 = 20;

/// What the read scenarios ask for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Params {
    /// S2: the two most common types of the main tenant.
    pub types: [String; 2],
    /// S2: the newest 7 days, `[end - 7 days, end)`.
    #[serde(with = "time::serde::rfc3339")]
    pub window_start: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub window_end: OffsetDateTime,
    /// S3: the actor with the median number of entries.
    pub actor_user_id: String,
    pub actor_entries: u64,
    /// S4: that actor's e-mail local part without its first character, shortened at
    /// the end until it matches a handful of addresses.
    pub email_fragment: String,
    /// How many distinct addresses it matches.
    #[serde(default)]
    pub email_fragment_addresses: u64,
    /// S4: the first three octets of the most common IPv4 address, with the dot.
    pub ip_fragment: String,
    /// S5: the offset of the deep page.
    pub deep_offset: u64,
}

/// The main tenant as the baseline table holds it (UUID on PostgreSQL, text on SQLite).
pub fn tenant_value(kind: BackendKind, tenant: Uuid) -> Value {
    match kind {
        BackendKind::Postgres => tenant.into(),
        BackendKind::Sqlite => tenant.to_string().into(),
    }
}

/// A time as the baseline's driver binds it: a `timestamp` on PostgreSQL, go-sqlite3's
/// text on SQLite.
pub fn time_value(kind: BackendKind, at: OffsetDateTime) -> Value {
    let utc = at.to_offset(time::UtcOffset::UTC);
    match kind {
        BackendKind::Postgres => PrimitiveDateTime::new(utc.date(), utc.time()).into(),
        BackendKind::Sqlite => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}+00:00",
            utc.year(),
            u8::from(utc.month()),
            utc.day(),
            utc.hour(),
            utc.minute(),
            utc.second(),
            utc.microsecond()
        )
        .into(),
    }
}

/// Picks the parameters from the main tenant's rows in the baseline table.
pub async fn pick(
    target: &Target,
    db: &DatabaseConnection,
    tenant: Uuid,
    end: &str,
    tenant_entries: u64,
) -> anyhow::Result<Params> {
    let end = OffsetDateTime::parse(end, &Rfc3339).context("BENCH_END is not RFC 3339")?;
    // Only the seeded entries (S6 adds newer ones to a reused dataset).
    let t = || {
        vec![
            tenant_value(target.kind, tenant),
            time_value(target.kind, end),
        ]
    };
    let user_text = match target.kind {
        BackendKind::Postgres => "actor_user_id::text",
        BackendKind::Sqlite => "actor_user_id",
    };

    let types = rows(
        db,
        target,
        &format!(
            "SELECT type AS v, COUNT(*) AS n FROM {TABLE}
             WHERE tenant_id = $1 AND created_at <= $2
             GROUP BY type ORDER BY n DESC, type LIMIT 2"
        ),
        t(),
    )
    .await?;
    let [first, second] = types.as_slice() else {
        bail!("the main tenant has fewer than two types");
    };

    let actors = rows(
        db,
        target,
        &format!(
            "SELECT {user_text} AS v, COUNT(*) AS n FROM {TABLE}
             WHERE tenant_id = $1 AND created_at <= $2 AND actor_user_id IS NOT NULL
             GROUP BY actor_user_id ORDER BY n, {user_text}"
        ),
        t(),
    )
    .await?;
    let Some((actor, actor_entries)) = actors.get(actors.len() / 2).cloned() else {
        bail!("the main tenant has no actors");
    };

    let mut values = t();
    values.push(actor.clone().into());
    let emails = rows(
        db,
        target,
        &format!(
            "SELECT actor_email AS v, COUNT(*) AS n FROM {TABLE}
             WHERE tenant_id = $1 AND created_at <= $2 AND {user_text} = $3
               AND actor_email IS NOT NULL
             GROUP BY actor_email ORDER BY n DESC, actor_email LIMIT 1"
        ),
        values,
    )
    .await?;
    let Some((email, _)) = emails.first() else {
        bail!("the median actor has no e-mail address");
    };
    let local = email.split('@').next().unwrap_or_default();
    let (email_fragment, email_fragment_addresses) = email_fragment(target, db, t(), local).await?;

    let ips = rows(
        db,
        target,
        &format!(
            "SELECT meta_source_ip AS v, COUNT(*) AS n FROM {TABLE}
             WHERE tenant_id = $1 AND created_at <= $2 AND meta_source_ip NOT LIKE '%:%'
             GROUP BY meta_source_ip ORDER BY n DESC, meta_source_ip LIMIT 1"
        ),
        t(),
    )
    .await?;
    let Some((ip, _)) = ips.first() else {
        bail!("the main tenant has no IPv4 address");
    };
    let octets: Vec<&str> = ip.split('.').collect();
    if octets.len() != 4 || email_fragment.len() < 3 {
        bail!("unexpected data: address {ip}, e-mail local part {local}");
    }

    Ok(Params {
        types: [first.0.clone(), second.0.clone()],
        window_start: end - Duration::days(7),
        window_end: end,
        actor_user_id: actor,
        actor_entries,
        email_fragment,
        email_fragment_addresses,
        ip_fragment: format!("{}.{}.{}.", octets[0], octets[1], octets[2]),
        deep_offset: deep_offset(tenant_entries),
    })
}

/// S5's offset: 500,000, or half the main tenant (whole pages) when it is smaller, so
/// that the page is not empty.
pub fn deep_offset(main_tenant_entries: u64) -> u64 {
    DEEP_OFFSET.min(main_tenant_entries / 2 / PER_PAGE * PER_PAGE)
}

/// Fewer addresses than this make the fragment shorter.
pub const HANDFUL: u64 = 3;
/// ... but never shorter than this.
const MIN_FRAGMENT: usize = 8;

/// `local` without its first character (which may be upper case), shortened at the end
/// until it matches at least [`HANDFUL`] addresses of the tenant; and how many it
/// matches.
async fn email_fragment(
    target: &Target,
    db: &DatabaseConnection,
    tenant_and_end: Vec<Value>,
    local: &str,
) -> anyhow::Result<(String, u64)> {
    let mut fragment: String = local.chars().skip(1).collect();
    let sql = format!(
        "SELECT COUNT(DISTINCT actor_email) AS n FROM {TABLE}
         WHERE tenant_id = $1 AND created_at <= $2 AND actor_email LIKE $3"
    );
    loop {
        let mut values = tenant_and_end.clone();
        values.push(format!("%{fragment}%").into());
        let row = db
            .query_one_raw(target.statement(&sql, values))
            .await
            .context("cannot count the addresses of an e-mail fragment")?
            .context("no count")?;
        let n = u64::try_from(row.try_get::<i64>("", "n")?).unwrap_or(0);
        if n >= HANDFUL || fragment.len() <= MIN_FRAGMENT {
            return Ok((fragment, n));
        }
        fragment.pop();
    }
}

/// `(v, n)` pairs of a grouping query.
async fn rows(
    db: &DatabaseConnection,
    target: &Target,
    sql: &str,
    values: Vec<Value>,
) -> anyhow::Result<Vec<(String, u64)>> {
    let found = db
        .query_all_raw(target.statement(sql, values))
        .await
        .with_context(|| format!("cannot pick a parameter with: {sql}"))?;
    found.iter().map(pair).collect()
}

fn pair(row: &QueryResult) -> anyhow::Result<(String, u64)> {
    let v: String = row.try_get("", "v").context("no value column")?;
    let n: i64 = row.try_get("", "n").context("no count column")?;
    Ok((v, u64::try_from(n).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn the_deep_page_stays_inside_the_data() {
        assert_eq!(deep_offset(1_000_000), 500_000);
        assert_eq!(deep_offset(50_000), 25_000);
        assert_eq!(deep_offset(50_010), 25_000);
    }

    #[test]
    fn sqlite_times_are_go_sqlite3_text() {
        let v = time_value(
            BackendKind::Sqlite,
            datetime!(2026-01-02 03:04:05.000006 UTC),
        );
        assert_eq!(
            v,
            Value::from("2026-01-02 03:04:05.000006+00:00".to_owned())
        );
    }
}
