//! Security alerts for the practice's security officer.

use anyhow::Context as _;
use enamel_audit::entry::{Action as AuditAction, ResourceType};
use enamel_policy::Action;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::on_pool;
use crate::scoped::authorize::AuditedAs;
use crate::{Scoped, StoreError};

/// A security alert for the practice's security officer.
#[derive(Debug, Clone)]
pub struct Alert {
    pub id: Uuid,
    pub kind: String,
    pub subject: Uuid,
    pub reference: Option<Uuid>,
    pub created_at: OffsetDateTime,
}

impl Scoped<'_> {
    /// Raises a security alert in the actor's practice (lockouts, from sign-in).
    pub async fn raise_alert(
        &self,
        kind: &'static str,
        subject: Uuid,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let practice = self.practice()?;
        self.authorize_in_own_practice(
            Action::AlertRaise,
            AuditedAs::one(AuditAction::Create, ResourceType::User, &subject),
        )
        .await?;
        on_pool!(&self.store.db, pool => {
            sqlx::query(
                "INSERT INTO security_alerts (id, practice_id, kind, subject_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(Uuid::now_v7())
            .bind(practice.as_uuid())
            .bind(kind)
            .bind(subject)
            .bind(now)
            .execute(pool)
            .await
            .map(|_| ())
        })
        .context("raising a security alert")?;
        Ok(())
    }

    /// The practice's unacknowledged security alerts, newest first.
    pub async fn alerts(&self) -> Result<Vec<Alert>, StoreError> {
        let practice = self.practice()?;
        self.authorize_in_own_practice(
            Action::AlertView,
            AuditedAs::any(AuditAction::Read, ResourceType::AuditLog),
        )
        .await?;
        let rows: Vec<(Uuid, String, Uuid, Option<Uuid>, OffsetDateTime)> =
            on_pool!(&self.store.db, pool => {
                sqlx::query_as(
                    "SELECT id, kind, subject_id, reference_id, created_at FROM security_alerts \
                     WHERE practice_id = $1 AND acknowledged_at IS NULL ORDER BY created_at DESC",
                )
                .bind(practice.as_uuid())
                .fetch_all(pool)
                .await
            })
            .context("reading security alerts")?;
        Ok(rows
            .into_iter()
            .map(|(id, kind, subject, reference, created_at)| Alert {
                id,
                kind,
                subject,
                reference,
                created_at,
            })
            .collect())
    }
}
