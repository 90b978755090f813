use crate::helpers::spawn_app;

#[tokio::test]
async fn an_unknown_route_is_a_problem_json_404_carrying_the_correlation_id() {
    let app = spawn_app().await;
    let response = app
        .get("/api/v1/no-such-resource/0193f1c2-7a6b-7c3d-9e4f-0123456789ab")
        .await;
    assert_eq!(response.status(), 404);
    let header_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let problem = app.problem(response).await;
    assert_eq!(problem["status"], 404);
    assert_eq!(problem["code"], "not_found");
    assert_eq!(problem["type"], "about:blank");
    assert_eq!(problem["correlation_id"], header_id.as_str());
}

#[tokio::test]
async fn a_wrong_method_is_a_problem_json_405() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(format!("{}/healthz", app.url))
        // Same-origin, so the CSRF check lets it through to the router.
        .header("origin", &app.url)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(app.problem(response).await["code"], "method_not_allowed");
}

#[tokio::test]
async fn a_well_formed_request_id_is_kept() {
    let app = spawn_app().await;
    let id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let response = app
        .client
        .get(format!("{}/nowhere", app.url))
        .header("X-Request-Id", id)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], id);
    assert_eq!(app.problem(response).await["correlation_id"], id);
}

#[tokio::test]
async fn a_free_text_request_id_is_replaced_by_a_generated_one() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(format!("{}/healthz", app.url))
        .header("X-Request-Id", "Ada Testwell 1987-03-14")
        .send()
        .await
        .unwrap();
    let id = response.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
}
