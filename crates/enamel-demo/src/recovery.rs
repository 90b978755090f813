//! No-show recovery in the demo: the first general office turns recovery on (its
//! administrator), and its front desk marks a visit tomorrow a no-show, chosen so
//! that several waitlist patients fit it. The run opens with its first wave due at
//! once, so `enamel serve --demo` sends the offers into the mailbox within a second
//! of starting, and opening one link books the slot. Seeding twice opens no second
//! run.
//!
//! The demo sends around the clock (sending hours 00:00 to 23:59), so that its story
//! can be followed at any hour; a practice's default is 08:00 to 21:00.

use enamel_domain::recovery::{Candidate, OpenSlot, SendingHours, rank};
use enamel_domain::{Actor, AppointmentId, AppointmentStatus, Role};
use enamel_store::{RecoverySettings, Store};
use time::Duration;

use crate::DemoPractice;

/// How many waitlist patients must fit the visit the demo breaks.
const FITTING: usize = 3;

/// Turns recovery on for `practice` and breaks one of tomorrow's visits, unless the
/// practice has a run already.
pub async fn seed_recovery(store: &Store, practice: &DemoPractice) -> anyhow::Result<()> {
    let admin = actor(store, practice, Role::PracticeAdmin).await?;
    let admin = store.scoped(&admin);
    if !admin.recovery_runs(1).await?.is_empty() {
        return Ok(());
    }
    let now = store.now();
    admin
        .set_recovery_settings(
            &RecoverySettings {
                enabled: true,
                hours: SendingHours {
                    from: time::macros::time!(00:00),
                    until: time::macros::time!(23:59),
                },
                ..RecoverySettings::default()
            },
            now,
        )
        .await?;
    let desk = actor(store, practice, Role::FrontDesk).await?;
    let chosen = visit_to_break(
        store,
        practice,
        now + Duration::hours(20),
        now + Duration::days(6),
        FITTING,
    )
    .await?;
    if let Some(visit) = chosen {
        store
            .scoped(&desk)
            .set_appointment_status(visit, AppointmentStatus::Broken)
            .await?;
    }
    Ok(())
}

/// The first booked visit of `practice` starting in `[from, to)` that at least
/// `fitting` waitlist patients (other than its own) fit, by the domain's matching;
/// read as the office's front desk.
pub async fn visit_to_break(
    store: &Store,
    practice: &DemoPractice,
    from: time::OffsetDateTime,
    to: time::OffsetDateTime,
    fitting: usize,
) -> anyhow::Result<Option<AppointmentId>> {
    let desk = actor(store, practice, Role::FrontDesk).await?;
    let desk = store.scoped(&desk);
    let zone = &practice.practice.time_zone;
    let candidates: Vec<Candidate> = desk
        .waitlist()
        .await?
        .iter()
        .map(|w| Candidate {
            entry: w.id,
            patient: w.patient_id,
            kind: w.kind,
            duration: w.duration,
            provider: w.provider,
            earliest: w.earliest,
            latest: w.latest,
            availability: w.availability,
            priority: w.priority,
            joined_at: w.joined_at,
            moves_from: None,
            busy: Vec::new(),
            declined: false,
            offered_recently: false,
        })
        .collect();
    let upcoming = desk.appointments_between(from, to).await?;
    Ok(upcoming
        .iter()
        .find(|a| {
            matches!(
                a.status,
                AppointmentStatus::Scheduled | AppointmentStatus::Confirmed
            ) && rank(
                &OpenSlot {
                    provider: a.provider,
                    kind: a.kind,
                    local_start: zone.local(a.starts_at),
                    starts_at: a.starts_at,
                    length: a.duration,
                },
                &candidates,
            )
            .iter()
            .filter(|c| c.patient != a.patient_id)
            .count()
                >= fitting
        })
        .map(|a| a.id))
}

async fn actor(store: &Store, practice: &DemoPractice, role: Role) -> anyhow::Result<Actor> {
    let user = practice
        .users
        .iter()
        .find(|u| u.role() == role)
        .ok_or_else(|| anyhow::anyhow!("a demo office has no {}", role.as_str()))?;
    let stored = store
        .users()
        .find_by_email(user.email())
        .await?
        .ok_or_else(|| anyhow::anyhow!("a demo account was not stored"))?;
    Ok(Actor::human(&stored))
}
