//! No-show recovery's records (docs/no-show-recovery.md): a run opens in the
//! transaction that frees its slot, the agent reads only the no-show view, offers
//! stay under the patient's three messages a day, and of many confirmations racing
//! for one slot exactly one books it.

use std::sync::Arc;

use enamel_domain::clock::ManualClock;
use enamel_domain::{
    Actor, AppointmentStatus, Availability, Channel, Minutes, OfferId, PatientId, Phi,
    WaitlistEntryId,
};
use enamel_store::{
    Confirmation, Decision, MessageText, NewAppointment, NewMessage, NewOffer, NewSlot,
    NewWaitlistEntry, Recorded, RecoverySettings, RequestContext, RunStatus, Store, StoreError,
    recovery_actor,
};
use time::Duration;
use time::macros::datetime;

use crate::schedule::{Office, office, patient, pms};

/// Monday 30 November 2026, 09:00 in Austin (CST).
const NOW: time::OffsetDateTime = datetime!(2026-11-30 15:00 UTC);
/// Tuesday 1 December, 10:00 in Austin: the slot.
const SLOT: time::OffsetDateTime = datetime!(2026-12-01 16:00 UTC);

struct Setup {
    office: Office,
    provider: enamel_domain::ProviderId,
    chair: enamel_domain::OperatoryId,
    agent: Actor,
}

/// An office with a provider and a chair, recovery turned on by its administrator,
/// and the recovery agent's actor; the store's clock at [`NOW`].
async fn setup(store: &Store) -> Setup {
    store.use_clock(Arc::new(ManualClock::new(NOW)));
    let office = office(store).await;
    let admin = Actor::human(&office.admin);
    let import = store.scoped(&admin);
    let (provider, _) = import
        .upsert_provider(&pms("7"), "Dr. Ines Alvarado", None, false)
        .await
        .unwrap();
    let (chair, _) = import.upsert_operatory(&pms("1"), "Op 1").await.unwrap();
    import
        .set_recovery_settings(
            &RecoverySettings {
                enabled: true,
                ..RecoverySettings::default()
            },
            NOW,
        )
        .await
        .unwrap();
    let practice = office.admin.practice.unwrap();
    let (_, agent) = store.recovery_settings_of(practice).await.unwrap();
    Setup {
        office,
        provider,
        chair,
        agent: recovery_actor(
            agent.expect("turning recovery on makes its agent"),
            practice,
        ),
    }
}

fn slot(setup: &Setup, at: time::OffsetDateTime) -> NewSlot {
    NewSlot {
        provider: setup.provider,
        operatory: Some(setup.chair),
        kind: None,
        starts_at: at,
        duration: Minutes::new(60).unwrap(),
    }
}

fn offer(patient: PatientId) -> NewOffer {
    NewOffer {
        id: OfferId::generate(),
        patient,
        entry: WaitlistEntryId::generate(),
        moves: None,
        wave: 1,
        decision: Decision::Send {
            channel: Channel::Email,
            recipient: Phi::new("racer@example.test".into()),
            text: MessageText {
                subject: "An earlier appointment".into(),
                body: "A link".into(),
            },
            expires_at: SLOT,
        },
    }
}

#[allow(clippy::too_many_lines, reason = "one story, read top to bottom")]
pub async fn of_a_hundred_confirmations_of_one_slot_exactly_one_books_it(store: Store) {
    let setup = setup(&store).await;
    let desk_actor = Actor::human(&setup.office.desk);
    let desk = store.scoped(&desk_actor);
    let run_id = desk.open_recovery_run(&slot(&setup, SLOT)).await.unwrap();
    // A second run for the same chair time is refused (and were two to race, the
    // unique index on open runs would keep one).
    assert!(matches!(
        desk.open_recovery_run(&slot(&setup, SLOT)).await,
        Err(StoreError::Refused(_))
    ));
    let agent = store.scoped(&setup.agent);
    let run = agent.recovery_run(run_id).await.unwrap();
    let mut offers = Vec::new();
    for n in 0..100 {
        let patient = desk
            .create_patient(&patient(&format!("Racer{n}"), "Quickfoot"), true)
            .await
            .unwrap();
        let new = offer(patient);
        let id = new.id;
        assert_eq!(
            agent.record_offer(&run, new, false).await.unwrap(),
            Recorded::Sent
        );
        offers.push((patient, id));
    }
    let mut racing = Vec::new();
    for (_, id) in &offers {
        let store = store.clone();
        let id = *id;
        racing.push(tokio::spawn(async move {
            let linked = store.linked_offer(id).await.unwrap().unwrap();
            store
                .confirm_offer(&linked, RequestContext::default())
                .await
                .unwrap()
        }));
    }
    let mut booked = Vec::new();
    let mut taken = 0;
    for (n, race) in racing.into_iter().enumerate() {
        match race.await.unwrap() {
            Confirmation::Booked(appointment) => booked.push((n, appointment)),
            Confirmation::Taken => taken += 1,
            other => panic!("an unexpected answer: {other:?}"),
        }
    }
    assert_eq!(booked.len(), 1, "exactly one booking");
    assert_eq!(taken, 99, "and 99 'just taken'");
    let (winner, appointment) = booked[0];

    // The winner holds the slot; every other offer is withdrawn; the run is filled.
    let day = desk
        .appointments_between(SLOT - Duration::hours(1), SLOT + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(day.len(), 1);
    assert_eq!(day[0].id, appointment);
    assert_eq!(day[0].patient_id, offers[winner].0);
    assert_eq!(day[0].status, AppointmentStatus::Scheduled);
    let runs = desk.recovery_runs(10).await.unwrap();
    assert_eq!(runs[0].run.status, RunStatus::Filled);
    assert_eq!(runs[0].run.filled_offer, Some(offers[winner].1));
    assert_eq!(runs[0].run.booked_appointment, Some(appointment));
    assert_eq!(
        runs[0]
            .offers
            .iter()
            .filter(|o| o.status == enamel_store::OfferStatus::Withdrawn)
            .count(),
        99
    );
    // Pressing again on the winning link books nothing more.
    let linked = store.linked_offer(offers[winner].1).await.unwrap().unwrap();
    assert_eq!(
        store
            .confirm_offer(&linked, RequestContext::default())
            .await
            .unwrap(),
        Confirmation::AlreadyBooked
    );
    assert_eq!(
        desk.appointments_between(SLOT - Duration::hours(1), SLOT + Duration::hours(1))
            .await
            .unwrap()
            .len(),
        1
    );

    // The booked chair time cannot be offered again by hand.
    assert!(matches!(
        desk.open_recovery_run(&slot(&setup, SLOT + Duration::minutes(30)))
            .await,
        Err(StoreError::Refused(_))
    ));

    // The winner, offered the same time with another dentist, is not booked twice.
    let admin = Actor::human(&setup.office.admin);
    let (other, _) = store
        .scoped(&admin)
        .upsert_provider(&pms("8"), "Dr. Tobi Okafor", None, false)
        .await
        .unwrap();
    let second = desk
        .open_recovery_run(&NewSlot {
            provider: other,
            operatory: None,
            ..slot(&setup, SLOT)
        })
        .await
        .unwrap();
    let second = agent.recovery_run(second).await.unwrap();
    let again = offer(offers[winner].0);
    let again_id = again.id;
    agent.record_offer(&second, again, false).await.unwrap();
    let linked = store.linked_offer(again_id).await.unwrap().unwrap();
    assert_eq!(
        store
            .confirm_offer(&linked, RequestContext::default())
            .await
            .unwrap(),
        Confirmation::Clash
    );
    assert_eq!(
        agent.recovery_run(second.id).await.unwrap().status,
        RunStatus::Open,
        "the slot is still offered to others"
    );
}

#[allow(clippy::too_many_lines, reason = "one story, read top to bottom")]
pub async fn a_freed_slot_opens_a_run_the_agent_reads_no_names_and_offers_keep_the_limit(
    store: Store,
) {
    let setup = setup(&store).await;
    let desk_actor = Actor::human(&setup.office.desk);
    let desk = store.scoped(&desk_actor);
    let admin_actor = Actor::human(&setup.office.admin);
    let import = store.scoped(&admin_actor);
    let odalys = desk
        .create_patient(&patient("Odalys", "Quintero"), false)
        .await
        .unwrap();
    let bram = desk
        .create_patient(&patient("Bram", "Okonkwo"), false)
        .await
        .unwrap();
    let visit = |n: &str, patient, at| NewAppointment {
        pms_id: Some(pms(n)),
        patient,
        provider: setup.provider,
        operatory: Some(setup.chair),
        kind: None,
        starts_at: at,
        duration: Minutes::new(60).unwrap(),
        status: AppointmentStatus::Confirmed,
        procedures: Phi::new(Vec::new()),
        note: None,
    };
    let (booked, _) = import
        .upsert_appointment(&visit("100", odalys, SLOT))
        .await
        .unwrap();
    // Bram waits for a visit with any provider, any time.
    import
        .upsert_waitlist_entry(&NewWaitlistEntry {
            pms_id: Some(pms("W1")),
            patient: bram,
            kind: None,
            duration: Minutes::new(60).unwrap(),
            provider: None,
            earliest: None,
            latest: None,
            availability: Availability::parse("any", "any").unwrap(),
            priority: 2,
            moves: None,
            note: Some(Phi::new("Prefers the window chair".into())),
        })
        .await
        .unwrap();

    // Odalys's visit is marked a no-show: the run opens in the same step.
    desk.set_appointment_status(booked, AppointmentStatus::Broken)
        .await
        .unwrap();
    let runs = desk.recovery_runs(10).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].run.appointment, Some(booked));
    assert_eq!(runs[0].run.status, RunStatus::Open);
    assert_eq!(
        runs[0].run.next_wave_at,
        Some(NOW),
        "the first wave is due at once"
    );
    // Put back on the schedule, the visit withdraws its run.
    desk.set_appointment_status(booked, AppointmentStatus::Scheduled)
        .await
        .unwrap();
    let runs = desk.recovery_runs(10).await.unwrap();
    assert_eq!(runs[0].run.status, RunStatus::Withdrawn);
    assert_eq!(runs[0].run.closed_reason.as_deref(), Some("visit_kept"));
    // A visit within the cutoff (30 minutes) opens nothing; the sync's change does.
    let (soon, _) = import
        .upsert_appointment(&visit("101", odalys, NOW + Duration::minutes(20)))
        .await
        .unwrap();
    desk.set_appointment_status(soon, AppointmentStatus::Cancelled)
        .await
        .unwrap();
    let mut synced = visit("102", odalys, SLOT + Duration::days(1));
    import.upsert_appointment(&synced).await.unwrap();
    synced.status = AppointmentStatus::Broken;
    import.upsert_appointment(&synced).await.unwrap();
    let runs = desk.recovery_runs(10).await.unwrap();
    assert_eq!(
        runs.len(),
        2,
        "the sync's no-show opened a run; the near one none"
    );
    let run = store
        .scoped(&setup.agent)
        .recovery_run(runs[0].run.id)
        .await
        .unwrap();
    assert_eq!(run.starts_at, SLOT + Duration::days(1));

    // The agent reads the view: ids, times, contact for the chosen; never a name.
    let agent = store.scoped(&setup.agent);
    let (candidates, _) = agent.recovery_candidates(&run, NOW).await.unwrap();
    assert_eq!(candidates.len(), 1);
    assert_eq!(candidates[0].patient, bram);
    let reach = agent.recovery_reach(&[bram]).await.unwrap();
    assert_eq!(
        reach[0]
            .1
            .phone
            .as_ref()
            .map(|p| p.expose().e164().to_owned()),
        Some("+15125550199".into())
    );
    assert!(matches!(
        agent.patient(bram, NOW).await,
        Err(StoreError::Denied)
    ));
    assert!(matches!(agent.waitlist().await, Err(StoreError::Denied)));
    assert!(matches!(
        agent.appointments_between(NOW, SLOT).await,
        Err(StoreError::Denied)
    ));
    assert!(matches!(
        agent.eligibility_view(NOW, SLOT).await,
        Err(StoreError::Denied)
    ));

    // Three messages in the last 24 hours: the offer is refused, not sent.
    for n in 0..3 {
        let queued = store
            .queue_message(
                NewMessage {
                    practice: setup.office.admin.practice.unwrap(),
                    channel: Channel::Sms,
                    patient: Some(bram),
                    referral: None,
                    kind: "portal_link",
                    recipient: "+15125550199".into(),
                    text: MessageText {
                        subject: String::new(),
                        body: format!("message {n}"),
                    },
                    idempotency_key: format!("limit-{n}"),
                },
                NOW,
            )
            .await
            .unwrap();
        assert!(queued.is_ok());
    }
    let mut fourth = offer(bram);
    fourth.entry = candidates[0].entry;
    assert_eq!(
        agent.record_offer(&run, fourth, false).await.unwrap(),
        Recorded::Refused("rate_limited")
    );
    let runs = desk.recovery_runs(10).await.unwrap();
    let refused = &runs[0].offers[0];
    assert_eq!(refused.status, enamel_store::OfferStatus::Refused);
    assert_eq!(refused.reason.as_deref(), Some("rate_limited"));
    // Offered (even refused) this slot, Bram is not a candidate for it again.
    assert!(
        agent
            .recovery_candidates(&run, NOW)
            .await
            .unwrap()
            .0
            .is_empty()
    );
    // With recovery off, a no-show opens nothing.
    import
        .set_recovery_settings(&RecoverySettings::default(), NOW)
        .await
        .unwrap();
    let (later, _) = import
        .upsert_appointment(&visit("103", odalys, SLOT + Duration::days(2)))
        .await
        .unwrap();
    desk.set_appointment_status(later, AppointmentStatus::Broken)
        .await
        .unwrap();
    assert_eq!(desk.recovery_runs(10).await.unwrap().len(), 2);
}

#[allow(clippy::too_many_lines, reason = "one story, read top to bottom")]
pub async fn a_booked_or_stopped_entry_ends_its_offers_of_other_runs(store: Store) {
    let setup = setup(&store).await;
    let desk_actor = Actor::human(&setup.office.desk);
    let desk = store.scoped(&desk_actor);
    let agent = store.scoped(&setup.agent);
    let admin_actor = Actor::human(&setup.office.admin);
    let (crown, _) = store
        .scoped(&admin_actor)
        .upsert_appointment_type(&pms("4"), "Crown prep", &[], Minutes::new(90).unwrap())
        .await
        .unwrap();
    // A visit type longer than the slot is refused.
    assert!(matches!(
        desk.open_recovery_run(&NewSlot {
            kind: Some(crown),
            ..slot(&setup, SLOT)
        })
        .await,
        Err(StoreError::Refused(_))
    ));
    let mut runs = Vec::new();
    for hours in [0, 2, 4, 6] {
        let id = desk
            .open_recovery_run(&slot(&setup, SLOT + Duration::hours(hours)))
            .await
            .unwrap();
        runs.push(agent.recovery_run(id).await.unwrap());
    }
    // One patient's entry offered two slots; another's two more.
    let mut offers = Vec::new();
    for (first, pair) in [("Ione", &runs[0..2]), ("Kasimir", &runs[2..4])] {
        let patient = desk
            .create_patient(&patient(first, "Twoslots"), true)
            .await
            .unwrap();
        let entry = WaitlistEntryId::generate();
        for run in pair {
            let mut new = offer(patient);
            new.entry = entry;
            offers.push(new.id);
            agent.record_offer(run, new, false).await.unwrap();
        }
    }
    let linked = |id| {
        let store = store.clone();
        async move { store.linked_offer(id).await.unwrap().unwrap() }
    };
    // Booked through one, the entry's offer of the other run no longer books.
    let booked = store
        .confirm_offer(&linked(offers[0]).await, RequestContext::default())
        .await
        .unwrap();
    assert!(matches!(booked, Confirmation::Booked(_)));
    let other = linked(offers[1]).await;
    assert_eq!(other.offer_status, enamel_store::OfferStatus::Withdrawn);
    assert_eq!(
        store
            .confirm_offer(&other, RequestContext::default())
            .await
            .unwrap(),
        Confirmation::Closed
    );
    // A wave that picked someone before the booking committed sends nothing after.
    assert_eq!(
        agent
            .record_offer(&runs[0], offer(PatientId::generate()), false)
            .await
            .unwrap(),
        Recorded::Refused("run_closed")
    );
    // "No more offers" from one ends the other too.
    assert!(
        store
            .decline_offer(&linked(offers[2]).await, true, RequestContext::default())
            .await
            .unwrap()
    );
    assert_eq!(
        linked(offers[3]).await.offer_status,
        enamel_store::OfferStatus::Declined
    );

    // A no-show's time given to another patient: the visit cannot be put back on it.
    let lucan = desk
        .create_patient(&patient("Lucan", "Twoslots"), true)
        .await
        .unwrap();
    let later = SLOT + Duration::hours(10);
    let (visit, _) = store
        .scoped(&admin_actor)
        .upsert_appointment(&NewAppointment {
            pms_id: None,
            patient: lucan,
            provider: setup.provider,
            operatory: Some(setup.chair),
            kind: None,
            starts_at: later,
            duration: Minutes::new(60).unwrap(),
            status: AppointmentStatus::Confirmed,
            procedures: Phi::new(Vec::new()),
            note: None,
        })
        .await
        .unwrap();
    desk.set_appointment_status(visit, AppointmentStatus::Broken)
        .await
        .unwrap();
    let run = desk.recovery_runs(10).await.unwrap();
    let run = run
        .iter()
        .find(|r| r.run.appointment == Some(visit))
        .unwrap();
    let run = agent.recovery_run(run.run.id).await.unwrap();
    let taker = desk
        .create_patient(&patient("Mireille", "Twoslots"), true)
        .await
        .unwrap();
    let new = offer(taker);
    let id = new.id;
    agent.record_offer(&run, new, false).await.unwrap();
    assert!(matches!(
        store
            .confirm_offer(&linked(id).await, RequestContext::default())
            .await
            .unwrap(),
        Confirmation::Booked(_)
    ));
    assert!(matches!(
        desk.set_appointment_status(visit, AppointmentStatus::Scheduled)
            .await,
        Err(StoreError::Conflict(_))
    ));
}
