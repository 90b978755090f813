//! Minimum necessary by construction (seed 001, "Minimum Necessary PHI by
//! Workflow"; 45 CFR 164.502(b)). Each agent workflow declares, once, the fields it
//! reads and those it must not, in the seed's own names; each has a typed view that
//! the store fills by opening only the sealed columns behind its fields. The
//! no-show view has no name to read, the eligibility view no phone. An agent's token
//! scopes name its one view (Cedar `view.no_show`, `view.eligibility`,
//! `view.recall`); asking for another is refused and audited.
//!
//! `enamel compliance minimum-necessary` prints these declarations as the seed's
//! tables, and docs/minimum-necessary.md is that output (a test keeps them equal).

use anyhow::Context as _;
use enamel_audit::entry::{Action as AuditAction, Detail, Outcome, ResourceType};
use enamel_domain::{
    AppointmentId, AppointmentStatus, CdtCode, ContactDetails, Email, Membership, Minutes,
    PatientId, Payer, Phi, PhoneNumber, ProviderId, RecallId,
};
use enamel_policy::Action;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::minutes_from;
use crate::db::on_pool;
use crate::scoped::authorize::AuditedAs;
use crate::sealed::{
    APPOINTMENT_PROCEDURES, COVERAGE_MEMBERSHIP, PATIENT_BIRTH_DATE, PATIENT_CONTACT,
};
use crate::{Scoped, StoreError};

/// One row of a workflow's table.
#[derive(Clone, Copy, Debug)]
pub struct FieldRule {
    /// The seed's name for the element.
    pub element: &'static str,
    pub required: bool,
    pub rationale: &'static str,
    /// Where Enamel keeps it, for a required field; what stops the read otherwise.
    pub in_enamel: &'static str,
}

/// A workflow's declaration.
#[derive(Clone, Copy, Debug)]
pub struct Workflow {
    pub title: &'static str,
    pub purpose: &'static str,
    /// The Cedar action (and agent token scope) of its view.
    pub action: Action,
    pub fields: &'static [FieldRule],
}

const fn yes(element: &'static str, rationale: &'static str, in_enamel: &'static str) -> FieldRule {
    FieldRule {
        element,
        required: true,
        rationale,
        in_enamel,
    }
}

const fn no(element: &'static str, rationale: &'static str, in_enamel: &'static str) -> FieldRule {
    FieldRule {
        element,
        required: false,
        rationale,
        in_enamel,
    }
}

const NOT_IN_VIEW: &str = "not in the view";

/// Seed 001: no-show recovery.
pub const NO_SHOW: Workflow = Workflow {
    title: "No-Show Recovery Workflow",
    purpose: "Reschedule patients who missed appointments by matching with waitlist candidates.",
    action: Action::ViewNoShow,
    fields: &[
        yes(
            "patient_id",
            "Unique identifier for linking appointments and waitlist entries",
            "`patients.id`",
        ),
        yes(
            "phone",
            "Contact method for notification delivery",
            "`patients.contact` (sealed), phone only",
        ),
        yes(
            "email",
            "Alternative contact method",
            "`patients.contact` (sealed), email only",
        ),
        yes(
            "appointment_date",
            "Determines original appointment time for matching",
            "`appointments.starts_at`",
        ),
        yes(
            "appointment_type",
            "Must match procedure type (cleaning vs exam vs root canal)",
            "`appointment_types.name`",
        ),
        yes(
            "status",
            "Identifies no-show appointments",
            "`appointments.status`",
        ),
        yes(
            "duration",
            "Ensures replacement slot matches time requirements",
            "`appointments.duration_minutes`",
        ),
        yes(
            "provider_id",
            "Enables provider continuity preference matching",
            "`appointments.provider_id`",
        ),
        no(
            "name",
            "Not needed for matching algorithm or notifications (uses patient_id)",
            NOT_IN_VIEW,
        ),
        no(
            "clinical_notes",
            "Not relevant to scheduling decisions",
            NOT_IN_VIEW,
        ),
        no(
            "imaging",
            "Not relevant to scheduling decisions",
            NOT_IN_VIEW,
        ),
        no(
            "full_history",
            "Not relevant to scheduling decisions",
            NOT_IN_VIEW,
        ),
        no(
            "treatment_plans",
            "Not relevant to scheduling decisions",
            NOT_IN_VIEW,
        ),
    ],
};

/// Seed 001: insurance verification.
pub const ELIGIBILITY: Workflow = Workflow {
    title: "Insurance Verification Workflow",
    purpose: "Verify insurance eligibility for upcoming appointments.",
    action: Action::ViewEligibility,
    fields: &[
        yes(
            "patient_id",
            "Unique identifier for linking verification results",
            "`patients.id`",
        ),
        yes(
            "patient_dob",
            "Required by insurance clearinghouse APIs for identity verification",
            "`patients.birth_date` (sealed)",
        ),
        yes(
            "insurer_id",
            "Identifies which insurance plan to verify",
            "`coverages.payer_id`, with the member id and group of `coverages.membership` (sealed)",
        ),
        yes(
            "procedure_codes",
            "Determines coverage for specific procedures",
            "`appointments.procedures` (sealed), else `appointment_types.cdt_codes`",
        ),
        yes(
            "appointment_date",
            "Verifies coverage at time of service",
            "`appointments.starts_at`",
        ),
        no("name", "Not needed for insurance API calls", NOT_IN_VIEW),
        no("phone", "Not needed for verification", NOT_IN_VIEW),
        no(
            "balances",
            "Not relevant to eligibility determination",
            "not kept by Enamel",
        ),
        no(
            "prior_claims",
            "Not relevant to eligibility determination",
            "not kept by Enamel",
        ),
        no(
            "diagnoses",
            "Not relevant to eligibility determination",
            "not kept by Enamel",
        ),
        no(
            "treatment_history",
            "Not relevant to eligibility determination",
            NOT_IN_VIEW,
        ),
    ],
};

/// Seed 001: recall reminders.
pub const RECALL: Workflow = Workflow {
    title: "Recall Reminder Workflow",
    purpose: "Identify overdue patients and send reminders for preventive care.",
    action: Action::ViewRecall,
    fields: &[
        yes(
            "patient_id",
            "Unique identifier for tracking reminder status",
            "`patients.id`",
        ),
        yes(
            "name",
            "Personalize reminder messages (\"Hi Sarah, it's time...\")",
            "`patients.name` (sealed), first name only",
        ),
        yes(
            "phone",
            "SMS delivery",
            "`patients.contact` (sealed), phone only",
        ),
        yes(
            "email",
            "Email delivery",
            "`patients.contact` (sealed), email only",
        ),
        yes(
            "last_visit_date",
            "Calculate days since last visit for reminder messaging",
            "`recalls.previous_date`",
        ),
        yes(
            "overdue_procedure_type",
            "Personalize message (cleaning vs exam vs X-ray)",
            "`recall_types.name`",
        ),
        no(
            "detailed_chart",
            "Not relevant to reminder messaging",
            NOT_IN_VIEW,
        ),
        no(
            "payment_status",
            "Not relevant to preventive care reminders",
            "not kept by Enamel",
        ),
        no(
            "clinical_notes",
            "Not relevant to reminder messaging",
            NOT_IN_VIEW,
        ),
        no(
            "diagnosis_codes",
            "Not relevant to reminder messaging",
            "not kept by Enamel",
        ),
    ],
};

/// The three workflows, in the seed's order.
pub const WORKFLOWS: [Workflow; 3] = [NO_SHOW, ELIGIBILITY, RECALL];

/// The no-show workflow's view of one appointment. It has no name field.
#[derive(Clone, Debug)]
pub struct NoShowRow {
    pub patient_id: PatientId,
    pub phone: Option<Phi<PhoneNumber>>,
    pub email: Option<Phi<Email>>,
    pub appointment_id: AppointmentId,
    pub appointment_date: OffsetDateTime,
    pub appointment_type: Option<String>,
    pub status: AppointmentStatus,
    pub duration: Minutes,
    pub provider_id: ProviderId,
}

/// The eligibility workflow's view of one appointment. It has no name or phone.
#[derive(Clone, Debug)]
pub struct EligibilityRow {
    pub patient_id: PatientId,
    pub patient_dob: Phi<Date>,
    pub payer: Payer,
    pub membership: Phi<Membership>,
    pub procedure_codes: Phi<Vec<CdtCode>>,
    pub appointment_id: AppointmentId,
    pub appointment_date: OffsetDateTime,
}

/// The recall workflow's view of one due recall.
#[derive(Clone, Debug)]
pub struct RecallRow {
    pub patient_id: PatientId,
    /// The first name, to greet the patient.
    pub name: Phi<String>,
    pub phone: Option<Phi<PhoneNumber>>,
    pub email: Option<Phi<Email>>,
    pub last_visit_date: Option<Date>,
    pub overdue_procedure_type: String,
    pub recall_id: RecallId,
    pub due_date: Date,
}

type NoShowQueryRow = (
    Uuid,
    Uuid,
    OffsetDateTime,
    Option<String>,
    String,
    i64,
    Uuid,
    Vec<u8>,
    bool,
);

type EligibilityQueryRow = (
    Uuid,
    Uuid,
    OffsetDateTime,
    Vec<u8>,
    Option<String>,
    Option<Vec<u8>>,
    Uuid,
    String,
    String,
    Vec<u8>,
);

type RecallQueryRow = (
    Uuid,
    Uuid,
    Vec<u8>,
    Vec<u8>,
    Option<Date>,
    String,
    Date,
    bool,
);

impl Scoped<'_> {
    /// Authorizes one workflow's view; a refusal is audited as a denied read.
    async fn authorize_view(&self, workflow: &Workflow) -> Result<uuid::Uuid, StoreError> {
        self.authorize_in_own_practice(
            workflow.action,
            AuditedAs::any(AuditAction::Read, ResourceType::Appointment),
        )
        .await?;
        Ok(self.practice()?.as_uuid())
    }

    /// Audits a view's read: which view, and every patient in it.
    async fn audit_view(&self, workflow: &Workflow, patients: Vec<Uuid>) -> Result<(), StoreError> {
        let mut event = self.event(
            AuditAction::Read,
            ResourceType::Appointment,
            None,
            Outcome::Success,
        );
        event
            .detail
            .insert("view", Detail::Code(workflow.action.as_str().into()));
        let mut patients = patients;
        patients.sort_unstable();
        patients.dedup();
        event.detail.insert("patients", Detail::Ids(patients));
        self.store.audit().record(event).await?;
        Ok(())
    }

    /// Phone and email out of a patient's sealed contact details; the address and
    /// preferences in the same sealed value are dropped here, unread by the caller.
    /// A patient who opted out of texts (STOP) has no phone in the view.
    async fn reach(
        &self,
        patient: Uuid,
        sealed: &[u8],
        sms_opt_out: bool,
    ) -> Result<(Option<Phi<PhoneNumber>>, Option<Phi<Email>>), StoreError> {
        let contact: ContactDetails = self
            .store
            .open_json(self.practice()?, &PATIENT_CONTACT, patient, sealed)
            .await?;
        let phone = contact.phone.filter(|_| !sms_opt_out);
        Ok((phone.map(Phi::new), contact.email.map(Phi::new)))
    }

    /// No-show recovery's view: appointments starting in `[from, to)`, optionally
    /// only those with `status`.
    pub async fn no_show_view(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
        status: Option<AppointmentStatus>,
    ) -> Result<Vec<NoShowRow>, StoreError> {
        let practice = self.authorize_view(&NO_SHOW).await?;
        let rows: Vec<NoShowQueryRow> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT a.id, a.patient_id, a.starts_at, t.name, a.status, a.duration_minutes, \
                 a.provider_id, p.contact, p.sms_opt_out FROM appointments a \
                 JOIN patients p ON p.id = a.patient_id \
                 LEFT JOIN appointment_types t ON t.id = a.type_id \
                 WHERE a.practice_id = $1 AND a.starts_at >= $2 AND a.starts_at < $3 \
                 AND ($4 IS NULL OR a.status = $4) AND p.restricted = $5 \
                 ORDER BY a.starts_at, a.id",
            )
            .bind(practice)
            .bind(from)
            .bind(to)
            .bind(status.map(AppointmentStatus::as_str))
            .bind(false)
            .fetch_all(pool)
            .await
        })
        .context("reading the no-show view")?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, patient, starts_at, kind, status, minutes, provider, contact, opted_out) in rows {
            let (phone, email) = self.reach(patient, &contact, opted_out).await?;
            out.push(NoShowRow {
                patient_id: PatientId::from_uuid(patient),
                phone,
                email,
                appointment_id: AppointmentId::from_uuid(id),
                appointment_date: starts_at,
                appointment_type: kind,
                status: AppointmentStatus::parse(&status).map_err(StoreError::Corrupt)?,
                duration: minutes_from(minutes)?,
                provider_id: ProviderId::from_uuid(provider),
            });
        }
        self.audit_view(
            &NO_SHOW,
            out.iter().map(|r| r.patient_id.as_uuid()).collect(),
        )
        .await?;
        Ok(out)
    }

    /// Eligibility's view: booked appointments starting in `[from, to)` whose
    /// patient has primary coverage.
    pub async fn eligibility_view(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<EligibilityRow>, StoreError> {
        let practice = self.authorize_view(&ELIGIBILITY).await?;
        let rows: Vec<EligibilityQueryRow> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT a.id, a.patient_id, a.starts_at, p.birth_date, t.cdt_codes, a.procedures, \
                 c.id, c.payer_id, c.payer_name, c.membership FROM appointments a \
                 JOIN patients p ON p.id = a.patient_id \
                 JOIN coverages c ON c.patient_id = a.patient_id AND c.ordinal = 1 \
                 LEFT JOIN appointment_types t ON t.id = a.type_id \
                 WHERE a.practice_id = $1 AND a.starts_at >= $2 AND a.starts_at < $3 \
                 AND a.status IN ('scheduled', 'confirmed') AND p.restricted = $4 \
                 ORDER BY a.starts_at, a.id",
            )
            .bind(practice)
            .bind(from)
            .bind(to)
            .bind(false)
            .fetch_all(pool)
            .await
        })
        .context("reading the eligibility view")?;
        let practice_id = self.practice()?;
        let mut out = Vec::with_capacity(rows.len());
        for (
            id,
            patient,
            starts_at,
            birth,
            type_codes,
            procedures,
            coverage,
            payer_id,
            payer_name,
            membership,
        ) in rows
        {
            let birth_date: Date = self
                .store
                .open_json(practice_id, &PATIENT_BIRTH_DATE, patient, &birth)
                .await?;
            let membership: Membership = self
                .store
                .open_json(practice_id, &COVERAGE_MEMBERSHIP, coverage, &membership)
                .await?;
            let mut codes: Vec<CdtCode> = match procedures {
                Some(sealed) => {
                    self.store
                        .open_json(practice_id, &APPOINTMENT_PROCEDURES, id, &sealed)
                        .await?
                }
                None => Vec::new(),
            };
            if codes.is_empty() {
                codes = super::codes_from(type_codes.as_deref().unwrap_or_default())?;
            }
            out.push(EligibilityRow {
                patient_id: PatientId::from_uuid(patient),
                patient_dob: Phi::new(birth_date),
                payer: Payer {
                    id: payer_id,
                    name: payer_name,
                },
                membership: Phi::new(membership),
                procedure_codes: Phi::new(codes),
                appointment_id: AppointmentId::from_uuid(id),
                appointment_date: starts_at,
            });
        }
        self.audit_view(
            &ELIGIBILITY,
            out.iter().map(|r| r.patient_id.as_uuid()).collect(),
        )
        .await?;
        Ok(out)
    }

    /// Recall's view: recalls due on or before `until`, not disabled, and not paused
    /// on `today` (the practice's date).
    pub async fn recall_view(
        &self,
        today: Date,
        until: Date,
    ) -> Result<Vec<RecallRow>, StoreError> {
        let practice = self.authorize_view(&RECALL).await?;
        let rows: Vec<RecallQueryRow> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT r.id, r.patient_id, p.name, p.contact, r.previous_date, t.name, r.due_date, \
                 p.sms_opt_out \
                 FROM recalls r JOIN recall_types t ON t.id = r.type_id \
                 JOIN patients p ON p.id = r.patient_id \
                 WHERE r.practice_id = $1 AND r.due_date <= $2 AND r.disabled = $3 \
                 AND (r.disabled_until IS NULL OR r.disabled_until <= $4) AND p.restricted = $3 \
                 ORDER BY r.due_date, r.id",
            )
            .bind(practice)
            .bind(until)
            .bind(false)
            .bind(today)
            .fetch_all(pool)
            .await
        })
        .context("reading the recall view")?;
        let practice_id = self.practice()?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, patient, name, contact, previous, kind, due, opted_out) in rows {
            let first = self.store.first_name(practice_id, patient, &name).await?;
            let (phone, email) = self.reach(patient, &contact, opted_out).await?;
            out.push(RecallRow {
                patient_id: PatientId::from_uuid(patient),
                name: Phi::new(first),
                phone,
                email,
                last_visit_date: previous,
                overdue_procedure_type: kind,
                recall_id: RecallId::from_uuid(id),
                due_date: due,
            });
        }
        self.audit_view(
            &RECALL,
            out.iter().map(|r| r.patient_id.as_uuid()).collect(),
        )
        .await?;
        Ok(out)
    }
}

/// The declarations as the seed's tables (Markdown), with where Enamel keeps each
/// field: what `enamel compliance minimum-necessary` prints.
#[must_use]
pub fn minimum_necessary_tables() -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for workflow in WORKFLOWS {
        let _ = writeln!(out, "### {}\n", workflow.title);
        let _ = writeln!(out, "**Purpose**: {}\n", workflow.purpose);
        out.push_str("| PHI Element | Required? | Rationale |\n");
        out.push_str("|-------------|-----------|-----------|\n");
        for field in workflow.fields {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} |",
                field.element,
                if field.required { "✅ Yes" } else { "❌ No" },
                field.rationale,
            );
        }
        let _ = writeln!(
            out,
            "\nIn Enamel, the view `{}` (an agent token scope of that name) reads:\n",
            workflow.action.as_str()
        );
        out.push_str("| PHI Element | Where Enamel keeps it |\n");
        out.push_str("|-------------|-----------------------|\n");
        for field in workflow.fields {
            let _ = writeln!(out, "| `{}` | {} |", field.element, field.in_enamel);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_tables_are_the_seeds() {
        let tables = super::minimum_necessary_tables();
        // Seed 001's rows, word for word, with Enamel's column after them.
        for row in [
            "| `patient_id` | ✅ Yes | Unique identifier for linking appointments and waitlist entries |",
            "| `name` | ❌ No | Not needed for matching algorithm or notifications (uses patient_id) |",
            "| `patient_dob` | ✅ Yes | Required by insurance clearinghouse APIs for identity verification |",
            "| `phone` | ❌ No | Not needed for verification |",
            "| `overdue_procedure_type` | ✅ Yes | Personalize message (cleaning vs exam vs X-ray) |",
            "| `diagnosis_codes` | ❌ No | Not relevant to reminder messaging |",
        ] {
            assert!(tables.lines().any(|line| line == row), "{row}");
        }
        assert_eq!(tables.matches("### ").count(), 3);
        assert_eq!(
            tables.lines().filter(|l| l.starts_with("| `")).count(),
            2 * (13 + 11 + 10),
            "the seed's rows, then where Enamel keeps each"
        );
    }
}
