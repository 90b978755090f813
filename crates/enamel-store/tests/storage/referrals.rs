//! The referral network in the store: patients, the referral story, scoping, the
//! outbox and its patient limit, and what lands in plain columns.

use enamel_domain::{
    Actor, CdtCode, ClinicalDetails, ContactChannel, ContactDetails, Email, NewPatient, PatientId,
    Phi, PhoneNumber, ReferralId, ReferralStatus, Role, Step, Tooth, Urgency, User,
};
use enamel_store::{NewReferral, PatientQuery, ReferralBox, StepInput, Store, StoreError};
use time::OffsetDateTime;
use time::macros::{date, datetime};

use crate::fixtures;

const SURNAME: &str = "Quillfeather";

struct Network {
    referrer: User,
    specialist: User,
    outsider: User,
    hygienist: User,
}

async fn network(store: &Store) -> Network {
    let mut people = Vec::new();
    for (i, name) in ["Bluebonnet Dental", "Lone Star Endo", "Elsewhere Dental"]
        .into_iter()
        .enumerate()
    {
        let practice = store
            .practices()
            .insert(&fixtures::practice(
                name,
                223_456_020 + u32::try_from(i).unwrap(),
            ))
            .await
            .unwrap();
        let slug = name.split(' ').next().unwrap().to_lowercase();
        let office = Email::parse(&format!("office@{slug}.example.test")).unwrap();
        store
            .practices()
            .set_notifications(practice.id, enamel_store::Channel::Email, Some(&office))
            .await
            .unwrap();
        // The practice's administrator executes the operator's BAA first: without
        // it no PHI may enter the practice (agreement_gate, below).
        let admin = store
            .users()
            .insert(&fixtures::user(
                practice.id,
                &format!("admin@{slug}.example.test"),
                Role::PracticeAdmin,
            ))
            .await
            .unwrap();
        store
            .scoped(&Actor::human(&admin))
            .execute_agreement("Pat Admin", "Owner", &enamel_store::agreement_sha256(), AT)
            .await
            .unwrap();
        for role in [Role::FrontDesk, Role::Hygienist] {
            let email = format!("{}@{slug}.example.test", role.as_str());
            people.push(
                store
                    .users()
                    .insert(&fixtures::user(practice.id, &email, role))
                    .await
                    .unwrap(),
            );
        }
    }
    Network {
        referrer: people[0].clone(),
        hygienist: people[1].clone(),
        specialist: people[2].clone(),
        outsider: people[4].clone(),
    }
}

fn patient() -> NewPatient {
    NewPatient {
        id: PatientId::generate(),
        first_name: Phi::new("Odalys".into()),
        last_name: Phi::new(SURNAME.into()),
        birth_date: Phi::new(date!(1984 - 03 - 09)),
        contact: Phi::new(ContactDetails {
            phone: Some(PhoneNumber::parse("(512) 555-0142").unwrap()),
            email: Some(Email::parse("odalys@example.test").unwrap()),
            address: None,
            preferred: ContactChannel::Email,
            language: "en".into(),
        }),
        insurance: None,
    }
}

fn clinical() -> Phi<ClinicalDetails> {
    Phi::new(
        ClinicalDetails::parse(
            "Irreversible pulpitis, please evaluate for root canal",
            vec![CdtCode::parse("D3330").unwrap()],
            vec![Tooth::parse("19").unwrap()],
            "Sensitive to cold for two weeks",
        )
        .unwrap(),
    )
}

const AT: OffsetDateTime = datetime!(2026-11-02 15:00 UTC);

async fn sent_referral(store: &Store, net: &Network) -> ReferralId {
    let referrer = Actor::human(&net.referrer);
    let scoped = store.scoped(&referrer);
    let patient = scoped.create_patient(&patient(), false).await.unwrap();
    let id = ReferralId::generate();
    scoped
        .create_referral(
            &NewReferral {
                id,
                patient,
                receiver: net.specialist.practice.unwrap(),
                urgency: Urgency::Soon,
                clinical: clinical(),
            },
            AT,
        )
        .await
        .unwrap();
    scoped
        .step(id, Step::Send, StepInput::default(), AT)
        .await
        .unwrap();
    id
}

pub async fn a_duplicate_patient_is_caught_by_name_and_birth_date(store: Store) {
    let net = network(&store).await;
    let actor = Actor::human(&net.referrer);
    let scoped = store.scoped(&actor);
    let first = scoped.create_patient(&patient(), false).await.unwrap();
    let again = scoped.create_patient(&patient(), false).await;
    assert!(
        matches!(again, Err(StoreError::DuplicatePatient(id)) if id == first),
        "{again:?}"
    );
    scoped.create_patient(&patient(), true).await.unwrap();
    let found = scoped
        .find_patients(&PatientQuery {
            last_name: Some(Phi::new(format!("  {}  ", SURNAME.to_uppercase()))),
            limit: 10,
            ..PatientQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(found.len(), 2, "found through the last-name blind index");
}

pub async fn the_referral_story_runs_from_draft_to_closed(store: Store) {
    let net = network(&store).await;
    let id = sent_referral(&store, &net).await;
    let specialist = Actor::human(&net.specialist);
    let receiving = store.scoped(&specialist);
    let inbox = receiving
        .referrals(ReferralBox::Inbox, None, 50)
        .await
        .unwrap();
    assert_eq!(inbox.len(), 1);
    assert!(inbox[0].needs_attention());
    let detail = receiving.referral(id, AT).await.unwrap();
    assert_eq!(
        detail.summary.status,
        ReferralStatus::Received,
        "opening marks it received"
    );
    assert!(
        detail.patient.contact.is_some(),
        "the specialist needs the phone to book"
    );
    assert_eq!(detail.clinical.expose().cdt_codes[0].as_str(), "D3330");
    let walk = [
        (Step::Accept, StepInput::default()),
        (
            Step::Schedule,
            StepInput {
                appointment: Some(Phi::new(datetime!(2026-11-10 09:30))),
                ..StepInput::default()
            },
        ),
        (Step::Complete, StepInput::default()),
        (
            Step::SendReport,
            StepInput {
                note: Some(Phi::new("RCT completed on #19, recommend crown".into())),
                ..StepInput::default()
            },
        ),
    ];
    for (step, input) in walk {
        receiving.step(id, step, input, AT).await.unwrap();
    }
    let referrer = Actor::human(&net.referrer);
    let referring = store.scoped(&referrer);
    let status = referring
        .step(id, Step::Close, StepInput::default(), AT)
        .await
        .unwrap();
    assert_eq!(status, ReferralStatus::Closed);
    let detail = referring.referral(id, AT).await.unwrap();
    let kinds: Vec<&str> = detail.timeline.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "created",
            "sent",
            "received",
            "accepted",
            "scheduled",
            "completed",
            "report_sent",
            "closed"
        ]
    );
    let report = detail
        .timeline
        .iter()
        .find(|e| e.kind == "report_sent")
        .unwrap();
    assert_eq!(
        report.note.as_ref().unwrap().expose(),
        "RCT completed on #19, recommend crown"
    );
    assert!(detail.appointment.is_some());
    // Office notices for new, accepted, scheduled, completed and report; one for the patient.
    let referrer_practice = net.referrer.practice.unwrap();
    let kinds: Vec<String> = store
        .outbox()
        .of_practice(referrer_practice, 50)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.kind)
        .collect();
    for kind in [
        "referral_accepted",
        "referral_scheduled",
        "referral_completed",
        "referral_report",
        "patient_referral_sent",
    ] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "{kind} missing from {kinds:?}"
        );
    }
}

pub async fn steps_belong_to_their_side_and_their_moment(store: Store) {
    let net = network(&store).await;
    let id = sent_referral(&store, &net).await;
    let referrer = Actor::human(&net.referrer);
    let err = store
        .scoped(&referrer)
        .step(id, Step::Accept, StepInput::default(), AT)
        .await;
    assert!(matches!(err, Err(StoreError::IllegalStep(_))), "{err:?}");
    let specialist = Actor::human(&net.specialist);
    let err = store
        .scoped(&specialist)
        .step(id, Step::Decline, StepInput::default(), AT)
        .await;
    assert!(
        matches!(err, Err(StoreError::Refused(_))),
        "a decline needs a reason: {err:?}"
    );
    let err = store
        .scoped(&specialist)
        .step(id, Step::Complete, StepInput::default(), AT)
        .await;
    assert!(matches!(err, Err(StoreError::IllegalStep(_))), "{err:?}");
}

pub async fn a_third_practice_and_a_draft_look_missing(store: Store) {
    let net = network(&store).await;
    let id = sent_referral(&store, &net).await;
    let outsider = Actor::human(&net.outsider);
    assert!(matches!(
        store.scoped(&outsider).referral(id, AT).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .scoped(&outsider)
            .referral(ReferralId::generate(), AT)
            .await,
        Err(StoreError::NotFound)
    ));
    // A draft is the referrer's alone.
    let referrer = Actor::human(&net.referrer);
    let scoped = store.scoped(&referrer);
    let patient = scoped
        .find_patients(&PatientQuery {
            limit: 1,
            ..PatientQuery::default()
        })
        .await
        .unwrap()[0]
        .id;
    let draft = ReferralId::generate();
    scoped
        .create_referral(
            &NewReferral {
                id: draft,
                patient,
                receiver: net.specialist.practice.unwrap(),
                urgency: Urgency::Routine,
                clinical: clinical(),
            },
            AT,
        )
        .await
        .unwrap();
    let specialist = Actor::human(&net.specialist);
    assert!(matches!(
        store.scoped(&specialist).referral(draft, AT).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn a_hygienist_reads_the_chart_without_contact_details(store: Store) {
    let net = network(&store).await;
    let referrer = Actor::human(&net.referrer);
    let id = store
        .scoped(&referrer)
        .create_patient(&patient(), false)
        .await
        .unwrap();
    let hygienist = Actor::human(&net.hygienist);
    let seen = store.scoped(&hygienist).patient(id, AT).await.unwrap();
    assert!(seen.contact.is_none());
    let seen = store.scoped(&referrer).patient(id, AT).await.unwrap();
    assert!(seen.contact.is_some());
}

pub async fn a_patient_gets_at_most_three_messages_a_day_even_under_concurrency(store: Store) {
    let net = network(&store).await;
    let id = sent_referral(&store, &net).await; // one patient message already queued
    let referrer = Actor::human(&net.referrer);
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let store = store.clone();
        let referrer = referrer.clone();
        tasks.push(tokio::spawn(async move {
            let link = uuid::Uuid::now_v7();
            store
                .scoped(&referrer)
                .send_portal_link(
                    id,
                    link,
                    &format!("/p/{link}"),
                    AT + time::Duration::days(1),
                    AT,
                )
                .await
        }));
    }
    let mut sent = 0;
    let mut limited = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => sent += 1,
            Err(StoreError::Refused(_)) => limited += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        (sent, limited),
        (2, 4),
        "three in all, counting the referral notice"
    );
}

pub async fn no_patient_name_is_stored_in_the_clear(db: &enamel_testkit::TestDb) {
    let net = network(&db.store).await;
    sent_referral(&db.store, &net).await;
    for table in ["patients", "referrals", "referral_events", "outbox"] {
        let rows = db.raw_text_dump(table).await;
        assert!(!rows.is_empty(), "{table} has rows");
        assert!(
            !rows.contains(SURNAME) && !rows.contains("Odalys"),
            "PHI in the clear in {table}"
        );
        assert!(
            !rows.contains("pulpitis"),
            "clinical text in the clear in {table}"
        );
    }
}

pub async fn an_unscheduled_referral_is_flagged_once_for_both_offices(store: Store) {
    let net = network(&store).await;
    let id = sent_referral(&store, &net).await;
    let referrer = net.referrer.practice.unwrap();
    let specialist_practice = net.specialist.practice.unwrap();
    let flagged = store
        .flag_not_responding(referrer, 14, AT + time::Duration::days(10))
        .await
        .unwrap();
    assert!(flagged.is_empty(), "not yet");
    let other = store
        .flag_not_responding(specialist_practice, 14, AT + time::Duration::days(15))
        .await
        .unwrap();
    assert!(
        other.is_empty(),
        "flagged in the referring practice's run only"
    );
    let flagged = store
        .flag_not_responding(referrer, 14, AT + time::Duration::days(15))
        .await
        .unwrap();
    assert_eq!(flagged, [id]);
    let again = store
        .flag_not_responding(referrer, 14, AT + time::Duration::days(16))
        .await
        .unwrap();
    assert!(again.is_empty(), "flagged once");
    let specialist = Actor::human(&net.specialist);
    let inbox = store
        .scoped(&specialist)
        .referrals(ReferralBox::Inbox, None, 10)
        .await
        .unwrap();
    assert!(inbox[0].not_responding);
}

pub async fn a_restricted_patient_stays_behind_the_glass_through_a_referral(
    db: &enamel_testkit::TestDb,
) {
    let net = network(&db.store).await;
    let id = sent_referral(&db.store, &net).await;
    db.raw_execute("UPDATE patients SET restricted = (1 = 1)")
        .await;
    let referrer = Actor::human(&net.referrer);
    let err = db.store.scoped(&referrer).referral(id, AT).await;
    assert!(matches!(err, Err(StoreError::Denied)), "{err:?}");
    let specialist = Actor::human(&net.specialist);
    assert!(
        db.store.scoped(&specialist).referral(id, AT).await.is_ok(),
        "the receiving office was sent this patient"
    );
}

#[allow(clippy::too_many_lines, reason = "one story, read top to bottom")]
pub async fn no_phi_enters_a_practice_before_it_executes_the_agreement(store: Store) {
    let net = network(&store).await;
    // A new practice, its administrator and front desk, no agreement yet.
    let fresh = store
        .practices()
        .insert(&fixtures::practice("Newcomer Dental", 223_456_090))
        .await
        .unwrap();
    let admin = store
        .users()
        .insert(&fixtures::user(
            fresh.id,
            "admin@newcomer.example.test",
            Role::PracticeAdmin,
        ))
        .await
        .unwrap();
    let desk = store
        .users()
        .insert(&fixtures::user(
            fresh.id,
            "desk@newcomer.example.test",
            Role::FrontDesk,
        ))
        .await
        .unwrap();
    let desk_actor = Actor::human(&desk);
    let refused = store
        .scoped(&desk_actor)
        .create_patient(&patient(), false)
        .await;
    assert!(
        matches!(refused, Err(StoreError::AgreementRequired("your practice"))),
        "{refused:?}"
    );
    assert!(
        store
            .scoped(&desk_actor)
            .import_patients(&[patient()])
            .await
            .is_err()
    );
    // An office that has executed it cannot send PHI to one that has not.
    let referrer = Actor::human(&net.referrer);
    let ours = store
        .scoped(&referrer)
        .create_patient(&patient(), false)
        .await
        .unwrap();
    let to_fresh = NewReferral {
        id: ReferralId::generate(),
        patient: ours,
        receiver: fresh.id,
        urgency: Urgency::Routine,
        clinical: clinical(),
    };
    let refused = store.scoped(&referrer).create_referral(&to_fresh, AT).await;
    assert!(
        matches!(
            refused,
            Err(StoreError::AgreementRequired("the receiving office"))
        ),
        "{refused:?}"
    );
    // Only the administrator executes it, and only the text as it is.
    assert!(matches!(
        store
            .scoped(&desk_actor)
            .execute_agreement(
                "Dee Desk",
                "Front desk",
                &enamel_store::agreement_sha256(),
                AT
            )
            .await,
        Err(StoreError::Denied)
    ));
    let admin_actor = Actor::human(&admin);
    let admin_scope = store.scoped(&admin_actor);
    assert!(matches!(
        admin_scope
            .execute_agreement("Ada Admin", "Owner", &"0".repeat(64), AT)
            .await,
        Err(StoreError::Refused(_))
    ));
    assert_eq!(admin_scope.agreement().await.unwrap(), None);
    let executed = admin_scope
        .execute_agreement("Ada Admin", "Owner", &enamel_store::agreement_sha256(), AT)
        .await
        .unwrap();
    assert_eq!(executed.signer, admin.id);
    assert_eq!(executed.version, enamel_store::AGREEMENT_VERSION);
    assert_eq!(admin_scope.agreement().await.unwrap(), Some(executed));
    assert!(matches!(
        admin_scope
            .execute_agreement("Ada Admin", "Owner", &enamel_store::agreement_sha256(), AT)
            .await,
        Err(StoreError::Conflict(_))
    ));
    // Now the practice takes patients and referrals.
    store
        .scoped(&desk_actor)
        .create_patient(&patient(), false)
        .await
        .unwrap();
    store
        .scoped(&referrer)
        .create_referral(&to_fresh, AT)
        .await
        .unwrap();
    // Each refusal was audited in the refused practice's own log as a denied write,
    // with the reason.
    let entries = store
        .audit()
        .entries(&enamel_audit::entry::Scope::Practice(fresh.id), 0, 100)
        .await
        .unwrap();
    let refusals = entries
        .iter()
        .map(|e| enamel_audit::entry::Entry::parse_canonical(&e.entry).unwrap())
        .filter(|e| {
            e.outcome.as_str() == "denied" && format!("{:?}", e.detail).contains("baa_not_executed")
        })
        .count();
    assert_eq!(refusals, 2, "the create and the import by the front desk");
}
