//! People's accounts in a practice: invitations, roles, deactivation, lockouts and
//! the practice's second-factor rule.

use anyhow::Context as _;
use enamel_audit::entry::{Action as AuditAction, Detail, Outcome, ResourceType};
use enamel_domain::{NewUser, PracticeId, Role, User, UserId};
use enamel_policy::{Action, Circumstances, Resource};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::{Tx, on_pool, on_tx};
use crate::error::conflict_if_taken;
use crate::repos::identity::{EndReason, throttle_key_for_email};
use crate::scoped::authorize::AuditedAs;
use crate::{Scoped, StoreError};

/// An invited account and its invitation, as written together.
pub(crate) struct Invited<'a> {
    pub invitation: Uuid,
    pub practice: PracticeId,
    pub user: &'a NewUser,
    pub token_digest: &'a [u8; 32],
    /// The inviting account; none when Enamel's command line invites.
    pub inviter: Option<UserId>,
    pub expires_at: OffsetDateTime,
}

/// Writes an invited account and its single-use invitation in `tx`.
pub(crate) async fn insert_invited(
    tx: &mut Tx,
    invited: &Invited<'_>,
    now: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    let user = invited.user;
    on_tx!(tx, conn => {
        sqlx::query(concat!(
            "INSERT INTO users (",
            crate::repos::users::user_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, 'invited', $6)"
        ))
        .bind(user.id().as_uuid())
        .bind(invited.practice.as_uuid())
        .bind(user.email().as_str())
        .bind(user.display_name().as_str())
        .bind(user.role().as_str())
        .bind(now)
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "INSERT INTO invitations (id, practice_id, user_id, token_digest, invited_by, \
             created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(invited.invitation)
        .bind(invited.practice.as_uuid())
        .bind(user.id().as_uuid())
        .bind(&invited.token_digest[..])
        .bind(invited.inviter.map(|inviter| inviter.as_uuid()))
        .bind(now)
        .bind(invited.expires_at)
        .execute(&mut *conn)
        .await?;
    });
    Ok(())
}

impl Scoped<'_> {
    /// Invites a person: their account (status `invited`) and a single-use
    /// invitation whose token has `token_digest`, valid until `expires_at`.
    pub async fn invite(
        &self,
        new: &NewUser,
        token_digest: &[u8; 32],
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Uuid, StoreError> {
        let practice = self.practice()?;
        self.authorize_in_own_practice(
            Action::AccountInvite,
            AuditedAs::any(AuditAction::Invite, ResourceType::User),
        )
        .await?;
        if new.practice() != Some(practice) || new.role() == Role::PlatformOperator {
            return Err(StoreError::NotFound);
        }
        let inviter = self.actor.user().ok_or(StoreError::Denied)?;
        let invitation = Uuid::now_v7();
        if let Some(existing) = self.store.users().find_by_email(new.email()).await? {
            if existing.practice == Some(practice) {
                return Err(StoreError::Conflict(
                    "an account with this email already exists",
                ));
            }
            // Someone else's staff: answer exactly as for a new address and store
            // and deliver nothing, so that inviting is no way to learn who works where.
            return Ok(invitation);
        }
        let mut event = self.event(
            AuditAction::Invite,
            ResourceType::User,
            Some(new.id().to_string()),
            Outcome::Success,
        );
        event
            .detail
            .insert("role", Detail::Code(new.role().as_str().to_owned()));
        let written = async {
            let mut tx = self.store.begin().await?;
            insert_invited(
                &mut tx,
                &Invited {
                    invitation,
                    practice,
                    user: new,
                    token_digest,
                    inviter: Some(inviter),
                    expires_at,
                },
                now,
            )
            .await?;
            tx.commit_with(&[&event]).await
        }
        .await;
        written.map(|()| invitation).map_err(|err| {
            conflict_if_taken(
                err,
                "an account with this email already exists",
                "inviting a person",
            )
        })
    }

    /// The account `id` of the actor's practice, after asking whether `action` may
    /// be taken on it.
    async fn account_for(
        &self,
        id: UserId,
        action: Action,
        audit_action: AuditAction,
    ) -> Result<User, StoreError> {
        let user = self.user(id).await?;
        self.authorize(
            action,
            &Resource::User {
                id,
                practice: user.practice,
            },
            Circumstances::default(),
            AuditedAs::one(audit_action, ResourceType::User, &id),
        )
        .await?;
        Ok(user)
    }

    /// Changes an account's role. The platform operator's role cannot be given, and
    /// no one changes their own role (as no one deactivates their own account).
    ///
    /// A real change ends the account's open sessions in the same transaction: a
    /// session was opened under the old role's sign-in rules, so a promotion to a
    /// role that requires a second factor must not carry a password-only session
    /// into it. The person signs in again, and enrols first if the new role asks.
    /// Returns the account and how many sessions ended.
    pub async fn change_role(
        &self,
        id: UserId,
        role: Role,
        now: OffsetDateTime,
    ) -> Result<(User, u64), StoreError> {
        let mut user = self
            .account_for(id, Action::AccountChangeRole, AuditAction::RoleChange)
            .await?;
        if role == Role::PlatformOperator {
            return Err(StoreError::Conflict(
                "the platform operator role belongs to no practice",
            ));
        }
        if self.actor.user() == Some(id) {
            return Err(StoreError::Conflict("you cannot change your own role"));
        }
        if user.role == role {
            return Ok((user, 0));
        }
        let mut event = self.event(
            AuditAction::RoleChange,
            ResourceType::User,
            Some(id.to_string()),
            Outcome::Success,
        );
        event
            .detail
            .insert("from", Detail::Code(user.role.as_str().to_owned()));
        event
            .detail
            .insert("to", Detail::Code(role.as_str().to_owned()));
        let ended = async {
            let mut tx = self.store.begin().await?;
            let value = on_tx!(&mut tx, tx => {
                sqlx::query("UPDATE users SET role = $2 WHERE id = $1")
                    .bind(id.as_uuid())
                    .bind(role.as_str())
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "UPDATE sessions SET ended_at = $2, end_reason = $3 WHERE user_id = $1 AND ended_at IS NULL",
                )
                .bind(id.as_uuid())
                .bind(now)
                .bind(EndReason::Revoked.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected()
            });
            tx.commit_with(&[&event]).await?;
            Ok::<_, anyhow::Error>(value)
        }
        .await
        .context("changing a role")?;
        user.role = role;
        Ok((user, ended))
    }

    /// Deactivates an account and ends its sessions at once; returns how many
    /// sessions ended.
    pub async fn deactivate(&self, id: UserId, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.account_for(id, Action::AccountDeactivate, AuditAction::Deactivate)
            .await?;
        if self.actor.user() == Some(id) {
            return Err(StoreError::Conflict(
                "you cannot deactivate your own account",
            ));
        }
        let event = self.event(
            AuditAction::Deactivate,
            ResourceType::User,
            Some(id.to_string()),
            Outcome::Success,
        );
        let ended = async {
            let mut tx = self.store.begin().await?;
            let value = on_tx!(&mut tx, tx => {
                sqlx::query("UPDATE users SET status = 'deactivated' WHERE id = $1")
                    .bind(id.as_uuid())
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "UPDATE sessions SET ended_at = $2, end_reason = $3 WHERE user_id = $1 AND ended_at IS NULL",
                )
                .bind(id.as_uuid())
                .bind(now)
                .bind(EndReason::Deactivated.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected()
            });
            tx.commit_with(&[&event]).await?;
            Ok::<_, anyhow::Error>(value)
        }
        .await
        .context("deactivating an account")?;
        Ok(ended)
    }

    /// Lifts a sign-in lockout of an account.
    pub async fn unlock(&self, id: UserId) -> Result<(), StoreError> {
        let user = self
            .account_for(id, Action::AccountUnlock, AuditAction::Unlock)
            .await?;
        let event = self.event(
            AuditAction::Unlock,
            ResourceType::User,
            Some(id.to_string()),
            Outcome::Success,
        );
        let key = throttle_key_for_email(&user.email);
        async {
            let mut tx = self.store.begin().await?;
            on_tx!(&mut tx, tx => {
                sqlx::query("DELETE FROM sign_in_throttle WHERE key = $1")
                    .bind(&key)
                    .execute(&mut *tx)
                    .await?;
            });
            tx.commit_with(&[&event]).await
        }
        .await
        .context("lifting a lockout")?;
        Ok(())
    }

    /// Asks a second factor of every role in the practice, or only of those that
    /// always need one.
    pub async fn set_require_mfa(&self, required: bool) -> Result<(), StoreError> {
        let practice = self.practice()?;
        self.authorize_in_own_practice(
            Action::PracticeConfigure,
            AuditedAs::one(
                AuditAction::SettingChange,
                ResourceType::Practice,
                &practice,
            ),
        )
        .await?;
        let mut event = self.event(
            AuditAction::SettingChange,
            ResourceType::Practice,
            Some(practice.to_string()),
            Outcome::Success,
        );
        event.detail.insert(
            "require_mfa",
            Detail::Code(
                if required {
                    "all_roles"
                } else {
                    "privileged_roles"
                }
                .into(),
            ),
        );
        async {
            let mut tx = self.store.begin().await?;
            on_tx!(&mut tx, tx => {
                sqlx::query("UPDATE practices SET require_mfa = $2 WHERE id = $1")
                    .bind(practice.as_uuid())
                    .bind(required)
                    .execute(&mut *tx)
                    .await?;
            });
            tx.commit_with(&[&event]).await
        }
        .await
        .context("changing the second-factor setting")?;
        Ok(())
    }

    /// Whether the practice asks a second factor of every role.
    pub async fn requires_mfa(&self) -> Result<bool, StoreError> {
        let practice = self.practice()?;
        let required: bool = on_pool!(&self.store.db, pool => {
            sqlx::query_scalar("SELECT require_mfa FROM practices WHERE id = $1")
                .bind(practice.as_uuid())
                .fetch_one(pool)
                .await
        })
        .context("reading the second-factor setting")?;
        Ok(required)
    }

    // --- agents --------------------------------------------------------------------
}
