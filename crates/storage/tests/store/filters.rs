//! Each filter alone, checked against hand-picked expectations.

use auditlog_domain::{AuditLog, AuditLogStore, AuditLogType, NewAuditLog};
use auditlog_storage::SeaOrmStore;
use uuid::Uuid;

use crate::common::{entry, filter, ids, newest_first};

/// Stores `entries` in a new tenant; returns the tenant and the stored entries.
pub async fn seed(store: &SeaOrmStore, entries: Vec<NewAuditLog>) -> (Uuid, Vec<AuditLog>) {
    let tenant = Uuid::new_v4();
    let stored = store.append(tenant, entries).await.expect("append");
    (tenant, stored)
}

/// The ids that `pairs` lists (one page of up to 1000), after checking that the total
/// agrees with the page.
pub async fn matching(store: &SeaOrmStore, tenant: Uuid, pairs: &[(&str, &str)]) -> Vec<Uuid> {
    let mut pairs = pairs.to_vec();
    pairs.push(("per_page", "1000"));
    let page = store.list(tenant, &filter(&pairs)).await.expect("list");
    assert_eq!(page.total, page.items.len() as u64, "total for {pairs:?}");
    ids(&page)
}

/// The ids of `stored` at `indexes`, newest first.
pub fn pick(stored: &[AuditLog], indexes: &[usize]) -> Vec<Uuid> {
    let chosen: Vec<AuditLog> = indexes.iter().map(|&i| stored[i].clone()).collect();
    newest_first(&chosen)
}

pub fn with_user(mut e: NewAuditLog, user: Option<&str>, email: Option<&str>) -> NewAuditLog {
    e.actor_user_id = user.map(str::to_owned);
    e.actor_email = email.map(str::to_owned);
    e
}

pub fn with_type(mut e: NewAuditLog, t: AuditLogType) -> NewAuditLog {
    e.r#type = t;
    e
}
pub async fn time_window_is_half_open_to_the_microsecond(store: SeaOrmStore) {
    let times = [
        "2024-03-01T09:59:59.999999Z", // 0: just before start
        "2024-03-01T10:00:00Z",        // 1: exactly start
        "2024-03-01T10:00:00.000001Z", // 2
        "2024-03-01T10:59:59.999999Z", // 3: just before end
        "2024-03-01T11:00:00Z",        // 4: exactly end
        "2024-03-01T11:00:00.000001Z", // 5
    ];
    let (tenant, stored) = seed(&store, times.iter().map(|t| entry("10.0.0.1", t)).collect()).await;
    let start = ("start_time", "2024-03-01T10:00:00Z");
    let end = ("end_time", "2024-03-01T11:00:00Z");
    assert_eq!(
        matching(&store, tenant, &[start, end]).await,
        pick(&stored, &[1, 2, 3])
    );
    assert_eq!(
        matching(&store, tenant, &[start]).await,
        pick(&stored, &[1, 2, 3, 4, 5])
    );
    assert_eq!(
        matching(&store, tenant, &[end]).await,
        pick(&stored, &[0, 1, 2, 3])
    );
    // The same instants in another offset, and a window of one microsecond.
    let start_offset = ("start_time", "2024-03-01T12:00:00+02:00");
    assert_eq!(
        matching(&store, tenant, &[start_offset, end]).await,
        pick(&stored, &[1, 2, 3])
    );
    let one = [
        ("start_time", "2024-03-01T10:00:00Z"),
        ("end_time", "2024-03-01T10:00:00.000001Z"),
    ];
    assert_eq!(matching(&store, tenant, &one).await, pick(&stored, &[1]));
    let empty = [
        ("start_time", "2024-03-01T10:00:00Z"),
        ("end_time", "2024-03-01T10:00:00Z"),
    ];
    assert!(matching(&store, tenant, &empty).await.is_empty());
}

pub async fn type_filter(store: SeaOrmStore) {
    let entries = vec![
        with_type(
            entry("10.0.0.1", "2024-01-01T00:00:00Z"),
            AuditLogType::LoginSuccess,
        ),
        with_type(
            entry("10.0.0.1", "2024-01-01T00:00:01Z"),
            AuditLogType::LoginFailure,
        ),
        with_type(
            entry("10.0.0.1", "2024-01-01T00:00:02Z"),
            AuditLogType::MfaAuthenticationFinalFailed,
        ),
    ];
    let (tenant, stored) = seed(&store, entries).await;
    assert_eq!(
        matching(&store, tenant, &[("type", "login_failure")]).await,
        pick(&stored, &[1])
    );
    assert_eq!(
        matching(
            &store,
            tenant,
            &[("type", "mfa_authentication_final_failed")]
        )
        .await,
        pick(&stored, &[2])
    );
    assert!(
        matching(&store, tenant, &[("type", "user_created")])
            .await
            .is_empty()
    );
}

pub async fn several_types_at_once(store: SeaOrmStore) {
    let types = [
        AuditLogType::UserCreated,
        AuditLogType::LoginSuccess,
        AuditLogType::EmailDeleted,
        AuditLogType::UserDeleted,
    ];
    let entries = types
        .iter()
        .enumerate()
        .map(|(i, t)| with_type(entry("10.0.0.1", &format!("2024-01-01T00:00:0{i}Z")), *t))
        .collect();
    let (tenant, stored) = seed(&store, entries).await;
    let pairs = [
        ("type", "user_created, email_deleted"),
        ("type", "user_deleted"),
    ];
    assert_eq!(
        matching(&store, tenant, &pairs).await,
        pick(&stored, &[0, 2, 3])
    );
}

pub async fn actor_user_id_is_exact(store: SeaOrmStore) {
    let entries = vec![
        with_user(
            entry("10.0.0.1", "2024-01-01T00:00:00Z"),
            Some("alice"),
            None,
        ),
        with_user(
            entry("10.0.0.1", "2024-01-01T00:00:01Z"),
            Some("Alice"),
            None,
        ),
        with_user(
            entry("10.0.0.1", "2024-01-01T00:00:02Z"),
            Some("alice2"),
            None,
        ),
        with_user(
            entry("10.0.0.1", "2024-01-01T00:00:03Z"),
            None,
            Some("alice"),
        ),
    ];
    let (tenant, stored) = seed(&store, entries).await;
    assert_eq!(
        matching(&store, tenant, &[("actor_user_id", "alice")]).await,
        pick(&stored, &[0])
    );
    assert_eq!(
        matching(&store, tenant, &[("actor_user_id", "Alice")]).await,
        pick(&stored, &[1])
    );
    assert!(
        matching(&store, tenant, &[("actor_user_id", "alic")])
            .await
            .is_empty()
    );
}

pub async fn actor_email_ignores_ascii_case(store: SeaOrmStore) {
    let entries = vec![
        with_user(
            entry("10.0.0.1", "2024-01-01T00:00:00Z"),
            None,
            Some("Alice@Example.com"),
        ),
        with_user(
            entry("10.0.0.1", "2024-01-01T00:00:01Z"),
            None,
            Some("alice@example.COM"),
        ),
        with_user(
            entry("10.0.0.1", "2024-01-01T00:00:02Z"),
            None,
            Some("alice@example.co"),
        ),
        with_user(
            entry("10.0.0.1", "2024-01-01T00:00:03Z"),
            None,
            Some("Ärger@example.com"),
        ),
    ];
    let (tenant, stored) = seed(&store, entries).await;
    assert_eq!(
        matching(&store, tenant, &[("actor_email", "ALICE@example.com")]).await,
        pick(&stored, &[0, 1])
    );
    assert_eq!(
        matching(&store, tenant, &[("actor_email", "ÄRGER@EXAMPLE.COM")]).await,
        pick(&stored, &[3])
    );
    assert!(
        matching(&store, tenant, &[("actor_email", "ärger@example.com")])
            .await
            .is_empty(),
        "Ä is not ä"
    );
}

fn ip_entries(ips: &[&str]) -> Vec<NewAuditLog> {
    ips.iter()
        .enumerate()
        .map(|(i, ip)| entry(ip, &format!("2024-01-01T00:00:{i:02}Z")))
        .collect()
}

pub async fn exact_ip(store: SeaOrmStore) {
    let (tenant, stored) = seed(
        &store,
        ip_entries(&["10.0.0.1", "10.0.0.10", "2001:db8::1", "2001:db8::10"]),
    )
    .await;
    assert_eq!(
        matching(&store, tenant, &[("meta_source_ip", "10.0.0.1")]).await,
        pick(&stored, &[0])
    );
    assert_eq!(
        matching(&store, tenant, &[("meta_source_ip", "2001:DB8:0::1")]).await,
        pick(&stored, &[2])
    );
}

pub async fn ipv4_cidr_block(store: SeaOrmStore) {
    let ips = [
        "10.0.255.255",
        "10.1.0.0",
        "10.1.2.3",
        "10.1.255.255",
        "10.2.0.0",
        "::a01:203",
        "::ffff:10.1.9.9",
    ];
    let (tenant, stored) = seed(&store, ip_entries(&ips)).await;
    assert_eq!(
        matching(&store, tenant, &[("meta_source_ip", "10.1.0.0/16")]).await,
        pick(&stored, &[1, 2, 3, 6])
    );
    assert_eq!(
        matching(&store, tenant, &[("meta_source_ip", "10.1.2.3/16")]).await,
        pick(&stored, &[1, 2, 3, 6]),
        "host bits masked"
    );
    assert_eq!(
        matching(&store, tenant, &[("meta_source_ip", "10.1.2.3/32")]).await,
        pick(&stored, &[2])
    );
    assert_eq!(
        matching(&store, tenant, &[("meta_source_ip", "0.0.0.0/0")]).await,
        pick(&stored, &[0, 1, 2, 3, 4, 6])
    );
}

pub async fn ipv6_cidr_block(store: SeaOrmStore) {
    let ips = [
        "2001:db7:ffff::1",
        "2001:db8::",
        "2001:db8:abcd::1",
        "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
        "2001:db9::",
        "10.0.0.1",
    ];
    let (tenant, stored) = seed(&store, ip_entries(&ips)).await;
    assert_eq!(
        matching(&store, tenant, &[("meta_source_ip", "2001:db8::/32")]).await,
        pick(&stored, &[1, 2, 3])
    );
    assert_eq!(
        matching(&store, tenant, &[("meta_source_ip", "2001:db8:abcd::/48")]).await,
        pick(&stored, &[2])
    );
    assert_eq!(
        matching(&store, tenant, &[("meta_source_ip", "::/0")]).await,
        pick(&stored, &[0, 1, 2, 3, 4, 5])
    );
}

pub async fn ipv4_mapped_addresses_are_ipv4(store: SeaOrmStore) {
    let (tenant, stored) = seed(
        &store,
        ip_entries(&["::ffff:192.0.2.1", "192.0.2.2", "::ffff:c000:301"]),
    )
    .await;
    assert_eq!(stored[0].meta_source_ip.to_string(), "192.0.2.1");
    assert_eq!(stored[2].meta_source_ip.to_string(), "192.0.3.1");
    assert_eq!(
        matching(&store, tenant, &[("meta_source_ip", "192.0.2.1")]).await,
        pick(&stored, &[0])
    );
    assert_eq!(
        matching(&store, tenant, &[("meta_source_ip", "::ffff:192.0.2.2")]).await,
        pick(&stored, &[1])
    );
    assert_eq!(
        matching(
            &store,
            tenant,
            &[("meta_source_ip", "::ffff:192.0.2.0/120")]
        )
        .await,
        pick(&stored, &[0, 1])
    );
    assert_eq!(
        matching(&store, tenant, &[("meta_source_ip", "192.0.0.0/16")]).await,
        pick(&stored, &[0, 1, 2])
    );
    // q searches the canonical text, which has no "ffff".
    assert!(matching(&store, tenant, &[("q", "ffff")]).await.is_empty());
}
