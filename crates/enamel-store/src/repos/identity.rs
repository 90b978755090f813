//! What sign-in needs before there is an actor: credentials, throttling, sessions,
//! second factors, invitations and agent tokens. For the authentication layer only;
//! handlers act through [`Scoped`](crate::Scoped).
//!
//! Every time is passed in by the caller, whose clock tests control.

use anyhow::Context as _;
use enamel_crypto::totp::TotpSecret;
use enamel_domain::{AgentId, Email, PracticeId, User, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::{on_pool, on_tx};
use crate::repos::users::{UserRow, user_columns};
use crate::sealed::{ENCRYPTED_COLUMNS, EncryptedColumn};
use crate::{Store, StoreError};

pub(crate) const MFA_SECRET: &EncryptedColumn = &ENCRYPTED_COLUMNS[1];

/// The throttle key of the account an email names, whether or not it exists: the
/// digest of the email as normalized, so unknown emails are throttled alike and the
/// table holds no addresses.
#[must_use]
pub fn throttle_key_for_email(email: &Email) -> String {
    format!(
        "account:{}",
        enamel_crypto::token::hex(&enamel_crypto::token::digest(email.as_str()))
    )
}

/// An account with what sign-in checks.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: User,
    /// The Argon2id PHC string; `None` until the person accepts their invitation.
    pub password_hash: Option<String>,
    pub mfa_confirmed: bool,
    /// The practice asks a second factor of every role.
    pub practice_requires_mfa: bool,
}

/// Whether sign-in attempts for a key are held back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Throttle {
    pub failures: u32,
    pub blocked_until: Option<OffsetDateTime>,
    /// Locked until an administrator lifts it.
    pub locked: bool,
}

/// How many failures a key may have before it is slowed, and when it is locked.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleRule {
    /// Failures allowed before back-off starts.
    pub free: u32,
    /// The first back-off; each further failure doubles it, up to `max_wait`.
    pub first_wait: time::Duration,
    pub max_wait: time::Duration,
    /// Failures at which the key is locked for good (until lifted); `None` never.
    pub lock_at: Option<u32>,
}

impl Throttle {
    /// Whether an attempt at `now` must be refused without checking the password.
    #[must_use]
    pub fn refuses(&self, now: OffsetDateTime) -> bool {
        self.locked || self.blocked_until.is_some_and(|until| until > now)
    }
}

/// Where a session is in signing in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStage {
    /// The password was right; the second factor (or its enrolment) is owed.
    Password,
    Active,
}

impl SessionStage {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Active => "active",
        }
    }
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    Idle,
    Absolute,
    SignOut,
    Revoked,
    Deactivated,
    /// Replaced by a full session once the second factor was given.
    SecondFactor,
}

impl EndReason {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Absolute => "absolute",
            Self::SignOut => "sign_out",
            Self::Revoked => "revoked",
            Self::Deactivated => "deactivated",
            Self::SecondFactor => "second_factor",
        }
    }
}

/// A session to open.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub token_digest: [u8; 32],
    pub user: &'a User,
    pub stage: SessionStage,
    pub now: OffsetDateTime,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
}

/// An open session with its account, as a request finds it.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub id: Uuid,
    pub user: User,
    pub stage: SessionStage,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
}

/// A session as its owner lists it.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub id: Uuid,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
}

/// A second factor as stored.
#[derive(Debug, Clone)]
pub struct MfaState {
    pub secret: TotpSecret,
    pub confirmed: bool,
    pub last_step: Option<u64>,
}

/// An invitation found by its token.
#[derive(Debug, Clone)]
pub struct Invitation {
    pub id: Uuid,
    pub user: User,
    pub expires_at: OffsetDateTime,
    pub accepted: bool,
}

/// An agent token found by its digest.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    pub id: Uuid,
    pub agent: AgentId,
    pub practice: PracticeId,
    pub scopes: Vec<String>,
    pub expires_at: OffsetDateTime,
    pub revoked: bool,
}

/// See the module documentation; from [`Store::identity`].
#[derive(Debug)]
pub struct Identity<'a> {
    store: &'a Store,
}

impl<'a> Identity<'a> {
    pub(crate) const fn new(store: &'a Store) -> Self {
        Self { store }
    }

    /// The account with this email and what sign-in checks, if there is one.
    pub async fn credentials(&self, email: &Email) -> Result<Option<Credentials>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            user: UserRow,
            password_hash: Option<String>,
            mfa_confirmed: bool,
            require_mfa: Option<bool>,
        }
        let sql = concat!(
            "SELECT ",
            user_columns!(),
            ", password_hash, \
             EXISTS (SELECT 1 FROM mfa_secrets m WHERE m.id = users.id AND m.confirmed_at IS NOT NULL) AS mfa_confirmed, \
             (SELECT p.require_mfa FROM practices p WHERE p.id = users.practice_id) AS require_mfa \
             FROM users WHERE email = $1"
        );
        let row: Option<Row> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(sql).bind(email.as_str()).fetch_optional(pool).await
        })
        .context("reading credentials")?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(Credentials {
            user: row.user.try_into().map_err(StoreError::Corrupt)?,
            password_hash: row.password_hash,
            mfa_confirmed: row.mfa_confirmed,
            practice_requires_mfa: row.require_mfa.unwrap_or(false),
        }))
    }

    /// Records a successful sign-in's time, for the access review.
    pub async fn record_sign_in(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        on_pool!(&self.store.db, pool => {
            sqlx::query("UPDATE users SET last_sign_in_at = $2 WHERE id = $1")
                .bind(user.as_uuid())
                .bind(now)
                .execute(pool)
                .await
                .map(|_| ())
        })
        .context("recording a sign-in")?;
        Ok(())
    }

    /// Sets an account's password hash (system use: seeding the demo).
    pub async fn set_password(&self, user: UserId, phc: &str) -> Result<(), StoreError> {
        on_pool!(&self.store.db, pool => {
            sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
                .bind(user.as_uuid())
                .bind(phc)
                .execute(pool)
                .await
                .map(|_| ())
        })
        .context("setting a password")?;
        Ok(())
    }

    // --- throttling ----------------------------------------------------------------

    /// The throttle state of `key`.
    pub async fn throttle(&self, key: &str) -> Result<Throttle, StoreError> {
        let row: Option<(i64, Option<OffsetDateTime>, bool)> = on_pool!(&self.store.db, pool => {
            sqlx::query_as("SELECT failures, blocked_until, locked FROM sign_in_throttle WHERE key = $1")
                .bind(key)
                .fetch_optional(pool)
                .await
        })
        .context("reading a sign-in throttle")?;
        Ok(
            row.map_or_else(Throttle::default, |(failures, blocked_until, locked)| {
                Throttle {
                    failures: u32::try_from(failures).unwrap_or(u32::MAX),
                    blocked_until,
                    locked,
                }
            }),
        )
    }

    /// Counts a failure against `key` under `rule` and returns the new state.
    /// Counting is one statement, so concurrent failures are all counted.
    pub async fn record_failure(
        &self,
        key: &str,
        now: OffsetDateTime,
        rule: ThrottleRule,
    ) -> Result<Throttle, StoreError> {
        let failures: i64 = on_pool!(&self.store.db, pool => {
            sqlx::query_scalar(
                "INSERT INTO sign_in_throttle (key, failures, last_failure_at) VALUES ($1, 1, $2) \
                 ON CONFLICT (key) DO UPDATE SET failures = sign_in_throttle.failures + 1, \
                 last_failure_at = excluded.last_failure_at RETURNING failures",
            )
            .bind(key)
            .bind(now)
            .fetch_one(pool)
            .await
        })
        .context("counting a sign-in failure")?;
        let failures = u32::try_from(failures).unwrap_or(u32::MAX);
        let locked = rule.lock_at.is_some_and(|at| failures >= at);
        let blocked_until = (failures > rule.free).then(|| {
            let doublings = (failures - rule.free - 1).min(16);
            let wait = rule.first_wait * 2_i32.pow(doublings);
            now + wait.min(rule.max_wait)
        });
        on_pool!(&self.store.db, pool => {
            sqlx::query(
                "UPDATE sign_in_throttle SET blocked_until = $2, locked = (locked OR $3) WHERE key = $1",
            )
            .bind(key)
            .bind(blocked_until)
            .bind(locked)
            .execute(pool)
            .await
            .map(|_| ())
        })
        .context("throttling sign-in")?;
        self.throttle(key).await
    }

    /// Forgets the failures of `key` (a successful sign-in, or an admin's unlock).
    pub async fn clear_throttle(&self, key: &str) -> Result<(), StoreError> {
        on_pool!(&self.store.db, pool => {
            sqlx::query("DELETE FROM sign_in_throttle WHERE key = $1").bind(key).execute(pool).await.map(|_| ())
        })
        .context("clearing a sign-in throttle")?;
        Ok(())
    }

    // --- sessions ------------------------------------------------------------------

    /// Opens a session; returns its id.
    pub async fn open_session(&self, new: &NewSession<'_>) -> Result<Uuid, StoreError> {
        let id = Uuid::now_v7();
        on_pool!(&self.store.db, pool => {
            sqlx::query(
                "INSERT INTO sessions (id, token_digest, user_id, practice_id, stage, created_at, \
                 last_seen_at, ip_address, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8)",
            )
            .bind(id)
            .bind(&new.token_digest[..])
            .bind(new.user.id.as_uuid())
            .bind(new.user.practice.map(|p| p.as_uuid()))
            .bind(new.stage.as_str())
            .bind(new.now)
            .bind(new.ip_address.as_deref())
            .bind(new.user_agent.as_deref())
            .execute(pool)
            .await
            .map(|_| ())
        })
        .context("opening a session")?;
        Ok(id)
    }

    /// The open (not ended) session whose token has `digest`, with its account.
    pub async fn session(&self, digest: &[u8; 32]) -> Result<Option<SessionRecord>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            session_id: Uuid,
            stage: String,
            session_created_at: OffsetDateTime,
            last_seen_at: OffsetDateTime,
            #[sqlx(flatten)]
            user: UserRow,
        }
        let sql = concat!(
            "SELECT s.id AS session_id, s.stage, s.created_at AS session_created_at, s.last_seen_at, ",
            "u.id, u.practice_id, u.email, u.display_name, u.role, u.status, u.created_at ",
            "FROM sessions s JOIN users u ON u.id = s.user_id ",
            "WHERE s.token_digest = $1 AND s.ended_at IS NULL"
        );
        let row: Option<Row> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(sql).bind(&digest[..]).fetch_optional(pool).await
        })
        .context("finding a session")?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(SessionRecord {
            id: row.session_id,
            user: row.user.try_into().map_err(StoreError::Corrupt)?,
            stage: if row.stage == "active" {
                SessionStage::Active
            } else {
                SessionStage::Password
            },
            created_at: row.session_created_at,
            last_seen_at: row.last_seen_at,
        }))
    }

    /// Marks activity on a session.
    pub async fn touch_session(&self, id: Uuid, now: OffsetDateTime) -> Result<(), StoreError> {
        on_pool!(&self.store.db, pool => {
            sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND ended_at IS NULL")
                .bind(id)
                .bind(now)
                .execute(pool)
                .await
                .map(|_| ())
        })
        .context("touching a session")?;
        Ok(())
    }

    /// Ends one session of `user`; `false` if it was not open (or not theirs).
    pub async fn end_session(
        &self,
        user: UserId,
        id: Uuid,
        reason: EndReason,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let ended = on_pool!(&self.store.db, pool => {
            sqlx::query(
                "UPDATE sessions SET ended_at = $3, end_reason = $4 \
                 WHERE id = $1 AND user_id = $2 AND ended_at IS NULL",
            )
            .bind(id)
            .bind(user.as_uuid())
            .bind(now)
            .bind(reason.as_str())
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .context("ending a session")?;
        Ok(ended == 1)
    }

    /// Ends every open session of `user`, but `except`; returns how many.
    pub async fn end_sessions_of(
        &self,
        user: UserId,
        except: Option<Uuid>,
        reason: EndReason,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let ended = on_pool!(&self.store.db, pool => {
            sqlx::query(
                "UPDATE sessions SET ended_at = $2, end_reason = $3 \
                 WHERE user_id = $1 AND ended_at IS NULL AND ($4 IS NULL OR id <> $4)",
            )
            .bind(user.as_uuid())
            .bind(now)
            .bind(reason.as_str())
            .bind(except)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .context("ending sessions")?;
        Ok(ended)
    }

    /// The open sessions of `user`, newest first.
    pub async fn sessions_of(&self, user: UserId) -> Result<Vec<SessionInfo>, StoreError> {
        type Row = (
            Uuid,
            OffsetDateTime,
            OffsetDateTime,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<Row> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT id, created_at, last_seen_at, ip_address, user_agent FROM sessions \
                 WHERE user_id = $1 AND ended_at IS NULL AND stage = 'active' ORDER BY created_at DESC",
            )
            .bind(user.as_uuid())
            .fetch_all(pool)
            .await
        })
        .context("listing sessions")?;
        Ok(rows
            .into_iter()
            .map(
                |(id, created_at, last_seen_at, ip_address, user_agent)| SessionInfo {
                    id,
                    created_at,
                    last_seen_at,
                    ip_address,
                    user_agent,
                },
            )
            .collect())
    }

    // --- second factor ---------------------------------------------------------------

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
                let mut tx = pool.begin_with(crate::db::write_begin(pool)).await?;
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

    // --- invitations ---------------------------------------------------------------

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

    // --- agent tokens --------------------------------------------------------------

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
