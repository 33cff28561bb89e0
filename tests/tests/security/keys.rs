//! The matrix: every endpoint against a missing, wrong, revoked, foreign or unscoped key.

use super::*;

backend_test!(every_endpoint_refuses_every_bad_key, |app| {
    store_entries(
        &app,
        app.tenant,
        3,
        auditlog_domain::AuditLogType::LoginSuccess,
        "ours",
    )
    .await;
    let revoked = app.key_for(app.tenant, "read,write").await;
    let record = app
        .store
        .find_key(&ApiKeySecret::presented(&revoked).hash())
        .await
        .expect("lookup")
        .expect("the key");
    assert!(app.store.revoke_key(record.id).await.expect("revoke"));
    let wrong = ApiKeySecret::generate().expose().to_owned();
    let body = entry_with_id(1);

    for op in OPS {
        let what = |case: &str| format!("{op:?} with {case}");
        for (case, key) in [
            ("no key", Presented::None),
            ("a wrong key", Presented::Native(&wrong)),
            ("a revoked key", Presented::Native(&revoked)),
            ("a key that is not a key", Presented::Native("' OR 1=1 --")),
        ] {
            let response = call(&app, op, key, &body).await;
            assert!(
                response.headers().contains_key("www-authenticate"),
                "{}",
                what(case)
            );
            expect_error(response, op.admin, 401, &what(case)).await;
        }
        // A key without the operation's scope.
        let unscoped = if op.post {
            &app.read_key
        } else {
            &app.write_key
        };
        let message = expect_error(
            call(&app, op, Presented::Native(unscoped), &body).await,
            op.admin,
            403,
            &what("a key without the scope"),
        )
        .await;
        let scope = if op.post { "'write'" } else { "'read'" };
        assert!(message.contains(scope), "{message}");
    }
    // The passkey server never lets a key act on another tenant's path, whether or not
    // that tenant exists.
    let other = Uuid::new_v4();
    let foreign = app.key_for(other, "read,write").await;
    for op in OPS.iter().filter(|op| !op.admin) {
        expect_error(
            call(&app, *op, Presented::Native(&foreign), &body).await,
            false,
            403,
            &format!("{op:?} with another tenant's key"),
        )
        .await;
    }
    // The admin API acts on the key's own tenant: the other tenant's key neither sees
    // nor writes ours.
    let theirs = get_admin(&app, "", &foreign).await;
    assert_eq!(theirs.status(), 200);
    assert_eq!(header(&theirs, "x-total-count"), "0");
    let stored = call(
        &app,
        Op {
            post: true,
            admin: true,
        },
        Presented::Native(&foreign),
        &entry_with_id(2),
    )
    .await;
    assert_eq!(stored.status(), 201);
    let stored: Value = stored.json().await.expect("json");
    assert_eq!(stored["tenant_id"], other.to_string());

    assert_eq!(
        total(&app, &app.key).await,
        3,
        "no refused write was stored"
    );
    assert_eq!(total(&app, &foreign).await, 1);
});

backend_test!(public_endpoints_need_no_key_and_ignore_bad_ones, |app| {
    for path in ["/health", "/ready", "/openapi.json", "/swagger-ui/"] {
        let plain = app
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .expect("response");
        assert_eq!(plain.status(), 200, "{path}");
        let with_bad_key = app
            .client
            .get(format!("{}{path}", app.base))
            .header("apiKey", "wrong")
            .bearer_auth("wrong")
            .send()
            .await
            .expect("response");
        assert_eq!(with_bad_key.status(), 200, "{path}");
    }
});
