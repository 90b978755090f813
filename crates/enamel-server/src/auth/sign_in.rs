//! The sign-in steps: password, then (where required) the second factor.
//!
//! The password step does the same work and gives the same answer whether or not
//! the email has an account: one credentials query, one Argon2id verification
//! (against a decoy hash for an unknown email), one throttle update per key, one
//! audit event. Failures are counted per account (keyed by the email's digest, so
//! unknown emails count alike) and per client address; past a few, attempts wait
//! longer each time, and ten in a row lock the account until an administrator lifts
//! it. A throttled or locked attempt is refused before the password is checked,
//! with the same message as a wrong password.

use enamel_audit::entry::{Action as AuditAction, Detail, Outcome};
use enamel_crypto::token::{SecretToken, digest, normalize_recovery_code};
use enamel_crypto::totp::TotpSecret;
use enamel_domain::{Email, Role, User, UserStatus};
use enamel_store::{
    EndReason, NewSession, RequestContext, SessionRecord, SessionStage, ThrottleRule,
    throttle_key_for_email,
};

use super::{address_key, person_event};
use crate::{ApiError, AppState};

/// Per account: five free failures, then 30 s doubling to 15 min; locked at ten.
pub(crate) const ACCOUNT_RULE: ThrottleRule = ThrottleRule {
    free: 5,
    first_wait: time::Duration::seconds(30),
    max_wait: time::Duration::minutes(15),
    lock_at: Some(10),
};

/// Per client address (an office may share one): twenty free failures, then the
/// same back-off, never a lock.
pub(crate) const ADDRESS_RULE: ThrottleRule = ThrottleRule {
    free: 20,
    first_wait: time::Duration::seconds(30),
    max_wait: time::Duration::minutes(15),
    lock_at: None,
};

/// The one message for every refused password step.
pub(crate) const REFUSED: &str = "The email or password is not right, or sign-in is paused after \
     too many attempts. Try again in a few minutes, or ask your practice administrator.";

/// Where the password step leads.
#[derive(Debug)]
pub(crate) enum PasswordStep {
    /// Signed in; the session token to set.
    SignedIn(SecretToken),
    /// The second factor is owed; a pending session's token.
    SecondFactor(SecretToken),
    /// A second factor must be enrolled first; a pending session's token.
    Enrol(SecretToken),
    Refused,
}

/// Whether this account must give a second factor.
pub(crate) const fn needs_second_factor(role: Role, practice_requires: bool) -> bool {
    practice_requires
        || matches!(
            role,
            Role::PracticeAdmin | Role::SecurityOfficer | Role::PlatformOperator
        )
}

/// Checks an email and password.
pub(crate) async fn password(
    state: &AppState,
    email: &str,
    password: String,
    context: &RequestContext,
) -> Result<PasswordStep, ApiError> {
    let now = state.clock.now();
    let identity = state.store.identity();
    // A malformed email is looked up as nothing, with the same work as an unknown one.
    let email = Email::parse(email).ok();
    let account_key = email
        .as_ref()
        .map_or_else(|| "account:malformed".to_owned(), throttle_key_for_email);
    let address_key = address_key(context.ip_address);
    let credentials = match &email {
        Some(email) => identity.credentials(email).await?,
        None => None,
    };
    let account_throttle = identity.throttle(&account_key).await?;
    let address_throttle = identity.throttle(&address_key).await?;
    let throttled = account_throttle.refuses(now) || address_throttle.refuses(now);

    let stored = credentials.as_ref().and_then(|c| c.password_hash.clone());
    let passwords = state.passwords.clone();
    let verified = if throttled {
        false
    } else {
        tokio::task::spawn_blocking(move || passwords.verify(&password, stored.as_deref()))
            .await
            .map_err(|err| ApiError::Unexpected(err.into()))?
    };
    let user = credentials.as_ref().map(|c| &c.user);
    let active = user.is_some_and(|u| u.status == UserStatus::Active);

    if !verified || !active {
        let reason = if throttled {
            if account_throttle.locked {
                "locked"
            } else {
                "throttled"
            }
        } else if user.is_none() {
            "unknown_account"
        } else if !verified {
            "bad_password"
        } else {
            "inactive_account"
        };
        let after = if throttled {
            account_throttle
        } else {
            identity
                .record_failure(&address_key, now, ADDRESS_RULE)
                .await?;
            identity
                .record_failure(&account_key, now, ACCOUNT_RULE)
                .await?
        };
        let mut event = person_event(
            user,
            AuditAction::SignIn,
            None,
            Outcome::Failure,
            context,
            now,
        );
        event.detail.insert("reason", Detail::Code(reason.into()));
        state.store.audit().record(event).await?;
        if after.locked && !account_throttle.locked {
            lockout(state, user, context).await?;
        }
        return Ok(PasswordStep::Refused);
    }

    let credentials = credentials.expect("verified implies an account");
    identity.clear_throttle(&account_key).await?;
    let user = &credentials.user;
    let owed = needs_second_factor(user.role, credentials.practice_requires_mfa);
    if !owed {
        let token = open_session(state, user, SessionStage::Active, context).await?;
        signed_in(state, user, "password", context).await?;
        return Ok(PasswordStep::SignedIn(token));
    }
    let token = open_session(state, user, SessionStage::Password, context).await?;
    if credentials.mfa_confirmed {
        Ok(PasswordStep::SecondFactor(token))
    } else {
        Ok(PasswordStep::Enrol(token))
    }
}

/// Audits a lockout and raises an alert for the practice's security officer.
async fn lockout(
    state: &AppState,
    user: Option<&User>,
    context: &RequestContext,
) -> Result<(), ApiError> {
    let Some(user) = user else { return Ok(()) };
    let now = state.clock.now();
    let event = person_event(
        Some(user),
        AuditAction::Lockout,
        Some(user.id.to_string()),
        Outcome::Success,
        context,
        now,
    );
    state.store.audit().record(event).await?;
    if let Some(practice) = user.practice {
        let system = enamel_domain::Actor::system_for(practice, enamel_domain::SystemTask::Alert);
        state
            .store
            .scoped(&system)
            .raise_alert("lockout", user.id.as_uuid(), now)
            .await?;
    }
    Ok(())
}

async fn open_session(
    state: &AppState,
    user: &User,
    session_stage: SessionStage,
    context: &RequestContext,
) -> Result<SecretToken, ApiError> {
    let token = SecretToken::generate("");
    state
        .store
        .identity()
        .open_session(&NewSession {
            token_digest: token.digest(),
            user,
            stage: session_stage,
            now: state.clock.now(),
            ip_address: context.ip_address.map(|ip| ip.to_string()),
            user_agent: context.user_agent.clone(),
        })
        .await?;
    Ok(token)
}

async fn signed_in(
    state: &AppState,
    user: &User,
    factor: &str,
    context: &RequestContext,
) -> Result<(), ApiError> {
    let now = state.clock.now();
    state.store.identity().record_sign_in(user.id, now).await?;
    let mut event = person_event(
        Some(user),
        AuditAction::SignIn,
        None,
        Outcome::Success,
        context,
        now,
    );
    event.detail.insert("factor", Detail::Code(factor.into()));
    state.store.audit().record(event).await?;
    Ok(())
}

/// Replaces a pending session with a full one: a new token, so a token seen before
/// the second factor is worth nothing after it.
pub(crate) async fn promote(
    state: &AppState,
    pending: &SessionRecord,
    factor: &str,
    context: &RequestContext,
) -> Result<SecretToken, ApiError> {
    state
        .store
        .identity()
        .end_session(
            pending.user.id,
            pending.id,
            EndReason::SecondFactor,
            state.clock.now(),
        )
        .await?;
    let token = open_session(state, &pending.user, SessionStage::Active, context).await?;
    signed_in(state, &pending.user, factor, context).await?;
    Ok(token)
}

/// Checks a TOTP code or a recovery code for a pending session. `Some(token)` of
/// the full session on success.
pub(crate) async fn second_factor(
    state: &AppState,
    pending: &SessionRecord,
    code: &str,
    context: &RequestContext,
) -> Result<Option<SecretToken>, ApiError> {
    let now = state.clock.now();
    let identity = state.store.identity();
    let user = &pending.user;
    let account_key = throttle_key_for_email(&user.email);
    let throttle = identity.throttle(&account_key).await?;
    let mut accepted = None;
    if !throttle.refuses(now)
        && let Some(mfa) = identity.mfa(user).await?
        && mfa.confirmed
    {
        let code = code.trim();
        if code.len() > 6 {
            let typed = normalize_recovery_code(code);
            if identity
                .use_recovery_code(user.id, &digest(&typed), now)
                .await?
            {
                accepted = Some("recovery_code");
            }
        } else if let Some(step) = mfa.secret.verify(code, now.unix_timestamp(), mfa.last_step)
            && identity.accept_step(user.id, step).await?
        {
            accepted = Some("totp");
        }
    }
    let outcome = if accepted.is_some() {
        Outcome::Success
    } else {
        Outcome::Failure
    };
    let mut event = person_event(
        Some(user),
        AuditAction::SecondFactor,
        None,
        outcome,
        context,
        now,
    );
    if let Some(method) = accepted {
        event.detail.insert("method", Detail::Code(method.into()));
    }
    state.store.audit().record(event).await?;
    let Some(method) = accepted else {
        if !throttle.refuses(now) {
            let after = identity
                .record_failure(&account_key, now, ACCOUNT_RULE)
                .await?;
            if after.locked && !throttle.locked {
                lockout(state, Some(user), context).await?;
            }
        }
        return Ok(None);
    };
    identity.clear_throttle(&account_key).await?;
    promote(state, pending, method, context).await.map(Some)
}

/// Starts (or restarts) enrolment: a fresh secret, stored unconfirmed.
/// The secret to enrol with: the one already started and not yet confirmed (so a
/// reload, or a mistyped code, keeps the app's entry valid), or a new one when none
/// was started or `restart` asks for it. `None` when a factor is already confirmed.
pub(crate) async fn start_enrolment(
    state: &AppState,
    user: &User,
    restart: bool,
) -> Result<Option<TotpSecret>, ApiError> {
    if !restart && let Some(started) = state.store.identity().mfa(user).await? {
        return Ok((!started.confirmed).then_some(started.secret));
    }
    let secret = TotpSecret::generate();
    let started = state
        .store
        .identity()
        .start_mfa(user, &secret, state.clock.now())
        .await?;
    Ok(started.then_some(secret))
}

/// Confirms enrolment with a first code. Returns the recovery codes to show once.
pub(crate) async fn confirm_enrolment(
    state: &AppState,
    user: &User,
    code: &str,
    context: &RequestContext,
) -> Result<Option<Vec<String>>, ApiError> {
    let now = state.clock.now();
    let identity = state.store.identity();
    let Some(mfa) = identity.mfa(user).await? else {
        return Ok(None);
    };
    let step = (!mfa.confirmed)
        .then(|| mfa.secret.verify(code, now.unix_timestamp(), mfa.last_step))
        .flatten();
    let codes = enamel_crypto::token::recovery_codes();
    let confirmed = match step {
        Some(step) => {
            let digests: Vec<[u8; 32]> = codes
                .iter()
                .map(|c| digest(&normalize_recovery_code(c)))
                .collect();
            identity.confirm_mfa(user.id, step, &digests, now).await?
        }
        None => false,
    };
    let outcome = if confirmed {
        Outcome::Success
    } else {
        Outcome::Failure
    };
    let event = person_event(
        Some(user),
        AuditAction::MfaEnroll,
        Some(user.id.to_string()),
        outcome,
        context,
        now,
    );
    state.store.audit().record(event).await?;
    Ok(confirmed.then_some(codes))
}
