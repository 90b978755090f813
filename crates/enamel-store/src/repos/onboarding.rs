//! Bringing a practice onto Enamel (docs/onboarding.md): the platform operator
//! creates the practice and invites its first administrator, whose invitation is
//! emailed through the outbox. The practice holds no PHI until that administrator
//! executes the business associate agreement ([`super::agreements`]).
//!
//! The operator sees practices, their agreements and their administrators'
//! invitations, never a patient: [`PracticeOverview`] has no field that could
//! hold one.

use anyhow::Context as _;
use enamel_audit::entry::{Action as AuditAction, Detail, Outcome, ResourceType};
use enamel_crypto::token::SecretToken;
use enamel_domain::{Channel, NewPractice, NewUser, Practice, PracticeId, Role, UserId};
use enamel_policy::{Action, Circumstances, Resource};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::access::accounts::{Invited, insert_invited};
use super::agreements::{ExecutedAgreement, in_force};
use super::outbox::{MessageText, NewMessage, queue_in_tx};
use super::practices::{insert_in, practice_insert_error, stored};
use crate::db::{Tx, on_pool, on_tx};
use crate::error::conflict_if_taken;
use crate::scoped::authorize::AuditedAs;
use crate::{Scoped, StoreError};

/// How long an administrator's invitation link works.
pub const ADMIN_INVITATION_HOURS: i64 = 72;

/// The outbox kind of a staff invitation: a message with no PHI in it (an
/// account's address and a sign-up link), so it needs no vendor agreement and is
/// sent before the practice has executed any (docs/onboarding.md).
pub const STAFF_INVITATION: &str = "staff_invitation";

/// Where a practice's first administrator stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminStatus {
    /// No administrator has been invited.
    NotInvited,
    /// Invited; the link works until `expires_at`.
    Invited {
        email: String,
        expires_at: OffsetDateTime,
    },
    /// The invitation expired unused; invite again.
    Expired { email: String },
    /// An administrator has an active account.
    Active { email: String },
}

/// A practice as the platform operator sees it: no patient, no PHI.
#[derive(Clone, Debug)]
pub struct PracticeOverview {
    pub practice: Practice,
    pub agreement: Option<ExecutedAgreement>,
    /// When its last agreement was terminated, if it was and none is in force.
    pub terminated_at: Option<OffsetDateTime>,
    pub admin: AdminStatus,
    /// Active staff accounts.
    pub staff: u64,
}

impl Scoped<'_> {
    /// Creates `new` and invites `admin` as its first administrator (the operator's
    /// pages and API, or the command line as Enamel's `onboard` task). Both are
    /// audited in the platform's log; the invitation is emailed through the outbox
    /// with `token` in its link.
    pub async fn onboard_practice(
        &self,
        new: &NewPractice,
        admin: &NewUser,
        token: &SecretToken,
        now: OffsetDateTime,
    ) -> Result<Practice, StoreError> {
        self.authorize_onboarding(AuditedAs::any(AuditAction::Create, ResourceType::Practice))
            .await?;
        let mut event = self.event(
            AuditAction::Create,
            ResourceType::Practice,
            Some(new.id.to_string()),
            Outcome::Success,
        );
        event
            .detail
            .insert("kind", Detail::Code(new.kind.as_str().to_owned()));
        let mut tx = self.store.begin().await?;
        insert_in(&mut tx, new, now)
            .await
            .map_err(practice_insert_error)?;
        tx.commit_with(&[&event]).await?;
        // The invitation's message is sealed under the practice's own key, which the
        // keyring makes for a practice that exists: so the practice is committed
        // first. Should the invitation fail, the operator invites again.
        self.invite_admin(new.id, admin, token, now).await?;
        Ok(stored(new, now))
    }

    /// Invites `admin` as an administrator of `practice` (its first, or again after
    /// an invitation expired), emailing the link through the outbox. Refused once
    /// the practice has an active administrator: from then on its own people invite.
    pub async fn invite_admin(
        &self,
        practice: PracticeId,
        admin: &NewUser,
        token: &SecretToken,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.authorize_onboarding(AuditedAs::any(AuditAction::Invite, ResourceType::User))
            .await?;
        if admin.practice() != Some(practice) || admin.role() != Role::PracticeAdmin {
            return Err(StoreError::Refused(
                "the first account of a practice is its practice administrator",
            ));
        }
        let target = self.store.practices().get(practice).await?;
        if matches!(
            admin_status(self, practice, now).await?,
            AdminStatus::Active { .. }
        ) {
            return Err(StoreError::Conflict(
                "this practice has an administrator, who invites its people",
            ));
        }
        let message = self
            .store
            .seal_message(NewMessage {
                practice,
                channel: Channel::Email,
                patient: None,
                referral: None,
                kind: STAFF_INVITATION,
                recipient: admin.email().as_str().to_owned(),
                text: invitation_text(target.name.as_str(), token),
                idempotency_key: format!("{STAFF_INVITATION}:{}", admin.id()),
            })
            .await?;
        let mut event = self.event(
            AuditAction::Invite,
            ResourceType::User,
            Some(admin.id().to_string()),
            Outcome::Success,
        );
        event
            .detail
            .insert("role", Detail::Code(admin.role().as_str().to_owned()));
        event
            .detail
            .insert("practice", Detail::Code(practice.to_string()));
        let inviter = self.actor.user();
        let write = async {
            let mut tx = self.store.begin().await?;
            write_invitation(&mut tx, practice, admin, token, inviter, now).await?;
            queue_in_tx(&mut tx, &message, now)
                .await?
                .map_err(|_| anyhow::anyhow!("this invitation was queued already"))?;
            tx.commit_with(&[&event]).await
        };
        write.await.map_err(|err| {
            conflict_if_taken(
                err,
                "an account with this email already exists",
                "inviting a practice administrator",
            )
        })
    }

    /// Terminates the practice's agreement in force (the operator, or the command
    /// line as Enamel's `onboard` task), audited. From then on nothing brings PHI into
    /// the practice (the gate finds no agreement in force), and "return or destroy"
    /// begins: the practice's records are handed over, then its keys destroyed
    /// (`enamel keys shred`), each a separate, confirmed step.
    pub async fn terminate_agreement(
        &self,
        practice: PracticeId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.authorize_onboarding(AuditedAs::one(
            AuditAction::Write,
            ResourceType::Practice,
            &practice,
        ))
        .await?;
        let mut event = self.event(
            AuditAction::Write,
            ResourceType::Practice,
            Some(practice.to_string()),
            Outcome::Success,
        );
        event
            .detail
            .insert("agreement", Detail::Code("terminated".into()));
        let mut tx = self.store.begin().await?;
        let updated = on_tx!(&mut tx, conn => {
            sqlx::query(
                "UPDATE practice_agreements SET terminated_at = $1 \
                 WHERE practice_id = $2 AND terminated_at IS NULL",
            )
            .bind(now)
            .bind(practice.as_uuid())
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected())
        })
        .context("terminating an agreement")?;
        if updated == 0 {
            return Err(StoreError::Conflict(
                "this practice has no agreement in force to terminate",
            ));
        }
        tx.commit_with(&[&event]).await?;
        Ok(())
    }

    /// Every practice, by name, as the operator sees it.
    pub async fn practices_overview(
        &self,
        now: OffsetDateTime,
    ) -> Result<Vec<PracticeOverview>, StoreError> {
        self.authorize_platform(AuditedAs::any(AuditAction::Read, ResourceType::Practice))
            .await?;
        let mut overviews = Vec::new();
        for practice in self.store.practices().list().await? {
            overviews.push(overview(self, practice, now).await?);
        }
        Ok(overviews)
    }

    /// One practice, as the operator sees it.
    pub async fn practice_overview(
        &self,
        id: PracticeId,
        now: OffsetDateTime,
    ) -> Result<PracticeOverview, StoreError> {
        self.authorize_platform(AuditedAs::one(
            AuditAction::Read,
            ResourceType::Practice,
            &id,
        ))
        .await?;
        let practice = self.store.practices().get(id).await?;
        overview(self, practice, now).await
    }

    async fn authorize_onboarding(&self, audited_as: AuditedAs) -> Result<(), StoreError> {
        self.authorize(
            Action::PlatformOnboard,
            &Resource::Platform,
            Circumstances::default(),
            audited_as,
        )
        .await
    }
}

/// Writes `admin`'s account and invitation in `tx`, replacing an earlier, unused
/// invitation of the same address to the same practice.
async fn write_invitation(
    tx: &mut Tx,
    practice: PracticeId,
    admin: &NewUser,
    token: &SecretToken,
    inviter: Option<UserId>,
    now: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    on_tx!(tx, conn => {
        // An earlier, expired invitation of the same address is replaced.
        sqlx::query(
            "DELETE FROM invitations WHERE user_id IN (SELECT id FROM users \
             WHERE practice_id = $1 AND email = $2 AND status = 'invited')",
        )
        .bind(practice.as_uuid())
        .bind(admin.email().as_str())
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "DELETE FROM users WHERE practice_id = $1 AND email = $2 AND status = 'invited'",
        )
        .bind(practice.as_uuid())
        .bind(admin.email().as_str())
        .execute(&mut *conn)
        .await?;
    });
    insert_invited(
        tx,
        &Invited {
            invitation: Uuid::now_v7(),
            practice,
            user: admin,
            token_digest: &token.digest(),
            inviter,
            expires_at: now + Duration::hours(ADMIN_INVITATION_HOURS),
        },
        now,
    )
    .await
}

async fn overview(
    scoped: &Scoped<'_>,
    practice: Practice,
    now: OffsetDateTime,
) -> Result<PracticeOverview, StoreError> {
    let id = practice.id;
    let staff: i64 = on_pool!(&scoped.store.db, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE practice_id = $1 AND status = 'active'")
            .bind(id.as_uuid())
            .fetch_one(pool)
            .await
    })
    .context("counting a practice's staff")?;
    let terminated_at: Option<OffsetDateTime> = on_pool!(&scoped.store.db, pool => {
        sqlx::query_scalar(
            "SELECT MAX(terminated_at) FROM practice_agreements WHERE practice_id = $1",
        )
        .bind(id.as_uuid())
        .fetch_one(pool)
        .await
    })
    .context("reading a practice's terminated agreement")?;
    let agreement = in_force(&scoped.store.db, id).await?;
    Ok(PracticeOverview {
        terminated_at: terminated_at.filter(|_| agreement.is_none()),
        agreement,
        admin: admin_status(scoped, id, now).await?,
        staff: u64::try_from(staff).unwrap_or_default(),
        practice,
    })
}

/// The newest administrator account of `practice`, and where its invitation stands.
async fn admin_status(
    scoped: &Scoped<'_>,
    practice: PracticeId,
    now: OffsetDateTime,
) -> Result<AdminStatus, StoreError> {
    let active: Option<String> = on_pool!(&scoped.store.db, pool => {
        sqlx::query_scalar(
            "SELECT email FROM users WHERE practice_id = $1 AND role = 'practice_admin' \
             AND status = 'active' ORDER BY created_at LIMIT 1",
        )
        .bind(practice.as_uuid())
        .fetch_optional(pool)
        .await
    })
    .context("reading a practice's administrator")?;
    if let Some(email) = active {
        return Ok(AdminStatus::Active { email });
    }
    let invited: Option<(String, OffsetDateTime)> = on_pool!(&scoped.store.db, pool => {
        sqlx::query_as(
            "SELECT u.email, i.expires_at FROM invitations i JOIN users u ON u.id = i.user_id \
             WHERE i.practice_id = $1 AND u.role = 'practice_admin' AND i.accepted_at IS NULL \
             ORDER BY i.created_at DESC LIMIT 1",
        )
        .bind(practice.as_uuid())
        .fetch_optional(pool)
        .await
    })
    .context("reading a practice's administrator invitation")?;
    Ok(match invited {
        None => AdminStatus::NotInvited,
        Some((email, expires_at)) if expires_at > now => AdminStatus::Invited { email, expires_at },
        Some((email, _)) => AdminStatus::Expired { email },
    })
}

/// The invitation's words: the practice's name and the link, nothing else.
fn invitation_text(practice: &str, token: &SecretToken) -> MessageText {
    MessageText {
        subject: format!("Set up {practice} on Enamel"),
        body: format!(
            "{practice} has been set up on Enamel, the referral network for dental offices, \
             and you are its administrator.\n\n\
             Open this link within {ADMIN_INVITATION_HOURS} hours to choose your password and \
             set up your sign-in:\n{{base_url}}/invitations/{token}\n\n\
             Then read Enamel's business associate agreement and execute it for the practice: \
             no patient's information can be entered until it is executed.\n\n\
             If you were not expecting this message, you can ignore it; the link expires.",
            token = token.expose(),
        ),
    }
}
