//! No-show recovery's records (issue 18, docs/no-show-recovery.md): the practice's
//! switch and settings, a run per open slot, and the offers each run makes.
//!
//! A run opens in the transaction that frees its slot (an appointment marked broken
//! or cancelled, from the schedule page, the API or the PMS sync), or when staff
//! pick an open slot by hand; its first wave is queued with it. The agent's side
//! (the candidates it reads, the offers it records) is in [`offers`]; the patient's
//! answer (confirm, decline) in [`answer`].

pub mod answer;
pub mod offers;

use anyhow::Context as _;
use enamel_audit::entry::{Action as AuditAction, Detail, Outcome, ResourceType};
use enamel_domain::recovery::SendingHours;
use enamel_domain::{
    Actor, AgentId, AppointmentId, AppointmentTypeId, Channel, Minutes, OfferId, OperatoryId,
    PatientId, PatientSummary, PracticeId, ProviderId, RecoveryRunId,
};
use enamel_policy::Action;
use serde::Serialize;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::db::{Tx, on_pool, on_tx};
use crate::jobs::{NewJob, enqueue_in_tx};
use crate::repos::schedule::minutes_from;
use crate::scoped::authorize::AuditedAs;
use crate::{Scoped, Store, StoreError};

/// The agent's name in the practice's list of agents.
pub const RECOVERY_AGENT_NAME: &str = "no-show-recovery";
/// Its scopes: the no-show view, and offering and booking open slots.
pub const RECOVERY_SCOPES: &[&str] = &["view.no_show", "schedule.recover"];
/// The job that sends a run's next wave (payload: the run's id).
pub const WAVE_JOB: &str = "recovery_wave";
/// Attempts of a wave job before it is kept as a dead letter.
const WAVE_ATTEMPTS: u32 = 5;

/// The no-show recovery agent of `practice`.
#[must_use]
pub fn recovery_actor(agent: AgentId, practice: PracticeId) -> Actor {
    Actor::agent(
        agent,
        practice,
        RECOVERY_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
    )
}

/// A practice's switch and settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RecoverySettings {
    pub enabled: bool,
    /// Patients offered a slot per wave.
    pub wave_size: u32,
    /// Minutes between waves (shorter as the slot nears).
    pub wave_minutes: u32,
    /// No run for a slot starting sooner than this, and no wave once it is this near.
    pub cutoff_minutes: u32,
    /// When offers may be sent, in the practice's local time.
    #[serde(skip)]
    pub hours: SendingHours,
}

impl Default for RecoverySettings {
    fn default() -> Self {
        Self {
            enabled: false,
            wave_size: 10,
            wave_minutes: 5,
            cutoff_minutes: 30,
            hours: SendingHours::DEFAULT,
        }
    }
}

impl RecoverySettings {
    /// Checks the bounds the database also holds; a message names the setting.
    pub fn validate(&self) -> Result<(), StoreError> {
        if !(1..=50).contains(&self.wave_size) {
            return Err(StoreError::Refused("a wave is 1 to 50 patients"));
        }
        if !(1..=120).contains(&self.wave_minutes) {
            return Err(StoreError::Refused("waves are 1 to 120 minutes apart"));
        }
        if self.cutoff_minutes > 1440 {
            return Err(StoreError::Refused("the cutoff is at most 1,440 minutes"));
        }
        if self.hours.from >= self.hours.until {
            return Err(StoreError::Refused(
                "sending hours must end after they start, on the same day (for example 08:00 to 21:00)",
            ));
        }
        Ok(())
    }

    /// The time until the next wave, `left` before the slot's cutoff: the setting,
    /// or a quarter of what is left when that is shorter (at least a minute), so a
    /// slot that is soon gets its waves closer together.
    #[must_use]
    pub fn interval(&self, left: Duration) -> Duration {
        let setting = Duration::minutes(i64::from(self.wave_minutes));
        let quarter: Duration = left / 4;
        quarter.clamp(Duration::minutes(1), setting)
    }
}

/// Where a run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Open,
    Filled,
    /// The slot came too near with no one booked.
    Expired,
    /// Staff withdrew it, the visit was put back, or the slot was filled outside Enamel.
    Withdrawn,
}

impl RunStatus {
    fn parse(raw: &str) -> Result<Self, StoreError> {
        Ok(match raw {
            "open" => Self::Open,
            "filled" => Self::Filled,
            "expired" => Self::Expired,
            "withdrawn" => Self::Withdrawn,
            _ => return Err(corrupt("run status")),
        })
    }

    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Open => "Offering",
            Self::Filled => "Filled",
            Self::Expired => "Not filled",
            Self::Withdrawn => "Withdrawn",
        }
    }
}

/// Where an offer stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OfferStatus {
    /// Due in the patient's sending hours.
    Deferred,
    Sent,
    /// Not sent: the reason says why (rate limit, opt-out, no BAA, no contact).
    Refused,
    Confirmed,
    Declined,
    /// The slot was filled (or withdrawn) while the offer was open.
    Withdrawn,
    /// The slot came too near, or the link's day ran out.
    Expired,
}

impl OfferStatus {
    fn parse(raw: &str) -> Result<Self, StoreError> {
        Ok(match raw {
            "deferred" => Self::Deferred,
            "sent" => Self::Sent,
            "refused" => Self::Refused,
            "confirmed" => Self::Confirmed,
            "declined" => Self::Declined,
            "withdrawn" => Self::Withdrawn,
            "expired" => Self::Expired,
            _ => return Err(corrupt("offer status")),
        })
    }

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Deferred => "deferred",
            Self::Sent => "sent",
            Self::Refused => "refused",
            Self::Confirmed => "confirmed",
            Self::Declined => "declined",
            Self::Withdrawn => "withdrawn",
            Self::Expired => "expired",
        }
    }

    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Deferred => "Waiting for sending hours",
            Self::Sent => "Sent",
            Self::Refused => "Not sent",
            Self::Confirmed => "Booked",
            Self::Declined => "Declined",
            Self::Withdrawn => "Withdrawn",
            Self::Expired => "Expired",
        }
    }
}

fn corrupt(what: &'static str) -> StoreError {
    StoreError::Corrupt(enamel_domain::InvalidValue::new(
        what,
        "is unknown in storage",
    ))
}

/// An open slot to offer.
#[derive(Clone, Debug)]
pub struct NewSlot {
    pub provider: ProviderId,
    pub operatory: Option<OperatoryId>,
    pub kind: Option<AppointmentTypeId>,
    pub starts_at: OffsetDateTime,
    pub duration: Minutes,
}

/// A run as the office sees it.
#[derive(Clone, Debug, Serialize)]
pub struct Run {
    pub id: RecoveryRunId,
    pub appointment: Option<AppointmentId>,
    pub provider: ProviderId,
    pub operatory: Option<OperatoryId>,
    pub kind: Option<AppointmentTypeId>,
    pub kind_name: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub starts_at: OffsetDateTime,
    pub duration: Minutes,
    pub status: RunStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub opened_at: OffsetDateTime,
    /// Who opened it (an audit id: a user, an agent).
    pub opened_by: String,
    pub waves: u32,
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_wave_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub closed_at: Option<OffsetDateTime>,
    pub closed_reason: Option<String>,
    pub filled_offer: Option<OfferId>,
    pub booked_appointment: Option<AppointmentId>,
    pub provider_name: String,
    pub operatory_name: Option<String>,
    /// For a practice on a PMS: how writing the booking back went (`pending`,
    /// `done`, `not_in_pms`, or an error code).
    pub pms_writeback: Option<String>,
}

impl Run {
    /// From opening to booking, for a filled run.
    #[must_use]
    pub fn time_to_fill(&self) -> Option<Duration> {
        (self.status == RunStatus::Filled)
            .then(|| self.closed_at.map(|closed| closed - self.opened_at))
            .flatten()
    }
}

/// One offer, as the office sees it: who, how, and how it went.
#[derive(Clone, Debug, Serialize)]
pub struct Offer {
    pub id: OfferId,
    pub run: RecoveryRunId,
    pub patient_id: PatientId,
    /// Name and birth date for staff; `None` for a restricted patient, and always
    /// `None` for the agent.
    #[serde(skip)]
    pub patient: Option<PatientSummary>,
    pub wave: u32,
    pub channel: Option<Channel>,
    pub status: OfferStatus,
    pub reason: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub due_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub sent_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub answered_at: Option<OffsetDateTime>,
}

/// A run with its offers.
#[derive(Clone, Debug, Serialize)]
pub struct RunDetail {
    #[serde(flatten)]
    pub run: Run,
    pub offers: Vec<Offer>,
}

/// A run as stored, with its provider's, chair's and type's names.
#[derive(sqlx::FromRow)]
pub(crate) struct RunRow {
    id: Uuid,
    appointment_id: Option<Uuid>,
    provider_id: Uuid,
    operatory_id: Option<Uuid>,
    type_id: Option<Uuid>,
    type_name: Option<String>,
    starts_at: OffsetDateTime,
    duration_minutes: i64,
    status: String,
    opened_at: OffsetDateTime,
    opened_by: String,
    waves: i64,
    next_wave_at: Option<OffsetDateTime>,
    closed_at: Option<OffsetDateTime>,
    closed_reason: Option<String>,
    filled_offer: Option<Uuid>,
    booked_appointment: Option<Uuid>,
    provider_name: String,
    operatory_name: Option<String>,
    pms_writeback: Option<String>,
}

pub(crate) const RUN_SELECT: &str = "SELECT r.id, r.appointment_id, r.provider_id, \
     r.operatory_id, r.type_id, t.name AS type_name, r.starts_at, r.duration_minutes, r.status, \
     r.opened_at, r.opened_by, r.waves, r.next_wave_at, r.closed_at, r.closed_reason, \
     r.filled_offer, r.booked_appointment, pv.name AS provider_name, op.name AS operatory_name, \
     r.pms_writeback \
     FROM recovery_runs r \
     JOIN providers pv ON pv.id = r.provider_id \
     LEFT JOIN operatories op ON op.id = r.operatory_id \
     LEFT JOIN appointment_types t ON t.id = r.type_id";

pub(crate) fn run_from(row: RunRow) -> Result<Run, StoreError> {
    Ok(Run {
        id: RecoveryRunId::from_uuid(row.id),
        appointment: row.appointment_id.map(AppointmentId::from_uuid),
        provider: ProviderId::from_uuid(row.provider_id),
        operatory: row.operatory_id.map(OperatoryId::from_uuid),
        kind: row.type_id.map(AppointmentTypeId::from_uuid),
        kind_name: row.type_name,
        starts_at: row.starts_at,
        duration: minutes_from(row.duration_minutes)?,
        status: RunStatus::parse(&row.status)?,
        opened_at: row.opened_at,
        opened_by: row.opened_by,
        waves: u32::try_from(row.waves).unwrap_or(0),
        next_wave_at: row.next_wave_at,
        closed_at: row.closed_at,
        closed_reason: row.closed_reason,
        filled_offer: row.filled_offer.map(OfferId::from_uuid),
        booked_appointment: row.booked_appointment.map(AppointmentId::from_uuid),
        provider_name: row.provider_name,
        operatory_name: row.operatory_name,
        pms_writeback: row.pms_writeback,
    })
}

pub(crate) type OfferRow = (
    Uuid,
    Uuid,
    Uuid,
    i64,
    Option<String>,
    String,
    Option<String>,
    OffsetDateTime,
    Option<OffsetDateTime>,
    Option<OffsetDateTime>,
);

pub(crate) fn offer_from(row: OfferRow) -> Result<Offer, StoreError> {
    Ok(Offer {
        id: OfferId::from_uuid(row.0),
        run: RecoveryRunId::from_uuid(row.1),
        patient_id: PatientId::from_uuid(row.2),
        patient: None,
        wave: u32::try_from(row.3).unwrap_or(0),
        channel: row.4.as_deref().and_then(Channel::parse),
        status: OfferStatus::parse(&row.5)?,
        reason: row.6,
        due_at: row.7,
        sent_at: row.8,
        answered_at: row.9,
    })
}

type SettingsRow = (bool, Uuid, i64, i64, i64, String, String);

fn hour_minute(raw: &str) -> Result<time::Time, StoreError> {
    let format = time::macros::format_description!("[hour]:[minute]");
    time::Time::parse(raw, &format).map_err(|_| corrupt("sending hours"))
}

/// `HH:MM`, as the settings store sending hours.
#[must_use]
pub fn hour_minute_text(at: time::Time) -> String {
    format!("{:02}:{:02}", at.hour(), at.minute())
}

impl Store {
    /// A practice's recovery settings and its agent, if it ever turned recovery on.
    /// Not PHI, and read by the jobs and the triggers alike: unaudited.
    pub async fn recovery_settings_of(
        &self,
        practice: PracticeId,
    ) -> Result<(RecoverySettings, Option<AgentId>), StoreError> {
        let row: Option<SettingsRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(
                "SELECT enabled, agent_id, wave_size, wave_minutes, cutoff_minutes, send_from, \
                 send_until FROM recovery_settings WHERE practice_id = $1",
            )
            .bind(practice.as_uuid())
            .fetch_optional(pool)
            .await
        })
        .context("reading the recovery settings")?;
        let Some((enabled, agent, size, minutes, cutoff, from, until)) = row else {
            return Ok((RecoverySettings::default(), None));
        };
        Ok((
            RecoverySettings {
                enabled,
                wave_size: u32::try_from(size).unwrap_or(10),
                wave_minutes: u32::try_from(minutes).unwrap_or(5),
                cutoff_minutes: u32::try_from(cutoff).unwrap_or(30),
                hours: SendingHours {
                    from: hour_minute(&from)?,
                    until: hour_minute(&until)?,
                },
            },
            Some(AgentId::from_uuid(agent)),
        ))
    }
}

impl Scoped<'_> {
    /// The practice's recovery settings, for its staff and administrator.
    pub async fn recovery_settings(&self) -> Result<RecoverySettings, StoreError> {
        let practice = self.practice()?;
        self.authorize_recovery_view().await?;
        Ok(self.store.recovery_settings_of(practice).await?.0)
    }

    /// Whether the actor may take `action` on its practice as a whole (no audit: a
    /// choice of what to show, not an access).
    fn may_in_practice(&self, action: Action) -> bool {
        self.practice()
            .is_ok_and(|practice| self.may(action, &enamel_policy::Resource::Practice(practice)))
    }

    /// Who may see the runs and settings: staff who read the schedule, and the
    /// administrator who sets recovery up (who sees no patient's name: the
    /// administrator's role reads no schedule).
    async fn authorize_recovery_view(&self) -> Result<(), StoreError> {
        if self.may_in_practice(Action::PracticeConfigure) {
            return Ok(());
        }
        self.authorize_in_own_practice(
            Action::ScheduleView,
            AuditedAs::any(AuditAction::Read, ResourceType::Appointment),
        )
        .await
    }

    /// Turns recovery on or off and sets its waves, cutoff and sending hours (the
    /// administrator, `practice.configure`). Turning it on the first time makes the
    /// practice's `no-show-recovery` agent. Audited as a setting change.
    pub async fn set_recovery_settings(
        &self,
        settings: &RecoverySettings,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let practice = self.practice()?;
        self.authorize_in_own_practice(
            Action::PracticeConfigure,
            AuditedAs::any(AuditAction::SettingChange, ResourceType::Practice),
        )
        .await?;
        settings.validate()?;
        let agent = match self.store.recovery_settings_of(practice).await?.1 {
            Some(agent) => agent,
            None => self.recovery_agent(now).await?,
        };
        let mut event = self.event(
            AuditAction::SettingChange,
            ResourceType::Practice,
            Some(practice.to_string()),
            Outcome::Success,
        );
        event.detail.insert(
            "setting",
            Detail::Code(if settings.enabled {
                "no_show_recovery_on".into()
            } else {
                "no_show_recovery_off".into()
            }),
        );
        event
            .detail
            .insert("wave_size", Detail::Count(settings.wave_size.into()));
        event
            .detail
            .insert("wave_minutes", Detail::Count(settings.wave_minutes.into()));
        event.detail.insert(
            "cutoff_minutes",
            Detail::Count(settings.cutoff_minutes.into()),
        );
        let mut tx = self.store.begin().await?;
        on_tx!(&mut tx, conn => {
            sqlx::query(
                "INSERT INTO recovery_settings (practice_id, enabled, agent_id, wave_size, \
                 wave_minutes, cutoff_minutes, send_from, send_until, updated_at, updated_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (practice_id) DO UPDATE SET enabled = $2, wave_size = $4, \
                 wave_minutes = $5, cutoff_minutes = $6, send_from = $7, send_until = $8, \
                 updated_at = $9, updated_by = $10",
            )
            .bind(practice.as_uuid())
            .bind(settings.enabled)
            .bind(agent.as_uuid())
            .bind(i64::from(settings.wave_size))
            .bind(i64::from(settings.wave_minutes))
            .bind(i64::from(settings.cutoff_minutes))
            .bind(hour_minute_text(settings.hours.from))
            .bind(hour_minute_text(settings.hours.until))
            .bind(now)
            .bind(self.actor.audit_id())
            .execute(&mut *conn)
            .await
            .map(|_| ())
        })
        .context("saving the recovery settings")?;
        // Turned off, the practice's open runs end now, their links with them.
        let mut events = vec![event];
        if !settings.enabled {
            let open: Vec<Uuid> = on_tx!(&mut tx, conn => {
                sqlx::query_scalar(
                    "SELECT id FROM recovery_runs WHERE practice_id = $1 AND status = 'open'",
                )
                .bind(practice.as_uuid())
                .fetch_all(&mut *conn)
                .await
            })
            .context("finding open runs")?;
            for run in open {
                let run = RecoveryRunId::from_uuid(run);
                close_run_in_tx(&mut tx, practice, run, "withdrawn", "recovery_off", now)
                    .await
                    .context("closing a run")?;
                events.push(self.run_event(run, "run_withdrawn"));
            }
        }
        let events: Vec<&enamel_audit::entry::Event> = events.iter().collect();
        tx.commit_with(&events).await?;
        Ok(())
    }

    /// The practice's `no-show-recovery` agent: the one of that name, else a new one.
    async fn recovery_agent(&self, now: OffsetDateTime) -> Result<AgentId, StoreError> {
        let practice = self.practice()?;
        let found: Option<Uuid> = on_pool!(&self.store.db, pool => {
            sqlx::query_scalar("SELECT id FROM agents WHERE practice_id = $1 AND name = $2")
                .bind(practice.as_uuid())
                .bind(RECOVERY_AGENT_NAME)
                .fetch_optional(pool)
                .await
        })
        .context("finding the recovery agent")?;
        match found {
            Some(id) => Ok(AgentId::from_uuid(id)),
            None => self.create_agent(RECOVERY_AGENT_NAME, now).await,
        }
    }

    /// Opens a run for an open slot staff picked by hand (`schedule.manage`), with
    /// its first wave due now. Refused when recovery is off or the slot starts
    /// within the cutoff; a conflict when the slot already has an open run.
    pub async fn open_recovery_run(&self, slot: &NewSlot) -> Result<RecoveryRunId, StoreError> {
        let practice = self.practice()?;
        self.authorize_in_own_practice(
            Action::ScheduleManage,
            AuditedAs::any(AuditAction::Create, ResourceType::Appointment),
        )
        .await?;
        self.require_own(
            "providers",
            Some(slot.provider.as_uuid()),
            "no such provider",
        )
        .await?;
        self.require_own(
            "operatories",
            slot.operatory.map(|o| o.as_uuid()),
            "no such operatory",
        )
        .await?;
        self.require_own(
            "appointment_types",
            slot.kind.map(|k| k.as_uuid()),
            "no such appointment type",
        )
        .await?;
        let now = self.store.now();
        let (settings, _) = self.store.recovery_settings_of(practice).await?;
        if !settings.enabled {
            return Err(StoreError::Refused(
                "no-show recovery is off for this practice",
            ));
        }
        if slot.starts_at - now < Duration::minutes(i64::from(settings.cutoff_minutes)) {
            return Err(StoreError::Refused(
                "that time has passed, or starts sooner than the practice's cutoff: choose a later time",
            ));
        }
        if let Some(kind) = slot.kind {
            let minutes: Option<i64> = on_pool!(&self.store.db, pool => {
                sqlx::query_scalar("SELECT duration_minutes FROM appointment_types WHERE id = $1")
                    .bind(kind.as_uuid())
                    .fetch_optional(pool)
                    .await
            })
            .context("reading a visit type")?;
            if minutes.is_some_and(|m| m > i64::from(slot.duration.get())) {
                return Err(StoreError::Refused(
                    "that visit type takes longer than the slot: choose another type, or a longer slot",
                ));
            }
        }
        if self.chair_taken(practice, slot, true).await? {
            return Err(StoreError::Refused(
                "the provider (or the chair) has a visit booked, or a time already being offered, in that time",
            ));
        }
        let mut tx = self.store.begin().await?;
        let opened = open_run_in_tx(&mut tx, practice, None, slot, &self.actor.audit_id(), now)
            .await
            .context("opening a recovery run")?;
        let Some(run) = opened else {
            return Err(StoreError::Conflict("this slot is already being offered"));
        };
        let event = self.run_event(run, "run_opened");
        tx.commit_with(&[&event]).await?;
        Ok(run)
    }

    /// Whether a visit that holds its slot overlaps `slot` with the same provider,
    /// or in the same chair; with `runs`, or an open run does.
    pub(crate) async fn chair_taken(
        &self,
        practice: PracticeId,
        slot: &NewSlot,
        runs: bool,
    ) -> Result<bool, StoreError> {
        let mut tables = vec![(HOLDING_NEAR, "reading the slot's chair time")];
        if runs {
            tables.push((OFFERED_NEAR, "reading the runs near the slot"));
        }
        for (sql, doing) in tables {
            let rows: Vec<(Uuid, OffsetDateTime, i64)> = on_pool!(&self.store.db, pool => {
                sqlx::query_as(sql)
                    .bind(practice.as_uuid())
                    .bind(slot.provider.as_uuid())
                    .bind(slot.operatory.map(|o| o.as_uuid()))
                    .bind(slot.starts_at - Duration::days(1))
                    .bind(slot.starts_at + Duration::days(1))
                    .fetch_all(pool)
                    .await
            })
            .context(doing)?;
            if overlaps(&rows, slot.starts_at, slot.duration.duration(), None) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The audit event of a run's step (`run_opened`, `run_expired` …), carrying
    /// the run's id as its correlation id (the request's, if any, is on the event
    /// of the change that caused it).
    pub(crate) fn run_event(&self, run: RecoveryRunId, step: &str) -> enamel_audit::entry::Event {
        let mut event = self.event(
            AuditAction::Write,
            ResourceType::Appointment,
            Some(run.to_string()),
            Outcome::Success,
        );
        event
            .detail
            .insert("recovery", Detail::Code(step.to_owned()));
        event.correlation_id = Some(run.as_uuid().simple().to_string());
        event
    }

    /// Withdraws an open run (staff: `schedule.manage`): its open offers are
    /// withdrawn and no further wave goes out.
    pub async fn withdraw_recovery_run(&self, run: RecoveryRunId) -> Result<(), StoreError> {
        let practice = self.practice()?;
        self.authorize_in_own_practice(
            Action::ScheduleManage,
            AuditedAs::one(AuditAction::Write, ResourceType::Appointment, &run),
        )
        .await?;
        let now = self.store.now();
        let event = self.run_event(run, "run_withdrawn");
        let mut tx = self.store.begin().await?;
        let closed = close_run_in_tx(&mut tx, practice, run, "withdrawn", "staff", now)
            .await
            .context("withdrawing a recovery run")?;
        if !closed {
            return Err(StoreError::Conflict("this run is no longer open"));
        }
        tx.commit_with(&[&event]).await?;
        Ok(())
    }

    /// The practice's runs, newest first, with their offers (staff who read the
    /// schedule, and the administrator). Patients' names for staff; audited as a
    /// search naming every patient shown.
    pub async fn recovery_runs(&self, limit: u32) -> Result<Vec<RunDetail>, StoreError> {
        let practice = self.practice()?;
        self.authorize_recovery_view().await?;
        let sql = sqlx::AssertSqlSafe(format!(
            "{RUN_SELECT} WHERE r.practice_id = $1 ORDER BY r.opened_at DESC, r.id DESC LIMIT $2"
        ));
        let rows: Vec<RunRow> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(sql)
                .bind(practice.as_uuid())
                .bind(i64::from(limit.min(200)))
                .fetch_all(pool)
                .await
        })
        .context("reading recovery runs")?;
        let mut runs = Vec::with_capacity(rows.len());
        let mut shown = Vec::new();
        let names = self.may_in_practice(Action::ScheduleView);
        for row in rows {
            let run = run_from(row)?;
            let offers = self.offers_of(practice, run.id, names).await?;
            shown.extend(offers.iter().map(|o| o.patient_id));
            runs.push(RunDetail { run, offers });
        }
        if !shown.is_empty() {
            self.audit_shown(ResourceType::Appointment, shown.into_iter())
                .await?;
        }
        Ok(runs)
    }

    /// A run's offers, in the order they were made, with `names` (for staff who
    /// read the schedule).
    async fn offers_of(
        &self,
        practice: PracticeId,
        run: RecoveryRunId,
        names: bool,
    ) -> Result<Vec<Offer>, StoreError> {
        type Row = (
            Uuid,
            Uuid,
            Uuid,
            i64,
            Option<String>,
            String,
            Option<String>,
            OffsetDateTime,
            Option<OffsetDateTime>,
            Option<OffsetDateTime>,
            Vec<u8>,
            Vec<u8>,
            bool,
        );
        let rows: Vec<Row> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT o.id, o.run_id, o.patient_id, o.wave, o.channel, o.status, o.reason, \
                 o.due_at, o.sent_at, o.answered_at, p.name, p.birth_date, p.restricted \
                 FROM recovery_offers o JOIN patients p ON p.id = o.patient_id \
                 WHERE o.run_id = $1 AND o.practice_id = $2 ORDER BY o.wave, o.created_at, o.id",
            )
            .bind(run.as_uuid())
            .bind(practice.as_uuid())
            .fetch_all(pool)
            .await
        })
        .context("reading a run's offers")?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let patient = if names {
                self.summary_unless_restricted(r.12, r.2, &r.10, &r.11)
                    .await?
            } else {
                None
            };
            let mut offer = offer_from((r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9))?;
            offer.patient = patient;
            out.push(offer);
        }
        Ok(out)
    }
}

/// The visits that hold their slot, with a provider ($2) or in a chair ($3),
/// starting in `($4, $5)`: id, start, minutes.
pub(crate) const HOLDING_NEAR: &str = "SELECT id, starts_at, duration_minutes FROM appointments \
     WHERE practice_id = $1 AND (provider_id = $2 OR operatory_id = $3) \
     AND status IN ('scheduled', 'confirmed', 'arrived', 'completed') \
     AND starts_at > $4 AND starts_at < $5";

/// The open runs with a provider ($2) or in a chair ($3), starting in `($4, $5)`.
const OFFERED_NEAR: &str = "SELECT id, starts_at, duration_minutes FROM recovery_runs \
     WHERE practice_id = $1 AND (provider_id = $2 OR operatory_id = $3) \
     AND status = 'open' AND starts_at > $4 AND starts_at < $5";

/// Whether one of `visits` (id, start, minutes), other than `except`, overlaps
/// `length` from `start`.
pub(crate) fn overlaps(
    visits: &[(Uuid, OffsetDateTime, i64)],
    start: OffsetDateTime,
    length: Duration,
    except: Option<Uuid>,
) -> bool {
    visits.iter().any(|(id, from, minutes)| {
        Some(*id) != except && *from < start + length && start < *from + Duration::minutes(*minutes)
    })
}

/// Opens a run for `slot` inside `tx`, with its first wave queued for `now`; `None`
/// when the slot already has an open run (or this appointment had one).
pub(crate) async fn open_run_in_tx(
    tx: &mut Tx,
    practice: PracticeId,
    appointment: Option<AppointmentId>,
    slot: &NewSlot,
    opened_by: &str,
    now: OffsetDateTime,
) -> anyhow::Result<Option<RecoveryRunId>> {
    let run = RecoveryRunId::generate();
    let inserted = on_tx!(&mut *tx, conn => {
        sqlx::query(
            "INSERT INTO recovery_runs (id, practice_id, appointment_id, provider_id, \
             operatory_id, type_id, starts_at, duration_minutes, status, opened_at, opened_by, \
             waves, next_wave_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open', $9, $10, 0, $9) \
             ON CONFLICT DO NOTHING",
        )
        .bind(run.as_uuid())
        .bind(practice.as_uuid())
        .bind(appointment.map(|a| a.as_uuid()))
        .bind(slot.provider.as_uuid())
        .bind(slot.operatory.map(|o| o.as_uuid()))
        .bind(slot.kind.map(|k| k.as_uuid()))
        .bind(slot.starts_at)
        .bind(i64::from(slot.duration.get()))
        .bind(now)
        .bind(opened_by)
        .execute(&mut *conn)
        .await?
        .rows_affected()
    });
    if inserted != 1 {
        return Ok(None);
    }
    enqueue_wave_in_tx(tx, practice, run, now, now).await?;
    Ok(Some(run))
}

/// Queues the wave of `run` due at `at`.
pub(crate) async fn enqueue_wave_in_tx(
    tx: &mut Tx,
    practice: PracticeId,
    run: RecoveryRunId,
    at: OffsetDateTime,
    now: OffsetDateTime,
) -> anyhow::Result<()> {
    let job = wave_job(practice, run, at);
    enqueue_in_tx(tx, &job, now).await?;
    Ok(())
}

/// A wave job's payload: whose run, and which.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct WaveRun {
    pub practice: PracticeId,
    pub run: RecoveryRunId,
}

/// The wave job of `run` due at `at`, keyed by both (queued twice, it runs once).
#[must_use]
pub fn wave_job(practice: PracticeId, run: RecoveryRunId, at: OffsetDateTime) -> NewJob {
    NewJob {
        kind: WAVE_JOB.to_owned(),
        key: format!("{WAVE_JOB}:{run}:{}", at.unix_timestamp()),
        payload: serde_json::to_value(WaveRun { practice, run }).unwrap_or_default(),
        run_at: at,
        max_attempts: WAVE_ATTEMPTS,
    }
}

/// Closes an open run (`status`: expired or withdrawn) and its open offers;
/// whether it was open.
pub(crate) async fn close_run_in_tx(
    tx: &mut Tx,
    practice: PracticeId,
    run: RecoveryRunId,
    status: &str,
    reason: &str,
    now: OffsetDateTime,
) -> anyhow::Result<bool> {
    let closed = on_tx!(&mut *tx, conn => {
        sqlx::query(
            "UPDATE recovery_runs SET status = $1, closed_at = $2, closed_reason = $3, \
             next_wave_at = NULL WHERE id = $4 AND practice_id = $5 AND status = 'open'",
        )
        .bind(status)
        .bind(now)
        .bind(reason)
        .bind(run.as_uuid())
        .bind(practice.as_uuid())
        .execute(&mut *conn)
        .await?
        .rows_affected()
    });
    if closed != 1 {
        return Ok(false);
    }
    let offers_end = if status == "expired" {
        "expired"
    } else {
        "withdrawn"
    };
    end_open_offers_in_tx(
        tx,
        &OpenOffers {
            run: Some(run.as_uuid()),
            ..OpenOffers::default()
        },
        offers_end,
        reason,
        now,
    )
    .await?;
    Ok(true)
}

/// Which open (sent or deferred) offers to end: those of a run and/or of a waitlist
/// entry, but for one offer and/or one run.
#[derive(Debug, Default)]
pub(crate) struct OpenOffers {
    pub run: Option<Uuid>,
    pub entry: Option<Uuid>,
    pub except_offer: Option<Uuid>,
    pub except_run: Option<Uuid>,
}

/// Ends the open offers `which` names with `status` (withdrawn, declined, expired)
/// and the `reason` code: their links no longer book anything.
pub(crate) async fn end_open_offers_in_tx(
    tx: &mut Tx,
    which: &OpenOffers,
    status: &str,
    reason: &str,
    now: OffsetDateTime,
) -> anyhow::Result<()> {
    on_tx!(&mut *tx, conn => {
        sqlx::query(
            "UPDATE recovery_offers SET status = $1, reason = $2, answered_at = $3 \
             WHERE status IN ('sent', 'deferred') \
             AND ($4 IS NULL OR run_id = $4) AND ($5 IS NULL OR entry_id = $5) \
             AND ($6 IS NULL OR id <> $6) AND ($7 IS NULL OR run_id <> $7)",
        )
        .bind(status)
        .bind(reason)
        .bind(now)
        .bind(which.run)
        .bind(which.entry)
        .bind(which.except_offer)
        .bind(which.except_run)
        .execute(&mut *conn)
        .await?;
    });
    Ok(())
}

/// The trigger, inside the transaction that changes an appointment's status: a
/// visit that held its slot and is now broken or cancelled opens a run for the slot
/// (when the practice has recovery on and the slot is not within its cutoff); a
/// visit put back on the schedule withdraws its open run. Returns the run opened.
/// `settings` are the practice's, read before the transaction began.
pub(crate) async fn on_status_change_in_tx(
    tx: &mut Tx,
    settings: &RecoverySettings,
    practice: PracticeId,
    appointment: AppointmentId,
    change: StatusChange,
    by: &str,
    now: OffsetDateTime,
) -> anyhow::Result<Vec<(RecoveryRunId, &'static str)>> {
    if change.now_holds {
        // Only a run for the same time: a visit moved to another time leaves its
        // old slot free, and still offered.
        let open: Vec<Uuid> = on_tx!(&mut *tx, conn => {
            sqlx::query_scalar(
                "SELECT id FROM recovery_runs WHERE appointment_id = $1 AND status = 'open' \
                 AND starts_at = $2",
            )
            .bind(appointment.as_uuid())
            .bind(change.slot.starts_at)
            .fetch_all(&mut *conn)
            .await?
        });
        let mut closed = Vec::new();
        for run in open {
            let run = RecoveryRunId::from_uuid(run);
            if close_run_in_tx(tx, practice, run, "withdrawn", "visit_kept", now).await? {
                closed.push((run, "run_withdrawn"));
            }
        }
        return Ok(closed);
    }
    if !change.held || !change.frees {
        return Ok(Vec::new());
    }
    if !settings.enabled
        || change.slot.starts_at - now < Duration::minutes(i64::from(settings.cutoff_minutes))
    {
        return Ok(Vec::new());
    }
    Ok(
        open_run_in_tx(tx, practice, Some(appointment), &change.slot, by, now)
            .await?
            .map(|run| vec![(run, "run_opened")])
            .unwrap_or_default(),
    )
}

/// An appointment's status change, as the trigger reads it.
#[derive(Clone, Debug)]
pub(crate) struct StatusChange {
    /// The old status held the slot.
    pub held: bool,
    /// The new status frees it (broken, cancelled).
    pub frees: bool,
    /// The new status holds it again.
    pub now_holds: bool,
    pub slot: NewSlot,
}

/// Recovery's figures across the deployment, for the metrics: counts and seconds,
/// no practice and no patient.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecoveryTotals {
    /// Runs by status.
    pub runs: Vec<(String, i64)>,
    /// Offers by status.
    pub offers: Vec<(String, i64)>,
    /// Seconds from opening to booking, summed over filled runs.
    pub fill_seconds: f64,
    /// Offers not sent because the patient had opted out of texts and had no email.
    pub opted_out: i64,
    /// Patients who asked for no more offers for a visit.
    pub stopped: i64,
}

impl Store {
    /// Recovery's figures across the deployment (see [`RecoveryTotals`]).
    pub async fn recovery_totals(&self) -> Result<RecoveryTotals, StoreError> {
        let read = async {
            on_pool!(&self.db, pool => {
                let runs: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT status, COUNT(*) FROM recovery_runs GROUP BY status ORDER BY status",
                )
                .fetch_all(pool)
                .await?;
                let offers: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT status, COUNT(*) FROM recovery_offers GROUP BY status ORDER BY status",
                )
                .fetch_all(pool)
                .await?;
                let filled: Vec<(OffsetDateTime, Option<OffsetDateTime>)> = sqlx::query_as(
                    "SELECT opened_at, closed_at FROM recovery_runs WHERE status = 'filled'",
                )
                .fetch_all(pool)
                .await?;
                let opted_out: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM recovery_offers WHERE reason = 'opted_out'",
                )
                .fetch_one(pool)
                .await?;
                let stopped: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM waitlist WHERE offers_declined_at IS NOT NULL",
                )
                .fetch_one(pool)
                .await?;
                Ok::<_, sqlx::Error>((runs, offers, filled, opted_out, stopped))
            })
        };
        let (runs, offers, filled, opted_out, stopped) =
            read.await.context("reading recovery's figures")?;
        let fill_seconds = filled
            .iter()
            .filter_map(|(opened, closed)| closed.map(|c| (c - *opened).as_seconds_f64()))
            .sum();
        Ok(RecoveryTotals {
            runs,
            offers,
            fill_seconds,
            opted_out,
            stopped,
        })
    }
}
