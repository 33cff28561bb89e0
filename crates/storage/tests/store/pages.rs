//! Order and pagination: offset pages, pages past the end, keyset pages.

use auditlog_domain::{AuditLog, AuditLogFilter, AuditLogStore, AuditLogType, Cursor, PageRequest};
use auditlog_storage::SeaOrmStore;
use uuid::Uuid;

use crate::common::{entry, entry_with_id, filter, ids, newest_first};

/// Ids whose bytes differ where a signed or textual comparison would order them
/// differently from `Uuid`'s `Ord`.
fn tricky_ids() -> Vec<Uuid> {
    [
        "00000000-0000-0000-0000-000000000000",
        "00000000-0000-0000-0000-000000000001",
        "7fffffff-ffff-ffff-ffff-ffffffffffff",
        "80000000-0000-0000-0000-000000000000",
        "ffffffff-ffff-ffff-ffff-fffffffffffe",
        "ffffffff-ffff-ffff-ffff-ffffffffffff",
        "0000000a-0000-0000-0000-000000000000",
        "00000009-0000-0000-0000-000000000000",
        "a0000000-0000-0000-0000-000000000000",
        "9fffffff-ffff-ffff-ffff-ffffffffffff",
        "01234567-89ab-cdef-8123-456789abcdef",
        "fedcba98-7654-3210-8fed-cba987654321",
    ]
    .iter()
    .map(|s| s.parse().expect("uuid"))
    .collect()
}

pub async fn equal_created_at_orders_by_id_desc(store: SeaOrmStore) {
    let tenant = Uuid::new_v4();
    let same = "2024-01-01T00:00:00.000001Z";
    let entries = tricky_ids()
        .into_iter()
        .map(|id| entry_with_id(id, "10.0.0.1", same))
        .collect();
    let stored = store.append(tenant, entries).await.expect("append");
    let newer = store
        .append(
            tenant,
            vec![entry("10.0.0.1", "2024-01-01T00:00:00.000002Z")],
        )
        .await
        .expect("append");
    let older = store
        .append(tenant, vec![entry("10.0.0.1", "2024-01-01T00:00:00Z")])
        .await
        .expect("append");
    let page = store
        .list(tenant, &filter(&[("per_page", "100")]))
        .await
        .expect("list");
    let mut expected_ties: Vec<Uuid> = stored.iter().map(|e| e.id).collect();
    expected_ties.sort_by(|a, b| b.cmp(a));
    let mut expected = vec![newer[0].id];
    expected.extend(expected_ties);
    expected.push(older[0].id);
    assert_eq!(ids(&page), expected);
}

pub async fn uuid_order_equals_rust_order(store: SeaOrmStore) {
    // Random ids, all at one instant: the database orders them as Uuid's Ord does.
    let tenant = Uuid::new_v4();
    let mut all_ids: Vec<Uuid> = (0..200).map(|_| Uuid::new_v4()).collect();
    all_ids.extend((0..50).map(|_| Uuid::now_v7()));
    all_ids.extend(tricky_ids());
    let entries = all_ids
        .iter()
        .map(|id| entry_with_id(*id, "10.0.0.1", "2024-01-01T00:00:00Z"))
        .collect();
    store.append(tenant, entries).await.expect("append");
    let page = store
        .list(tenant, &filter(&[("per_page", "1000")]))
        .await
        .expect("list");
    all_ids.sort_by(|a, b| b.cmp(a));
    assert_eq!(ids(&page), all_ids);
}

pub async fn offset_pages_and_pages_past_the_last(store: SeaOrmStore) {
    let tenant = Uuid::new_v4();
    let entries = (0..7)
        .map(|i| entry("10.0.0.1", &format!("2024-01-01T00:00:0{}Z", i % 3)))
        .collect();
    let stored = store.append(tenant, entries).await.expect("append");
    let order = newest_first(&stored);
    for per_page in 1..=8usize {
        let mut seen = Vec::new();
        for page in 1..=9usize {
            let f = filter(&[
                ("page", &page.to_string()),
                ("per_page", &per_page.to_string()),
            ]);
            let got = store.list(tenant, &f).await.expect("list");
            assert_eq!(got.total, 7, "total on page {page} of {per_page}");
            let from = ((page - 1) * per_page).min(7);
            let to = (page * per_page).min(7);
            assert_eq!(
                ids(&got),
                order[from..to].to_vec(),
                "page {page} of {per_page}"
            );
            seen.extend(ids(&got));
        }
        assert_eq!(seen, order, "pages of {per_page} never repeat or skip");
    }
    // The farthest page a filter can ask for is empty, and the total still right.
    let far = filter(&[("page", "9223372036854775"), ("per_page", "1000")]);
    let got = store.list(tenant, &far).await.expect("far page");
    assert!(got.items.is_empty());
    assert_eq!(got.total, 7);
    // A filter that matches nothing.
    let none = store
        .list(tenant, &filter(&[("actor_user_id", "nobody")]))
        .await
        .expect("list");
    assert_eq!((none.items.len(), none.total), (0, 0));
}

pub async fn keyset_pages_visit_every_entry_once(store: SeaOrmStore) {
    let tenant = Uuid::new_v4();
    // Ties in created_at across page boundaries, and a filter that skips some entries.
    let mut entries = Vec::new();
    for (i, id) in tricky_ids().into_iter().enumerate() {
        let mut e = entry_with_id(
            id,
            if i % 4 == 0 { "10.9.9.9" } else { "10.0.0.1" },
            "2024-01-01T00:00:00Z",
        );
        e.created_at =
            Some(e.created_at.expect("time") + time::Duration::microseconds((i % 3) as i64));
        entries.push(e);
    }
    let stored = store.append(tenant, entries).await.expect("append");
    for (pairs, expected) in [
        (vec![], newest_first(&stored)),
        (
            vec![("meta_source_ip", "10.0.0.0/24")],
            newest_first(
                &stored
                    .iter()
                    .filter(|e| e.meta_source_ip.to_string() == "10.0.0.1")
                    .cloned()
                    .collect::<Vec<_>>(),
            ),
        ),
    ] {
        for per_page in [1u64, 2, 5, 100] {
            let base: AuditLogFilter = filter(&pairs);
            let mut walked = Vec::new();
            let mut request = PageRequest::Offset { page: 1, per_page };
            loop {
                let page = store
                    .list(tenant, &base.with_page(request))
                    .await
                    .expect("list");
                assert_eq!(
                    page.total,
                    expected.len() as u64,
                    "the total ignores the cursor"
                );
                walked.extend(ids(&page));
                let Some(last) = page.items.last() else { break };
                request = PageRequest::After {
                    cursor: Cursor::after(last),
                    per_page,
                };
            }
            assert_eq!(
                walked, expected,
                "keyset pages of {per_page} with {pairs:?}"
            );
        }
    }
    // A cursor parsed from its text form works the same.
    let first = store
        .list(tenant, &filter(&[("per_page", "3")]))
        .await
        .expect("list");
    let cursor = Cursor::after(first.items.last().expect("an entry")).to_string();
    let next = store
        .list(tenant, &filter(&[("per_page", "3"), ("cursor", &cursor)]))
        .await
        .expect("list");
    assert_eq!(ids(&next), newest_first(&stored)[3..6].to_vec());
}

pub async fn deep_offset_pages_match_the_full_order(store: SeaOrmStore) {
    let tenant = Uuid::new_v4();
    // 1,500 entries over five days, many sharing a created_at, every third a failure:
    // deep offsets seek to their day (unfiltered), are skipped in a query of their own,
    // and the page must start exactly there.
    let entries: Vec<_> = (0..1500)
        .map(|i| {
            let at = format!("2024-01-0{}T00:{:02}:00Z", 1 + i % 5, i % 50);
            let mut e = entry("10.0.0.1", &at);
            if i % 3 == 0 {
                e.r#type = AuditLogType::LoginFailure;
            }
            e
        })
        .collect();
    let stored = store.append(tenant, entries).await.expect("append");
    let order = newest_first(&stored);
    let failures: Vec<AuditLog> = stored
        .iter()
        .filter(|e| e.r#type == AuditLogType::LoginFailure)
        .cloned()
        .collect();
    let failure_order = newest_first(&failures);
    for (page, per_page) in [
        (11, 100),
        (15, 100),
        (16, 100),
        (21, 70),
        (34, 30),
        (1000, 2),
    ] {
        let (p, n) = (page.to_string(), per_page.to_string());
        let got = store
            .list(tenant, &filter(&[("page", &p), ("per_page", &n)]))
            .await
            .expect("list");
        let from = ((page - 1) * per_page).min(1500);
        let to = (page * per_page).min(1500);
        assert_eq!(got.total, 1500);
        assert_eq!(
            ids(&got),
            order[from..to].to_vec(),
            "page {page} of {per_page}"
        );
        let got = store
            .list(
                tenant,
                &filter(&[("type", "login_failure"), ("page", &p), ("per_page", &n)]),
            )
            .await
            .expect("list");
        let from = ((page - 1) * per_page).min(500);
        let to = (page * per_page).min(500);
        assert_eq!(got.total, 500, "page {page} of {per_page}, filtered");
        assert_eq!(
            ids(&got),
            failure_order[from..to].to_vec(),
            "page {page} of {per_page}, filtered"
        );
    }
}
