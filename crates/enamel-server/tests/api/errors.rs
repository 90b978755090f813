use enamel_domain::Role;
use enamel_store::Backend;
use serde_json::json;

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

/// A NUL or another control character anywhere in a JSON body, a form or a query
/// string is a 400 problem that names the field, on both backends (PostgreSQL once
/// answered 500), and nothing is stored; an oversized field is refused the same way.
async fn control_characters_and_oversized_text_are_refused_at_the_edge(backend: Backend) {
    let Some(demo) = crate::identity::demo_on(backend, |_| {}).await else {
        return;
    };
    let (officer, _) = demo
        .admin_session(&demo.email(0, Role::SecurityOfficer))
        .await;
    let vendor = |display_name: &str, services: &str| json!({ "display_name": display_name, "services": services, "baa_status": "pending" });
    for (body, field) in [
        (vendor("Twi\u{0}lio", "SMS"), "display_name"),
        (vendor("Twilio", "SMS\u{1b}[31m"), "services"),
        (vendor("Twilio", "SMS\nand more"), "services"),
        (vendor("Twilio", &"x".repeat(1_900_000)), "services"),
    ] {
        let response = demo
            .send_json(
                reqwest::Method::PUT,
                "/api/v1/vendors/twilio",
                &officer,
                &body,
            )
            .await;
        assert_eq!(response.status(), 400, "{field}");
        let problem = demo_problem(response).await;
        assert_eq!(problem["code"], "invalid_input");
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(field), "{detail}");
        assert!(
            !detail.contains("Twi") && !detail.contains("xxx"),
            "{detail}"
        );
    }
    let (_, vendors) = demo.read("/api/v1/vendors", &officer).await;
    assert!(
        !vendors.to_string().contains("\\u0000"),
        "nothing was stored: {vendors}"
    );
    let response = demo
        .get("/api/v1/audit/entries?actor=Jane%00Roe", &officer)
        .await;
    assert_eq!(response.status(), 400);
    assert!(
        demo_problem(response).await["detail"]
            .as_str()
            .unwrap()
            .contains("actor")
    );

    // A message between offices may span lines, but holds no other control character.
    let front_desk = demo.session(&demo.email(0, Role::FrontDesk)).await;
    let message = demo
        .form(
            "/patients/search",
            Some(&front_desk),
            &[("last_name", "Ro\u{0}e")],
        )
        .await;
    assert_eq!(message.status(), 400);
}

/// Every way a body or query can be wrong answers problem+json with a stable code.
async fn malformed_requests_are_problems(backend: Backend) {
    let Some(demo) = crate::identity::demo_on(backend, |s| s.server.max_body_bytes = 4_096).await
    else {
        return;
    };
    let (officer, _) = demo
        .admin_session(&demo.email(0, Role::SecurityOfficer))
        .await;
    let send = |content_type: &'static str, body: Vec<u8>| {
        demo.client
            .put(format!("{}/api/v1/vendors/twilio", demo.url))
            .header(reqwest::header::COOKIE, &officer)
            .header(reqwest::header::ORIGIN, demo.origin())
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
    };
    let cases: [(&str, Vec<u8>, u16, &str); 5] = [
        (
            "application/json",
            b"{\"display_name\": ".to_vec(),
            400,
            "invalid_body",
        ),
        (
            "application/json",
            b"{\"display_name\": 7}".to_vec(),
            422,
            "invalid_body",
        ),
        ("text/plain", b"{}".to_vec(), 415, "unsupported_media_type"),
        (
            "application/json",
            vec![b' '; 8_192],
            413,
            "payload_too_large",
        ),
        ("application/json", b"[1, 2]".to_vec(), 422, "invalid_body"),
    ];
    for (content_type, body, status, code) in cases {
        let response = send(content_type, body).await.unwrap();
        assert_eq!(response.status(), status, "{code}");
        assert_eq!(demo_problem(response).await["code"], code);
    }
    let response = demo.get("/api/v1/audit/entries?limit=many", &officer).await;
    assert_eq!(response.status(), 400);
    assert_eq!(demo_problem(response).await["code"], "invalid_query");
}

async fn demo_problem(response: reqwest::Response) -> serde_json::Value {
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    response.json().await.unwrap()
}

/// A person in a browser never meets a JSON error: a page that fails (a missing
/// referral, a form refused by the text rule) answers an HTML page with the problem's
/// words and the same status, while the API keeps its problem+json.
async fn a_browser_gets_an_error_page_and_the_api_a_problem(backend: Backend) {
    let Some(demo) = crate::identity::demo_on(backend, |_| {}).await else {
        return;
    };
    let front_desk = demo.session(&demo.email(0, Role::FrontDesk)).await;
    let missing = uuid::Uuid::now_v7();
    let as_browser = |path: String| {
        demo.client
            .get(format!("{}{path}", demo.url))
            .header(reqwest::header::COOKIE, &front_desk)
            .header(reqwest::header::ACCEPT, "text/html,application/xhtml+xml")
            .send()
    };
    // The people page is the practice admin's: its refusal is an ApiError.
    let page = as_browser("/admin/users".to_owned()).await.unwrap();
    assert_eq!(page.status(), 403);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Forbidden") && html.contains("Back to the start page"),
        "{html}"
    );
    let api = as_browser(format!("/api/v1/referrals/{missing}"))
        .await
        .unwrap();
    assert_eq!(api.headers()["content-type"], "application/problem+json");
    let refused = demo
        .client
        .post(format!("{}/patients/search", demo.url))
        .header(reqwest::header::COOKIE, &front_desk)
        .header(reqwest::header::ORIGIN, demo.origin())
        .header(reqwest::header::ACCEPT, "text/html")
        .form(&[("last_name", "Ro\u{0}e")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    assert!(
        refused.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("last_name") && html.contains("control characters"),
        "{html}"
    );
}

on_both_backends!(
    control_characters_and_oversized_text_are_refused_at_the_edge,
    malformed_requests_are_problems,
    a_browser_gets_an_error_page_and_the_api_a_problem,
);
