//! The demo's schedules: for every office, a dentist and a hygienist, three
//! operatories, the usual appointment and recall types, two weeks of appointments
//! around today (completed, no-shows and cancellations behind, booked and confirmed
//! ahead, with open time left), a waitlist of 45, recalls (some overdue) and
//! coverage for most of the patients on the schedule. A specialist's schedule also
//! holds the visit of every referral it booked, at the referral's time, for the
//! referred patient (added to its own patients, as its PMS would have them), with
//! the dentist's other visits kept clear of it. Imported through the scoped store as
//! the demo seed, so it is sealed and audited as a real import, keyed by made-up PMS
//! ids so that seeding twice changes nothing.

use enamel_domain::{
    Actor, AppointmentStatus, AppointmentTypeId, Availability, CdtCode, Membership, Minutes,
    PatientId, Payer, Phi, PmsId, ProviderId, RecallDates, RecallInterval, Relationship,
    SystemTask,
};
use enamel_store::{
    NewAppointment, NewCoverage, NewRecall, NewWaitlistEntry, PatientQuery, Scoped, Store,
};
use time::{Date, Duration, OffsetDateTime, Time, Weekday};

use crate::rng::SplitMix64;
use crate::{DemoNetwork, DemoPractice};

/// How many patients each office's waitlist holds.
pub const DEMO_WAITLIST: usize = 45;

/// The appointment types every demo office uses: PMS id, name, codes, minutes.
pub(crate) const TYPES: [(&str, &str, &[&str], u32); 6] = [
    ("1", "New patient exam", &["D0150", "D0210"], 60),
    ("2", "Adult prophy", &["D0120", "D1110", "D0274"], 60),
    ("3", "Child prophy", &["D0120", "D1120"], 30),
    ("4", "Crown prep", &["D2740"], 90),
    ("5", "Filling", &["D2391"], 60),
    ("6", "Perio maintenance", &["D4910"], 60),
];

/// Recall types: PMS id, name, trigger codes, interval (Open Dental's defaults).
pub(crate) const RECALLS: [(&str, &str, &[&str], &str); 3] = [
    ("1", "Prophy", &["D1110", "D1120"], "6m1d"),
    ("2", "Perio maintenance", &["D4910"], "3m"),
    ("3", "Bitewings", &["D0274"], "1y"),
];

/// Payers the demo's coverage draws from (real payer ids are public; these are
/// labelled as demo plans).
pub(crate) const PAYERS: [(&str, &str); 4] = [
    ("60054", "Aetna Dental (demo plan)"),
    ("61271", "Humana Dental (demo plan)"),
    ("CDCA1", "Delta Dental (demo plan)"),
    ("62308", "Cigna Dental (demo plan)"),
];

/// Seeds every office's schedule (an office with providers already is left as it is).
pub async fn seed_schedules(store: &Store, network: &DemoNetwork) -> anyhow::Result<()> {
    for practice in &network.practices {
        seed_office_schedule(store, practice).await?;
    }
    Ok(())
}

/// Seeds one office's schedule, unless it has providers already. The suites' demo
/// networks start without schedules; a test seeds the office it looks at.
pub async fn seed_office_schedule(store: &Store, practice: &DemoPractice) -> anyhow::Result<()> {
    let actor = Actor::system_for(practice.practice.id, SystemTask::Seed);
    let scoped = store.scoped(&actor);
    if scoped.schedule_imported().await? {
        return Ok(());
    }
    let seed = practice.practice.id.as_uuid().as_u64_pair().0;
    let visits = referral_visits(store, practice).await?;
    seed_schedule(&scoped, practice, store.now(), seed, &visits).await
}

/// A referred patient's visit booked with a specialist, as the referral holds it.
struct ReferralVisit {
    patient: enamel_domain::Patient,
    local: time::PrimitiveDateTime,
}

/// The length of a referral's first visit (a new-patient exam).
const VISIT_MINUTES: i64 = 60;

impl ReferralVisit {
    /// Whether a visit from `start` for `minutes` on `day` would overlap this one.
    fn overlaps(&self, day: Date, start: u32, minutes: u32) -> bool {
        let own = u32::from(self.local.hour()) * 60 + u32::from(self.local.minute());
        self.local.date() == day
            && start < own + u32::try_from(VISIT_MINUTES).unwrap_or(60)
            && own < start + minutes
    }
}

/// The booked visits of the referrals a specialist received (read as its front
/// desk reads them); none for a general office.
async fn referral_visits(
    store: &Store,
    practice: &DemoPractice,
) -> anyhow::Result<Vec<ReferralVisit>> {
    use enamel_domain::ReferralStatus as S;
    if !practice.practice.kind.is_specialty() {
        return Ok(Vec::new());
    }
    let actor = crate::referrals::front_desk(store, practice).await?;
    let desk = store.scoped(&actor);
    let mut visits = Vec::new();
    for summary in desk
        .referrals(enamel_store::ReferralBox::Inbox, None, 500)
        .await?
    {
        // Only a booked referral has a visit (and only it is opened here, so the
        // others keep their unread messages for the demo).
        if !matches!(
            summary.status,
            S::Scheduled | S::Completed | S::ReportSent | S::Closed
        ) {
            continue;
        }
        let detail = desk.referral(summary.id, store.now()).await?;
        if let Some(local) = detail.appointment {
            visits.push(ReferralVisit {
                patient: detail.patient,
                local: *local.expose(),
            });
        }
    }
    visits.sort_by_key(|v| v.local);
    Ok(visits)
}

/// Each referral's visit on the specialist's schedule, with the dentist in the first
/// operatory: seen if it was in the past, confirmed if ahead.
async fn seed_referral_visits(
    scoped: &Scoped<'_>,
    visits: &[ReferralVisit],
    (dentist, chair, new_patient): (ProviderId, enamel_domain::OperatoryId, AppointmentTypeId),
    zone: &enamel_domain::TimeZone,
    now: OffsetDateTime,
) -> anyhow::Result<()> {
    use enamel_domain::{ContactChannel, ContactDetails, NewPatient};
    for (n, visit) in visits.iter().enumerate() {
        let referred = &visit.patient;
        let contact = referred.contact.as_ref().map_or_else(
            || ContactDetails {
                phone: None,
                email: None,
                address: None,
                preferred: ContactChannel::Email,
                language: "en".to_owned(),
            },
            |c| c.expose().clone(),
        );
        let (patient, _) = scoped
            .import_pms_patient(
                &pms(&format!("REF{}", n + 1))?,
                &NewPatient {
                    id: PatientId::generate(),
                    first_name: referred.first_name.clone(),
                    last_name: referred.last_name.clone(),
                    birth_date: referred.birth_date.clone(),
                    contact: Phi::new(contact),
                    insurance: None,
                },
            )
            .await?;
        let start = zone.instant(visit.local);
        scoped
            .upsert_appointment(&NewAppointment {
                pms_id: Some(pms(&format!("RV{}", n + 1))?),
                patient,
                provider: dentist,
                operatory: Some(chair),
                kind: Some(new_patient),
                starts_at: start,
                duration: Minutes::new(u32::try_from(VISIT_MINUTES)?)?,
                status: if start < now {
                    AppointmentStatus::Completed
                } else {
                    AppointmentStatus::Confirmed
                },
                procedures: Phi::new(Vec::new()),
                note: None,
            })
            .await?;
    }
    Ok(())
}

/// One office's schedule.
async fn seed_schedule(
    scoped: &Scoped<'_>,
    practice: &DemoPractice,
    now: OffsetDateTime,
    seed: u64,
    visits: &[ReferralVisit],
) -> anyhow::Result<()> {
    let mut rng = SplitMix64::new(seed);
    let zone = &practice.practice.time_zone;
    let patients = all_patients(scoped).await?;
    if patients.len() < DEMO_WAITLIST {
        return Ok(());
    }
    let (dentist, hygienist, chairs, types) = seed_reference(scoped, practice).await?;
    let today = zone.local_date(now);
    let mut booked = Vec::new();
    let mut day = today - Duration::days(7);
    let mut apt = 0_usize;
    while day <= today + Duration::days(7) {
        if !matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday) {
            for (provider, chair, hygiene) in
                [(dentist, chairs[0], false), (hygienist, chairs[1], true)]
            {
                let mut minute = 8 * 60;
                while minute < 17 * 60 {
                    // About one hour in five stays open.
                    if rng.below(5) == 0 || minute == 12 * 60 {
                        minute += 60;
                        continue;
                    }
                    let (kind, length) = if hygiene {
                        types[if rng.below(4) == 0 { 5 } else { 1 }]
                    } else {
                        *rng.pick(&[types[0], types[3], types[4], types[4]])
                    };
                    // The dentist's time for referred patients stays theirs.
                    if !hygiene
                        && visits
                            .iter()
                            .any(|v| v.overlaps(day, minute, u32::from(length.get())))
                    {
                        minute += 30;
                        continue;
                    }
                    let start = zone.instant(day.with_time(Time::from_hms(
                        u8::try_from(minute / 60)?,
                        u8::try_from(minute % 60)?,
                        0,
                    )?));
                    let patient = patients[apt % patients.len()];
                    let status = status_for(&mut rng, start, now);
                    apt += 1;
                    let (id, _) = scoped
                        .upsert_appointment(&NewAppointment {
                            pms_id: Some(pms(&format!("A{apt}"))?),
                            patient,
                            provider,
                            operatory: Some(chair),
                            kind: Some(kind),
                            starts_at: start,
                            duration: length,
                            status,
                            procedures: Phi::new(Vec::new()),
                            note: None,
                        })
                        .await?;
                    if status.holds_the_slot() && start > now {
                        booked.push((id, patient));
                    }
                    minute += u32::from(length.get()).max(30);
                }
            }
        }
        day = day.next_day().unwrap_or(day);
    }
    seed_waitlist(
        scoped,
        &mut rng,
        &patients,
        &types,
        (dentist, hygienist),
        &booked,
        today,
    )
    .await?;
    seed_recalls_and_coverage(scoped, &mut rng, &patients, today).await?;
    seed_referral_visits(scoped, visits, (dentist, chairs[0], types[0].0), zone, now).await?;
    Ok(())
}

/// The office's providers, operatories and appointment types.
async fn seed_reference(
    scoped: &Scoped<'_>,
    practice: &DemoPractice,
) -> anyhow::Result<(
    ProviderId,
    ProviderId,
    Vec<enamel_domain::OperatoryId>,
    Vec<(AppointmentTypeId, Minutes)>,
)> {
    // The dentist's account name, as the schedule shows a provider ("Dr. …").
    let dentist_name = practice
        .users
        .iter()
        .find(|u| u.role() == enamel_domain::Role::Dentist)
        .map_or_else(
            || "Dr. Demo".to_owned(),
            |u| {
                let name = u.display_name().as_str();
                let name = name.split(" (").next().unwrap_or(name);
                if name.starts_with("Dr.") {
                    name.to_owned()
                } else {
                    format!("Dr. {name}")
                }
            },
        );
    let (dentist, _) = scoped
        .upsert_provider(&pms("DDS1")?, &dentist_name, None, false)
        .await?;
    let (hygienist, _) = scoped
        .upsert_provider(&pms("RDH1")?, "Hygiene (Rosalind Achebe, RDH)", None, true)
        .await?;
    let mut chairs = Vec::new();
    for n in 1..=3 {
        chairs.push(
            scoped
                .upsert_operatory(&pms(&n.to_string())?, &format!("Op {n}"))
                .await?
                .0,
        );
    }
    let mut types = Vec::new();
    for (id, name, codes, minutes) in TYPES {
        let codes = codes
            .iter()
            .map(|c| CdtCode::parse(c))
            .collect::<Result<Vec<_>, _>>()?;
        let (kind, _) = scoped
            .upsert_appointment_type(&pms(id)?, name, &codes, Minutes::new(minutes)?)
            .await?;
        types.push((kind, Minutes::new(minutes)?));
    }
    Ok((dentist, hygienist, chairs, types))
}

/// Past visits mostly completed, some broken (no-shows) or cancelled; ahead, booked
/// or confirmed, a few cancelled (open slots for the no-show agent to fill).
fn status_for(
    rng: &mut SplitMix64,
    start: OffsetDateTime,
    now: OffsetDateTime,
) -> AppointmentStatus {
    let roll = rng.below(100);
    if start < now {
        match roll {
            0..8 => AppointmentStatus::Broken,
            8..13 => AppointmentStatus::Cancelled,
            _ => AppointmentStatus::Completed,
        }
    } else {
        match roll {
            0..6 => AppointmentStatus::Cancelled,
            6..40 => AppointmentStatus::Confirmed,
            _ => AppointmentStatus::Scheduled,
        }
    }
}

async fn seed_waitlist(
    scoped: &Scoped<'_>,
    rng: &mut SplitMix64,
    patients: &[PatientId],
    types: &[(AppointmentTypeId, Minutes)],
    (dentist, hygienist): (ProviderId, ProviderId),
    booked: &[(enamel_domain::AppointmentId, PatientId)],
    today: Date,
) -> anyhow::Result<()> {
    let days = [
        "any",
        "mon,wed,fri",
        "tue,thu",
        "mon,tue,wed,thu,fri",
        "sat",
    ];
    let times = ["any", "morning", "afternoon", "morning,afternoon"];
    // One entry per patient: waitlist patients come from the end of the list; one in
    // five wants a booked visit moved earlier, if that patient is not waiting already.
    let tail: std::collections::HashSet<PatientId> =
        patients.iter().rev().take(DEMO_WAITLIST).copied().collect();
    let mut waiting = std::collections::HashSet::new();
    for n in 0..DEMO_WAITLIST {
        let (kind, duration) = types[[1, 4, 5, 0][n % 4]];
        let moves = booked
            .get(n * 3)
            .filter(|(_, p)| n % 5 == 0 && !tail.contains(p) && !waiting.contains(p));
        let patient = moves.map_or(patients[patients.len() - 1 - n], |(_, p)| *p);
        waiting.insert(patient);
        scoped
            .upsert_waitlist_entry(&NewWaitlistEntry {
                pms_id: Some(pms(&format!("W{n}"))?),
                patient,
                kind: Some(kind),
                duration,
                provider: match n % 3 {
                    0 => None,
                    1 => Some(dentist),
                    _ => Some(hygienist),
                },
                earliest: Some(today),
                latest: (n % 4 == 0).then(|| today + Duration::days(30)),
                availability: Availability::parse(
                    days[rng.below(days.len())],
                    times[rng.below(times.len())],
                )?,
                priority: u8::try_from(1 + rng.below(9))?,
                moves: moves.map(|(id, _)| *id),
                note: None,
            })
            .await?;
    }
    Ok(())
}

async fn seed_recalls_and_coverage(
    scoped: &Scoped<'_>,
    rng: &mut SplitMix64,
    patients: &[PatientId],
    today: Date,
) -> anyhow::Result<()> {
    let mut kinds = Vec::new();
    for (id, name, codes, interval) in RECALLS {
        let codes = codes
            .iter()
            .map(|c| CdtCode::parse(c))
            .collect::<Result<Vec<_>, _>>()?;
        kinds.push(
            scoped
                .upsert_recall_type(&pms(id)?, name, &codes, RecallInterval::parse(interval)?)
                .await?
                .0,
        );
    }
    // The first 150 patients (those on the schedule among them).
    for (n, patient) in patients.iter().take(150).enumerate() {
        let previous = today - Duration::days(i64::try_from(30 + rng.below(330))?);
        let kind = if n % 10 == 0 { kinds[1] } else { kinds[0] };
        scoped
            .upsert_recall(&NewRecall {
                pms_id: Some(pms(&format!("R{n}"))?),
                patient: *patient,
                kind,
                dates: RecallDates {
                    previous: Some(previous),
                    manual_due: None,
                    disabled_until: None,
                    disabled: n % 25 == 24,
                },
            })
            .await?;
        if n % 3 == 0 {
            scoped
                .upsert_recall(&NewRecall {
                    pms_id: Some(pms(&format!("B{n}"))?),
                    patient: *patient,
                    kind: kinds[2],
                    dates: RecallDates {
                        previous: Some(previous),
                        manual_due: None,
                        disabled_until: None,
                        disabled: false,
                    },
                })
                .await?;
        }
        if n % 6 != 5 {
            let (payer, name) = PAYERS[rng.below(PAYERS.len())];
            scoped
                .upsert_coverage(&NewCoverage {
                    pms_id: Some(pms(&format!("C{n}"))?),
                    patient: *patient,
                    ordinal: 1,
                    payer: Payer::parse(payer, name)?,
                    relationship: if n % 4 == 0 {
                        Relationship::Spouse
                    } else {
                        Relationship::Subscriber
                    },
                    membership: Phi::new(Membership::parse(
                        &format!("DEMO{:07}", rng.below(10_000_000)),
                        Some(&format!("G{}", 100 + rng.below(900))),
                    )?),
                })
                .await?;
        }
    }
    Ok(())
}

/// Every patient of the office, in a stable order.
async fn all_patients(scoped: &Scoped<'_>) -> anyhow::Result<Vec<PatientId>> {
    let mut all = Vec::new();
    loop {
        let page = scoped
            .find_patients(&PatientQuery {
                limit: 100,
                offset: u32::try_from(all.len())?,
                ..PatientQuery::default()
            })
            .await?;
        let done = page.len() < 100;
        all.extend(page.into_iter().map(|p| p.id));
        if done {
            return Ok(all);
        }
    }
}

fn pms(raw: &str) -> anyhow::Result<PmsId> {
    Ok(PmsId::parse(raw)?)
}
