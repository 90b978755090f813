//! Sign-in, second factor, sessions that expire, CSRF, lockout, tenant isolation.

use enamel_demo::DEMO_PASSWORD;
use enamel_domain::Role;
use enamel_server::Settings;
use enamel_server::clock::Clock as _;
use enamel_store::Backend;
pub(crate) use enamel_testkit::demo::{Demo, demo_on};
use enamel_testkit::demo::{code, cookie_of, secret_on};
use reqwest::header;
use serde_json::{Value, json};
use time::Duration;

/// Every entry of a log, as its raw bytes (what an export holds).
pub(crate) async fn log_of(demo: &Demo, scope: &enamel_audit::entry::Scope) -> Vec<Vec<u8>> {
    let entries = demo
        .db
        .store
        .audit()
        .entries(scope, 0, 100_000)
        .await
        .unwrap();
    entries.into_iter().map(|e| e.entry).collect()
}

/// The audit entries of a practice's log with this action.
async fn audited(demo: &Demo, practice: usize, action: &str) -> Vec<Value> {
    let scope = enamel_audit::entry::Scope::Practice(demo.network.practices[practice].practice.id);
    log_of(demo, &scope)
        .await
        .iter()
        .map(|e| serde_json::from_slice::<Value>(e).unwrap())
        .filter(|e| e["action"] == action)
        .collect()
}

async fn a_dentist_signs_in_with_a_strict_host_only_cookie(backend: Backend) {
    let Some(demo) = demo_on(backend, |_| {}).await else {
        return;
    };
    let email = demo.email(0, Role::Dentist);
    let response = demo
        .form(
            "/sign-in",
            None,
            &[("email", &email), ("password", DEMO_PASSWORD)],
        )
        .await;
    assert_eq!(response.status(), 303);
    let set_cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Strict"), "{set_cookie}");
    assert!(!set_cookie.contains("Domain"), "{set_cookie}");
    let token = set_cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();
    assert_eq!(token.len(), 64, "a 256-bit token in hex");
    let cookie = cookie_of(&response).unwrap();
    let home = demo.get("/", &cookie).await;
    assert_eq!(home.status(), 200);
    assert!(home.text().await.unwrap().contains("Dentist"));
    // Only the token's digest is stored.
    let stored = demo.db.raw_bytes("SELECT token_digest FROM sessions").await;
    assert!(
        stored
            .iter()
            .all(|d| d.len() == 32 && !hex_of(d).contains(&token))
    );
    let sign_ins = audited(&demo, 0, "sign_in").await;
    assert!(
        sign_ins
            .iter()
            .any(|e| e["outcome"] == "success" && e["ip_address"] == "127.0.0.1")
    );
}

fn hex_of(bytes: &[u8]) -> String {
    enamel_crypto::token::hex(bytes)
}

/// On PostgreSQL this once answered 500 (a 32-bit failure counter read as 64-bit),
/// so failures were neither counted nor audited and the lockout never came.
async fn a_wrong_password_and_an_unknown_email_get_the_same_answer(backend: Backend) {
    let Some(demo) = demo_on(backend, |_| {}).await else {
        return;
    };
    let email = demo.email(0, Role::Dentist);
    let (_, wrong) = demo.sign_in(&email, "not the right password").await;
    let (_, unknown) = demo
        .sign_in("nobody@example.test", "not the right password")
        .await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(unknown.status(), 401);
    assert!(wrong.headers().get(header::SET_COOKIE).is_none());
    let (wrong, unknown) = (wrong.text().await.unwrap(), unknown.text().await.unwrap());
    assert_eq!(wrong, unknown);
    assert!(!wrong.contains(&email));
    let failures = audited(&demo, 0, "sign_in").await;
    assert_eq!(failures[0]["detail"]["reason"]["code"], "bad_password");
    for entry in &failures {
        assert!(!entry.to_string().contains("not the right password"));
    }
    // The right password afterwards still signs in.
    demo.session(&email).await;
}

async fn a_session_ends_after_the_idle_limit_and_is_audited_as_idle(backend: Backend) {
    let Some(demo) = demo_on(backend, |s| {
        s.sessions.idle_seconds = 5;
        s.sessions.absolute_seconds = 60;
    })
    .await
    else {
        return;
    };
    let cookie = demo.session(&demo.email(0, Role::Dentist)).await;
    demo.clock.advance(Duration::seconds(4));
    assert_eq!(demo.get("/api/v1/me", &cookie).await.status(), 200);
    demo.clock.advance(Duration::seconds(4));
    assert_eq!(
        demo.get("/api/v1/me", &cookie).await.status(),
        200,
        "activity resets the idle timer"
    );
    demo.clock.advance(Duration::seconds(5));
    let expired = demo.get("/api/v1/me", &cookie).await;
    assert_eq!(expired.status(), 401);
    assert_eq!(
        demo.get("/api/v1/me", &cookie).await.status(),
        401,
        "an ended session stays ended"
    );
    let ends = audited(&demo, 0, "session_end").await;
    assert_eq!(ends.len(), 1);
    assert_eq!(ends[0]["detail"]["reason"]["code"], "idle");
}

async fn a_busy_session_still_ends_at_the_absolute_limit(backend: Backend) {
    let Some(demo) = demo_on(backend, |s| {
        s.sessions.idle_seconds = 5;
        s.sessions.absolute_seconds = 12;
    })
    .await
    else {
        return;
    };
    let cookie = demo.session(&demo.email(0, Role::Dentist)).await;
    for _ in 0..2 {
        demo.clock.advance(Duration::seconds(4));
        assert_eq!(demo.get("/api/v1/me", &cookie).await.status(), 200);
    }
    demo.clock.advance(Duration::seconds(3));
    assert_eq!(
        demo.get("/api/v1/me", &cookie).await.status(),
        200,
        "11 s in"
    );
    demo.clock.advance(Duration::seconds(1));
    assert_eq!(
        demo.get("/api/v1/me", &cookie).await.status(),
        401,
        "12 s in"
    );
    let page = demo.get("/", &cookie).await;
    assert_eq!(page.status(), 303, "the web UI sends the person to sign in");
    let ends = audited(&demo, 0, "session_end").await;
    assert_eq!(ends[0]["detail"]["reason"]["code"], "absolute");
}

#[test]
fn sessions_may_not_be_configured_longer_than_the_seed_allows() {
    let too_idle = Settings::load(None, |var| {
        (var == "ENAMEL_SESSIONS_IDLE_SECONDS").then(|| "1801".into())
    });
    assert!(too_idle.is_err());
    let too_long = Settings::load(None, |var| {
        (var == "ENAMEL_SESSIONS_ABSOLUTE_SECONDS").then(|| "43201".into())
    });
    assert!(too_long.is_err());
    let shorter = Settings::load(None, |var| {
        (var == "ENAMEL_SESSIONS_IDLE_SECONDS").then(|| "300".into())
    });
    assert_eq!(shorter.unwrap().sessions.idle_seconds, 300);
}

async fn a_state_changing_request_from_another_origin_is_refused(backend: Backend) {
    let Some(demo) = demo_on(backend, |_| {}).await else {
        return;
    };
    let cookie = demo.session(&demo.email(0, Role::Dentist)).await;
    let forged = demo
        .client
        .post(format!("{}/sign-out", demo.url))
        .header(header::COOKIE, &cookie)
        .header(header::ORIGIN, "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert_eq!(
        forged.json::<Value>().await.unwrap()["code"],
        "cross_origin"
    );
    let no_origin = demo
        .client
        .post(format!("{}/sign-out", demo.url))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(no_origin.status(), 403);
    assert_eq!(
        demo.get("/api/v1/me", &cookie).await.status(),
        200,
        "still signed in"
    );
    let real = demo.form("/sign-out", Some(&cookie), &[]).await;
    assert_eq!(real.status(), 303);
    assert_eq!(demo.get("/api/v1/me", &cookie).await.status(), 401);
}

async fn an_admin_enrols_totp_and_a_code_cannot_be_used_twice(backend: Backend) {
    let Some(demo) = demo_on(backend, |_| {}).await else {
        return;
    };
    let email = demo.email(0, Role::PracticeAdmin);
    let (cookie, secret) = demo.admin_session(&email).await;
    assert_eq!(demo.get("/api/v1/me", &cookie).await.status(), 200);
    demo.form("/sign-out", Some(&cookie), &[]).await;

    let (pending, response) = demo.sign_in(&email, DEMO_PASSWORD).await;
    assert_eq!(
        response.headers()[header::LOCATION],
        "/sign-in/second-factor"
    );
    let pending = pending.unwrap();
    assert_eq!(
        demo.get("/api/v1/me", &pending).await.status(),
        401,
        "no access before the second factor"
    );
    // The code used at enrolment is refused: its time step was used.
    let reused = code(&secret, demo.clock.now());
    let replay = demo
        .form(
            "/sign-in/second-factor",
            Some(&pending),
            &[("code", &reused)],
        )
        .await;
    assert_eq!(replay.status(), 401);
    demo.clock.advance(Duration::seconds(30));
    let fresh = code(&secret, demo.clock.now());
    let accepted = demo
        .form(
            "/sign-in/second-factor",
            Some(&pending),
            &[("code", &fresh)],
        )
        .await;
    assert_eq!(accepted.status(), 303);
    let full = cookie_of(&accepted).unwrap();
    assert_ne!(full, pending, "a new token after the second factor");
    assert_eq!(demo.get("/api/v1/me", &full).await.status(), 200);
    assert_eq!(demo.get("/api/v1/me", &pending).await.status(), 401);
    let factors = audited(&demo, 0, "second_factor").await;
    assert_eq!(
        factors.iter().filter(|e| e["outcome"] == "failure").count(),
        1
    );
    assert_eq!(
        factors.iter().filter(|e| e["outcome"] == "success").count(),
        1
    );
}

async fn ten_failures_lock_an_account_until_an_admin_lifts_it(backend: Backend) {
    let Some(demo) = demo_on(backend, |_| {}).await else {
        return;
    };
    let dentist = demo.email(0, Role::Dentist);
    for _ in 0..10 {
        demo.sign_in(&dentist, "wrong password again").await;
        demo.clock.advance(Duration::minutes(16)); // past any back-off
    }
    let (_, locked) = demo.sign_in(&dentist, DEMO_PASSWORD).await;
    assert_eq!(
        locked.status(),
        401,
        "the right password is refused while locked"
    );
    assert_eq!(audited(&demo, 0, "lockout").await.len(), 1);

    let (admin, _) = demo
        .admin_session(&demo.email(0, Role::PracticeAdmin))
        .await;
    let id = demo.user_id(&admin, &dentist).await;
    let lifted = demo
        .form(&format!("/admin/users/{id}/unlock"), Some(&admin), &[])
        .await;
    assert_eq!(lifted.status(), 303);
    demo.session(&dentist).await;
    assert_eq!(audited(&demo, 0, "unlock").await.len(), 1);
}

async fn another_practices_account_answers_like_a_missing_one(backend: Backend) {
    let Some(demo) = demo_on(backend, |_| {}).await else {
        return;
    };
    let (admin, _) = demo
        .admin_session(&demo.email(0, Role::PracticeAdmin))
        .await;
    let foreign = demo.network.practices[1].users[0].id().to_string();
    let missing = uuid::Uuid::now_v7().to_string();
    let mut bodies = Vec::new();
    for id in [&foreign, &missing] {
        for (method, path) in [
            ("GET", format!("/api/v1/users/{id}")),
            ("POST", format!("/api/v1/users/{id}/deactivate")),
            ("POST", format!("/api/v1/users/{id}/unlock")),
        ] {
            let request = if method == "GET" {
                demo.client.get(format!("{}{path}", demo.url))
            } else {
                demo.client
                    .post(format!("{}{path}", demo.url))
                    .header(header::ORIGIN, demo.origin())
            };
            let response = request.header(header::COOKIE, &admin).send().await.unwrap();
            assert_eq!(response.status(), 404, "{method} {path}");
            let mut body: Value = response.json().await.unwrap();
            body["correlation_id"] = Value::Null;
            bodies.push(body);
        }
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]));
}

async fn a_front_desk_account_cannot_manage_people(backend: Backend) {
    let Some(demo) = demo_on(backend, |_| {}).await else {
        return;
    };
    let cookie = demo.session(&demo.email(0, Role::FrontDesk)).await;
    assert_eq!(demo.get("/api/v1/users", &cookie).await.status(), 403);
    assert_eq!(demo.get("/admin/users", &cookie).await.status(), 403);
    assert_eq!(
        demo.get("/api/v1/access-review", &cookie).await.status(),
        403
    );
    let denied = audited(&demo, 0, "read").await;
    assert!(denied.iter().any(|e| e["outcome"] == "denied"));
}

async fn an_invited_person_sets_a_password_once_and_deactivation_ends_their_sessions(
    backend: Backend,
) {
    let Some(demo) = demo_on(backend, |_| {}).await else {
        return;
    };
    let (admin, _) = demo
        .admin_session(&demo.email(0, Role::PracticeAdmin))
        .await;
    let invited: Value = demo
        .client
        .post(format!("{}/api/v1/invitations", demo.url))
        .header(header::COOKIE, &admin)
        .header(header::ORIGIN, demo.origin())
        .json(&json!({ "display_name": "Pat Newhire", "email": "pat.newhire@example.test", "role": "hygienist" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = invited["invitation_path"].as_str().unwrap().to_owned();
    let token = path.rsplit('/').next().unwrap().to_owned();
    let page = demo
        .client
        .get(format!("{}{path}", demo.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let weak = demo
        .form(
            "/invitations/accept",
            None,
            &[("token", &token), ("password", "password1234")],
        )
        .await;
    assert_eq!(weak.status(), 422);
    let good = "quiet harbor lantern 42";
    let accepted = demo
        .form(
            "/invitations/accept",
            None,
            &[("token", &token), ("password", good)],
        )
        .await;
    assert_eq!(accepted.status(), 200);
    let again = demo
        .form(
            "/invitations/accept",
            None,
            &[("token", &token), ("password", good)],
        )
        .await;
    assert_eq!(again.status(), 410, "single use");

    let (hygienist, _) = demo.sign_in("pat.newhire@example.test", good).await;
    let hygienist = hygienist.unwrap();
    assert_eq!(demo.get("/api/v1/me", &hygienist).await.status(), 200);
    let id = invited["user_id"].as_str().unwrap();
    let response = demo
        .form(&format!("/admin/users/{id}/deactivate"), Some(&admin), &[])
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        demo.get("/api/v1/me", &hygienist).await.status(),
        401,
        "ended at once"
    );
}

async fn the_security_officer_reviews_access_as_a_page_and_csv_and_signs_off(backend: Backend) {
    let Some(demo) = demo_on(backend, |_| {}).await else {
        return;
    };
    let (officer, _) = demo
        .admin_session(&demo.email(0, Role::SecurityOfficer))
        .await;
    let page = demo.get("/security/access-review", &officer).await;
    assert_eq!(page.status(), 200);
    let csv = demo.get("/security/access-review.csv", &officer).await;
    assert_eq!(
        csv.headers()[header::CONTENT_TYPE],
        "text/csv; charset=utf-8"
    );
    let csv = csv.text().await.unwrap();
    let users = demo.network.practices[0].users.len();
    assert_eq!(csv.lines().count(), users + 1);
    assert!(csv.starts_with(
        "name,email,role,status,second_factor,last_sign_in,last_phi_access,idle_90_days"
    ));
    let json: Value = demo
        .get("/api/v1/access-review", &officer)
        .await
        .json()
        .await
        .unwrap();
    let accounts = json["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), users);
    assert!(
        accounts
            .iter()
            .any(|a| a["role"] == "security_officer" && a["second_factor"] == "on")
    );
    let signed = demo
        .form("/security/access-review/sign-off", Some(&officer), &[])
        .await;
    assert_eq!(signed.status(), 303);
    let sign_offs = audited(&demo, 0, "access_review").await;
    assert_eq!(sign_offs.len(), 1);
    assert_eq!(sign_offs[0]["detail"]["count"]["count"], users);
}

async fn an_agent_token_is_shown_once_scoped_and_revocable(backend: Backend) {
    let Some(demo) = demo_on(backend, |_| {}).await else {
        return;
    };
    let (admin, _) = demo
        .admin_session(&demo.email(0, Role::PracticeAdmin))
        .await;
    let post = |path: &str, body: Value| {
        demo.client
            .post(format!("{}{path}", demo.url))
            .header(header::COOKIE, &admin)
            .header(header::ORIGIN, demo.origin())
            .json(&body)
            .send()
    };
    let agent: Value = post("/api/v1/agents", json!({ "name": "recall" }))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let agent_id = agent["id"].as_str().unwrap();
    let bad = post(
        &format!("/api/v1/agents/{agent_id}/tokens"),
        json!({ "scopes": ["account.invite"] }),
    )
    .await
    .unwrap();
    assert_eq!(bad.status(), 422);
    let issued: Value = post(
        &format!("/api/v1/agents/{agent_id}/tokens"),
        json!({ "scopes": ["patient.read"] }),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let token = issued["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("enm_"));
    let me = |token: String| {
        demo.client
            .get(format!("{}/api/v1/me", demo.url))
            .bearer_auth(token)
            .send()
    };
    let answer: Value = me(token.clone()).await.unwrap().json().await.unwrap();
    assert_eq!(answer["kind"], "agent");
    assert_eq!(answer["scopes"], json!(["patient.read"]));
    let listing = demo
        .client
        .get(format!("{}/api/v1/users", demo.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(listing.status(), 403, "an agent manages no accounts");
    let listed: Value = demo
        .get("/api/v1/agents", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert!(!listed.to_string().contains(&token), "never shown again");
    let id = issued["id"].as_str().unwrap();
    let revoked = demo
        .client
        .delete(format!("{}/api/v1/tokens/{id}", demo.url))
        .header(header::COOKIE, &admin)
        .header(header::ORIGIN, demo.origin())
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    assert_eq!(me(token).await.unwrap().status(), 401);
    let uses = audited(&demo, 0, "token_use").await;
    assert_eq!(uses.iter().filter(|e| e["outcome"] == "denied").count(), 1);
}

async fn glass(demo: &Demo, cookie: &str, patient: &str, note: &str) -> reqwest::Response {
    demo.send_json(
        reqwest::Method::POST,
        "/api/v1/break-glass",
        cookie,
        &json!({ "patient_id": patient, "reason": "emergency_treatment", "note": note }),
    )
    .await
}

async fn restrict(demo: &Demo, cookie: &str, patient: &str, on: bool) -> reqwest::Response {
    demo.send_json(
        reqwest::Method::PUT,
        &format!("/api/v1/patients/{patient}/restriction"),
        cookie,
        &json!({ "restricted": on }),
    )
    .await
}

async fn read(demo: &Demo, cookie: &str, patient: &str) -> reqwest::Response {
    demo.get(&format!("/api/v1/patients/{patient}"), cookie)
        .await
}

async fn a_dentist_breaks_the_glass_only_for_a_restricted_patient_of_their_own(backend: Backend) {
    let Some(demo) = demo_on(backend, |_| {}).await else {
        return;
    };
    let front_desk = demo.session(&demo.email(0, Role::FrontDesk)).await;
    let dentist = demo.session(&demo.email(0, Role::Dentist)).await;
    let patient = demo.add_patient(&front_desk, "Glasswell").await;
    let note = "Swelling after hours; on call.";

    // A missing id and another practice's patient answer alike; an open record is 409.
    let foreign_desk = demo.session(&demo.email(1, Role::FrontDesk)).await;
    let foreign = demo.add_patient(&foreign_desk, "Elsewhere").await;
    let missing = uuid::Uuid::now_v7().to_string();
    let mut bodies = Vec::new();
    for id in [&foreign, &missing] {
        let response = glass(&demo, &dentist, id, note).await;
        assert_eq!(response.status(), 404);
        let mut body: Value = response.json().await.unwrap();
        body["correlation_id"] = Value::Null;
        bodies.push(body);
    }
    assert_eq!(bodies[0], bodies[1]);
    assert_eq!(glass(&demo, &dentist, &patient, note).await.status(), 409);

    // The front desk restricts the record; then no one of the care team reads it.
    assert_eq!(
        restrict(&demo, &front_desk, &patient, true).await.status(),
        200
    );
    assert_eq!(read(&demo, &dentist, &patient).await.status(), 403);
    assert_eq!(read(&demo, &front_desk, &patient).await.status(), 403);
    assert_eq!(
        restrict(&demo, &front_desk, &patient, false).await.status(),
        403,
        "lifting takes the glass"
    );
    let hygienist = demo.session(&demo.email(0, Role::Hygienist)).await;
    assert_eq!(
        glass(&demo, &hygienist, &patient, "just curious about it")
            .await
            .status(),
        403
    );

    // The dentist breaks the glass, reads, and may lift the restriction.
    assert_eq!(glass(&demo, &dentist, &patient, note).await.status(), 201);
    let record: Value = read(&demo, &dentist, &patient).await.json().await.unwrap();
    assert_eq!(record["restricted"], true);
    assert_eq!(
        restrict(&demo, &dentist, &patient, false).await.status(),
        200
    );
    assert_eq!(read(&demo, &front_desk, &patient).await.status(), 200);

    let events = audited(&demo, 0, "break_glass").await;
    let granted: Vec<_> = events
        .iter()
        .filter(|e| e["outcome"] == "success")
        .collect();
    assert_eq!(
        granted.len(),
        1,
        "no grant for a missing, foreign or open record"
    );
    assert_eq!(
        granted[0]["detail"]["reason"]["code"],
        "emergency_treatment"
    );
    assert!(
        !granted[0].to_string().contains("Swelling"),
        "the dentist's words stay out of the log"
    );
    let writes = audited(&demo, 0, "write").await;
    let switches: Vec<_> = writes
        .iter()
        .filter_map(|e| e["detail"]["restricted"]["code"].as_str())
        .collect();
    assert_eq!(switches, ["on", "off"]);
    let (officer, _) = demo
        .admin_session(&demo.email(0, Role::SecurityOfficer))
        .await;
    let alerts: Value = demo
        .get("/api/v1/alerts", &officer)
        .await
        .json()
        .await
        .unwrap();
    let alerts = alerts["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["kind"], "break_glass");
}

async fn a_restricted_record_is_restricted_and_opened_from_the_patient_page(backend: Backend) {
    let Some(demo) = demo_on(backend, |_| {}).await else {
        return;
    };
    let front_desk = demo.session(&demo.email(0, Role::FrontDesk)).await;
    let dentist = demo.session(&demo.email(0, Role::Dentist)).await;
    let patient = demo.add_patient(&front_desk, "Pagewell").await;
    let page = demo.get(&format!("/patients/{patient}"), &front_desk).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Restrict this record"));
    let restricted = demo
        .form(
            &format!("/patients/{patient}/restriction"),
            Some(&front_desk),
            &[("restricted", "on")],
        )
        .await;
    assert_eq!(restricted.status(), 303);
    let glass = demo.get(&format!("/patients/{patient}"), &dentist).await;
    assert_eq!(glass.status(), 200);
    assert!(glass.text().await.unwrap().contains("Break the glass"));
    let opened = demo
        .form(
            &format!("/patients/{patient}/break-glass"),
            Some(&dentist),
            &[
                ("reason", "covering_provider"),
                ("note", "Covering for Dr. Lee today."),
            ],
        )
        .await;
    assert_eq!(opened.status(), 303);
    let record = demo.get(&format!("/patients/{patient}"), &dentist).await;
    let record = record.text().await.unwrap();
    assert!(record.contains("Pagewell") && record.contains("Lift the restriction"));
}

#[tokio::test]
async fn sign_in_and_sessions_work_on_postgres() {
    let Some(demo) = demo_on(Backend::Postgres, |s| s.sessions.idle_seconds = 5).await else {
        return;
    };
    let cookie = demo.session(&demo.email(0, Role::Dentist)).await;
    assert_eq!(demo.get("/api/v1/me", &cookie).await.status(), 200);
    demo.clock.advance(Duration::seconds(5));
    assert_eq!(demo.get("/api/v1/me", &cookie).await.status(), 401);
    let (admin, _) = demo
        .admin_session(&demo.email(0, Role::PracticeAdmin))
        .await;
    assert_eq!(demo.get("/admin/users", &admin).await.status(), 200);
}

async fn a_promoted_account_must_enrol_before_acting_in_its_new_role(backend: Backend) {
    let Some(demo) = demo_on(backend, |_| {}).await else {
        return;
    };
    let dentist = demo.email(0, Role::Dentist);
    let old_session = demo.session(&dentist).await;
    let admin_email = demo.email(0, Role::PracticeAdmin);
    let (admin, _) = demo.admin_session(&admin_email).await;
    let id = demo.user_id(&admin, &dentist).await;
    let promote = |id: String, role: &'static str| {
        demo.client
            .put(format!("{}/api/v1/users/{id}/role", demo.url))
            .header(header::COOKIE, &admin)
            .header(header::ORIGIN, demo.origin())
            .json(&json!({ "role": role }))
            .send()
    };
    let promoted = promote(id, "security_officer").await.unwrap();
    assert_eq!(promoted.status(), 200);

    // The session opened under the old role ends at once.
    assert_eq!(demo.get("/api/v1/me", &old_session).await.status(), 401);
    assert_eq!(
        demo.get("/api/v1/audit/failures", &old_session)
            .await
            .status(),
        401
    );
    // Signing in again asks for enrolment first, and the pending session reads nothing.
    let (pending, response) = demo.sign_in(&dentist, DEMO_PASSWORD).await;
    assert_eq!(response.headers()[header::LOCATION], "/sign-in/enrol");
    let pending = pending.unwrap();
    assert_eq!(
        demo.get("/api/v1/audit/failures", &pending).await.status(),
        401
    );

    // An admin cannot change their own role.
    let own = demo.user_id(&admin, &admin_email).await;
    let refused = promote(own, "front_desk").await.unwrap();
    assert_eq!(refused.status(), 409);
    assert_eq!(demo.get("/admin/users", &admin).await.status(), 200);
}

/// Inviting another practice's staff member answers as for a new address and
/// creates and delivers nothing (no oracle of who works where); the practice's own
/// staff are a 409.
async fn an_invitation_is_no_oracle_of_other_practices_staff(backend: Backend) {
    let Some(demo) = demo_on(backend, |_| {}).await else {
        return;
    };
    let (admin, _) = demo
        .admin_session(&demo.email(0, Role::PracticeAdmin))
        .await;
    let invite = |email: String| json!({ "display_name": "Pat Example", "email": email, "role": "front_desk" });
    let (fresh_status, fresh) = demo
        .post(
            "/api/v1/invitations",
            &admin,
            invite("someone.new@example.test".into()),
        )
        .await;
    let elsewhere = demo.email(1, Role::Dentist);
    let (other_status, other) = demo
        .post("/api/v1/invitations", &admin, invite(elsewhere.clone()))
        .await;
    assert_eq!((fresh_status, other_status), (201, 201));
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&fresh), keys(&other), "the same answer");
    let link = other["invitation_path"].as_str().unwrap();
    let opened = demo
        .client
        .get(format!("{}{link}", demo.url))
        .send()
        .await
        .unwrap();
    assert!(
        matches!(opened.status().as_u16(), 404 | 410),
        "the link leads nowhere"
    );
    demo.session(&elsewhere).await; // their account is untouched
    let admin_id = demo
        .user_id(&admin, &demo.email(0, Role::PracticeAdmin))
        .await;
    let listed: Value = demo
        .get("/api/v1/users", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert!(!listed.to_string().contains(&elsewhere), "nothing created");
    assert!(listed.to_string().contains(&admin_id));
    let (own_status, _) = demo
        .post(
            "/api/v1/invitations",
            &admin,
            invite(demo.email(0, Role::Dentist)),
        )
        .await;
    assert_eq!(own_status, 409);
    // The people page names roles for people, and an invitation starts at the least
    // powerful one.
    let page = demo.get("/admin/users", &admin).await.text().await.unwrap();
    assert!(page.contains(">Front desk<") && !page.contains(">front_desk<"));
    assert!(page.contains("<option value=\"billing\" selected>Billing</option>"));
}

/// The smaller leaks: the operator lists no practice's accounts (denied and
/// audited, not an empty list), a hygienist sends no portal link (it uses contact
/// details the role may not read), an agent token needs a scope, and an id has one
/// spelling.
async fn the_smaller_leaks_stay_shut(backend: Backend) {
    let Some(demo) = demo_on(backend, |_| {}).await else {
        return;
    };
    let (operator, _) = demo
        .admin_session(demo.network.operator.email().as_str())
        .await;
    assert_eq!(demo.get("/api/v1/users", &operator).await.status(), 403);
    let scope = enamel_audit::entry::Scope::Platform;
    let platform = log_of(&demo, &scope).await;
    assert!(platform.iter().any(|e| {
        let entry: Value = serde_json::from_slice(e).unwrap();
        entry["resource_type"] == "user" && entry["outcome"] == "denied"
    }));

    let front_desk = demo.session(&demo.email(0, Role::FrontDesk)).await;
    let patient = demo.add_patient(&front_desk, "Linkwell").await;
    let referral = demo.refer(&front_desk, &patient).await;
    let referral = referral.as_str();
    let hygienist = demo.session(&demo.email(0, Role::Hygienist)).await;
    let (status, _) = demo
        .post(
            &format!("/api/v1/referrals/{referral}/portal-link"),
            &hygienist,
            json!({}),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = demo
        .post(
            &format!("/api/v1/referrals/{referral}/portal-link"),
            &front_desk,
            json!({}),
        )
        .await;
    assert_eq!(status, 202, "the front desk may");

    let (admin, _) = demo
        .admin_session(&demo.email(0, Role::PracticeAdmin))
        .await;
    let (_, agent) = demo
        .post("/api/v1/agents", &admin, json!({ "name": "recall" }))
        .await;
    let agent = agent["id"].as_str().unwrap();
    let (status, _) = demo
        .post(
            &format!("/api/v1/agents/{agent}/tokens"),
            &admin,
            json!({ "scopes": [] }),
        )
        .await;
    assert_eq!(status, 422, "a token with no scope");

    assert_eq!(read(&demo, &front_desk, &patient).await.status(), 200);
    for spelling in [
        patient.to_uppercase(),
        patient.replace('-', ""),
        format!("{{{patient}}}"),
    ] {
        assert_eq!(
            read(&demo, &front_desk, &spelling).await.status(),
            404,
            "{spelling}"
        );
    }
}

/// One clock for the server and its store, moved across midnight and the end of
/// daylight saving time in Texas (2026-11-01, 02:00 CDT becomes 01:00 CST): sessions
/// expire by elapsed time, audit entries carry the clock's time, and "the last 24
/// hours" of failures is counted from the clock, not from the machine.
async fn one_clock_moves_sessions_audit_times_and_the_last_day(backend: Backend) {
    let Some(demo) = demo_on(backend, |_| {}).await else {
        return;
    };
    // 23:50 CDT on Saturday 31 October.
    demo.clock
        .set(time::macros::datetime!(2026-11-01 04:50 UTC));
    let front_desk = demo.session(&demo.email(0, Role::FrontDesk)).await;
    assert_eq!(demo.get("/api/v1/vendors", &front_desk).await.status(), 403);
    // Past midnight: 00:10 CDT, twenty minutes idle.
    demo.clock.advance(Duration::minutes(20));
    assert_eq!(demo.get("/api/v1/me", &front_desk).await.status(), 200);
    // 01:05 CST after the clocks fell back: 55 minutes on the wall clock since the
    // last request, but the session counts elapsed time, which is 55 minutes too.
    demo.clock.advance(Duration::minutes(55));
    assert_eq!(demo.get("/api/v1/me", &front_desk).await.status(), 401);

    let officer_email = demo.email(0, Role::SecurityOfficer);
    let (officer, secret) = demo.admin_session(&officer_email).await;
    let denied_vendor_reads = |page: &Value| {
        page["entries"]
            .as_array()
            .unwrap_or_else(|| panic!("{page}"))
            .iter()
            .filter(|e| e["detail"]["policy_action"]["code"] == "vendor.view")
            .map(|e| e["timestamp"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let (status, failures) = demo.read("/api/v1/audit/failures", &officer).await;
    assert_eq!(status, 200, "{failures}");
    assert_eq!(
        denied_vendor_reads(&failures),
        ["2026-11-01T04:50:00.000000Z"],
        "stamped with the clock's time: {failures}"
    );
    // 23 hours on, the denial is still within the last day; an hour later it is not.
    // Each reading is a fresh sign-in with a code for that moment (the officer's
    // earlier session has long gone idle).
    let officer_at_clock = || async {
        let (pending, _) = demo.sign_in(&officer_email, DEMO_PASSWORD).await;
        let factor = demo
            .form(
                "/sign-in/second-factor",
                pending.as_deref(),
                &[("code", &code(&secret, demo.clock.now()))],
            )
            .await;
        assert_eq!(factor.status(), 303);
        cookie_of(&factor).unwrap()
    };
    demo.clock.advance(Duration::hours(22));
    let (_, failures) = demo
        .read("/api/v1/audit/failures", &officer_at_clock().await)
        .await;
    assert_eq!(denied_vendor_reads(&failures).len(), 1);
    demo.clock.advance(Duration::minutes(65));
    let (_, failures) = demo
        .read("/api/v1/audit/failures", &officer_at_clock().await)
        .await;
    assert!(denied_vendor_reads(&failures).is_empty(), "{failures}");
}

/// A request writes its session only when the recorded activity is a minute old (at
/// the default 30 minutes idle), so idle time is enforced to within that minute; and
/// a session ended by another process (another web server on the same database)
/// stops working at its next request.
async fn sessions_are_written_once_a_minute_and_revoked_everywhere_at_once(backend: Backend) {
    let Some(demo) = demo_on(backend, |_| {}).await else {
        return;
    };
    let dentist = demo.network.practices[0]
        .users
        .iter()
        .find(|u| u.role() == Role::Dentist)
        .unwrap()
        .id();
    let last_seen = || async {
        let sessions = demo.db.store.identity().sessions_of(dentist).await.unwrap();
        assert_eq!(sessions.len(), 1);
        (sessions[0].id, sessions[0].last_seen_at)
    };
    let cookie = demo.session(&demo.email(0, Role::Dentist)).await;
    let (_, signed_in) = last_seen().await;
    demo.clock.advance(Duration::seconds(30));
    assert_eq!(demo.get("/api/v1/me", &cookie).await.status(), 200);
    assert_eq!(last_seen().await.1, signed_in, "no write within the minute");
    demo.clock.advance(Duration::seconds(31));
    assert_eq!(demo.get("/api/v1/me", &cookie).await.status(), 200);
    let (id, touched) = last_seen().await;
    assert_eq!(touched, demo.clock.now(), "written once the minute passed");
    // One second short of the idle limit since the recorded activity: still on.
    demo.clock.advance(Duration::seconds(1_799));
    assert_eq!(demo.get("/api/v1/me", &cookie).await.status(), 200);
    demo.clock.advance(Duration::seconds(1_800));
    assert_eq!(demo.get("/api/v1/me", &cookie).await.status(), 401, "idle");

    // Another process ends a fresh session: the next request here is refused.
    let cookie = demo.session(&demo.email(0, Role::Dentist)).await;
    assert_eq!(demo.get("/api/v1/me", &cookie).await.status(), 200);
    let sessions = demo.db.store.identity().sessions_of(dentist).await.unwrap();
    let open = sessions.iter().find(|s| s.id != id).unwrap().id;
    let elsewhere = demo.db.reopen().await;
    assert!(
        elsewhere
            .identity()
            .end_session(
                dentist,
                open,
                enamel_store::EndReason::Revoked,
                demo.clock.now()
            )
            .await
            .unwrap()
    );
    assert_eq!(demo.get("/api/v1/me", &cookie).await.status(), 401);
}

/// Enrolment keeps one key until it succeeds or the person starts over on purpose:
/// a reload shows the same key, a mistyped code says so and keeps it, and "start
/// over" makes a new one. The optional page does not tell a front desk that their
/// role requires it.
async fn enrolment_keeps_its_key_until_it_succeeds(backend: Backend) {
    let Some(demo) = demo_on(backend, |_| {}).await else {
        return;
    };
    let email = demo.email(0, Role::PracticeAdmin);
    let (pending, _) = demo.sign_in(&email, DEMO_PASSWORD).await;
    let pending = pending.unwrap();
    let (demo, pending) = (&demo, &pending);
    let page =
        |path: &'static str| async move { demo.get(path, pending).await.text().await.unwrap() };
    let first = page("/sign-in/enrol").await;
    let key = secret_on(&first);
    assert!(first.contains("needs a second factor"));
    let again = secret_on(&page("/sign-in/enrol").await);
    assert_eq!(
        code(&again, demo.clock.now()),
        code(&key, demo.clock.now()),
        "a reload keeps the key"
    );
    let wrong = demo
        .form("/sign-in/enrol", Some(pending), &[("code", "000000")])
        .await;
    assert_eq!(wrong.status(), 422);
    let wrong = wrong.text().await.unwrap();
    assert!(wrong.contains("did not match"), "{wrong}");
    assert_eq!(
        code(&secret_on(&wrong), demo.clock.now()),
        code(&key, demo.clock.now()),
        "the key stays after a typo"
    );
    let restarted = secret_on(&page("/sign-in/enrol?restart=1").await);
    assert_ne!(
        code(&restarted, demo.clock.now()),
        code(&key, demo.clock.now())
    );
    let accepted = demo
        .form(
            "/sign-in/enrol",
            Some(pending),
            &[("code", &code(&restarted, demo.clock.now()))],
        )
        .await;
    assert_eq!(accepted.status(), 200);

    let front_desk = demo.session(&demo.email(0, Role::FrontDesk)).await;
    let optional = demo
        .get("/account/second-factor", &front_desk)
        .await
        .text()
        .await
        .unwrap();
    assert!(optional.contains("keeps your account safe"));
    assert!(!optional.contains("needs a second factor") && !optional.contains("requires"));
}

on_both_backends!(
    a_dentist_signs_in_with_a_strict_host_only_cookie,
    a_session_ends_after_the_idle_limit_and_is_audited_as_idle,
    a_busy_session_still_ends_at_the_absolute_limit,
    a_state_changing_request_from_another_origin_is_refused,
    an_admin_enrols_totp_and_a_code_cannot_be_used_twice,
    another_practices_account_answers_like_a_missing_one,
    a_front_desk_account_cannot_manage_people,
    an_invited_person_sets_a_password_once_and_deactivation_ends_their_sessions,
    the_security_officer_reviews_access_as_a_page_and_csv_and_signs_off,
    an_agent_token_is_shown_once_scoped_and_revocable,
    a_wrong_password_and_an_unknown_email_get_the_same_answer,
    ten_failures_lock_an_account_until_an_admin_lifts_it,
    a_promoted_account_must_enrol_before_acting_in_its_new_role,
    a_dentist_breaks_the_glass_only_for_a_restricted_patient_of_their_own,
    a_restricted_record_is_restricted_and_opened_from_the_patient_page,
    an_invitation_is_no_oracle_of_other_practices_staff,
    the_smaller_leaks_stay_shut,
    one_clock_moves_sessions_audit_times_and_the_last_day,
    sessions_are_written_once_a_minute_and_revoked_everywhere_at_once,
    enrolment_keeps_its_key_until_it_succeeds,
);
