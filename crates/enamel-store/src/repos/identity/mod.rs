//! What sign-in needs before there is an actor: credentials, throttling, sessions,
//! second factors, invitations and agent tokens. For the authentication layer only;
//! handlers act through [`Scoped`](crate::Scoped).
//!
//! Every time is passed in by the caller, whose clock tests control.

mod invitations;
mod second_factor;
mod sessions;

use anyhow::Context as _;
use enamel_crypto::totp::TotpSecret;
use enamel_domain::{AgentId, Email, PracticeId, User, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::on_pool;
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

    // --- second factor ---------------------------------------------------------------

    // --- invitations ---------------------------------------------------------------

    // --- agent tokens --------------------------------------------------------------
}
