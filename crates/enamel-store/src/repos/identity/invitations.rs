//! Invitations and agent tokens, each found by its digest (the token itself is never stored).

use super::{Identity, Invitation, TokenRecord};
use crate::StoreError;
use crate::db::{on_pool, on_tx};
use crate::repos::users::UserRow;
use anyhow::Context as _;
use enamel_domain::{AgentId, PracticeId};
use time::OffsetDateTime;
use uuid::Uuid;

impl Identity<'_> {
    /// The invitation whose token has `digest`.
    pub async fn invitation(&self, digest: &[u8; 32]) -> Result<Option<Invitation>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            invitation_id: Uuid,
            expires_at: OffsetDateTime,
            accepted_at: Option<OffsetDateTime>,
            #[sqlx(flatten)]
            user: UserRow,
        }
        let sql = concat!(
            "SELECT i.id AS invitation_id, i.expires_at, i.accepted_at, ",
            "u.id, u.practice_id, u.email, u.display_name, u.role, u.status, u.created_at ",
            "FROM invitations i JOIN users u ON u.id = i.user_id WHERE i.token_digest = $1"
        );
        let row: Option<Row> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(sql).bind(&digest[..]).fetch_optional(pool).await
        })
        .context("finding an invitation")?;
        row.map(|row| {
            Ok(Invitation {
                id: row.invitation_id,
                user: row.user.try_into().map_err(StoreError::Corrupt)?,
                expires_at: row.expires_at,
                accepted: row.accepted_at.is_some(),
            })
        })
        .transpose()
    }

    /// Accepts an invitation: sets the password and activates the account, once.
    pub async fn accept_invitation(
        &self,
        invitation: &Invitation,
        phc: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let event = self.store.event_for(
            &enamel_domain::Actor::human(&invitation.user),
            enamel_audit::entry::Action::InvitationAccept,
            enamel_audit::entry::ResourceType::Invitation,
            Some(invitation.id.to_string()),
            enamel_audit::entry::Outcome::Success,
        );
        let accepted = async {
            let mut tx = self.store.begin().await?;
            let value = on_tx!(&mut tx, tx => {
                let accepted = sqlx::query(
                    "UPDATE invitations SET accepted_at = $2 \
                     WHERE id = $1 AND accepted_at IS NULL AND expires_at > $2",
                )
                .bind(invitation.id)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if accepted != 1 {
                    // Nothing written: roll back rather than log an acceptance.
                    return Ok(false);
                }
                sqlx::query("UPDATE users SET password_hash = $2, status = 'active' WHERE id = $1 AND status = 'invited'")
                    .bind(invitation.user.id.as_uuid())
                    .bind(phc)
                    .execute(&mut *tx)
                    .await?;
                true
            });
            tx.commit_with(&[&event]).await?;
            Ok::<_, anyhow::Error>(value)
        }
        .await
        .context("accepting an invitation")?;
        Ok(accepted)
    }

    /// The agent token whose text has `digest`.
    pub async fn token(&self, digest: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        type Row = (
            Uuid,
            Uuid,
            Uuid,
            String,
            OffsetDateTime,
            Option<OffsetDateTime>,
        );
        let row: Option<Row> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT id, agent_id, practice_id, scopes, expires_at, revoked_at FROM api_tokens \
                 WHERE token_digest = $1",
            )
            .bind(&digest[..])
            .fetch_optional(pool)
            .await
        })
        .context("finding a token")?;
        Ok(row.map(
            |(id, agent, practice, scopes, expires_at, revoked_at)| TokenRecord {
                id,
                agent: AgentId::from_uuid(agent),
                practice: PracticeId::from_uuid(practice),
                scopes: scopes.split_whitespace().map(str::to_owned).collect(),
                expires_at,
                revoked: revoked_at.is_some(),
            },
        ))
    }

    /// Notes a token's use.
    pub async fn touch_token(&self, id: Uuid, now: OffsetDateTime) -> Result<(), StoreError> {
        on_pool!(&self.store.db, pool => {
            sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
                .bind(id)
                .bind(now)
                .execute(pool)
                .await
                .map(|_| ())
        })
        .context("touching a token")?;
        Ok(())
    }
}
