use crate::helpers::spawn_app;

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_never_by_path_or_query() {
    let app = spawn_app().await;
    app.get("/healthz?patient=Testwell&phone=2145550142").await;
    app.get("/charts/8675309").await;

    let response = app.get("/metrics").await;

    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = response.text().await.unwrap();
    assert!(
        text.contains(
            r#"enamel_http_requests_total{method="GET",route="/healthz",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
    for leaked in ["Testwell", "2145550142", "8675309", "charts"] {
        assert!(!text.contains(leaked), "{leaked} appears in the metrics");
    }
}
