//! Finding patients: by blind indexes of name, birth date, phone and email, and the duplicate check by name and birth date.

use super::{MAX_PATIENTS_PER_PAGE, PatientQuery, index_for};
use crate::db::on_pool;
use crate::scoped::authorize::AuditedAs;
use crate::{Scoped, StoreError};
use anyhow::Context as _;
use enamel_audit::entry::{Action as AuditAction, Detail, Outcome, ResourceType};
use enamel_domain::{PatientId, PatientSummary};
use enamel_policy::Action;
use uuid::Uuid;

impl Scoped<'_> {
    pub(super) async fn patient_by_name_birth(
        &self,
        index: &[u8],
    ) -> Result<Option<PatientId>, StoreError> {
        let practice = self.practice()?;
        let found: Option<Uuid> = on_pool!(&self.store.db, pool => {
            sqlx::query_scalar(
                "SELECT id FROM patients WHERE practice_id = $1 AND name_birth_index = $2 \
                 ORDER BY id LIMIT 1",
            )
            .bind(practice.as_uuid())
            .bind(index)
            .fetch_optional(pool)
            .await
        })
        .context("looking for a duplicate patient")?;
        Ok(found.map(PatientId::from_uuid))
    }

    /// Finds the practice's patients by name, birth date, phone or email, or lists the
    /// newest. Audited as a search naming every id it returned.
    pub async fn find_patients(
        &self,
        query: &PatientQuery,
    ) -> Result<Vec<PatientSummary>, StoreError> {
        self.authorize_in_own_practice(
            Action::PatientList,
            AuditedAs::any(AuditAction::Search, ResourceType::Patient),
        )
        .await?;
        self.search_patients(query).await
    }

    /// The search of [`Scoped::find_patients`] once authorized: names and birth
    /// dates only, audited as a search naming every id it returned.
    pub(crate) async fn search_patients(
        &self,
        query: &PatientQuery,
    ) -> Result<Vec<PatientSummary>, StoreError> {
        let practice = self.practice()?;
        let key = self.blind_index_key().await?;
        let (column, value) = index_for(&key, query);
        let limit = i64::from(query.limit.clamp(1, MAX_PATIENTS_PER_PAGE));
        let offset = i64::from(query.offset);
        let rows: Vec<(Uuid, Vec<u8>, Vec<u8>)> = match value {
            Some(value) => {
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT id, name, birth_date FROM patients \
                     WHERE practice_id = $1 AND {column} = $2 ORDER BY id DESC LIMIT $3 OFFSET $4"
                ));
                on_pool!(&self.store.db, pool => {
                    sqlx::query_as(sql)
                        .bind(practice.as_uuid())
                        .bind(value)
                        .bind(limit)
                        .bind(offset)
                        .fetch_all(pool)
                        .await
                })
            }
            None => on_pool!(&self.store.db, pool => {
                sqlx::query_as(
                    "SELECT id, name, birth_date FROM patients WHERE practice_id = $1 \
                     ORDER BY id DESC LIMIT $2 OFFSET $3",
                )
                .bind(practice.as_uuid())
                .bind(limit)
                .bind(offset)
                .fetch_all(pool)
                .await
            }),
        }
        .context("searching patients")?;
        let mut found = Vec::with_capacity(rows.len());
        for (id, name, birth_date) in rows {
            found.push(
                self.store
                    .patient_summary(practice, id, &name, &birth_date)
                    .await?,
            );
        }
        let mut event = self.event(
            AuditAction::Search,
            ResourceType::Patient,
            None,
            Outcome::Success,
        );
        event.detail.insert(
            "returned",
            Detail::Ids(found.iter().map(|p| p.id.as_uuid()).collect()),
        );
        event.detail.insert(
            "by",
            Detail::Code(if column.is_empty() { "newest" } else { column }.to_owned()),
        );
        self.store.audit().record(event).await?;
        Ok(found)
    }
}
