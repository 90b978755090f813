//! No-show recovery end to end (docs/no-show-recovery.md): a visit marked a no-show
//! late on a Saturday night, just before the clocks go back, opens a run whose
//! offers wait for Sunday's sending hours (08:00 standard time), then go out through
//! Twilio's API and a real SMTP server; opening a link books nothing, the first
//! press books the slot, the second gets "just taken", a forged link and an expired
//! one get their own pages, and the agent's audit trail matches what it sent.

use std::time::Duration;

use enamel_domain::Role;
use enamel_server::clock::Clock as _;
use enamel_store::Backend;
use enamel_testkit::smtp::{SmtpSink, body};
use serde_json::{Value, json};
use time::macros::datetime;

use crate::identity::{Demo, demo_on};
use crate::notifications::{
    email_through, execute_twilio_baa, texts_through, twilio_fake, unfolded,
};

/// Saturday 31 October 2026, 22:30 in Chicago (CDT): after sending hours, and the
/// night the clocks go back (02:00 CDT becomes 01:00 CST).
const SATURDAY_NIGHT: time::OffsetDateTime = datetime!(2026-11-01 03:30 UTC);
/// Sunday 1 November, 08:00 CST: sending hours open.
const SUNDAY_OPENING: time::OffsetDateTime = datetime!(2026-11-01 14:00 UTC);

/// The offer links in `text`.
fn links(text: &str) -> Vec<String> {
    text.match_indices("/o/")
        .map(|(at, _)| {
            text[at + 3..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                .collect::<String>()
                .trim_end_matches('.')
                .to_owned()
        })
        .collect()
}

async fn runs(demo: &Demo, cookie: &str) -> Vec<Value> {
    let (status, list) = demo.read("/api/v1/recovery/runs", cookie).await;
    assert_eq!(status, 200, "{list}");
    list["runs"].as_array().unwrap().clone()
}

/// Waits (10 s at most) until the first run has `count` offers with `status`.
async fn offers_with(demo: &Demo, cookie: &str, status: &str, count: usize) -> Value {
    for _ in 0..100 {
        let runs = runs(demo, cookie).await;
        if let Some(run) = runs.first() {
            let n = run["offers"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|o| o["status"] == status)
                .count();
            if n >= count {
                return run.clone();
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the run never had {count} offers {status}");
}

async fn answer(demo: &Demo, token: &str, answer: &str) -> (u16, String) {
    let response = demo
        .client
        .post(format!("{}/o/{token}", demo.url))
        .header("origin", demo.origin())
        .form(&[("answer", answer)])
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn open(demo: &Demo, token: &str) -> (u16, String) {
    let response = demo
        .client
        .get(format!("{}/o/{token}", demo.url))
        .send()
        .await
        .unwrap();
    // The link is a secret: never sent to another site, never cached.
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(header("referrer-policy").as_deref(), Some("same-origin"));
    assert_eq!(header("cache-control").as_deref(), Some("no-store"));
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The practice's audit entries whose correlation id is the run's.
async fn agent_trail(demo: &Demo, run: &str) -> Vec<Value> {
    let practice = demo.network.practices[0].practice.id;
    let scope = enamel_audit::entry::Scope::Practice(practice);
    let store = &demo.db.store;
    let size = store
        .audit()
        .heads()
        .await
        .unwrap()
        .into_iter()
        .find(|(s, _)| *s == scope)
        .unwrap()
        .1;
    let correlation = uuid::Uuid::parse_str(run).unwrap().simple().to_string();
    store
        .audit()
        .entries(&scope, 0, u32::try_from(size).unwrap())
        .await
        .unwrap()
        .iter()
        .map(|e| serde_json::from_slice::<Value>(&e.entry).unwrap())
        .filter(|e| e["correlation_id"] == correlation.as_str())
        .collect()
}

#[allow(clippy::too_many_lines, reason = "one story, read top to bottom")]
async fn a_no_show_is_offered_after_quiet_hours_and_the_first_to_book_gets_it(backend: Backend) {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let port = sink.port;
    let (twilio, base) = twilio_fake().await;
    let Some(demo) = demo_on(backend, |settings| {
        email_through(settings, port);
        texts_through(settings, base);
    })
    .await
    else {
        return;
    };
    demo.clock.set(SATURDAY_NIGHT);
    let office = &demo.network.practices[0];
    enamel_demo::seed_office_schedule(&demo.db.store, office)
        .await
        .unwrap();
    execute_twilio_baa(&demo).await;
    let (admin, _) = demo
        .admin_session(&demo.email(0, Role::PracticeAdmin))
        .await;
    let (status, saved) = demo
        .api(
            reqwest::Method::PUT,
            "/api/v1/recovery/settings",
            &admin,
            Some(json!({ "enabled": true, "wave_size": 3, "wave_minutes": 5,
                          "cutoff_minutes": 30, "send_from": "08:00", "send_until": "21:00" })),
        )
        .await;
    assert_eq!(status, 204, "{saved}");

    // Late on Saturday the front desk marks Monday's visit a no-show.
    let visit = enamel_demo::visit_to_break(
        &demo.db.store,
        office,
        SATURDAY_NIGHT + time::Duration::hours(20),
        SATURDAY_NIGHT + time::Duration::days(6),
        4,
    )
    .await
    .unwrap()
    .expect("a visit several waitlist patients fit");
    let desk = demo.session(&demo.email(0, Role::FrontDesk)).await;
    let (status, _) = demo
        .post(
            &format!("/api/v1/appointments/{visit}/status"),
            &desk,
            json!({ "status": "broken" }),
        )
        .await;
    assert_eq!(status, 204);

    // The first wave picks three patients and defers them to 08:00 *standard* time.
    let run = offers_with(&demo, &desk, "deferred", 3).await;
    let run_id = run["id"].as_str().unwrap().to_owned();
    assert_eq!(run["appointment_id"], visit.to_string());
    for offer in run["offers"].as_array().unwrap() {
        assert_eq!(offer["due_at"], "2026-11-01T14:00:00Z", "{offer}");
    }
    // The office's page: staff see who was offered; the administrator, whose role
    // reads no schedule, sees the runs and offers without a name.
    let (status, page) = demo.page("/schedule/recovery", &desk).await;
    assert_eq!(status, 200);
    assert!(page.contains("Waiting for sending hours"), "{page}");
    assert!(page.contains("href=\"/patients/"), "{page}");
    let (status, page) = demo.page("/schedule/recovery", &admin).await;
    assert_eq!(status, 200);
    assert!(page.contains("A waitlist patient"), "{page}");
    assert!(
        !page.contains("href=\"/patients/"),
        "no patient for the admin: {page}"
    );
    // A slot offered by hand in the past is refused on the page itself, saying why.
    let provider = run["provider_id"].as_str().unwrap();
    let response = demo
        .form(
            "/schedule/recovery/runs",
            Some(&desk),
            &[
                ("provider_id", provider),
                ("appointment_type_id", ""),
                ("date", "2026-10-30"),
                ("time", "10:00"),
                ("duration_minutes", "60"),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    assert!(page.contains("role=\"alert\""), "{page}");
    assert!(page.contains("That time has passed"), "{page}");
    assert!(
        page.contains("Offer an open time"),
        "the page itself, not a bare error"
    );
    assert!(
        page.contains("value=\"2026-10-30\"") && page.contains("value=\"10:00\""),
        "what was typed is kept"
    );

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.received(), 0, "nothing is sent in quiet hours");
    assert!(twilio.received.lock().unwrap().is_empty());

    // Sunday, sending hours: the deferred offers go out, by text or by email.
    demo.clock.set(SUNDAY_OPENING + time::Duration::seconds(30));
    // (A new session: the night's has long gone idle.)
    let desk = demo.session(&demo.email(0, Role::FrontDesk)).await;
    offers_with(&demo, &desk, "sent", 3).await;
    let mut texts = Vec::new();
    for _ in 0..100 {
        texts = twilio
            .received
            .lock()
            .unwrap()
            .iter()
            .filter_map(|(_, form)| {
                form.iter()
                    .find(|(k, _)| k == "Body")
                    .map(|(_, v)| v.clone())
            })
            .filter(|body| body.contains("/o/"))
            .collect();
        if texts.len() + sink.received() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut tokens = Vec::new();
    for text in &texts {
        assert!(
            enamel_domain::recovery::fits_one_segment(text),
            "one GSM-7 segment: {text}"
        );
        assert!(text.contains(office.practice.name.as_str()) || text.contains("has an opening"));
        tokens.extend(links(text));
    }
    for n in 1..=sink.received() {
        let text = unfolded(body(&sink.message(n).await));
        tokens.extend(links(&text));
    }
    assert_eq!(tokens.len(), 3, "three offers, three links: {texts:?}");
    let runs_now = runs(&demo, &desk).await;
    let kind = runs_now[0]["appointment_type"].as_str().unwrap_or("none");
    for text in &texts {
        assert!(!text.contains(kind), "no procedure in the message: {text}");
    }

    // Opening a link (a person, or a mail scanner) books nothing.
    let (status, page) = open(&demo, &tokens[0]).await;
    assert_eq!(status, 200);
    assert!(page.contains("Book this time"), "{page}");
    // The slot's time, in the practice's zone, and its name; nothing else about it.
    let starts_at = time::OffsetDateTime::parse(
        runs_now[0]["starts_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let local = office.practice.time_zone.local(starts_at);
    let clock = local
        .format(time::macros::format_description!(
            "[hour repr:12 padding:none]:[minute] [period]"
        ))
        .unwrap();
    assert!(page.contains(&clock), "{clock} in {page}");
    assert!(page.contains(office.practice.name.as_str()));
    assert!(!page.contains(kind), "no procedure on the page");
    open(&demo, &tokens[1]).await;
    assert_eq!(runs(&demo, &desk).await[0]["status"], "open");

    // The third patient says this time does not suit them: they stay on the list.
    let (status, page) = answer(&demo, &tokens[2], "decline").await;
    assert_eq!(status, 200);
    assert!(page.contains("we will not book this time"), "{page}");
    let (status, _) = answer(&demo, &tokens[2], "book").await;
    assert_eq!(status, 200, "a declined offer books nothing");
    assert_eq!(runs(&demo, &desk).await[0]["status"], "open");

    // The first to press books it; the second is told it was just taken.
    let (status, page) = answer(&demo, &tokens[0], "book").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("You are booked"), "{page}");
    let (status, page) = answer(&demo, &tokens[1], "book").await;
    assert_eq!(status, 409);
    assert!(page.contains("This time was just taken"), "{page}");
    assert!(page.contains("You are still on the list"), "{page}");
    // From that page the patient can ask for no more offers for this visit.
    let (status, page) = answer(&demo, &tokens[1], "stop").await;
    assert_eq!(status, 200);
    assert!(page.contains("No more offers for this visit"), "{page}");
    // The winner gets a note of the booking, the way the offer reached them.
    let mut noted = false;
    for _ in 0..100 {
        let by_text = twilio.received.lock().unwrap().iter().any(|(_, form)| {
            form.iter()
                .any(|(k, v)| k == "Body" && v.contains("you are booked"))
        });
        let mut by_email = false;
        for n in 1..=sink.received() {
            by_email |= enamel_testkit::smtp::header(&sink.message(n).await, "Subject")
                .is_some_and(|s| s.starts_with("You are booked at"));
        }
        if by_text || by_email {
            noted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(noted, "a note of the booking was sent");
    // Pressed again, the winning link books nothing more and still says so.
    let (status, page) = answer(&demo, &tokens[0], "book").await;
    assert_eq!(status, 200);
    assert!(page.contains("You are booked"));
    // A forged link (its signature altered) opens nothing.
    // (A character in the middle of the tag: the last one may carry only padding.)
    let dot = tokens[1].find('.').unwrap();
    let at = dot + 6;
    let mut forged = tokens[1].clone();
    let was = forged.remove(at);
    forged.insert(at, if was == 'A' { 'B' } else { 'A' });
    let (status, page) = open(&demo, &forged).await;
    assert_eq!(status, 404);
    assert!(page.contains("This link does not work"));
    let (status, _) = answer(&demo, &forged, "book").await;
    assert_eq!(status, 404);

    let run = &runs(&demo, &desk).await[0];
    assert_eq!(run["status"], "filled");
    let booked = run["booked_appointment_id"].as_str().unwrap();
    let statuses: Vec<&str> = run["offers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert!(
        statuses.contains(&"confirmed") && statuses.contains(&"withdrawn"),
        "{statuses:?}"
    );
    let winner = run["offers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["status"] == "confirmed")
        .unwrap()["patient_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, schedule) = demo
        .read(&format!("/api/v1/patients/{winner}/schedule"), &desk)
        .await;
    assert!(schedule.to_string().contains(booked), "{schedule}");
    let (_, waitlist) = demo.read("/api/v1/waitlist", &desk).await;
    assert!(
        !waitlist["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["patient_id"] == winner.as_str()),
        "the winner's entry left the waitlist"
    );

    // The agent's trail, under the run's correlation id: its view reads, each offer
    // deferred and then sent, and the booking, all as an agent.
    let trail = agent_trail(&demo, &run_id).await;
    let steps: Vec<&str> = trail
        .iter()
        .filter(|e| e["actor_type"] == "agent")
        .filter_map(|e| e["detail"]["recovery"]["code"].as_str())
        .collect();
    assert_eq!(
        steps.iter().filter(|s| **s == "offer_deferred").count(),
        3,
        "{steps:?}"
    );
    assert_eq!(
        steps.iter().filter(|s| **s == "offer_sent").count(),
        3,
        "{steps:?}"
    );
    assert!(steps.contains(&"declined") && steps.contains(&"declined_all"));
    assert!(
        steps.contains(&"candidates") && steps.contains(&"contact"),
        "{steps:?}"
    );
    assert!(steps.contains(&"confirmed_booked") || steps.contains(&"confirmed_moved"));
    assert!(steps.contains(&"confirm_too_late"), "{steps:?}");
    assert!(
        trail
            .iter()
            .filter(|e| e["detail"]["recovery"]["code"] == "offer_sent")
            .all(|e| e["actor_type"] == "agent" && !e["patient_id"].is_null())
    );

    // The metrics count runs and offers by status, and the time to fill; no PHI.
    let metrics = demo
        .client
        .get(format!("{}/metrics", demo.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("enamel_recovery_runs{status=\"filled\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("enamel_recovery_offers{status=\"declined\"} 1"));
    assert!(metrics.contains("enamel_recovery_stopped_entries 1"));
    assert!(metrics.contains("enamel_recovery_fill_seconds_sum"));

    // Once the slot's time has come, the losing link says the offer has ended.
    demo.clock.set(demo.clock.now() + time::Duration::days(3));
    let (status, page) = open(&demo, &tokens[1]).await;
    assert_eq!(status, 410);
    assert!(page.contains("This offer has ended"));
}

/// The offer links in the mailbox's files, in the order written.
fn mailbox_tokens(dir: &std::path::Path) -> Vec<(String, String)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|path| {
            let text = std::fs::read_to_string(path).unwrap();
            let to = text
                .lines()
                .find_map(|l| l.strip_prefix("To: "))
                .unwrap_or_default()
                .to_owned();
            links(&text)
                .into_iter()
                .map(move |token| (to.clone(), token))
        })
        .collect()
}

/// Waits (10 s at most) for offer links in the mailbox beyond the `known` ones.
async fn new_tokens(dir: &std::path::Path, known: usize) -> Vec<(String, String)> {
    for _ in 0..100 {
        let tokens = mailbox_tokens(dir);
        if tokens.len() > known {
            return tokens[known..].to_vec();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no new offer in the mailbox");
}

/// The newest run's write-back outcome, once it is `expected` (10 s at most).
async fn writeback(demo: &Demo, desk: &str, expected: &str) -> String {
    let mut written = String::new();
    for _ in 0..100 {
        runs(demo, desk).await[0]["pms_writeback"]
            .as_str()
            .unwrap_or_default()
            .clone_into(&mut written);
        if written == expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    written
}

/// Breaks an appointment in Open Dental and syncs, so the sync's change opens the run.
async fn break_in_open_dental(
    demo: &Demo,
    fake: &enamel_testkit::opendental::FakeOpenDental,
    admin: &str,
    admin_user: &enamel_domain::User,
    apt: i64,
) {
    assert!(fake.change("appointments", apt, |item| {
        item.insert("AptStatus".into(), json!("Broken"));
    }));
    let before = crate::opendental::last_finished(&demo.db.store, admin_user).await;
    demo.clock.advance(time::Duration::seconds(1));
    demo.form("/practice/opendental/sync", Some(admin), &[])
        .await;
    assert_eq!(
        crate::opendental::run_ended(&demo.db.store, admin_user, before).await,
        "ok"
    );
}

#[allow(clippy::too_many_lines, reason = "one story, read top to bottom")]
async fn a_booking_is_written_back_to_open_dental_and_a_slot_filled_there_is_withdrawn(
    backend: Backend,
) {
    use crate::opendental::{CUSTOMER, DEVELOPER, execute_baa, run_ended, user};
    use enamel_testkit::opendental::{FakeOpenDental, populate};

    let fake = FakeOpenDental::start(DEVELOPER, CUSTOMER).await;
    populate(&fake, 60);
    let base = fake.url.to_string();
    let mailbox = tempfile::tempdir().unwrap();
    let dir = mailbox.path().to_owned();
    let Some(demo) = demo_on(backend, |settings| {
        settings.pms.opendental_developer_key = Some(secrecy::SecretString::from(DEVELOPER));
        settings.pms.opendental_base_url = Some(base);
        settings.notifications.mailbox_dir = Some(dir);
        settings.notifications.poll_millis = Some(100);
    })
    .await
    else {
        return;
    };
    // Monday 30 November 2026, 08:00 in Chicago, the fake's first day.
    demo.clock.set(datetime!(2026-11-30 14:00 UTC));
    execute_baa(&demo).await;
    let practice = demo.network.practices[1].practice.id;
    demo.db
        .store
        .scoped(&enamel_domain::Actor::system_for(
            practice,
            enamel_domain::SystemTask::Seed,
        ))
        .put_vendor(
            &enamel_store::VendorEntry {
                name: enamel_domain::VendorName::parse("twilio").unwrap(),
                display_name: "Twilio".into(),
                services: "SMS".into(),
                baa_status: enamel_store::BaaStatus::Executed,
                executed_on: Some(time::macros::date!(2026 - 06 - 01)),
                expires_on: None,
                document_ref: None,
            },
            demo.clock_now(),
        )
        .await
        .unwrap();
    let admin_user = user(&demo, Role::PracticeAdmin).await;
    let (admin, _) = demo
        .admin_session(&demo.email(1, Role::PracticeAdmin))
        .await;
    let response = demo
        .form(
            "/practice/opendental",
            Some(&admin),
            &[("customer_key", CUSTOMER), ("minutes", "5")],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(run_ended(&demo.db.store, &admin_user, None).await, "ok");
    let (status, saved) = demo
        .api(
            reqwest::Method::PUT,
            "/api/v1/recovery/settings",
            &admin,
            Some(json!({ "enabled": true, "wave_size": 10, "wave_minutes": 5,
                          "cutoff_minutes": 30, "send_from": "07:00", "send_until": "21:00" })),
        )
        .await;
    assert_eq!(status, 204, "{saved}");

    // Appointment 1 (Dr. Okafor, Op 2, Tuesday 08:00) is broken in Open Dental; the
    // sync brings the change in and the run opens. Patient 21 is on the ASAP list
    // with appointment 7 (Dr. Okafor, the next Monday): the move earlier is offered.
    break_in_open_dental(&demo, &fake, &admin, &admin_user, 1).await;
    let offered = new_tokens(mailbox.path(), 0).await;
    let (_, token) = offered
        .iter()
        .find(|(to, _)| to.contains("patient21@") || to.contains("5550021"))
        .unwrap_or_else(|| panic!("patient 21's offer: {offered:?}"))
        .clone();
    let (status, page) = answer(&demo, &token, "book").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("You are booked"));

    // The booking is written back: appointment 7 moves into the slot in Open Dental.
    let mut moved = None;
    for _ in 0..100 {
        let item = fake.item("appointments", 7).unwrap();
        if item["AptDateTime"] == "2026-12-01 08:00:00" {
            moved = Some(item);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let moved = moved.expect("appointment 7 moved in Open Dental");
    assert_eq!(moved["Op"], 2);
    assert_eq!(moved["ProvNum"], 2);
    assert_eq!(moved["AptStatus"], "Scheduled");
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.starts_with("GET appointments?") && r.contains("date=2026-12-01")),
        "the slot was read again in Open Dental before booking"
    );
    let desk = demo.session(&demo.email(1, Role::FrontDesk)).await;
    assert_eq!(writeback(&demo, &desk, "done").await, "done");

    // A patient added to the waitlist in Enamel, for any provider.
    let staff_user = user(&demo, Role::FrontDesk).await;
    let staff_actor = enamel_domain::Actor::human(&staff_user);
    let staff = demo.db.store.scoped(&staff_actor);
    let someone = staff
        .appointments_between(
            datetime!(2026-12-02 00:00 UTC),
            datetime!(2026-12-03 00:00 UTC),
        )
        .await
        .unwrap()[0]
        .patient_id;
    let (status, added) = demo
        .post(
            "/api/v1/waitlist",
            &desk,
            json!({ "patient_id": someone.to_string(), "duration_minutes": "30", "priority": "1" }),
        )
        .await;
    assert_eq!(status, 201, "{added}");
    // Appointment 5 (Op 2, Saturday 08:00) is broken; while the offer is out, the
    // front desk fills the time in Open Dental itself.
    let known = mailbox_tokens(mailbox.path()).len();
    break_in_open_dental(&demo, &fake, &admin, &admin_user, 5).await;
    let offered = new_tokens(mailbox.path(), known).await;
    fake.insert(
        "appointments",
        json!({ "AptNum": 999, "PatNum": 60, "AptStatus": "Scheduled", "Pattern": "//XXXXXX//",
                "Op": 2, "ProvNum": 2, "AptDateTime": "2026-12-05 08:00:00", "Priority": "Normal" }),
    );
    let (status, page) = answer(&demo, &offered[0].1, "book").await;
    assert_eq!(status, 409, "{page}");
    assert!(page.contains("This time was just taken"));
    let run = &runs(&demo, &desk).await[0];
    assert_eq!(run["status"], "withdrawn");
    assert_eq!(run["closed_reason"], "filled_outside");
    assert!(
        run["offers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["status"] != "sent"),
        "every open offer was withdrawn: {run}"
    );

    // A visit marked a no-show in Enamel (Open Dental still shows it scheduled):
    // its own appointment there does not fill the slot, and the booking goes
    // through. The patient was added in Enamel, so Open Dental has no visit to move.
    let visit = staff
        .appointments_between(
            datetime!(2026-12-09 00:00 UTC),
            datetime!(2026-12-10 00:00 UTC),
        )
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.status == enamel_domain::AppointmentStatus::Scheduled)
        .unwrap();
    let known = mailbox_tokens(mailbox.path()).len();
    let (status, _) = demo
        .post(
            &format!("/api/v1/appointments/{}/status", visit.id),
            &desk,
            json!({ "status": "broken" }),
        )
        .await;
    assert_eq!(status, 204);
    let offered = new_tokens(mailbox.path(), known).await;
    let (status, page) = answer(&demo, &offered[0].1, "book").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(writeback(&demo, &desk, "not_in_pms").await, "not_in_pms");
}

/// Patients who replied STOP get no offer by any channel: each is refused
/// `opted_out`, and nothing reaches the mailbox.
async fn a_patient_who_replied_stop_is_offered_nothing(backend: Backend) {
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
    let office = &demo.network.practices[0];
    let store = &demo.db.store;
    enamel_demo::seed_office_schedule(store, office)
        .await
        .unwrap();
    let desk = demo.session(&demo.email(0, Role::FrontDesk)).await;
    let (_, waitlist) = demo.read("/api/v1/waitlist", &desk).await;
    for entry in waitlist["entries"].as_array().unwrap() {
        let patient = uuid::Uuid::parse_str(entry["patient_id"].as_str().unwrap()).unwrap();
        store
            .record_sms_consent(
                office.practice.id,
                patient,
                true,
                enamel_store::ConsentSource::CarrierKeyword,
            )
            .await
            .unwrap();
    }
    enamel_demo::seed_recovery(store, office).await.unwrap();
    let mut refused = Vec::new();
    for _ in 0..100 {
        let listed = runs(&demo, &desk).await;
        refused = listed
            .first()
            .map(|run| run["offers"].as_array().unwrap().clone())
            .unwrap_or_default();
        if !refused.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!refused.is_empty(), "the wave ran");
    assert!(
        refused
            .iter()
            .all(|o| o["status"] == "refused" && o["reason"] == "opted_out"),
        "{refused:?}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        mailbox_tokens(mailbox.path()).is_empty(),
        "no offer was sent"
    );
}

on_both_backends!(
    a_no_show_is_offered_after_quiet_hours_and_the_first_to_book_gets_it,
    a_booking_is_written_back_to_open_dental_and_a_slot_filled_there_is_withdrawn,
    a_patient_who_replied_stop_is_offered_nothing,
);
