//! The second factor: the sealed TOTP secret, enrolment and its confirmation, each accepted step (no replay), and single-use recovery codes.

use super::{Identity, MFA_SECRET, MfaState};
use crate::StoreError;
use crate::db::on_pool;
use anyhow::Context as _;
use enamel_crypto::totp::TotpSecret;
use enamel_domain::{User, UserId};
use time::OffsetDateTime;

impl Identity<'_> {
    async fn seal_mfa(&self, user: &User, secret: &TotpSecret) -> Result<Vec<u8>, StoreError> {
        match user.practice {
            Some(practice) => {
                self.store
                    .seal(practice, MFA_SECRET, user.id.as_uuid(), secret.as_bytes())
                    .await
            }
            None => {
                self.store
                    .seal_platform(MFA_SECRET, user.id.as_uuid(), secret.as_bytes())
                    .await
            }
        }
    }

    /// The account's second factor, if one was started.
    pub async fn mfa(&self, user: &User) -> Result<Option<MfaState>, StoreError> {
        let row: Option<(Vec<u8>, Option<OffsetDateTime>, Option<i64>)> = on_pool!(&self.store.db, pool => {
            sqlx::query_as("SELECT secret, confirmed_at, last_step FROM mfa_secrets WHERE id = $1")
                .bind(user.id.as_uuid())
                .fetch_optional(pool)
                .await
        })
        .context("reading a second factor")?;
        let Some((sealed, confirmed_at, last_step)) = row else {
            return Ok(None);
        };
        let secret = match user.practice {
            Some(practice) => {
                self.store
                    .open(practice, MFA_SECRET, user.id.as_uuid(), &sealed)
                    .await?
            }
            None => {
                self.store
                    .open_platform(MFA_SECRET, user.id.as_uuid(), &sealed)
                    .await?
            }
        };
        Ok(Some(MfaState {
            secret: TotpSecret::from_bytes(&secret),
            confirmed: confirmed_at.is_some(),
            last_step: last_step.and_then(|s| u64::try_from(s).ok()),
        }))
    }

    /// Starts (or restarts) enrolment with `secret`. A confirmed factor is not
    /// replaced: `false` then.
    pub async fn start_mfa(
        &self,
        user: &User,
        secret: &TotpSecret,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let sealed = self.seal_mfa(user, secret).await?;
        let written = on_pool!(&self.store.db, pool => {
            sqlx::query(
                "INSERT INTO mfa_secrets (id, practice_id, secret, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at, \
                 last_step = NULL WHERE mfa_secrets.confirmed_at IS NULL",
            )
            .bind(user.id.as_uuid())
            .bind(user.practice.map(|p| p.as_uuid()))
            .bind(&sealed)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .context("starting a second factor")?;
        Ok(written == 1)
    }

    /// Confirms enrolment at `step` and stores the recovery codes' digests.
    pub async fn confirm_mfa(
        &self,
        user: UserId,
        step: u64,
        recovery_digests: &[[u8; 32]],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let step = i64::try_from(step).context("a time step beyond i64")?;
        let confirmed = on_pool!(&self.store.db, pool => {
            async {
                let mut tx = crate::db::begin_on(pool).await?;
                let confirmed = sqlx::query(
                    "UPDATE mfa_secrets SET confirmed_at = $2, last_step = $3 \
                     WHERE id = $1 AND confirmed_at IS NULL",
                )
                .bind(user.as_uuid())
                .bind(now)
                .bind(step)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if confirmed == 1 {
                    sqlx::query("DELETE FROM mfa_recovery_codes WHERE user_id = $1")
                        .bind(user.as_uuid())
                        .execute(&mut *tx)
                        .await?;
                    for digest in recovery_digests {
                        sqlx::query("INSERT INTO mfa_recovery_codes (user_id, digest) VALUES ($1, $2)")
                            .bind(user.as_uuid())
                            .bind(&digest[..])
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await?;
                Ok::<_, sqlx::Error>(confirmed == 1)
            }
            .await
        })
        .context("confirming a second factor")?;
        Ok(confirmed)
    }

    /// Accepts time step `step` for `user` if it is later than the last one accepted:
    /// one statement, so two requests with the same code cannot both pass.
    pub async fn accept_step(&self, user: UserId, step: u64) -> Result<bool, StoreError> {
        let step = i64::try_from(step).context("a time step beyond i64")?;
        let accepted = on_pool!(&self.store.db, pool => {
            sqlx::query(
                "UPDATE mfa_secrets SET last_step = $2 \
                 WHERE id = $1 AND confirmed_at IS NOT NULL AND (last_step IS NULL OR last_step < $2)",
            )
            .bind(user.as_uuid())
            .bind(step)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .context("accepting a time step")?;
        Ok(accepted == 1)
    }

    /// Uses up a recovery code; `false` if it is unknown or used.
    pub async fn use_recovery_code(
        &self,
        user: UserId,
        digest: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let marked = on_pool!(&self.store.db, pool => {
            sqlx::query(
                "UPDATE mfa_recovery_codes SET used_at = $3 \
                 WHERE user_id = $1 AND digest = $2 AND used_at IS NULL",
            )
            .bind(user.as_uuid())
            .bind(&digest[..])
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .context("using a recovery code")?;
        Ok(marked == 1)
    }
}
