//! Who may do what in a practice: invitations, roles, deactivation, lockouts, agent
//! tokens, the access review, break-glass grants and security alerts. Each operation
//! asks the policy decision point first, and writes its audit event in the same
//! transaction as its change.

use anyhow::Context as _;
use enamel_audit::entry::{Action as AuditAction, Detail, Outcome, ResourceType};
use enamel_domain::{AgentId, NewUser, PatientId, Role, User, UserId, UserStatus};
use enamel_policy::{Action, Circumstances, Resource};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::{on_pool, on_tx};
use crate::error::conflict_if_taken;
use crate::repos::identity::{EndReason, throttle_key_for_email};
use crate::scoped::authorize::AuditedAs;
use crate::sealed::ENCRYPTED_COLUMNS;
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

/// An agent and its tokens.
#[derive(Debug, Clone)]
pub struct AgentInfo {
    pub id: AgentId,
    pub name: String,
    pub tokens: Vec<TokenInfo>,
}

/// A token as its practice sees it: never the token itself.
#[derive(Debug, Clone)]
pub struct TokenInfo {
    pub id: Uuid,
    pub scopes: Vec<String>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub revoked: bool,
    pub last_used_at: Option<OffsetDateTime>,
}

/// A security alert for the practice's security officer.
#[derive(Debug, Clone)]
pub struct Alert {
    pub id: Uuid,
    pub kind: String,
    pub subject: Uuid,
    pub reference: Option<Uuid>,
    pub created_at: OffsetDateTime,
}

/// Why a dentist breaks the glass: a fixed code for the audit log, plus their own
/// words, which are sealed and never put in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakGlassReason {
    EmergencyTreatment,
    CoveringProvider,
    PatientRequest,
    Other,
}

impl BreakGlassReason {
    pub const ALL: [Self; 4] = [
        Self::EmergencyTreatment,
        Self::CoveringProvider,
        Self::PatientRequest,
        Self::Other,
    ];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::EmergencyTreatment => "emergency_treatment",
            Self::CoveringProvider => "covering_provider",
            Self::PatientRequest => "patient_request",
            Self::Other => "other",
        }
    }

    #[must_use]
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == raw)
    }
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
            on_tx!(&mut tx, tx => {
                sqlx::query(concat!(
                    "INSERT INTO users (",
                    crate::repos::users::user_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, 'invited', $6)"
                ))
                .bind(new.id().as_uuid())
                .bind(practice.as_uuid())
                .bind(new.email().as_str())
                .bind(new.display_name().as_str())
                .bind(new.role().as_str())
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO invitations (id, practice_id, user_id, token_digest, invited_by, \
                     created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(invitation)
                .bind(practice.as_uuid())
                .bind(new.id().as_uuid())
                .bind(&token_digest[..])
                .bind(inviter.as_uuid())
                .bind(now)
                .bind(expires_at)
                .execute(&mut *tx)
                .await?;
            });
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

    async fn authorize_agents(&self, audit_action: AuditAction) -> Result<(), StoreError> {
        self.authorize_in_own_practice(
            Action::AgentManage,
            AuditedAs::any(audit_action, ResourceType::Agent),
        )
        .await
    }

    /// Creates an agent service account.
    pub async fn create_agent(
        &self,
        name: &str,
        now: OffsetDateTime,
    ) -> Result<AgentId, StoreError> {
        self.authorize_agents(AuditAction::Create).await?;
        let practice = self.practice()?;
        let creator = self.actor.user().ok_or(StoreError::Denied)?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 80 {
            return Err(StoreError::Conflict(
                "an agent's name has 1 to 80 characters",
            ));
        }
        let id = AgentId::generate();
        let event = self.event(
            AuditAction::Create,
            ResourceType::Agent,
            Some(id.to_string()),
            Outcome::Success,
        );
        let written = async {
            let mut tx = self.store.begin().await?;
            on_tx!(&mut tx, tx => {
                sqlx::query(
                    "INSERT INTO agents (id, practice_id, name, created_by, created_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(id.as_uuid())
                .bind(practice.as_uuid())
                .bind(name)
                .bind(creator.as_uuid())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            });
            tx.commit_with(&[&event]).await
        }
        .await;
        written.map(|()| id).map_err(|err| {
            conflict_if_taken(
                err,
                "an agent with this name already exists",
                "creating an agent",
            )
        })
    }

    /// Issues a token for an agent of the practice, stored as `digest`.
    pub async fn issue_token(
        &self,
        agent: AgentId,
        scopes: &[Action],
        digest: &[u8; 32],
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Uuid, StoreError> {
        self.authorize_agents(AuditAction::TokenCreate).await?;
        if scopes.is_empty() {
            return Err(StoreError::Refused(
                "an agent token needs at least one scope",
            ));
        }
        let practice = self.practice()?;
        let creator = self.actor.user().ok_or(StoreError::Denied)?;
        let id = Uuid::now_v7();
        let scope_text: Vec<&str> = scopes.iter().map(|a| a.as_str()).collect();
        let mut event = self.event(
            AuditAction::TokenCreate,
            ResourceType::ApiToken,
            Some(id.to_string()),
            Outcome::Success,
        );
        event
            .detail
            .insert("agent", Detail::Ids(vec![agent.as_uuid()]));
        event
            .detail
            .insert("scopes", Detail::Code(scope_text.join(" ")));
        let inserted = async {
            let mut tx = self.store.begin().await?;
            let value = on_tx!(&mut tx, tx => {
                let owned: Option<Uuid> = sqlx::query_scalar("SELECT id FROM agents WHERE id = $1 AND practice_id = $2")
                    .bind(agent.as_uuid())
                    .bind(practice.as_uuid())
                    .fetch_optional(&mut *tx)
                    .await?;
                if owned.is_none() {
                    return Ok(false);
                }
                sqlx::query(
                    "INSERT INTO api_tokens (id, agent_id, practice_id, token_digest, scopes, created_by, \
                     created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(id)
                .bind(agent.as_uuid())
                .bind(practice.as_uuid())
                .bind(&digest[..])
                .bind(scope_text.join(" "))
                .bind(creator.as_uuid())
                .bind(now)
                .bind(expires_at)
                .execute(&mut *tx)
                .await?;
                true
            });
            tx.commit_with(&[&event]).await?;
            Ok::<_, anyhow::Error>(value)
        }
        .await
        .context("issuing a token")?;
        if inserted {
            Ok(id)
        } else {
            Err(StoreError::NotFound)
        }
    }

    /// Revokes a token of the practice.
    pub async fn revoke_token(&self, id: Uuid, now: OffsetDateTime) -> Result<(), StoreError> {
        self.authorize_agents(AuditAction::TokenRevoke).await?;
        let practice = self.practice()?;
        let event = self.event(
            AuditAction::TokenRevoke,
            ResourceType::ApiToken,
            Some(id.to_string()),
            Outcome::Success,
        );
        let revoked = async {
            let mut tx = self.store.begin().await?;
            let value = on_tx!(&mut tx, tx => {
                let revoked = sqlx::query(
                    "UPDATE api_tokens SET revoked_at = $3 WHERE id = $1 AND practice_id = $2 AND revoked_at IS NULL",
                )
                .bind(id)
                .bind(practice.as_uuid())
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if revoked != 1 {
                    return Ok(false);
                }
                true
            });
            tx.commit_with(&[&event]).await?;
            Ok::<_, anyhow::Error>(value)
        }
        .await
        .context("revoking a token")?;
        if revoked {
            Ok(())
        } else {
            Err(StoreError::NotFound)
        }
    }

    /// The practice's agents and their tokens.
    pub async fn agents(&self) -> Result<Vec<AgentInfo>, StoreError> {
        type Row = (
            Uuid,
            String,
            Option<Uuid>,
            Option<String>,
            Option<OffsetDateTime>,
            Option<OffsetDateTime>,
            Option<OffsetDateTime>,
            Option<OffsetDateTime>,
        );
        self.authorize_agents(AuditAction::Read).await?;
        let practice = self.practice()?;
        let rows: Vec<Row> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT a.id, a.name, t.id, t.scopes, t.created_at, t.expires_at, t.revoked_at, t.last_used_at \
                 FROM agents a LEFT JOIN api_tokens t ON t.agent_id = a.id \
                 WHERE a.practice_id = $1 ORDER BY a.name, a.id, t.created_at",
            )
            .bind(practice.as_uuid())
            .fetch_all(pool)
            .await
        })
        .context("listing agents")?;
        let mut agents: Vec<AgentInfo> = Vec::new();
        for (agent, name, token, scopes, created_at, expires_at, revoked_at, last_used_at) in rows {
            if agents.last().is_none_or(|a| a.id.as_uuid() != agent) {
                agents.push(AgentInfo {
                    id: AgentId::from_uuid(agent),
                    name,
                    tokens: Vec::new(),
                });
            }
            if let (Some(id), Some(scopes), Some(created_at), Some(expires_at)) =
                (token, scopes, created_at, expires_at)
                && let Some(last) = agents.last_mut()
            {
                last.tokens.push(TokenInfo {
                    id,
                    scopes: scopes.split_whitespace().map(str::to_owned).collect(),
                    created_at,
                    expires_at,
                    revoked: revoked_at.is_some(),
                    last_used_at,
                });
            }
        }
        Ok(agents)
    }

    // --- access review -------------------------------------------------------------

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

    /// Signs off the access review; recorded and audited.
    pub async fn sign_off_review(
        &self,
        accounts: u64,
        flagged: u64,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
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

    /// Opens emergency access to a restricted patient record for `minutes`, with a
    /// reason; raises a security alert. Returns the grant's id.
    pub async fn break_glass(
        &self,
        patient: PatientId,
        reason: BreakGlassReason,
        note: &str,
        minutes: i64,
        now: OffsetDateTime,
    ) -> Result<Uuid, StoreError> {
        let practice = self.practice()?;
        // Only a real patient of the actor's own practice (a missing or foreign id
        // is not found, alike), and only a restricted one: the glass guards
        // nothing else, so no grant or alert is made for it.
        let row = self.patient_row(patient).await?;
        self.authorize(
            Action::BreakGlassOpen,
            &Resource::Patient {
                id: patient,
                practice,
                restricted: row.restricted,
            },
            Circumstances::default(),
            AuditedAs::one(AuditAction::BreakGlass, ResourceType::Patient, &patient),
        )
        .await?;
        let user = self.actor.user().ok_or(StoreError::Denied)?;
        if !row.restricted {
            return Err(StoreError::Conflict(
                "this patient's record is not restricted: open it as usual",
            ));
        }
        let note = note.trim();
        if note.chars().count() < 10 || note.chars().count() > 1_000 {
            return Err(StoreError::Conflict(
                "give the reason in 10 to 1,000 characters",
            ));
        }
        let grant = Uuid::now_v7();
        let sealed = self
            .store
            .seal(practice, &ENCRYPTED_COLUMNS[2], grant, note.as_bytes())
            .await?;
        let mut event = self.event(
            AuditAction::BreakGlass,
            ResourceType::Patient,
            Some(patient.to_string()),
            Outcome::Success,
        );
        event.patient_id = Some(patient.as_uuid());
        event
            .detail
            .insert("reason", Detail::Code(reason.as_str().to_owned()));
        event.detail.insert("grant", Detail::Ids(vec![grant]));
        event.detail.insert(
            "minutes",
            Detail::Count(u64::try_from(minutes).unwrap_or_default()),
        );
        async {
            let mut tx = self.store.begin().await?;
            on_tx!(&mut tx, tx => {
                sqlx::query(
                    "INSERT INTO break_glass_grants (id, practice_id, user_id, patient_id, reason_code, note, \
                     opened_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(grant)
                .bind(practice.as_uuid())
                .bind(user.as_uuid())
                .bind(patient.as_uuid())
                .bind(reason.as_str())
                .bind(&sealed)
                .bind(now)
                .bind(now + time::Duration::minutes(minutes))
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO security_alerts (id, practice_id, kind, subject_id, reference_id, created_at) \
                     VALUES ($1, $2, 'break_glass', $3, $4, $5)",
                )
                .bind(Uuid::now_v7())
                .bind(practice.as_uuid())
                .bind(user.as_uuid())
                .bind(grant)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            });
            tx.commit_with(&[&event]).await
        }
        .await
        .context("breaking the glass")?;
        Ok(grant)
    }

    /// Whether the actor holds an unexpired break-glass grant for `patient`.
    pub async fn holds_break_glass(
        &self,
        patient: PatientId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let (Some(user), Ok(practice)) = (self.actor.user(), self.practice()) else {
            return Ok(false);
        };
        let held: bool = on_pool!(&self.store.db, pool => {
            sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM break_glass_grants WHERE user_id = $1 AND practice_id = $2 \
                 AND patient_id = $3 AND expires_at > $4)",
            )
            .bind(user.as_uuid())
            .bind(practice.as_uuid())
            .bind(patient.as_uuid())
            .bind(now)
            .fetch_one(pool)
            .await
        })
        .context("checking a break-glass grant")?;
        Ok(held)
    }

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
