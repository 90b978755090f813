//! The operator's business associate agreement with each practice. Seed 000: "We
//! will provide a BAA to subscribers … We countersign BAAs"; a practice's PHI may
//! enter Enamel only once its agreement is executed. The text is versioned in the
//! repository (`agreements/business-associate-agreement.md`) and identified by its
//! SHA-256 digest; an execution records who, when, from where and which text, and
//! is audited. Until then [`Scoped::require_agreement`] refuses every write that
//! would bring PHI into the practice (patients, referrals either way, messages,
//! attachments), and audits the refusal.

use std::net::IpAddr;

use anyhow::Context as _;
use enamel_audit::entry::{Action as AuditAction, Detail, Outcome, ResourceType};
use enamel_domain::{PracticeId, UserId};
use enamel_policy::Action;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::{Db, on_pool};
use crate::scoped::authorize::AuditedAs;
use crate::{Scoped, StoreError};

/// The agreement's text, as the practice reads and executes it.
pub const AGREEMENT_TEXT: &str = include_str!("../../agreements/business-associate-agreement.md");
/// The agreement's version, as its text names it.
pub const AGREEMENT_VERSION: &str = "2026-11";

/// The SHA-256 digest of [`AGREEMENT_TEXT`], in lowercase hex: the identity of the
/// text a practice executed.
#[must_use]
pub fn agreement_sha256() -> String {
    use std::fmt::Write as _;
    enamel_crypto::token::digest(AGREEMENT_TEXT).iter().fold(
        String::with_capacity(64),
        |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        },
    )
}

/// A practice's executed agreement: the executed copy both sides see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecutedAgreement {
    pub version: String,
    pub sha256: String,
    pub signer: UserId,
    pub signer_name: String,
    pub signer_title: String,
    pub executed_at: OffsetDateTime,
    pub ip_address: Option<String>,
}

type AgreementRow = (
    String,
    String,
    Uuid,
    String,
    String,
    OffsetDateTime,
    Option<String>,
);

/// The agreement in force for `practice`, if it has executed one.
pub(crate) async fn in_force(
    db: &Db,
    practice: PracticeId,
) -> Result<Option<ExecutedAgreement>, StoreError> {
    let row: Option<AgreementRow> = on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT version, sha256, signer_id, signer_name, signer_title, executed_at, \
             ip_address FROM practice_agreements \
             WHERE practice_id = $1 AND terminated_at IS NULL",
        )
        .bind(practice.as_uuid())
        .fetch_optional(pool)
        .await
    })
    .context("reading a practice's agreement")?;
    Ok(row.map(
        |(version, sha256, signer, signer_name, signer_title, executed_at, ip_address)| {
            ExecutedAgreement {
                version,
                sha256,
                signer: UserId::from_uuid(signer),
                signer_name,
                signer_title,
                executed_at,
                ip_address,
            }
        },
    ))
}

impl Scoped<'_> {
    /// The actor's practice's agreement in force, if any (practice admins and
    /// security officers; audited as a read of the practice).
    pub async fn agreement(&self) -> Result<Option<ExecutedAgreement>, StoreError> {
        let practice = self.practice()?;
        self.authorize_in_own_practice(
            Action::VendorView,
            AuditedAs::one(AuditAction::Read, ResourceType::Practice, &practice),
        )
        .await?;
        in_force(&self.store.db, practice).await
    }

    /// Executes the agreement for the actor's practice (its administrator), as the
    /// text whose digest is `sha256` (the one the signer read: a text changed since
    /// is refused), signed with the name and title typed. Records the address the
    /// request came from, and audits the execution.
    pub async fn execute_agreement(
        &self,
        signer_name: &str,
        signer_title: &str,
        sha256: &str,
        now: OffsetDateTime,
    ) -> Result<ExecutedAgreement, StoreError> {
        let practice = self.practice()?;
        self.authorize_in_own_practice(
            Action::PracticeConfigure,
            AuditedAs::one(AuditAction::Write, ResourceType::Practice, &practice),
        )
        .await?;
        let signer = self.actor.user().ok_or(StoreError::Denied)?;
        if sha256 != agreement_sha256() {
            return Err(StoreError::Refused(
                "the agreement's text has changed since you opened it; read it again",
            ));
        }
        let name = signer_name.trim();
        let title = signer_title.trim();
        if name.is_empty() || title.is_empty() || name.len() > 120 || title.len() > 120 {
            return Err(StoreError::Refused(
                "type your full name and your title (at most 120 characters each)",
            ));
        }
        let ip_address = self.context.ip_address.map(|ip: IpAddr| ip.to_string());
        let mut event = self.event(
            AuditAction::Write,
            ResourceType::Practice,
            Some(practice.to_string()),
            Outcome::Success,
        );
        event
            .detail
            .insert("agreement", Detail::Code("business_associate".into()));
        event
            .detail
            .insert("version", Detail::Code(AGREEMENT_VERSION.into()));
        event.detail.insert("sha256", Detail::Code(sha256.into()));
        let mut tx = self.store.begin().await?;
        let inserted = crate::db::on_tx!(&mut tx, tx => {
            sqlx::query(
                "INSERT INTO practice_agreements (id, practice_id, version, sha256, signer_id, \
                 signer_name, signer_title, executed_at, ip_address, user_agent) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(Uuid::now_v7())
            .bind(practice.as_uuid())
            .bind(AGREEMENT_VERSION)
            .bind(sha256)
            .bind(signer.as_uuid())
            .bind(name)
            .bind(title)
            .bind(now)
            .bind(ip_address.as_deref())
            .bind(self.context.user_agent.as_deref())
            .execute(&mut *tx)
            .await
            .map(|_| ())
        });
        match inserted {
            Ok(()) => {}
            Err(err) if crate::error::is_unique_violation(&err) => {
                return Err(StoreError::Conflict(
                    "the agreement is already executed for this practice",
                ));
            }
            Err(err) => {
                return Err(anyhow::Error::new(err)
                    .context("executing an agreement")
                    .into());
            }
        }
        tx.commit_with(&[&event]).await?;
        Ok(ExecutedAgreement {
            version: AGREEMENT_VERSION.to_owned(),
            sha256: sha256.to_owned(),
            signer,
            signer_name: name.to_owned(),
            signer_title: title.to_owned(),
            executed_at: now,
            ip_address,
        })
    }

    /// The gate for a write to a referral: both offices' agreements in force.
    pub(crate) async fn require_referral_agreements(
        &self,
        row: &crate::repos::referrals::ReferralRow,
        what: ResourceType,
    ) -> Result<(), StoreError> {
        let (own, other) = if Some(PracticeId::from_uuid(row.practice_id)) == self.actor.practice()
        {
            (row.practice_id, row.receiving_practice_id)
        } else {
            (row.receiving_practice_id, row.practice_id)
        };
        self.require_agreement(PracticeId::from_uuid(own), "your practice", what)
            .await?;
        self.require_agreement(PracticeId::from_uuid(other), "the other office", what)
            .await
    }

    /// The gate before PHI enters `practice`: its agreement must be in force. A
    /// refusal is audited as a denied write of `what`, with the reason
    /// `baa_not_executed`, and returned as [`StoreError::AgreementRequired`] naming
    /// `whose` ("your practice", "the receiving office").
    pub(crate) async fn require_agreement(
        &self,
        practice: PracticeId,
        whose: &'static str,
        what: ResourceType,
    ) -> Result<(), StoreError> {
        if in_force(&self.store.db, practice).await?.is_some() {
            return Ok(());
        }
        let mut event = self.event(AuditAction::Write, what, None, Outcome::Denied);
        event
            .detail
            .insert("reason", Detail::Code("baa_not_executed".into()));
        self.store.audit().record(event).await?;
        Err(StoreError::AgreementRequired(whose))
    }
}
