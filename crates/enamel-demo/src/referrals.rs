//! The demo's referral network in motion: referrals from the general offices to
//! every specialist, in every state from draft to closed (declined, cancelled and
//! "patient not responding" among them), with messages between the offices, the
//! specialists' reports, booked visits and a few portal visits by patients. Each
//! step is taken through the scoped store as the office's front desk would take
//! it, so everything is audited, sealed and notified as in real use.

use enamel_crypto::link::SignedLink;
use enamel_crypto::token::SecretToken;
use enamel_domain::{
    Actor, CdtCode, ClinicalDetails, PatientSummary, Phi, PracticeKind, ReferralId, Role, Step,
    Tooth, Urgency,
};
use enamel_store::{NewReferral, PatientQuery, ReferralBox, Scoped, StepInput, Store};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::{DemoNetwork, DemoPractice};

/// How many referrals the demo seeds.
pub const DEMO_REFERRALS: usize = 36;

/// The state a demo referral is taken to, in the order of its steps.
const ENDS: [ReferralEnd; 12] = [
    ReferralEnd::Draft,
    ReferralEnd::Sent,
    ReferralEnd::Received,
    ReferralEnd::Accepted,
    ReferralEnd::Declined,
    ReferralEnd::Scheduled,
    ReferralEnd::Completed,
    ReferralEnd::ReportSent,
    ReferralEnd::Closed,
    ReferralEnd::Cancelled,
    ReferralEnd::NotResponding,
    ReferralEnd::Scheduled,
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum ReferralEnd {
    Draft,
    Sent,
    Received,
    Accepted,
    Declined,
    Scheduled,
    Completed,
    ReportSent,
    Closed,
    Cancelled,
    /// Sent weeks ago and never scheduled: flagged "patient not responding".
    NotResponding,
}

/// What a general office asks each kind of specialist, with its codes and teeth.
fn clinical_for(
    kind: PracticeKind,
    n: usize,
) -> (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
) {
    match kind {
        PracticeKind::Endodontics => (
            "Evaluate for root canal therapy; lingering cold sensitivity and percussion pain",
            &["D3330", "D0220"],
            if n.is_multiple_of(2) {
                &["19"]
            } else {
                &["30"]
            },
        ),
        PracticeKind::Periodontics => (
            "Generalized 5-6 mm pockets with bleeding on probing; evaluate for scaling and root planing",
            &["D4341", "D0180"],
            &["2", "3", "14", "15"],
        ),
        PracticeKind::OralSurgery => (
            "Impacted third molars with recurrent pericoronitis; evaluate for extraction",
            &["D7240", "D0330"],
            &["17", "32"],
        ),
        PracticeKind::Orthodontics => (
            "Class II malocclusion with crowding; orthodontic consultation",
            &["D8080", "D0340"],
            &[],
        ),
        PracticeKind::PediatricDentistry => (
            "Young child with early childhood caries; treatment under sedation may be needed",
            &["D1120", "D2930"],
            &["A", "J"],
        ),
        PracticeKind::Prosthodontics | PracticeKind::General => (
            "Missing posterior teeth; evaluate for implant-supported restoration",
            &["D6010", "D6058"],
            &["30"],
        ),
    }
}

/// Where the demo's synthetic films go: the server's upload pipeline, which seals
/// them into the object store as any upload (this crate does not depend on it).
pub trait FilmDrop {
    /// Attaches `bytes` to `referral` as `office` (its referring office).
    fn attach(
        &self,
        office: &Scoped<'_>,
        referral: ReferralId,
        file_name: &str,
        bytes: Vec<u8>,
        at: OffsetDateTime,
    ) -> impl Future<Output = anyhow::Result<()>>;
}

/// Seeds the referrals, after [`crate::seed`], unless the first general office has
/// sent some already, with synthetic radiographs (PNG, and DICOM on some) attached
/// through `films`. `enamel serve --demo` and `enamel demo seed` run it; the test
/// suites' demo networks start without it, so each test sees only its own referrals.
pub async fn seed_activity(
    store: &Store,
    network: &DemoNetwork,
    films: &impl FilmDrop,
) -> anyhow::Result<()> {
    let generals: Vec<&DemoPractice> = network
        .practices
        .iter()
        .filter(|p| p.practice.kind == PracticeKind::General)
        .collect();
    let specialists: Vec<&DemoPractice> = network
        .practices
        .iter()
        .filter(|p| p.practice.kind.is_specialty())
        .collect();
    let first = front_desk(store, generals[0]).await?;
    if !store
        .scoped(&first)
        .referrals(ReferralBox::Outbox, None, 1)
        .await?
        .is_empty()
    {
        return Ok(());
    }
    let now = store.now();
    let mut patients = Vec::new();
    for general in &generals {
        let actor = front_desk(store, general).await?;
        let found = store
            .scoped(&actor)
            .find_patients(&PatientQuery {
                limit: 40,
                ..PatientQuery::default()
            })
            .await?;
        patients.push(found);
    }
    for n in 0..DEMO_REFERRALS {
        let g = n % generals.len();
        let referrer = front_desk(store, generals[g]).await?;
        let specialist = specialists[n % specialists.len()];
        let receiver = front_desk(store, specialist).await?;
        let patient = &patients[g][n / generals.len()];
        let end = ENDS[n % ENDS.len()];
        // Older referrals first; the flagged ones were sent three weeks ago.
        let start = if end == ReferralEnd::NotResponding {
            now - Duration::days(21)
        } else {
            now - Duration::days(12) + Duration::hours(i64::try_from(n).unwrap_or(0) * 7)
        };
        let offices = Offices {
            referrer: &store.scoped(&referrer),
            receiver: &store.scoped(&receiver),
        };
        let id = refer(&offices, patient, specialist, n, start).await?;
        attach_films(films, offices.referrer, id, n, start).await?;
        walk(&offices, id, end, n, start, specialist).await?;
        if n % 7 == 3 {
            portal_visit(store, &offices, id, patient, start).await?;
        }
    }
    for general in &generals {
        store
            .flag_not_responding(general.practice.id, 14, now)
            .await?;
    }
    Ok(())
}

/// A periapical PNG on two referrals in three, and its DICOM twin on one in four.
async fn attach_films(
    films: &impl FilmDrop,
    referrer: &Scoped<'_>,
    id: ReferralId,
    n: usize,
    at: OffsetDateTime,
) -> anyhow::Result<()> {
    let variant = u32::try_from(n).unwrap_or_default();
    let film = crate::films::periapical(variant);
    if n % 3 != 2 {
        let name = format!("periapical-{}.png", n + 1);
        films
            .attach(referrer, id, &name, crate::films::png(&film), at)
            .await?;
    }
    if n.is_multiple_of(4) {
        let name = format!("periapical-{}.dcm", n + 1);
        let bytes = crate::films::dicom(&film, id.as_uuid().as_u128());
        films.attach(referrer, id, &name, bytes, at).await?;
    }
    Ok(())
}

/// The two offices of one referral, as their front desks.
struct Offices<'a, 'b> {
    referrer: &'a Scoped<'b>,
    receiver: &'a Scoped<'b>,
}

pub(crate) async fn front_desk(store: &Store, practice: &DemoPractice) -> anyhow::Result<Actor> {
    let user = practice
        .users
        .iter()
        .find(|u| u.role() == Role::FrontDesk)
        .ok_or_else(|| anyhow::anyhow!("a demo office has no front desk"))?;
    let stored = store
        .users()
        .find_by_email(user.email())
        .await?
        .ok_or_else(|| anyhow::anyhow!("the demo front desk was not stored"))?;
    Ok(Actor::human(&stored))
}

async fn refer(
    offices: &Offices<'_, '_>,
    patient: &PatientSummary,
    specialist: &DemoPractice,
    n: usize,
    at: OffsetDateTime,
) -> anyhow::Result<ReferralId> {
    let (reason, codes, teeth) = clinical_for(specialist.practice.kind, n);
    let clinical = ClinicalDetails::parse(
        reason,
        codes
            .iter()
            .map(|c| CdtCode::parse(c))
            .collect::<Result<_, _>>()?,
        teeth
            .iter()
            .map(|t| Tooth::parse(t))
            .collect::<Result<_, _>>()?,
        "Medical history reviewed; no known drug allergies. Radiographs available on request.",
    )?;
    let urgency = match n % 5 {
        0 => Urgency::Urgent,
        1 | 3 => Urgency::Soon,
        _ => Urgency::Routine,
    };
    Ok(offices
        .referrer
        .create_referral(
            &NewReferral {
                id: ReferralId::generate(),
                patient: patient.id,
                receiver: specialist.practice.id,
                urgency,
                clinical: Phi::new(clinical),
            },
            at,
        )
        .await?)
}

fn note(text: &str) -> StepInput {
    StepInput {
        note: Some(Phi::new(text.to_owned())),
        appointment: None,
    }
}

/// Takes referral `id` from draft to `end`, an hour or a day between steps.
async fn walk(
    offices: &Offices<'_, '_>,
    id: ReferralId,
    end: ReferralEnd,
    n: usize,
    start: OffsetDateTime,
    specialist: &DemoPractice,
) -> anyhow::Result<()> {
    use ReferralEnd as E;
    let (referrer, receiver) = (offices.referrer, offices.receiver);
    // Each step three hours after the last; the visit moves the clock to after it.
    let mut at = start;
    let mut next = |after: Option<OffsetDateTime>| {
        at = after.map_or(at, |visit| visit.max(at)) + Duration::hours(3);
        at
    };
    if end == E::Draft {
        return Ok(());
    }
    referrer
        .step(id, Step::Send, StepInput::default(), next(None))
        .await?;
    if matches!(end, E::Sent | E::NotResponding) {
        return Ok(());
    }
    if end == E::Cancelled {
        let why = "Patient chose to be seen closer to home";
        referrer
            .step(id, Step::Cancel, note(why), next(None))
            .await?;
        return Ok(());
    }
    receiver
        .step(id, Step::Receive, StepInput::default(), next(None))
        .await?;
    if end == E::Received {
        return Ok(());
    }
    if end == E::Declined {
        let why = "Outside our scope; please refer to an oral surgeon";
        receiver
            .step(id, Step::Decline, note(why), next(None))
            .await?;
        return Ok(());
    }
    receiver
        .step(id, Step::Accept, StepInput::default(), next(None))
        .await?;
    let question = "Could you send the most recent periapical radiograph?";
    receiver
        .post_message(id, &Phi::new(question.to_owned()), next(None))
        .await?;
    let answer = "Sent by secure email this morning; the bitewings are from last spring.";
    referrer
        .post_message(id, &Phi::new(answer.to_owned()), next(None))
        .await?;
    if end == E::Accepted {
        return Ok(());
    }
    let zone = &specialist.practice.time_zone;
    let booked_at = next(None);
    let visit = visit_time(end == E::Scheduled, n, start, booked_at, zone)?;
    receiver
        .step(
            id,
            Step::Schedule,
            StepInput {
                note: None,
                appointment: Some(Phi::new(visit)),
            },
            booked_at,
        )
        .await?;
    if end == E::Scheduled {
        return Ok(());
    }
    let seen = Some(zone.instant(visit) + Duration::hours(1));
    receiver
        .step(
            id,
            Step::Complete,
            note("Treatment completed without complications"),
            next(seen),
        )
        .await?;
    if end == E::Completed {
        return Ok(());
    }
    let report = "Treatment completed as planned. Please place a full-coverage restoration \
                  within four weeks; review in six months.";
    receiver
        .step(id, Step::SendReport, note(report), next(None))
        .await?;
    if end == E::ReportSent {
        return Ok(());
    }
    referrer
        .step(
            id,
            Step::Close,
            note("Report filed in the chart"),
            next(None),
        )
        .await?;
    Ok(())
}

/// A referral's visit, in the specialist's local time, on a weekday: still ahead two
/// weeks out for one left scheduled; for one taken further, the day after it was
/// booked (or the Monday after), so the
/// specialist's schedule holds it in the past and the later steps follow it.
fn visit_time(
    ahead: bool,
    n: usize,
    start: OffsetDateTime,
    booked_at: OffsetDateTime,
    zone: &enamel_domain::TimeZone,
) -> anyhow::Result<time::PrimitiveDateTime> {
    let mut day = if ahead {
        zone.local(start + Duration::days(14)).date()
            + Duration::days(i64::try_from(n % 5).unwrap_or(0))
    } else {
        zone.local(booked_at).date() + Duration::days(1)
    };
    // Offices see patients on weekdays.
    while matches!(
        day.weekday(),
        time::Weekday::Saturday | time::Weekday::Sunday
    ) {
        day = day.next_day().unwrap_or(day);
    }
    Ok(time::PrimitiveDateTime::new(
        day,
        time::Time::from_hms(if n.is_multiple_of(2) { 9 } else { 14 }, 30, 0)?,
    ))
}

/// The referring office sends the patient a portal link, and the patient opens it
/// with their birth date.
async fn portal_visit(
    store: &Store,
    offices: &Offices<'_, '_>,
    id: ReferralId,
    patient: &PatientSummary,
    at: OffsetDateTime,
) -> anyhow::Result<()> {
    let link = Uuid::now_v7();
    let expires_at = store.now() + Duration::hours(24);
    let token = store.link_signer().await?.sign(SignedLink {
        id: link,
        expires_at: expires_at.unix_timestamp(),
    });
    let sent = offices
        .referrer
        .send_portal_link(id, link, &format!("/p/{token}"), expires_at, at)
        .await;
    // A patient with no way to be reached, or at their message limit, gets no link.
    if sent.is_err() {
        return Ok(());
    }
    let session = SecretToken::generate("enp_");
    store
        .open_portal_link(
            link,
            *patient.birth_date.expose(),
            &session.digest(),
            store.now(),
        )
        .await?;
    Ok(())
}
