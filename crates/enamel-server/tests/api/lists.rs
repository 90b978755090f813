//! The referral lists: searched by the patient's name (a POST, never a URL), filtered
//! by status, office and date, a page of 25 at a time; a referral's print view and
//! PDF for the chart; steps that say what they did and ask before what cannot be
//! undone.

use enamel_domain::Role;
use enamel_store::Backend;
use serde_json::json;

use crate::identity::demo_on;

async fn the_outbox_is_searched_filtered_and_paged(backend: Backend) {
    let Some(demo) = demo_on(backend, |_| {}).await else {
        return;
    };
    let desk = demo.session(&demo.email(0, Role::FrontDesk)).await;
    for i in 0..27 {
        let patient = demo.add_patient(&desk, &format!("Pagewell{i:02}")).await;
        demo.refer(&desk, &patient).await;
    }
    let (_, patient) = demo
        .post(
            "/api/v1/patients",
            &desk,
            json!({ "first_name": "Zephyrine", "last_name": "Findable", "birth_date": "1991-05-06" }),
        )
        .await;
    demo.refer(&desk, patient["id"].as_str().unwrap()).await;

    let search = |fields: Vec<(&'static str, String)>| {
        let demo = &demo;
        let desk = desk.clone();
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let response = demo.form("/referrals/search", Some(&desk), &fields).await;
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let rows = |page: &str| page.matches("<td><a href=\"/referrals/").count();

    let (status, first) = demo.page("/referrals?box=outbox", &desk).await;
    assert_eq!(status, 200);
    assert_eq!(rows(&first), 25);
    assert!(first.contains(">Older</button>"));
    let (_, second) = search(vec![("box", "outbox".into()), ("page", "1".into())]).await;
    assert!(rows(&second) >= 3, "the rest of the 28 and the demo's own");
    assert!(second.contains(">Newer</button>"));

    // By name: the one patient, and the name stays in the form, not in a link.
    let (status, found) =
        search(vec![("box", "outbox".into()), ("patient", "zephyr".into())]).await;
    assert_eq!(status, 200);
    assert_eq!(rows(&found), 1, "{found}");
    assert!(found.contains("Zephyrine Findable"));
    assert!(!found.contains("?patient="), "never in a URL");
    // A name in a URL is ignored.
    let (_, ignored) = demo
        .page("/referrals?box=outbox&patient=zephyr", &desk)
        .await;
    assert_eq!(rows(&ignored), 25);

    // By office and status and date.
    let endo = demo.network.practices[3].practice.id.to_string();
    let (_, to_endo) = search(vec![
        ("box", "outbox".into()),
        ("office", endo),
        ("status", "sent".into()),
        ("patient", "findable".into()),
    ])
    .await;
    assert_eq!(rows(&to_endo), 1);
    let (_, old) = search(vec![("box", "outbox".into()), ("to", "2020-01-01".into())]).await;
    assert_eq!(rows(&old), 0);
    assert!(old.contains("No referrals match."));
    let (status, bad) = search(vec![("box", "outbox".into()), ("from", "soon".into())]).await;
    assert_eq!(status, 422);
    assert!(
        bad.contains("The start date must be a date as YYYY-MM-DD."),
        "{bad}"
    );
}

async fn a_referral_prints_for_the_chart_and_each_step_says_what_happened(backend: Backend) {
    let Some(demo) = demo_on(backend, |_| {}).await else {
        return;
    };
    let desk = demo.session(&demo.email(0, Role::FrontDesk)).await;
    let patient = demo.add_patient(&desk, "Printwell").await;
    let referral = demo.refer(&desk, &patient).await;

    let (status, print) = demo
        .page(&format!("/referrals/{referral}/print"), &desk)
        .await;
    assert_eq!(status, 200);
    assert!(print.contains("Referral for Testa Printwell"), "{print}");
    assert!(print.contains("Lone Star Endodontics"));
    assert!(!print.contains("<button"), "nothing to press on paper");
    let pdf = demo
        .get(&format!("/referrals/{referral}/print.pdf"), &desk)
        .await;
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    assert_eq!(pdf.headers()["cache-control"], "no-store");
    let pdf = pdf.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(String::from_utf8_lossy(&pdf).contains("Testa Printwell"));
    // Another office's referral prints for nobody else.
    let stranger = demo.session(&demo.email(1, Role::FrontDesk)).await;
    let (status, _) = demo
        .page(&format!("/referrals/{referral}/print"), &stranger)
        .await;
    assert_eq!(status, 404);

    // The specialist accepts; the page says what happened. Steps that cannot be
    // undone ask first.
    let specialist = demo.session(&demo.email(3, Role::FrontDesk)).await;
    let (_, page) = demo
        .page(&format!("/referrals/{referral}"), &specialist)
        .await;
    assert!(
        page.contains("data-confirm=\"Decline this referral? The referring office is told.\""),
        "{page}"
    );
    let accepted = demo
        .form(
            &format!("/referrals/{referral}/steps/accept"),
            Some(&specialist),
            &[],
        )
        .await;
    assert_eq!(accepted.status(), 303);
    let location = accepted.headers()["location"].to_str().unwrap().to_owned();
    let (_, page) = demo.page(&location, &specialist).await;
    assert!(
        page.contains("Referral accepted. The referring office has been told."),
        "{page}"
    );
}

on_both_backends!(
    the_outbox_is_searched_filtered_and_paged,
    a_referral_prints_for_the_chart_and_each_step_says_what_happened
);
