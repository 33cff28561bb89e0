//! What every answer carries: no content sniffing, no caching of anything a key
//! opened, and on Swagger UI a policy without inline scripts or framing.

use super::*;

backend_test!(answers_are_not_sniffed_cached_or_framed, |app| {
    let keyed = [
        get_passkey(&app, "", &app.read_key).await,
        get_admin(&app, "", &app.read_key).await,
        get_passkey(&app, "", "wrong").await,
        get_admin(&app, "page=0", &app.read_key).await,
    ];
    for response in &keyed {
        let what = format!("{} {}", response.url(), response.status());
        assert_eq!(
            header(response, "x-content-type-options"),
            "nosniff",
            "{what}"
        );
        assert_eq!(header(response, "cache-control"), "no-store", "{what}");
    }
    for path in ["/health", "/openapi.json", "/log-key", "/swagger-ui/"] {
        let response = app
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .expect("response");
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            header(&response, "x-content-type-options"),
            "nosniff",
            "{path}"
        );
        assert!(
            response.headers().get("cache-control").is_none(),
            "{path}: public documents may be cached"
        );
        if path == "/swagger-ui/" {
            let policy = header(&response, "content-security-policy");
            for directive in [
                "script-src 'self'",
                "frame-ancestors 'none'",
                "default-src 'none'",
            ] {
                assert!(policy.contains(directive), "{policy}");
            }
            assert!(!policy.contains("unsafe-eval"), "{policy}");
            assert!(
                !policy.contains("script-src 'self' 'unsafe-inline'"),
                "{policy}"
            );
            assert_eq!(header(&response, "x-frame-options"), "DENY");
        }
    }
});
