//! The practice's schedule: imports keyed by PMS id, staff reads, and the agents'
//! minimum-necessary views (docs/minimum-necessary.md).

use enamel_domain::{
    Actor, AgentId, AppointmentStatus, Availability, CdtCode, ContactChannel, ContactDetails,
    Email, Membership, Minutes, NewPatient, PatientId, Payer, Phi, PhoneNumber, PmsId, RecallDates,
    RecallInterval, Relationship, Role, User,
};
use enamel_store::{
    NewAppointment, NewCoverage, NewRecall, NewWaitlistEntry, Store, StoreError, Upserted,
};
use time::macros::{date, datetime};
use time::{Duration, OffsetDateTime};

use crate::fixtures;

const MONDAY_9: OffsetDateTime = datetime!(2026-11-30 15:00 UTC);

pub(crate) struct Office {
    pub(crate) admin: User,
    pub(crate) desk: User,
    billing: User,
}

pub(crate) async fn office(store: &Store) -> Office {
    let practice = store
        .practices()
        .insert(&fixtures::practice("Schedule Dental", 223_456_090))
        .await
        .unwrap();
    let mut people = Vec::new();
    for role in [Role::PracticeAdmin, Role::FrontDesk, Role::Billing] {
        let email = format!("{}@schedule.example.test", role.as_str());
        people.push(
            store
                .users()
                .insert(&fixtures::user(practice.id, &email, role))
                .await
                .unwrap(),
        );
    }
    store
        .scoped(&Actor::human(&people[0]))
        .execute_agreement(
            "Pat Admin",
            "Owner",
            &enamel_store::agreement_sha256(),
            MONDAY_9,
        )
        .await
        .unwrap();
    Office {
        admin: people[0].clone(),
        desk: people[1].clone(),
        billing: people[2].clone(),
    }
}

pub(crate) fn patient(first: &str, last: &str) -> NewPatient {
    NewPatient {
        id: PatientId::generate(),
        first_name: Phi::new(first.into()),
        last_name: Phi::new(last.into()),
        birth_date: Phi::new(date!(1981 - 04 - 17)),
        contact: Phi::new(ContactDetails {
            phone: Some(PhoneNumber::parse("(512) 555-0199").unwrap()),
            email: Some(Email::parse("schedule@example.test").unwrap()),
            address: None,
            preferred: ContactChannel::Sms,
            language: "en".into(),
        }),
        insurance: None,
    }
}

pub(crate) fn pms(raw: &str) -> PmsId {
    PmsId::parse(raw).unwrap()
}

fn agent(office: &Office, scope: &str) -> Actor {
    Actor::agent(
        AgentId::generate(),
        office.admin.practice.unwrap(),
        vec![scope.into()],
    )
}

/// The last entry of the practice's log.
async fn last_entry(store: &Store, office: &Office) -> serde_json::Value {
    let scope = enamel_audit::entry::Scope::Practice(office.admin.practice.unwrap());
    let heads = store.audit().heads().await.unwrap();
    let size = heads.iter().find(|(s, _)| *s == scope).unwrap().1;
    let last = store.audit().entries(&scope, size - 1, 1).await.unwrap();
    serde_json::from_slice(&last[0].entry).unwrap()
}

#[allow(clippy::too_many_lines, reason = "one story, read top to bottom")]
pub async fn an_imported_schedule_is_read_through_minimum_necessary_views(store: Store) {
    let office = office(&store).await;
    let admin = Actor::human(&office.admin);
    let import = store.scoped(&admin);
    let desk_actor = Actor::human(&office.desk);
    let desk = store.scoped(&desk_actor);
    let odalys = desk
        .create_patient(&patient("Odalys", "Quintero"), false)
        .await
        .unwrap();
    let bram = desk
        .create_patient(&patient("Bram", "Okonkwo"), false)
        .await
        .unwrap();

    let (provider, _) = import
        .upsert_provider(&pms("7"), "Dr. Ines Alvarado", None, false)
        .await
        .unwrap();
    let (chair, _) = import.upsert_operatory(&pms("1"), "Op 1").await.unwrap();
    let prophy_codes = vec![
        CdtCode::parse("D0120").unwrap(),
        CdtCode::parse("D1110").unwrap(),
    ];
    let (prophy, _) = import
        .upsert_appointment_type(
            &pms("3"),
            "Adult prophy",
            &prophy_codes,
            Minutes::new(60).unwrap(),
        )
        .await
        .unwrap();
    let appointment =
        |pms_id: &str, patient: PatientId, at: OffsetDateTime, status| NewAppointment {
            pms_id: Some(pms(pms_id)),
            patient,
            provider,
            operatory: Some(chair),
            kind: Some(prophy),
            starts_at: at,
            duration: Minutes::new(60).unwrap(),
            status,
            procedures: Phi::new(Vec::new()),
            note: None,
        };
    let (missed, first) = import
        .upsert_appointment(&appointment(
            "1001",
            odalys,
            MONDAY_9,
            AppointmentStatus::Broken,
        ))
        .await
        .unwrap();
    assert_eq!(first, Upserted::Inserted);
    let later = MONDAY_9 + Duration::hours(2);
    import
        .upsert_appointment(&appointment(
            "1002",
            bram,
            later,
            AppointmentStatus::Scheduled,
        ))
        .await
        .unwrap();
    // Re-importing the same AptNum updates it: no duplicate.
    let (again, second) = import
        .upsert_appointment(&appointment(
            "1001",
            odalys,
            MONDAY_9,
            AppointmentStatus::Broken,
        ))
        .await
        .unwrap();
    assert_eq!((again, second), (missed, Upserted::Updated));
    import
        .upsert_coverage(&NewCoverage {
            pms_id: Some(pms("55")),
            patient: bram,
            ordinal: 1,
            payer: Payer::parse("60054", "Aetna Dental").unwrap(),
            relationship: Relationship::Subscriber,
            membership: Phi::new(Membership::parse("W123456789", Some("GRP-77")).unwrap()),
        })
        .await
        .unwrap();
    let (recall_type, _) = import
        .upsert_recall_type(
            &pms("1"),
            "Prophy",
            &prophy_codes,
            RecallInterval::parse("6m1d").unwrap(),
        )
        .await
        .unwrap();
    let recall = |patient, previous, disabled| NewRecall {
        pms_id: None,
        patient,
        kind: recall_type,
        dates: RecallDates {
            previous: Some(previous),
            manual_due: None,
            disabled_until: None,
            disabled,
        },
    };
    import
        .upsert_recall(&recall(odalys, date!(2026 - 04 - 02), false))
        .await
        .unwrap();
    import
        .upsert_recall(&recall(bram, date!(2026 - 03 - 01), true))
        .await
        .unwrap();

    // The front desk sees the day with names; billing does not see it at all.
    let day = desk
        .appointments_between(
            MONDAY_9 - Duration::hours(9),
            MONDAY_9 + Duration::hours(15),
        )
        .await
        .unwrap();
    assert_eq!(day.len(), 2);
    assert_eq!(
        day[0].patient.as_ref().unwrap().first_name.expose(),
        "Odalys"
    );
    assert_eq!(day[0].status, AppointmentStatus::Broken);
    assert!(matches!(
        store
            .scoped(&Actor::human(&office.billing))
            .appointments_between(MONDAY_9, later)
            .await,
        Err(StoreError::Denied)
    ));

    // The no-show agent reads phone and email, never a name (its view has none).
    let no_show_agent = agent(&office, "view.no_show");
    let no_show = store.scoped(&no_show_agent);
    let rows = no_show
        .no_show_view(
            MONDAY_9 - Duration::hours(1),
            later + Duration::hours(1),
            Some(AppointmentStatus::Broken),
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].patient_id, odalys);
    assert_eq!(rows[0].appointment_type.as_deref(), Some("Adult prophy"));
    assert_eq!(
        rows[0].phone.as_ref().unwrap().expose().e164(),
        "+15125550199"
    );
    let read = last_entry(&store, &office).await;
    assert_eq!(read["detail"]["view"]["code"], "view.no_show");
    assert_eq!(read["actor_type"], "agent");
    // Asking for another workflow's view is refused, and the refusal audited.
    assert!(matches!(
        no_show
            .eligibility_view(MONDAY_9, later + Duration::hours(1))
            .await,
        Err(StoreError::Denied)
    ));
    let denied = last_entry(&store, &office).await;
    assert_eq!(denied["outcome"], "denied");
    assert_eq!(
        denied["detail"]["policy_action"]["code"],
        "view.eligibility"
    );
    assert!(matches!(
        no_show
            .recall_view(date!(2026 - 11 - 30), date!(2026 - 12 - 31))
            .await,
        Err(StoreError::Denied)
    ));
    // Nor may it import, or read the staff schedule.
    assert!(matches!(
        no_show.appointments_between(MONDAY_9, later).await,
        Err(StoreError::Denied)
    ));

    // Eligibility: birth date, payer and member id, the visit's codes and date.
    let eligibility_agent = agent(&office, "view.eligibility");
    let rows = store
        .scoped(&eligibility_agent)
        .eligibility_view(MONDAY_9, later + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(
        rows.len(),
        1,
        "only the booked visit of the covered patient"
    );
    assert_eq!(rows[0].patient_id, bram);
    assert_eq!(*rows[0].patient_dob.expose(), date!(1981 - 04 - 17));
    assert_eq!(rows[0].payer.id, "60054");
    assert_eq!(rows[0].membership.expose().member_id, "W123456789");
    assert_eq!(rows[0].procedure_codes.expose(), &prophy_codes);

    // Recall: the first name to greet, the last visit, what is due; a recall
    // disabled for good is not offered.
    let recall_agent = agent(&office, "view.recall");
    let rows = store
        .scoped(&recall_agent)
        .recall_view(date!(2026 - 11 - 30), date!(2026 - 12 - 31))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].name.expose(), "Odalys");
    assert_eq!(rows[0].due_date, date!(2026 - 10 - 03));
    assert_eq!(rows[0].last_visit_date, Some(date!(2026 - 04 - 02)));
    assert_eq!(rows[0].overdue_procedure_type, "Prophy");

    // A patient who texted STOP has no phone in the agents' views.
    store
        .set_sms_opt_out(
            &PhoneNumber::parse("(512) 555-0199").unwrap(),
            true,
            enamel_store::ConsentSource::CarrierKeyword,
        )
        .await
        .unwrap();
    let rows = no_show
        .no_show_view(
            MONDAY_9 - Duration::hours(1),
            later + Duration::hours(1),
            None,
        )
        .await
        .unwrap();
    assert!(rows.iter().all(|r| r.phone.is_none() && r.email.is_some()));

    // A PMS import of a patient already in Enamel links it and leaves it as it is.
    let mut same = patient("Bram", "Okonkwo");
    same.contact = Phi::new(ContactDetails {
        phone: None,
        email: None,
        address: None,
        preferred: ContactChannel::Email,
        language: "en".into(),
    });
    let (linked, how) = import.import_pms_patient(&pms("P77"), &same).await.unwrap();
    assert_eq!((linked, how), (bram, Upserted::Updated));
    assert_eq!(
        import.patient_by_pms(&pms("P77")).await.unwrap(),
        Some(bram)
    );
    let kept = desk.patient(bram, MONDAY_9).await.unwrap();
    assert!(
        kept.contact.unwrap().expose().email.is_some(),
        "not rewritten"
    );

    // One step marks the scheduled visit a no-show; who and when are kept.
    desk.set_appointment_status(day[1].id, AppointmentStatus::Broken)
        .await
        .unwrap();
    let changed = last_entry(&store, &office).await;
    assert_eq!(changed["action"], "write");
    assert_eq!(changed["patient_id"], bram.to_string());
    assert_eq!(changed["detail"]["status"]["code"], "broken");
    let day = desk
        .appointments_between(later, later + Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(day[0].status, AppointmentStatus::Broken);
}

pub async fn the_waitlist_is_kept_in_priority_order_and_imports_need_the_agreement(store: Store) {
    let office = office(&store).await;
    let desk_actor = Actor::human(&office.desk);
    let desk = store.scoped(&desk_actor);
    let first = desk
        .create_patient(&patient("Wren", "Abernathy"), false)
        .await
        .unwrap();
    let second = desk
        .create_patient(&patient("Cato", "Lindqvist"), false)
        .await
        .unwrap();
    let entry = |patient, priority| NewWaitlistEntry {
        pms_id: None,
        patient,
        kind: None,
        duration: Minutes::new(30).unwrap(),
        provider: None,
        earliest: Some(date!(2026 - 12 - 01)),
        latest: Some(date!(2026 - 12 - 31)),
        availability: Availability::parse("mon,tue", "morning").unwrap(),
        priority,
        moves: None,
        note: Some(Phi::new("Prefers the first chair".into())),
    };
    let low = desk
        .save_waitlist_entry(None, &entry(first, 5))
        .await
        .unwrap();
    desk.save_waitlist_entry(None, &entry(second, 1))
        .await
        .unwrap();
    let list = desk.waitlist().await.unwrap();
    assert_eq!(
        list.iter().map(|w| w.patient_id).collect::<Vec<_>>(),
        vec![second, first]
    );
    assert_eq!(list[1].availability.describe(), "Mon, Tue · morning");
    // Raising the first patient's priority reorders the list; no duplicate.
    desk.save_waitlist_entry(Some(low), &entry(first, 1))
        .await
        .unwrap();
    let list = desk.waitlist().await.unwrap();
    assert_eq!(list.len(), 2);
    let mut bad = entry(first, 1);
    bad.latest = Some(date!(2026 - 11 - 01));
    assert!(matches!(
        desk.save_waitlist_entry(None, &bad).await,
        Err(StoreError::Refused(_))
    ));
    desk.remove_waitlist_entry(low).await.unwrap();
    assert_eq!(desk.waitlist().await.unwrap().len(), 1);
    // The front desk cannot import; a practice without the agreement imports nothing.
    assert!(matches!(
        desk.upsert_operatory(&pms("2"), "Op 2").await,
        Err(StoreError::Denied)
    ));
    let unsigned = store
        .practices()
        .insert(&fixtures::practice("Unsigned Dental", 223_456_091))
        .await
        .unwrap();
    let admin = store
        .users()
        .insert(&fixtures::user(
            unsigned.id,
            "admin@unsigned.example.test",
            Role::PracticeAdmin,
        ))
        .await
        .unwrap();
    assert!(matches!(
        store
            .scoped(&Actor::human(&admin))
            .upsert_operatory(&pms("1"), "Op 1")
            .await,
        Err(StoreError::AgreementRequired(_))
    ));
}
