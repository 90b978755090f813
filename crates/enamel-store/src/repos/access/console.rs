//! What the security officer's console needs beyond the log's queries: the names
//! behind the ids in the log (people, and patients, audited as a read of their
//! names), a patient picker (names and birth dates only, audited), and the security
//! alerts with who, which patient and why, acknowledged or closed with a note.

use std::collections::HashMap;

use anyhow::Context as _;
use enamel_audit::entry::{Action as AuditAction, Detail, Outcome, ResourceType};
use enamel_domain::{PatientSummary, PracticeId};
use enamel_policy::Action;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::{on_pool, on_tx};
use crate::repos::patients::PatientQuery;
use crate::scoped::authorize::AuditedAs;
use crate::sealed::{ENCRYPTED_COLUMNS, SECURITY_ALERT_NOTE};
use crate::{Scoped, StoreError};

/// The longest note on an alert.
pub const ALERT_NOTE_MAX: usize = 2_000;

/// What the officer does with an alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertResolution {
    /// Seen and being looked into; it stays on the list.
    Acknowledge,
    /// Dealt with; it leaves the list of open alerts.
    Close,
}

/// A security alert as the console shows it.
#[derive(Clone, Debug)]
pub struct AlertDetail {
    pub id: Uuid,
    /// `break_glass` or `lockout`.
    pub kind: String,
    pub person: Uuid,
    pub person_name: String,
    pub created_at: OffsetDateTime,
    /// For break-glass: the patient, by id and name.
    pub patient: Option<(Uuid, String)>,
    /// For break-glass: the reason's code and the dentist's words.
    pub reason: Option<String>,
    pub reason_note: Option<String>,
    pub acknowledged: Option<(OffsetDateTime, String)>,
    pub closed: Option<(OffsetDateTime, String)>,
    /// The officer's note.
    pub note: Option<String>,
}

type AlertRow = (
    Uuid,
    String,
    Uuid,
    OffsetDateTime,
    Option<Uuid>,
    Option<OffsetDateTime>,
    Option<String>,
    Option<OffsetDateTime>,
    Option<String>,
    Option<Vec<u8>>,
    String,
);

type GrantRow = (Uuid, String, Vec<u8>);

impl Scoped<'_> {
    /// The names of `patients` (of the actor's practice) for the audit log's pages,
    /// under `audit.query`; audited as a read of those patients' names.
    pub async fn audit_patient_names(
        &self,
        patients: &[Uuid],
    ) -> Result<HashMap<Uuid, String>, StoreError> {
        let practice = self.practice()?;
        self.authorize_audit().await?;
        let mut names = HashMap::new();
        for &id in patients {
            if names.contains_key(&id) {
                continue;
            }
            if let Some(summary) = self.summary_of(practice, id).await? {
                names.insert(
                    id,
                    format!(
                        "{} {}",
                        summary.first_name.expose(),
                        summary.last_name.expose()
                    ),
                );
            }
        }
        if !names.is_empty() {
            let mut event = self.event(
                AuditAction::Read,
                ResourceType::Patient,
                None,
                Outcome::Success,
            );
            event
                .detail
                .insert("returned", Detail::Ids(names.keys().copied().collect()));
            event.detail.insert("fields", Detail::Code("name".into()));
            self.store.audit().record(event).await?;
        }
        Ok(names)
    }

    /// The security officer's patient picker: patients of the practice by last name
    /// (and birth date, when given), names and birth dates only, under
    /// `audit.query`; audited like any search, naming every id returned.
    pub async fn pick_patients(
        &self,
        query: &PatientQuery,
    ) -> Result<Vec<PatientSummary>, StoreError> {
        if query.last_name.is_none() {
            return Err(StoreError::Refused("type the patient's last name"));
        }
        self.authorize_audit().await?;
        self.search_patients(query).await
    }

    /// The practice's security alerts, newest first: open ones, or every one.
    pub async fn alert_details(&self, closed_too: bool) -> Result<Vec<AlertDetail>, StoreError> {
        let practice = self.practice()?;
        self.authorize_in_own_practice(
            Action::AlertView,
            AuditedAs::any(AuditAction::Read, ResourceType::AuditLog),
        )
        .await?;
        let rows: Vec<AlertRow> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT a.id, a.kind, a.subject_id, a.created_at, a.reference_id, \
                 a.acknowledged_at, ack.display_name, a.closed_at, cl.display_name, a.note, \
                 COALESCE(u.display_name, '') \
                 FROM security_alerts a LEFT JOIN users u ON u.id = a.subject_id \
                 LEFT JOIN users ack ON ack.id = a.acknowledged_by \
                 LEFT JOIN users cl ON cl.id = a.closed_by \
                 WHERE a.practice_id = $1 AND ($2 OR a.closed_at IS NULL) \
                 ORDER BY a.created_at DESC LIMIT 200",
            )
            .bind(practice.as_uuid())
            .bind(closed_too)
            .fetch_all(pool)
            .await
        })
        .context("reading security alerts")?;
        let mut alerts = Vec::with_capacity(rows.len());
        let mut patients = Vec::new();
        for row in rows {
            let alert = self.alert_of(practice, row).await?;
            if let Some((patient, _)) = &alert.patient {
                patients.push(*patient);
            }
            alerts.push(alert);
        }
        if !patients.is_empty() {
            let mut event = self.event(
                AuditAction::Read,
                ResourceType::Patient,
                None,
                Outcome::Success,
            );
            event.detail.insert("returned", Detail::Ids(patients));
            event.detail.insert("fields", Detail::Code("name".into()));
            self.store.audit().record(event).await?;
        }
        Ok(alerts)
    }

    async fn alert_of(
        &self,
        practice: PracticeId,
        row: AlertRow,
    ) -> Result<AlertDetail, StoreError> {
        let (
            id,
            kind,
            person,
            created_at,
            reference,
            acked_at,
            acked_by,
            closed_at,
            closed_by,
            note,
            name,
        ) = row;
        let mut alert = AlertDetail {
            id,
            kind,
            person,
            person_name: name,
            created_at,
            patient: None,
            reason: None,
            reason_note: None,
            acknowledged: acked_at.map(|at| (at, acked_by.unwrap_or_default())),
            closed: closed_at.map(|at| (at, closed_by.unwrap_or_default())),
            note: match note {
                Some(sealed) => Some(
                    String::from_utf8_lossy(
                        &self
                            .store
                            .open(practice, &SECURITY_ALERT_NOTE, id, &sealed)
                            .await?,
                    )
                    .into_owned(),
                ),
                None => None,
            },
        };
        if alert.kind == "break_glass"
            && let Some(grant) = reference
        {
            let found: Option<GrantRow> = on_pool!(&self.store.db, pool => {
                sqlx::query_as(
                    "SELECT patient_id, reason_code, note FROM break_glass_grants \
                     WHERE id = $1 AND practice_id = $2",
                )
                .bind(grant)
                .bind(practice.as_uuid())
                .fetch_optional(pool)
                .await
            })
            .context("reading a break-glass grant")?;
            if let Some((patient, reason, sealed)) = found {
                let words = self
                    .store
                    .open(practice, &ENCRYPTED_COLUMNS[2], grant, &sealed)
                    .await?;
                alert.reason = Some(reason);
                alert.reason_note = Some(String::from_utf8_lossy(&words).into_owned());
                let name = self
                    .summary_of(practice, patient)
                    .await?
                    .map_or_else(String::new, |s| {
                        format!("{} {}", s.first_name.expose(), s.last_name.expose())
                    });
                alert.patient = Some((patient, name));
            }
        }
        Ok(alert)
    }

    /// Acknowledges or closes an alert of the actor's practice, with an optional note
    /// (sealed); audited. Closing a closed alert is a conflict.
    pub async fn resolve_alert(
        &self,
        id: Uuid,
        resolution: AlertResolution,
        note: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let practice = self.practice()?;
        self.authorize_in_own_practice(
            Action::AlertView,
            AuditedAs::one(AuditAction::Write, ResourceType::AuditLog, &id),
        )
        .await?;
        let officer = self.actor.user().ok_or(StoreError::Denied)?;
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        if note.is_some_and(|n| n.chars().count() > ALERT_NOTE_MAX || n.contains('\0')) {
            return Err(StoreError::Refused("a note is at most 2,000 characters"));
        }
        let sealed = match note {
            Some(note) => Some(
                self.store
                    .seal(practice, &SECURITY_ALERT_NOTE, id, note.as_bytes())
                    .await?,
            ),
            None => None,
        };
        let mut event = self.event(
            AuditAction::Write,
            ResourceType::AuditLog,
            Some(id.to_string()),
            Outcome::Success,
        );
        let code = match resolution {
            AlertResolution::Acknowledge => "alert_acknowledged",
            AlertResolution::Close => "alert_closed",
        };
        event.detail.insert("alert", Detail::Code(code.into()));
        let mut tx = self.store.begin().await?;
        let updated = on_tx!(&mut tx, conn => {
            let sql = match resolution {
                AlertResolution::Acknowledge => {
                    "UPDATE security_alerts SET acknowledged_at = COALESCE(acknowledged_at, $1), \
                     acknowledged_by = COALESCE(acknowledged_by, $2), note = COALESCE($3, note) \
                     WHERE id = $4 AND practice_id = $5 AND closed_at IS NULL"
                }
                AlertResolution::Close => {
                    "UPDATE security_alerts SET acknowledged_at = COALESCE(acknowledged_at, $1), \
                     acknowledged_by = COALESCE(acknowledged_by, $2), closed_at = $1, closed_by = $2, \
                     note = COALESCE($3, note) WHERE id = $4 AND practice_id = $5 AND closed_at IS NULL"
                }
            };
            sqlx::query(sql)
                .bind(now)
                .bind(officer.as_uuid())
                .bind(sealed.as_deref())
                .bind(id)
                .bind(practice.as_uuid())
                .execute(&mut *conn)
                .await
                .map(|r| r.rows_affected())
        })
        .context("resolving an alert")?;
        if updated == 0 {
            return Err(StoreError::Conflict(
                "this alert is closed already, or is not one of your practice's",
            ));
        }
        tx.commit_with(&[&event]).await?;
        Ok(())
    }

    async fn summary_of(
        &self,
        practice: PracticeId,
        patient: Uuid,
    ) -> Result<Option<PatientSummary>, StoreError> {
        let row: Option<(Vec<u8>, Vec<u8>)> = on_pool!(&self.store.db, pool => {
            sqlx::query_as("SELECT name, birth_date FROM patients WHERE id = $1 AND practice_id = $2")
                .bind(patient)
                .bind(practice.as_uuid())
                .fetch_optional(pool)
                .await
        })
        .context("reading a patient's name")?;
        match row {
            Some((name, birth_date)) => Ok(Some(
                self.store
                    .patient_summary(practice, patient, &name, &birth_date)
                    .await?,
            )),
            None => Ok(None),
        }
    }

    async fn authorize_audit(&self) -> Result<(), StoreError> {
        self.authorize_in_own_practice(
            Action::AuditQuery,
            AuditedAs::any(AuditAction::AuditQuery, ResourceType::AuditLog),
        )
        .await
    }
}
