//! The OpenAPI document: served, complete, and every operation in it answers another
//! practice's ids exactly as it answers ids that do not exist.

use enamel_domain::Role;
use enamel_store::Backend;
use reqwest::{Method, header};
use serde_json::{Value, json};

use crate::identity::{Demo, demo_on};

async fn document(demo: &Demo) -> Value {
    let response = demo
        .client
        .get(format!("{}/api/v1/openapi.json", demo.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Every operation of the document: (method, path template).
fn operations(document: &Value) -> Vec<(Method, String)> {
    let mut all = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, _) in item.as_object().unwrap() {
            all.push((method.to_uppercase().parse().unwrap(), path.clone()));
        }
    }
    all
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_describes_every_operation() {
    let demo = demo_on(Backend::Sqlite, |_| {}).await.unwrap();
    let document = document(&demo).await;
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    let operations = operations(&document);
    assert!(operations.len() >= 37, "{}", operations.len());
    for (method, path) in &operations {
        let op = &document["paths"][path][method.as_str().to_lowercase()];
        assert!(
            op["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{method} {path}"
        );
        assert!(op["tags"][0].is_string(), "{method} {path}");
        let responses = op["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|status| status.starts_with('4')),
            "{method} {path} documents its failures"
        );
    }
    // Everything but sign-in needs a session or a token.
    let public: Vec<_> = operations
        .iter()
        .filter(|(m, p)| document["paths"][p][m.as_str().to_lowercase()]["security"] == json!([{}]))
        .collect();
    assert_eq!(public, [&(Method::POST, "/api/v1/sessions".to_owned())]);

    // The docs page is rendered from the document, operation by operation.
    let page = demo
        .client
        .get(format!("{}/api/v1/docs", demo.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for (method, path) in &operations {
        assert!(
            page.contains(&format!("{method} {path}")),
            "{method} {path}"
        );
    }
}

/// Ids of practice 0's resources: a patient, a referral (sent to practice 3), an
/// attachment, a person, an agent and its token, and a session.
async fn practice_zero_ids(demo: &Demo) -> Vec<(&'static str, String)> {
    let front_desk = demo.session(&demo.email(0, Role::FrontDesk)).await;
    let (_, patient) = demo
        .post(
            "/api/v1/patients",
            &front_desk,
            json!({ "first_name": "Ione", "last_name": "Farquharsen", "birth_date": "1990-04-02" }),
        )
        .await;
    let patient = patient["id"].as_str().unwrap().to_owned();
    let referral = demo.refer(&front_desk, &patient).await;
    let attachment: Value = demo
        .client
        .post(format!(
            "{}/api/v1/referrals/{referral}/attachments",
            demo.url
        ))
        .header(header::COOKIE, &front_desk)
        .header(header::ORIGIN, demo.origin())
        .body(b"%PDF-1.7\n%synthetic\n".repeat(10))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (admin, _) = demo
        .admin_session(&demo.email(0, Role::PracticeAdmin))
        .await;
    let (_, agent) = demo
        .post("/api/v1/agents", &admin, json!({ "name": "recall-bot" }))
        .await;
    let agent = agent["id"].as_str().unwrap().to_owned();
    let (_, token) = demo
        .post(
            &format!("/api/v1/agents/{agent}/tokens"),
            &admin,
            json!({ "scopes": ["patient.read"] }),
        )
        .await;
    let (_, sessions) = demo.read("/api/v1/sessions", &front_desk).await;
    let user = demo.network.practices[0].users[0].id().to_string();
    vec![
        ("patients", patient),
        ("referrals", referral),
        ("attachments", attachment["id"].as_str().unwrap().to_owned()),
        ("users", user),
        ("agents", agent),
        ("tokens", token["id"].as_str().unwrap().to_owned()),
        (
            "sessions",
            sessions["sessions"][0]["id"].as_str().unwrap().to_owned(),
        ),
    ]
}

/// The path with its ids filled: the foreign id of each resource, or random ones.
fn fill(path: &str, ids: Option<&[(&'static str, String)]>) -> Option<String> {
    if !path.contains('{') {
        return None;
    }
    let mut out = Vec::new();
    let mut previous = "";
    for segment in path.split('/') {
        let filled = match segment {
            "{step}" => "accept".to_owned(),
            "{name}" => return None, // a vendor name is the practice's own key, not an id
            "{attachment}" => id_for("attachments", ids),
            s if s.starts_with('{') => id_for(previous, ids),
            s => s.to_owned(),
        };
        previous = segment;
        out.push(filled);
    }
    Some(out.join("/"))
}

fn id_for(collection: &str, ids: Option<&[(&'static str, String)]>) -> String {
    ids.and_then(|ids| ids.iter().find(|(c, _)| *c == collection))
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), |(_, id)| id.clone())
}

/// A body the operation accepts, so the request reaches the lookup.
fn body_for(method: &Method, path: &str) -> Option<Vec<u8>> {
    let json = match (method.as_str(), path) {
        ("PUT", p) if p.ends_with("/role") => json!({ "role": "dentist" }),
        ("POST", p) if p.ends_with("/tokens") => json!({ "scopes": ["patient.read"] }),
        ("POST", p) if p.ends_with("/messages") => json!({ "body": "Any news?" }),
        ("POST", p) if p.ends_with("/attachments") => return Some(b"%PDF-1.7\n".repeat(8)),
        ("POST" | "PUT", _) => json!({}),
        _ => return None,
    };
    Some(serde_json::to_vec(&json).unwrap())
}

async fn call(demo: &Demo, method: &Method, path: &str, cookie: &str) -> (u16, Value) {
    let mut request = demo
        .client
        .request(method.clone(), format!("{}{path}", demo.url))
        .header(header::COOKIE, cookie)
        .header(header::ORIGIN, demo.origin());
    if let Some(body) = body_for(method, path) {
        request = request
            .header(header::CONTENT_TYPE, "application/json")
            .body(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let mut body: Value = response.json().await.unwrap_or(Value::Null);
    if let Some(problem) = body.as_object_mut() {
        problem.remove("correlation_id");
    }
    (status, body)
}

async fn every_documented_operation_answers_foreign_ids_like_missing_ones(backend: Backend) {
    // The letter assistant is set up (against a closed port), so its route reaches
    // the referral lookup instead of stopping at "not set up".
    let Some(demo) = demo_on(backend, |settings| {
        settings.referrals.assistant_api_key = Some(secrecy::SecretString::from("sk-unused"));
        settings.referrals.assistant_base_url = Some("http://127.0.0.1:1/".into());
    })
    .await
    else {
        return;
    };
    let document = document(&demo).await;
    let foreign = practice_zero_ids(&demo).await;
    // Practice 1 (a bystander to the referral) tries everything, as an admin and as
    // a front desk.
    let (admin, _) = demo
        .admin_session(&demo.email(1, Role::PracticeAdmin))
        .await;
    let front_desk = demo.session(&demo.email(1, Role::FrontDesk)).await;
    let mut tried = 0;
    for (method, template) in operations(&document) {
        let Some(theirs) = fill(&template, Some(&foreign)) else {
            continue;
        };
        let missing = fill(&template, None).unwrap();
        for cookie in [&admin, &front_desk] {
            let (status, body) = call(&demo, &method, &theirs, cookie).await;
            let (missing_status, missing_body) = call(&demo, &method, &missing, cookie).await;
            assert!(
                status >= 400,
                "{method} {template} answered {status} for another practice's id: {body}"
            );
            assert_eq!(
                (status, &body),
                (missing_status, &missing_body),
                "{method} {template}: another practice's id vs a missing one"
            );
            tried += 1;
        }
    }
    assert!(
        tried >= 2 * 14,
        "every operation with an id, twice: {tried}"
    );
}

on_both_backends!(every_documented_operation_answers_foreign_ids_like_missing_ones,);
