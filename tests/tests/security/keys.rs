//! The matrix: every endpoint against a missing, wrong, revoked, foreign or unscoped key,
//! in either header; and which header each variant reads first when both are sent.

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
        let what = |case: &str, key: Presented<'_>| format!("{op:?} with {case} as {key:?}");
        let mut cases = vec![("no key", Presented::None)];
        for (case, secret) in [
            ("a wrong key", wrong.as_str()),
            ("a revoked key", revoked.as_str()),
            ("a key that is not a key", "' OR 1=1 --"),
        ] {
            cases.extend(Presented::both_ways(secret).map(|key| (case, key)));
        }
        for (case, key) in cases {
            let response = call(&app, op, key, &body).await;
            assert!(
                response.headers().contains_key("www-authenticate"),
                "{}",
                what(case, key)
            );
            expect_error(response, op.admin, 401, &what(case, key)).await;
        }
        // A key without the operation's scope.
        let unscoped = if op.post {
            &app.read_key
        } else {
            &app.write_key
        };
        for key in Presented::both_ways(unscoped) {
            let message = expect_error(
                call(&app, op, key, &body).await,
                op.admin,
                403,
                &what("a key without the scope", key),
            )
            .await;
            let scope = if op.post { "'write'" } else { "'read'" };
            assert!(message.contains(scope), "{message}");
        }
    }
    // The passkey server never lets a key act on another tenant's path, whether or not
    // that tenant exists.
    let other = Uuid::new_v4();
    let foreign = app.key_for(other, "read,write").await;
    for op in OPS.iter().filter(|op| !op.admin) {
        for key in Presented::both_ways(&foreign) {
            expect_error(
                call(&app, *op, key, &body).await,
                false,
                403,
                &format!("{op:?} with another tenant's key as {key:?}"),
            )
            .await;
        }
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

backend_test!(
    one_key_works_in_either_header_and_each_variant_reads_its_own_first,
    |app| {
        let wrong = ApiKeySecret::generate().expose().to_owned();
        for op in OPS {
            let key = if op.post {
                &app.write_key
            } else {
                &app.read_key
            };
            for presented in Presented::both_ways(key) {
                let response = call(&app, op, presented, &entry_with_id(1)).await;
                let expected = if op.post { 201 } else { 200 };
                assert_eq!(response.status(), expected, "{op:?} with {presented:?}");
            }
            // Both headers: the same key in each is that key; two different keys are
            // refused whichever of them is valid, and the answer names both headers.
            let url = if op.admin {
                app.admin_url()
            } else {
                app.passkey_url()
            };
            for (bearer, api_key, status) in [
                (&app.read_key, &app.read_key, 200),
                (&app.read_key, &wrong, 401),
                (&wrong, &app.read_key, 401),
            ] {
                let response = app
                    .client
                    .get(&url)
                    .bearer_auth(bearer)
                    .header("apiKey", api_key)
                    .send()
                    .await
                    .expect("a response");
                assert_eq!(response.status(), status, "{op:?}");
                if status == 401 {
                    let message = expect_error(response, op.admin, 401, "two keys").await;
                    assert!(
                        message.contains("apiKey") && message.contains("Authorization"),
                        "{message}"
                    );
                }
            }
            // A header that is there but empty is named, even beside a valid key in the
            // other one.
            for (bearer, api_key, empty) in [
                ("", app.read_key.as_str(), "Authorization"),
                (app.read_key.as_str(), "", "apiKey"),
            ] {
                let response = app
                    .client
                    .get(&url)
                    .header("authorization", format!("Bearer {bearer}"))
                    .header("apiKey", api_key)
                    .send()
                    .await
                    .expect("a response");
                let message = expect_error(response, op.admin, 401, "an empty header").await;
                assert!(
                    message.contains(&format!("the {empty} header carries no key")),
                    "{message}"
                );
            }
        }
        // On the passkey variant, whose header is apiKey, an Authorization of another
        // scheme beside it (a proxy's, say) is left alone; the admin API refuses it.
        for (url, status) in [(app.passkey_url(), 200), (app.admin_url(), 401)] {
            let response = app
                .client
                .get(&url)
                .header("authorization", "Basic dXNlcjpwYXNz")
                .header("apiKey", &app.read_key)
                .send()
                .await
                .expect("a response");
            assert_eq!(response.status(), status, "{url}");
        }
        // The other tenant's key, in the admin API's other header, still reads its own
        // tenant only.
        let foreign = app.key_for(Uuid::new_v4(), "read").await;
        let theirs = call(
            &app,
            Op {
                post: false,
                admin: true,
            },
            Presented::Other(&foreign),
            &Value::Null,
        )
        .await;
        assert_eq!(theirs.status(), 200);
        assert_eq!(header(&theirs, "x-total-count"), "0");
    }
);

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
