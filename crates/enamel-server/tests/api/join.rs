//! An office invites a specialist that is not on Enamel: the specialist gets an
//! email with a link (no PHI), sets up its office from it (onboarding it, with the
//! administrator's invitation emailed), and the inviter sees that it joined.

use enamel_domain::Role;
use enamel_store::Backend;

use crate::identity::demo_on;

fn office(npi: &str) -> Vec<(&'static str, &str)> {
    vec![
        ("name", "Sunset Endodontic Partners"),
        ("npi", npi),
        ("specialty", "endodontics"),
        ("phone", "(737) 555-0190"),
        ("fax", ""),
        ("address_line1", "5000 Sunset Trl"),
        ("address_line2", ""),
        ("city", "Austin"),
        ("state", "TX"),
        ("postal_code", "78745"),
        ("time_zone", "America/Chicago"),
        ("admin_name", "Ravi Sunset"),
        ("admin_email", "ravi@sunset-endo.example.test"),
    ]
}

#[allow(clippy::too_many_lines, reason = "one story, read top to bottom")]
async fn an_invited_office_joins_and_the_inviter_sees_it(backend: Backend) {
    let mailbox = tempfile::tempdir().unwrap();
    let dir = mailbox.path().to_owned();
    let Some(demo) = demo_on(backend, |settings| {
        settings.notifications.mailbox_dir = Some(dir);
        settings.notifications.poll_millis = Some(100);
    })
    .await
    else {
        return;
    };
    let desk = demo.session(&demo.email(0, Role::FrontDesk)).await;
    let (status, page) = demo.page("/directory/invitations", &desk).await;
    assert_eq!(status, 200);
    assert!(page.contains("Invite an office to Enamel"));
    let refused = demo
        .form(
            "/directory/invitations",
            Some(&desk),
            &[
                ("office_name", "Sunset Endodontic Partners"),
                ("email", "not-an-email"),
            ],
        )
        .await;
    assert_eq!(refused.status(), 422);
    let sent = demo
        .form(
            "/directory/invitations",
            Some(&desk),
            &[
                ("office_name", "Sunset Endodontic Partners"),
                ("email", "front@sunset-endo.example.test"),
            ],
        )
        .await;
    assert_eq!(sent.status(), 303);
    let (_, page) = demo.page("/directory/invitations?flash=sent", &desk).await;
    assert!(page.contains("Sent; not accepted yet"), "{page}");

    let message =
        enamel_testkit::demo::mailbox_message(mailbox.path(), "To: front@sunset-endo.example.test")
            .await;
    assert!(message.contains("Bluebonnet Family Dental"), "{message}");
    let link = message
        .split_whitespace()
        .find(|w| w.contains("/join/"))
        .unwrap()
        .to_owned();
    let (status, join) = {
        let response = demo.client.get(&link).send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    };
    assert_eq!(status, 200);
    assert!(
        join.contains("Bluebonnet Family Dental invites your office"),
        "{join}"
    );
    assert!(join.contains("value=\"Sunset Endodontic Partners\""));
    let path = link.trim_start_matches(&demo.url).to_owned();
    let wrong = demo.form(&path, None, &office("1234567890")).await;
    assert_eq!(wrong.status(), 422);
    assert!(wrong.text().await.unwrap().contains("id=\"p-npi-error\""));
    let joined = demo.form(&path, None, &office("1234567893")).await;
    assert_eq!(joined.status(), 200);
    let joined = joined.text().await.unwrap();
    assert!(joined.contains("Your office is on Enamel"), "{joined}");
    // The new office's administrator is invited by email, as in any onboarding.
    let admin =
        enamel_testkit::demo::mailbox_message(mailbox.path(), "To: ravi@sunset-endo.example.test")
            .await;
    assert!(admin.contains("/invitations/"), "{admin}");
    // The link works once.
    let again = demo.client.get(&link).send().await.unwrap();
    assert_eq!(again.status(), 410);
    let (_, page) = demo.page("/directory/invitations", &desk).await;
    assert!(page.contains("as Sunset Endodontic Partners"), "{page}");
}

on_both_backends!(an_invited_office_joins_and_the_inviter_sees_it);
