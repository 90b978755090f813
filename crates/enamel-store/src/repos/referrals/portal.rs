//! The patient portal: single-use links that open a short session showing one
//! referral's status and the specialist's contact details, nothing clinical; and
//! the "patient not responding" flag. The link's signature is checked by the server
//! (it holds the HMAC key); this module makes each link single use and expiring.

use anyhow::Context as _;
use enamel_audit::entry::{Action as AuditAction, Detail, Event, Outcome, ResourceType};
use enamel_domain::{Actor, Channel, PracticeId, ReferralId, ReferralStatus, SystemTask};
use enamel_policy::{Action, Circumstances, Resource};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::{TimelineRow, insert_timeline};
use crate::db::{on_pool, on_tx};
use crate::repos::outbox::{MessageText, NewMessage, NotQueued, queue_in_tx};
use crate::scoped::authorize::AuditedAs;
use crate::sealed::PATIENT_CONTACT;
use crate::{Scoped, Store, StoreError};

/// How long a portal session lasts once a link is opened.
pub const PORTAL_SESSION_MINUTES: i64 = 15;

/// What the patient sees: no clinical content.
#[derive(Clone, Debug)]
pub struct PortalView {
    pub referral: ReferralId,
    pub first_name: enamel_domain::Phi<String>,
    pub status: ReferralStatus,
    pub referrer_name: String,
    pub specialist_name: String,
    pub specialist_phone: String,
    pub specialist_address: String,
}

impl Scoped<'_> {
    /// Records a portal link (id chosen and signed by the caller) and queues it to
    /// the patient, within the patient's message limit, in one transaction.
    pub async fn send_portal_link(
        &self,
        referral: ReferralId,
        link: Uuid,
        url_path: &str,
        expires_at: OffsetDateTime,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let practice = self.practice()?;
        let (row, side) = self
            .referral_for(
                referral,
                Action::ReferralAct,
                (AuditAction::Create, ResourceType::PortalLink),
            )
            .await?;
        if side != enamel_domain::Side::Referrer {
            return Err(StoreError::Refused(
                "the referring office sends the patient's link",
            ));
        }
        let patient = self.store.patient_row_of(practice, row.patient_id).await?;
        // Sending the link uses the patient's contact details, so it takes the same
        // permission as reading them (a hygienist's role has neither).
        self.authorize(
            Action::PatientContact,
            &Resource::Patient {
                id: enamel_domain::PatientId::from_uuid(patient.id),
                practice,
                restricted: patient.restricted,
            },
            Circumstances::default(),
            AuditedAs::one(AuditAction::Create, ResourceType::PortalLink, &referral),
        )
        .await?;
        let first = self
            .store
            .first_name(practice, patient.id, &patient.name)
            .await?;
        let contact: enamel_domain::ContactDetails = self
            .store
            .open_json(practice, &PATIENT_CONTACT, patient.id, &patient.contact)
            .await?;
        let Some((channel, recipient)) =
            super::notices::patient_channel(&contact, patient.sms_opt_out)
        else {
            return Err(StoreError::Refused(
                "the patient has no email, or no phone that accepts texts",
            ));
        };
        let message = self
            .store
            .seal_message(portal_message(
                practice,
                row.patient_id,
                referral,
                link,
                url_path,
                &first,
                (channel, recipient),
            ))
            .await?;
        let mut event = self.event(
            AuditAction::Create,
            ResourceType::PortalLink,
            Some(link.to_string()),
            Outcome::Success,
        );
        event.patient_id = Some(row.patient_id);
        let user = self.actor.user().map(|u| u.as_uuid());
        let write = async {
            let mut tx = self.store.begin().await?;
            if let Err(reason) = queue_in_tx(&mut tx, &message, at).await? {
                // Nothing written: the transaction rolls back with no events.
                return Ok(Err(reason));
            }
            on_tx!(&mut tx, conn => {
                sqlx::query(
                    "INSERT INTO portal_links (id, practice_id, referral_id, created_by, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(link)
                .bind(practice.as_uuid())
                .bind(row.id)
                .bind(user)
                .bind(at)
                .bind(expires_at)
                .execute(&mut *conn)
                .await
                .map(|r| r.rows_affected())
            })?;
            let entry = TimelineRow::new(row.id, practice.as_uuid(), "portal_link", user, at);
            insert_timeline(&mut tx, entry).await?;
            tx.commit_with(&[&event]).await?;
            Ok::<_, anyhow::Error>(Ok(()))
        };
        let queued = write.await.context("sending a portal link")?;
        match queued {
            Ok(()) => Ok(()),
            Err(NotQueued::RateLimited) => Err(StoreError::Refused(
                "this patient has had three messages in the last 24 hours; try again later",
            )),
            Err(NotQueued::AlreadyQueued) => {
                Err(StoreError::Conflict("this link was already sent"))
            }
        }
    }
}

impl Store {
    /// Opens a portal link once: marks it used and starts a portal session whose
    /// token has `session_digest`. `None` for a link that is unknown, used or expired.
    pub async fn open_portal_link(
        &self,
        link: Uuid,
        session_digest: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<ReferralId>, StoreError> {
        let opened = on_pool!(&self.db, pool => {
            async {
                let mut tx = pool.begin_with(crate::db::write_begin(pool)).await?;
                let referral: Option<(Uuid, Uuid)> = sqlx::query_as(
                    "UPDATE portal_links SET used_at = $2 WHERE id = $1 AND used_at IS NULL \
                     AND expires_at > $2 RETURNING referral_id, practice_id",
                )
                .bind(link)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some((referral, _)) = referral {
                    sqlx::query(
                        "INSERT INTO portal_sessions (id, token_digest, link_id, referral_id, created_at, expires_at) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(Uuid::now_v7())
                    .bind(&session_digest[..])
                    .bind(link)
                    .bind(referral)
                    .bind(now)
                    .bind(now + Duration::minutes(PORTAL_SESSION_MINUTES))
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok::<_, anyhow::Error>(referral)
            }
            .await
        })
        .context("opening a portal link")?;
        if let Some((referral, practice)) = opened {
            let mut event = portal_event(
                self,
                PracticeId::from_uuid(practice),
                link,
                AuditAction::Read,
            );
            event
                .detail
                .insert("portal", Detail::Code("link_opened".into()));
            self.audit().record(event).await?;
            return Ok(Some(ReferralId::from_uuid(referral)));
        }
        Ok(None)
    }

    /// What a portal session shows, audited before it is returned; `None` when the
    /// session is unknown or over.
    pub async fn portal_view(
        &self,
        session_digest: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<PortalView>, StoreError> {
        type Row = (
            Uuid,
            Uuid,
            Uuid,
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            Vec<u8>,
            Uuid,
        );
        let row: Option<Row> = on_pool!(&self.db, pool => {
            sqlx::query_as(
                "SELECT r.id, r.practice_id, s.link_id, r.status, a.name, b.name, b.phone, \
                 b.address_line1, b.city, b.state || ' ' || b.postal_code, p.name, p.id \
                 FROM portal_sessions s JOIN referrals r ON r.id = s.referral_id \
                 JOIN practices a ON a.id = r.practice_id JOIN practices b ON b.id = r.receiving_practice_id \
                 JOIN patients p ON p.id = r.patient_id \
                 WHERE s.token_digest = $1 AND s.expires_at > $2",
            )
            .bind(&session_digest[..])
            .bind(now)
            .fetch_optional(pool)
            .await
        })
        .context("reading a portal session")?;
        let Some((
            referral,
            practice,
            link,
            status,
            referrer,
            specialist,
            phone,
            line1,
            city,
            state_zip,
            name,
            patient,
        )) = row
        else {
            return Ok(None);
        };
        let practice = PracticeId::from_uuid(practice);
        let first_name = self.first_name(practice, patient, &name).await?;
        let mut event = portal_event(self, practice, link, AuditAction::Read);
        event.patient_id = Some(patient);
        event
            .detail
            .insert("portal", Detail::Code("status_viewed".into()));
        self.audit().record(event).await?;
        Ok(Some(PortalView {
            referral: ReferralId::from_uuid(referral),
            first_name: enamel_domain::Phi::new(first_name),
            status: ReferralStatus::parse(&status).map_err(StoreError::Corrupt)?,
            referrer_name: referrer,
            specialist_name: specialist,
            specialist_phone: enamel_domain::PhoneNumber::parse(&phone)
                .map_or(phone, |p| p.national()),
            specialist_address: format!("{line1}, {city}, {state_zip}"),
        }))
    }
}

fn portal_event(store: &Store, practice: PracticeId, link: Uuid, action: AuditAction) -> Event {
    let mut event = store.event_for(
        &Actor::system_for(practice, SystemTask::Portal),
        action,
        ResourceType::PortalLink,
        Some(link.to_string()),
        Outcome::Success,
    );
    event
        .detail
        .insert("actor", Detail::Code("patient_via_portal".into()));
    event
}

/// The patient's message carrying a portal link: a first name and the link only.
fn portal_message(
    practice: PracticeId,
    patient: Uuid,
    referral: ReferralId,
    link: Uuid,
    url_path: &str,
    first: &str,
    (channel, recipient): (Channel, String),
) -> NewMessage {
    let body = match channel {
        Channel::Sms => format!(
            "Hi {first}, follow your dental referral here: {{base_url}}{url_path} (expires in 24 hours). Reply STOP to opt out."
        ),
        _ => format!(
            "Hi {first},\n\nFollow your dental referral here:\n{{base_url}}{url_path}\n\n\
             The link works once and expires in 24 hours. Your dental office can send a new one."
        ),
    };
    NewMessage {
        practice,
        channel,
        patient: Some(enamel_domain::PatientId::from_uuid(patient)),
        referral: Some(referral),
        kind: "patient_portal_link",
        recipient,
        text: MessageText {
            subject: format!("{first}, follow your dental referral"),
            body,
        },
        idempotency_key: format!("portal:{link}"),
    }
}
