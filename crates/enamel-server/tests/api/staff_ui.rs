//! The staff web UI for referrals, driven as a browser without JavaScript would:
//! pages, forms, a multipart upload, redirects. (The headless-Chromium test in
//! `tests/browser` drives the same pages through a real browser.)

use enamel_domain::Role;
use enamel_store::Backend;
use reqwest::header;

use crate::identity::{Demo, demo_on};

const BOUNDARY: &str = "enamel-test-boundary-7d1f";

/// A `multipart/form-data` body as a browser builds it: text fields, then files.
fn multipart(fields: &[(&str, &str)], files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    for (file_name, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn png() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend((0..50_000_u32).map(|i| u8::try_from(i % 251).unwrap()));
    png
}

async fn post_multipart(demo: &Demo, path: &str, cookie: &str, body: Vec<u8>) -> reqwest::Response {
    demo.client
        .post(format!("{}{path}", demo.url))
        .header(header::COOKIE, cookie)
        .header(header::ORIGIN, demo.origin())
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .unwrap()
}

fn location(response: &reqwest::Response) -> String {
    response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned()
}

/// The first `href` on the page that starts with `prefix`.
fn link_starting(page: &str, prefix: &str) -> String {
    let at = page
        .find(&format!("href=\"{prefix}"))
        .unwrap_or_else(|| panic!("no link to {prefix}"));
    let rest = &page[at + 6..];
    rest[..rest.find('"').unwrap()].to_owned()
}

#[allow(clippy::too_many_lines, reason = "one story, read top to bottom")]
async fn refer_through_the_pages(backend: Backend) {
    let Some(demo) = demo_on(backend, |_| {}).await else {
        return;
    };
    let referrer = demo.session(&demo.email(0, Role::FrontDesk)).await;
    let specialist = demo.session(&demo.email(3, Role::FrontDesk)).await;
    let bystander = demo.session(&demo.email(1, Role::FrontDesk)).await;

    // Home links to the referral pages for the care team.
    let (_, home) = demo.page("/", &referrer).await;
    assert!(home.contains("href=\"/referrals\"") && home.contains("href=\"/patients\""));

    // Patients: the newest page, each with a "Refer" link carrying only an id.
    let (status, patients) = demo.page("/patients", &referrer).await;
    assert_eq!(status, 200);
    let refer = link_starting(&patients, "/referrals/new?patient=");
    let (status, form) = demo.page(&refer, &referrer).await;
    assert_eq!(status, 200, "{form}");
    assert!(form.contains("enctype=\"multipart/form-data\""));
    let patient_id = refer.rsplit('=').next().unwrap().to_owned();
    let endo = demo.network.practices[3].practice.id.to_string();
    assert!(form.contains(&endo), "the endodontist is offered");
    let own = demo.network.practices[0].practice.id.to_string();
    assert!(
        !form.contains(&format!("value=\"{own}\"")),
        "not one's own office"
    );

    // Send with a radiograph: fields, the file, then the button.
    let fields = [
        ("patient_id", patient_id.as_str()),
        ("receiving_practice_id", endo.as_str()),
        ("urgency", "soon"),
        ("reason", "Evaluate #19 for root canal therapy"),
        ("cdt_codes", "D3330, D0220"),
        ("teeth", "19"),
        ("notes", "Lingering cold sensitivity; PA attached."),
    ];
    let mut body = multipart(&fields, &[("bitewing-19.png", &png())]);
    // The button comes after the files in a browser's form data.
    let end = format!("--{BOUNDARY}--\r\n");
    body.truncate(body.len() - end.len());
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"action\"\r\n\r\nsend\r\n{end}"
        )
        .as_bytes(),
    );
    let sent = post_multipart(&demo, "/referrals", &referrer, body).await;
    assert_eq!(sent.status(), 303);
    let detail_path = location(&sent);
    assert!(detail_path.ends_with("?flash=sent"), "{detail_path}");
    let (status, detail) = demo.page(&detail_path, &referrer).await;
    assert_eq!(status, 200);
    assert!(detail.contains("Referral sent."));
    assert!(detail.contains("<strong>Sent</strong>"));
    assert!(detail.contains("D3330, D0220"));
    assert!(detail.contains("bitewing-19.png"));
    assert!(detail.contains("?inline=true"), "an image preview");
    let referral = detail_path
        .trim_start_matches("/referrals/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();

    // The specialist's home lists it among the work waiting, without clinical notes;
    // the referring office's home does not (a sent referral waits on the other side).
    let (_, home) = demo.page("/", &specialist).await;
    let waiting = home
        .split("Received by your office")
        .nth(1)
        .unwrap_or_default();
    let waiting = waiting
        .split("Sent by your office")
        .next()
        .unwrap_or_default();
    assert!(
        waiting.contains(&format!("/referrals/{referral}")),
        "{home}"
    );
    assert!(!home.contains("Lingering cold sensitivity"));
    let (_, referrer_home) = demo.page("/", &referrer).await;
    assert!(!referrer_home.contains(&format!("/referrals/{referral}\"")));

    // The specialist's inbox counts it as needing attention; the list has no notes.
    let (_, inbox) = demo.page("/referrals?box=inbox", &specialist).await;
    assert!(inbox.contains(&format!("/referrals/{referral}")));
    assert!(inbox.contains("need attention"));
    assert!(!inbox.contains("Lingering cold sensitivity"));
    let (_, seen) = demo
        .page(&format!("/referrals/{referral}"), &specialist)
        .await;
    assert!(seen.contains("Lingering cold sensitivity"));
    assert!(seen.contains(&format!("/referrals/{referral}/steps/accept")));

    // The preview is the decrypted radiograph.
    let preview = link_starting(&seen, &format!("/api/v1/referrals/{referral}/attachments/"));
    let image = demo.get(&preview, &specialist).await;
    assert_eq!(image.headers()[header::CONTENT_TYPE], "image/png");
    assert_eq!(image.bytes().await.unwrap().as_ref(), png().as_slice());

    // Accept, then a schedule without a date is a clear refusal, with one it works.
    let accepted = demo
        .form(
            &format!("/referrals/{referral}/steps/accept"),
            Some(&specialist),
            &[],
        )
        .await;
    assert_eq!(accepted.status(), 303);
    let refused = demo
        .form(
            &format!("/referrals/{referral}/steps/schedule"),
            Some(&specialist),
            &[("appointment", "")],
        )
        .await;
    assert_eq!(refused.status(), 422);
    let page = refused.text().await.unwrap();
    assert!(page.contains("give the appointment"), "{page}");
    let scheduled = demo
        .form(
            &format!("/referrals/{referral}/steps/schedule"),
            Some(&specialist),
            &[("appointment", "2026-12-03T09:30")],
        )
        .await;
    assert_eq!(scheduled.status(), 303);
    let messaged = demo
        .form(
            &format!("/referrals/{referral}/messages"),
            Some(&specialist),
            &[("body", "Booked for the 3rd.")],
        )
        .await;
    assert_eq!(messaged.status(), 303);
    // The referring office is told (an office notice, no words of the message) and
    // sees it unread, on its list and its home page, until it opens the referral.
    let notices = demo
        .db
        .store
        .outbox()
        .of_practice(demo.network.practices[0].practice.id, 100)
        .await
        .unwrap();
    assert_eq!(
        notices
            .iter()
            .filter(|m| m.kind == "referral_message")
            .count(),
        1,
        "one notice of the message to the referring office"
    );
    let unread_row = |page: &str| {
        page.split(&format!("/referrals/{referral}\""))
            .nth(1)
            .and_then(|rest| rest.split("</tr>").next())
            .is_some_and(|row| row.contains("unread message"))
    };
    let (_, outbox) = demo.page("/referrals?box=outbox", &referrer).await;
    assert!(unread_row(&outbox), "unread on the list");
    let (_, home) = demo.page("/", &referrer).await;
    assert!(
        home.contains("has an unread message") && unread_row(&home),
        "unread at home"
    );
    let (_, own_list) = demo.page("/referrals?box=inbox", &specialist).await;
    assert!(!unread_row(&own_list), "one's own message is not unread");
    let (_, followed) = demo
        .page(&format!("/referrals/{referral}"), &referrer)
        .await;
    let (_, outbox) = demo.page("/referrals?box=outbox", &referrer).await;
    assert!(!unread_row(&outbox), "read once opened");
    assert!(followed.contains("Appointment recorded"));
    // The timeline's times are the practice's local time, with its zone's name.
    let zone = demo.network.practices[0].practice.time_zone;
    let local = zone.abbreviation(enamel_server::clock::Clock::now(&demo.clock));
    assert!(
        followed.contains(&format!(" {local}</")),
        "times in {local}"
    );
    assert!(
        !followed.contains(" UTC</"),
        "no UTC times on a practice's page"
    );
    assert!(followed.contains("2026-12-03 09:30"));
    assert!(followed.contains("Booked for the 3rd."));

    // Another office gets the same page as for a referral that does not exist.
    let (foreign, foreign_page) = demo
        .page(&format!("/referrals/{referral}"), &bystander)
        .await;
    let (missing, missing_page) = demo
        .page(
            "/referrals/0190d7a4-0000-7000-8000-000000000000",
            &bystander,
        )
        .await;
    assert_eq!((foreign, missing), (404, 404));
    assert_eq!(foreign_page, missing_page);

    // "Send referral" with no file chosen: a browser still sends the file input, as
    // a part with an empty file name and no content. That is no file.
    let mut no_file = multipart(&fields, &[("", b"")]);
    let end = format!("--{BOUNDARY}--\r\n");
    no_file.truncate(no_file.len() - end.len());
    no_file.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"action\"\r\n\r\nsend\r\n{end}"
        )
        .as_bytes(),
    );
    let sent = post_multipart(&demo, "/referrals", &referrer, no_file).await;
    assert_eq!(sent.status(), 303);
    let sent_path = location(&sent);
    assert!(sent_path.ends_with("?flash=sent"), "{sent_path}");

    // A file that is not an image, PDF or DICOM keeps the referral a draft.
    let text_file = multipart(&fields, &[("notes.txt", b"plain words, not a radiograph")]);
    let kept = post_multipart(&demo, "/referrals", &referrer, text_file).await;
    assert_eq!(kept.status(), 303);
    let kept_path = location(&kept);
    assert!(kept_path.ends_with("?flash=file_refused"), "{kept_path}");
    let (_, draft) = demo.page(&kept_path, &referrer).await;
    assert!(draft.contains("<strong>Draft</strong>"));
    assert!(draft.contains("No attachments."));

    // Uploads pass the server's 2 MiB body limit (they are limited per file while they
    // stream); other forms do not.
    let draft_id = kept_path
        .trim_start_matches("/referrals/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let mut big = png();
    big.resize(3 * 1024 * 1024, 7);
    let uploaded = post_multipart(
        &demo,
        &format!("/referrals/{draft_id}/attachments"),
        &referrer,
        multipart(&[], &[("panoramic.png", &big)]),
    )
    .await;
    assert_eq!(uploaded.status(), 303);
    let long = "x".repeat(3 * 1024 * 1024);
    let too_long = demo
        .form(
            &format!("/referrals/{draft_id}/messages"),
            Some(&referrer),
            &[("body", long.as_str())],
        )
        .await;
    assert_eq!(too_long.status(), 413);

    // Invalid teeth are refused with the rule, before anything is created: the form
    // comes back (see a_form_with_a_mistake_comes_back_with_what_was_typed).
    let mut bad = fields;
    bad[5] = ("teeth", "46");
    let refused = post_multipart(&demo, "/referrals", &referrer, multipart(&bad, &[])).await;
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.unwrap().contains("tooth"));
}

/// The value of the input or textarea with id `id` in `page` (as rendered, escaped).
fn typed_in(page: &str, id: &str) -> String {
    let at = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id}"));
    let tag = &page[at..];
    if let Some(value) = tag
        .split('>')
        .next()
        .and_then(|t| t.split("value=\"").nth(1))
    {
        return value.split('"').next().unwrap_or_default().to_owned();
    }
    tag.split('>')
        .nth(1)
        .unwrap_or_default()
        .split("</textarea")
        .next()
        .unwrap_or_default()
        .to_owned()
}

async fn a_form_with_a_mistake_comes_back_with_what_was_typed(backend: Backend) {
    let Some(demo) = demo_on(backend, |_| {}).await else {
        return;
    };
    let referrer = demo.session(&demo.email(0, Role::FrontDesk)).await;
    let (_, patients) = demo.page("/patients", &referrer).await;
    let refer = link_starting(&patients, "/referrals/new?patient=");
    let (_, form) = demo.page(&refer, &referrer).await;
    assert!(
        !form.contains(" checked"),
        "no specialist is chosen for the office"
    );
    let patient_id = refer.rsplit('=').next().unwrap().to_owned();
    let endo = demo.network.practices[3].practice.id.to_string();
    let before = demo.db.raw_text_dump("referrals").await;
    let mut fields = vec![
        ("patient_id", patient_id.as_str()),
        ("receiving_practice_id", endo.as_str()),
        ("urgency", "urgent"),
        ("reason", "Evaluate #30 for retreatment"),
        ("cdt_codes", "D3330, X12"),
        ("teeth", "30"),
        ("notes", "Sinus tract buccal to #30."),
        ("action", "send"),
    ];

    // An invalid CDT code: the form again, everything typed kept, the rule beside the
    // codes, and nothing saved.
    let wrong = post_multipart(&demo, "/referrals", &referrer, multipart(&fields, &[])).await;
    assert_eq!(wrong.status(), 422);
    let page = wrong.text().await.unwrap();
    assert!(page.contains("role=\"alert\">Nothing was sent"), "{page}");
    assert!(
        page.contains("id=\"r-codes-error\""),
        "the message is beside the codes"
    );
    assert!(page.contains("aria-invalid=\"true\" aria-describedby=\"r-codes-error"));
    assert_eq!(typed_in(&page, "r-codes"), "D3330, X12");
    assert_eq!(typed_in(&page, "r-reason"), "Evaluate #30 for retreatment");
    assert_eq!(typed_in(&page, "r-notes"), "Sinus tract buccal to #30.");
    assert!(
        page.contains(&format!("value=\"{endo}\" required checked")),
        "the specialist chosen stays chosen"
    );
    assert!(page.contains("<option value=\"urgent\" selected>"));

    // Tooth 33: the message is beside the teeth.
    fields[4] = ("cdt_codes", "D3330");
    fields[5] = ("teeth", "33");
    let wrong = post_multipart(&demo, "/referrals", &referrer, multipart(&fields, &[])).await;
    assert_eq!(wrong.status(), 422);
    let page = wrong.text().await.unwrap();
    assert!(page.contains("id=\"r-teeth-error\""));
    assert_eq!(typed_in(&page, "r-teeth"), "33");

    // No specialist chosen (a client without the browser's check).
    fields[5] = ("teeth", "30");
    fields[1] = ("receiving_practice_id", "");
    let wrong = post_multipart(&demo, "/referrals", &referrer, multipart(&fields, &[])).await;
    assert_eq!(wrong.status(), 422);
    assert!(wrong.text().await.unwrap().contains("Choose a specialist."));
    assert_eq!(
        demo.db.raw_text_dump("referrals").await,
        before,
        "nothing was saved"
    );

    // Searching the directory keeps everything typed, files are not stored.
    let mut search = vec![
        ("patient_id", patient_id.as_str()),
        ("specialty", "periodontics"),
        ("city", ""),
        ("within_km", ""),
        ("action", "filter"),
    ];
    search.extend_from_slice(&fields[2..7]);
    let found = post_multipart(
        &demo,
        "/referrals",
        &referrer,
        multipart(&search, &[("bitewing.png", &png())]),
    )
    .await;
    assert_eq!(found.status(), 200);
    let page = found.text().await.unwrap();
    assert_eq!(typed_in(&page, "r-reason"), "Evaluate #30 for retreatment");
    assert_eq!(typed_in(&page, "r-teeth"), "30");
    assert!(page.contains("<option value=\"periodontics\" selected>"));
    assert!(!page.contains(&endo), "the endodontist is filtered out");
    assert!(!page.contains(" checked"));
    assert_eq!(
        demo.db.raw_text_dump("referrals").await,
        before,
        "a search saves nothing"
    );
}

async fn the_vendor_page_shows_the_registry_and_only_the_officer_edits_it(backend: Backend) {
    let Some(demo) = demo_on(backend, |_| {}).await else {
        return;
    };
    let front_desk = demo.session(&demo.email(0, Role::FrontDesk)).await;
    let (status, _) = demo.page("/vendors", &front_desk).await;
    assert_eq!(status, 403);
    let officer_email = demo.email(0, Role::SecurityOfficer);
    let (officer, _) = demo.admin_session(&officer_email).await;
    let (status, page) = demo.page("/vendors", &officer).await;
    assert_eq!(status, 200);
    assert!(page.contains("smtp-relay") && page.contains("anthropic"));
    assert!(page.contains("action=\"/vendors\""), "the officer may edit");
    let saved = demo
        .form(
            "/vendors",
            Some(&officer),
            &[
                ("name", "twilio"),
                ("display_name", "Twilio"),
                ("services", "SMS"),
                ("baa_status", "executed"),
                ("executed_on", "2026-01-05"),
                ("expires_on", ""),
                ("document_ref", "BAA-2026-014"),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);
    let (_, page) = demo.page("/vendors", &officer).await;
    assert!(page.contains("BAA-2026-014"));
}

on_both_backends!(
    a_form_with_a_mistake_comes_back_with_what_was_typed,
    the_vendor_page_shows_the_registry_and_only_the_officer_edits_it,
    refer_through_the_pages,
);
