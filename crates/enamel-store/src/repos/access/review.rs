//! The access review: who has access, who has not used it, and the security
//! officer's sign-offs.

use anyhow::Context as _;
use enamel_audit::entry::{Action as AuditAction, Detail, Outcome, ResourceType};
use enamel_domain::{User, UserId, UserStatus};
use enamel_policy::Action;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::{on_pool, on_tx};
use crate::scoped::authorize::AuditedAs;
use crate::{Scoped, StoreError};

/// Accounts idle this long are flagged in the access review.
pub const IDLE_FLAG_DAYS: i64 = 90;

/// One account in the access review.
#[derive(Debug, Clone)]
pub struct ReviewRow {
    pub user: User,
    pub mfa_enabled: bool,
    pub last_sign_in_at: Option<OffsetDateTime>,
    pub last_phi_access_at: Option<OffsetDateTime>,
    /// No sign-in for [`IDLE_FLAG_DAYS`] days (or never, for an account older than that).
    pub idle: bool,
}

/// A past sign-off.
#[derive(Debug, Clone)]
pub struct SignOff {
    pub signed_off_by: UserId,
    pub signed_off_at: OffsetDateTime,
    pub accounts: u64,
    pub flagged: u64,
}

impl Scoped<'_> {
    /// Every account of the practice with what a quarterly access review checks.
    /// The review is itself audited.
    pub async fn access_review(&self, now: OffsetDateTime) -> Result<Vec<ReviewRow>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            user: crate::repos::users::UserRow,
            mfa_enabled: bool,
            last_sign_in_at: Option<OffsetDateTime>,
        }
        let practice = self.practice()?;
        self.authorize_in_own_practice(
            Action::AccessReviewView,
            AuditedAs::any(AuditAction::Read, ResourceType::AccessReview),
        )
        .await?;
        let sql = concat!(
            "SELECT ",
            crate::repos::users::user_columns!(),
            ", EXISTS (SELECT 1 FROM mfa_secrets m WHERE m.id = users.id AND m.confirmed_at IS NOT NULL) AS mfa_enabled, \
             last_sign_in_at FROM users WHERE practice_id = $1 ORDER BY display_name, id"
        );
        let rows: Vec<Row> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(sql).bind(practice.as_uuid()).fetch_all(pool).await
        })
        .context("reading the access review")?;
        let phi_access = self.last_phi_access().await?;
        let idle_since = now - time::Duration::days(IDLE_FLAG_DAYS);
        let mut review = Vec::with_capacity(rows.len());
        for row in rows {
            let user: User = row.user.try_into().map_err(StoreError::Corrupt)?;
            let idle = user.status == UserStatus::Active
                && row
                    .last_sign_in_at
                    .map_or(user.created_at < idle_since, |at| at < idle_since);
            review.push(ReviewRow {
                last_phi_access_at: phi_access.get(&user.id.to_string()).copied(),
                user,
                mfa_enabled: row.mfa_enabled,
                last_sign_in_at: row.last_sign_in_at,
                idle,
            });
        }
        let mut event = self.event(
            AuditAction::Read,
            ResourceType::AccessReview,
            Some(practice.to_string()),
            Outcome::Success,
        );
        event
            .detail
            .insert("count", Detail::Count(review.len() as u64));
        self.store.audit().record(event).await?;
        Ok(review)
    }

    /// Each actor's latest access to a patient's data, from the practice's audit log.
    async fn last_phi_access(
        &self,
    ) -> Result<std::collections::HashMap<String, OffsetDateTime>, StoreError> {
        let practice = self.practice()?;
        let rows: Vec<(Option<String>, Option<OffsetDateTime>)> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT actor_id, MAX(at) FROM audit_entries \
                 WHERE scope = $1 AND patient_id IS NOT NULL AND outcome = 'success' GROUP BY actor_id",
            )
            .bind(practice.to_string())
            .fetch_all(pool)
            .await
        })
        .context("reading the last PHI access per account")?;
        Ok(rows
            .into_iter()
            .filter_map(|(actor, at)| Some((actor?, at?)))
            .collect())
    }

    /// Signs off the access review as it stands now: the store reads the review and
    /// records its own counts of accounts and flagged ones, audited.
    pub async fn sign_off_review(&self, now: OffsetDateTime) -> Result<(), StoreError> {
        // The counts signed are the review's own, read now, never the caller's.
        let rows = self.access_review(now).await?;
        let accounts = rows.len() as u64;
        let flagged = rows.iter().filter(|row| row.idle).count() as u64;
        let practice = self.practice()?;
        self.authorize_in_own_practice(
            Action::AccessReviewSignOff,
            AuditedAs::any(AuditAction::AccessReview, ResourceType::AccessReview),
        )
        .await?;
        let signer = self.actor.user().ok_or(StoreError::Denied)?;
        let id = Uuid::now_v7();
        let mut event = self.event(
            AuditAction::AccessReview,
            ResourceType::AccessReview,
            Some(id.to_string()),
            Outcome::Success,
        );
        event.detail.insert("count", Detail::Count(accounts));
        event.detail.insert("flagged", Detail::Count(flagged));
        async {
            let mut tx = self.store.begin().await?;
            on_tx!(&mut tx, tx => {
                sqlx::query(
                    "INSERT INTO access_reviews (id, practice_id, signed_off_by, signed_off_at, accounts, flagged) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(id)
                .bind(practice.as_uuid())
                .bind(signer.as_uuid())
                .bind(now)
                .bind(i64::try_from(accounts).unwrap_or(i64::MAX))
                .bind(i64::try_from(flagged).unwrap_or(i64::MAX))
                .execute(&mut *tx)
                .await?;
            });
            tx.commit_with(&[&event]).await
        }
        .await
        .context("signing off an access review")?;
        Ok(())
    }

    /// Past sign-offs, newest first.
    pub async fn review_sign_offs(&self) -> Result<Vec<SignOff>, StoreError> {
        let practice = self.practice()?;
        self.authorize_in_own_practice(
            Action::AccessReviewView,
            AuditedAs::any(AuditAction::Read, ResourceType::AccessReview),
        )
        .await?;
        let rows: Vec<(Uuid, OffsetDateTime, i64, i64)> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT signed_off_by, signed_off_at, accounts, flagged FROM access_reviews \
                 WHERE practice_id = $1 ORDER BY signed_off_at DESC",
            )
            .bind(practice.as_uuid())
            .fetch_all(pool)
            .await
        })
        .context("reading access review sign-offs")?;
        Ok(rows
            .into_iter()
            .map(|(by, at, accounts, flagged)| SignOff {
                signed_off_by: UserId::from_uuid(by),
                signed_off_at: at,
                accounts: u64::try_from(accounts).unwrap_or_default(),
                flagged: u64::try_from(flagged).unwrap_or_default(),
            })
            .collect())
    }

    // --- break the glass -----------------------------------------------------------
}
