use crate::helpers::spawn_app;

const EXPECTED: [(&str, &str); 5] = [
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("x-frame-options", "DENY"),
    ("cache-control", "no-store"),
    ("cross-origin-opener-policy", "same-origin"),
];

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    for path in ["/healthz", "/readyz", "/metrics", "/no/such/page"] {
        let response = app.get(path).await;
        let headers = response.headers();
        for (name, value) in EXPECTED {
            assert_eq!(headers[name], value, "{name} on {path}");
        }
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'self'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert!(
            headers.get("strict-transport-security").is_none(),
            "HSTS is only sent over TLS ({path})"
        );
    }
}
