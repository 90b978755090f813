//! The referral lists: searched by the patient's name (a POST, never a URL), filtered
//! by status, office and date, a page of 25 at a time.

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

on_both_backends!(the_outbox_is_searched_filtered_and_paged);
