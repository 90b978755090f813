//! The patient portal: links that open, for whoever knows the patient's birth date,
//! a short session showing one referral's status, the specialist's contact details
//! and the booked visit, nothing clinical. The link's signature is checked by the
//! server (it holds the HMAC key); this module keeps each link expiring, counts wrong
//! birth dates and locks a link at the fifth.

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
use crate::sealed::{PATIENT_BIRTH_DATE, PATIENT_CONTACT, REFERRAL_APPOINTMENT};
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
    /// The booked visit in the specialist's time zone, once scheduled.
    pub appointment: Option<enamel_domain::Phi<String>>,
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

/// How many wrong birth dates lock a portal link for good (the office sends a new one).
pub const PORTAL_ATTEMPTS: i64 = 5;

/// What opening a portal link with a birth date came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortalOpening {
    /// The birth date matched: a portal session is open on this referral.
    Opened(ReferralId),
    /// The birth date did not match; this many tries are left.
    WrongBirthDate { attempts_left: i64 },
    /// Too many wrong birth dates: the link works no more.
    Locked,
    /// Unknown or expired.
    Gone,
}

/// A link's row with what opening it needs.
type LinkRow = (
    Uuid,
    Uuid,
    OffsetDateTime,
    Option<OffsetDateTime>,
    Uuid,
    Uuid,
    Vec<u8>,
);

impl Store {
    /// Whether `link` can still be opened (known, unexpired, not locked). Reading it
    /// changes nothing and shows nothing of the patient, so a mail scanner that
    /// fetches the link uses nothing up.
    pub async fn portal_link_usable(
        &self,
        link: Uuid,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let found: Option<Uuid> = on_pool!(&self.db, pool => {
            sqlx::query_scalar(
                "SELECT id FROM portal_links WHERE id = $1 AND expires_at > $2 AND locked_at IS NULL",
            )
            .bind(link)
            .bind(now)
            .fetch_optional(pool)
            .await
        })
        .context("reading a portal link")?;
        Ok(found.is_some())
    }

    /// Opens `link` for whoever knows the patient's birth date: a match starts a
    /// portal session whose token has `session_digest` (as often as the link is
    /// opened within its 24 hours, from any device); a wrong date counts against
    /// [`PORTAL_ATTEMPTS`], and the last one locks the link. Each outcome is audited
    /// against the patient.
    pub async fn open_portal_link(
        &self,
        link: Uuid,
        birth_date: time::Date,
        session_digest: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<PortalOpening, StoreError> {
        let row: Option<LinkRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(
                "SELECT l.practice_id, l.referral_id, l.expires_at, l.locked_at, p.practice_id, \
                 p.id, p.birth_date FROM portal_links l JOIN referrals r ON r.id = l.referral_id \
                 JOIN patients p ON p.id = r.patient_id WHERE l.id = $1",
            )
            .bind(link)
            .fetch_optional(pool)
            .await
        })
        .context("reading a portal link")?;
        let Some((practice, referral, expires_at, locked_at, home, patient, sealed)) = row else {
            return Ok(PortalOpening::Gone);
        };
        if expires_at <= now {
            return Ok(PortalOpening::Gone);
        }
        if locked_at.is_some() {
            return Ok(PortalOpening::Locked);
        }
        let practice = PracticeId::from_uuid(practice);
        let actual: time::Date = self
            .open_json(
                PracticeId::from_uuid(home),
                &PATIENT_BIRTH_DATE,
                patient,
                &sealed,
            )
            .await?;
        let mut event = portal_event(self, practice, link, AuditAction::Read);
        event.patient_id = Some(patient);
        let opening = if actual == birth_date {
            let opened = self.start_portal_session(link, session_digest, now).await?;
            if !opened {
                return Ok(PortalOpening::Gone);
            }
            event
                .detail
                .insert("portal", Detail::Code("link_opened".into()));
            PortalOpening::Opened(ReferralId::from_uuid(referral))
        } else {
            let failed = self.count_failed_attempt(link, now).await?;
            event.outcome = Outcome::Denied;
            let locked = failed >= PORTAL_ATTEMPTS;
            event.detail.insert(
                "portal",
                Detail::Code(
                    if locked {
                        "link_locked"
                    } else {
                        "birth_date_mismatch"
                    }
                    .into(),
                ),
            );
            if locked {
                PortalOpening::Locked
            } else {
                PortalOpening::WrongBirthDate {
                    attempts_left: PORTAL_ATTEMPTS - failed,
                }
            }
        };
        self.audit().record(event).await?;
        Ok(opening)
    }

    /// Marks the link opened (the first time) and starts a session, unless it was
    /// locked or expired meanwhile.
    async fn start_portal_session(
        &self,
        link: Uuid,
        session_digest: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let referral: Option<Uuid> = on_tx!(&mut tx, conn => {
            sqlx::query_scalar(
                "UPDATE portal_links SET used_at = COALESCE(used_at, $2) \
                 WHERE id = $1 AND locked_at IS NULL AND expires_at > $2 RETURNING referral_id",
            )
            .bind(link)
            .bind(now)
            .fetch_optional(&mut *conn)
            .await
        })
        .context("opening a portal link")?;
        let Some(referral) = referral else {
            return Ok(false);
        };
        on_tx!(&mut tx, conn => {
            sqlx::query(
                "INSERT INTO portal_sessions (id, token_digest, link_id, referral_id, created_at, \
                 expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(Uuid::now_v7())
            .bind(&session_digest[..])
            .bind(link)
            .bind(referral)
            .bind(now)
            .bind(now + Duration::minutes(PORTAL_SESSION_MINUTES))
            .execute(&mut *conn)
            .await
            .map(|_| ())
        })
        .context("starting a portal session")?;
        tx.commit().await.context("starting a portal session")?;
        Ok(true)
    }

    /// Counts a wrong birth date against the link, locking it at the last attempt;
    /// returns the count. One statement, so racing guesses each count.
    async fn count_failed_attempt(
        &self,
        link: Uuid,
        now: OffsetDateTime,
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin().await?;
        let failed: Option<i64> = on_tx!(&mut tx, conn => {
            sqlx::query_scalar(
                "UPDATE portal_links SET failed_attempts = failed_attempts + 1, \
                 locked_at = CASE WHEN failed_attempts + 1 >= $3 THEN $2 ELSE locked_at END \
                 WHERE id = $1 RETURNING failed_attempts",
            )
            .bind(link)
            .bind(now)
            .bind(PORTAL_ATTEMPTS)
            .fetch_optional(&mut *conn)
            .await
        })
        .context("counting a wrong birth date")?;
        tx.commit().await.context("counting a wrong birth date")?;
        Ok(failed.unwrap_or(PORTAL_ATTEMPTS))
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
            String,
            Option<Vec<u8>>,
        );
        let row: Option<Row> = on_pool!(&self.db, pool => {
            sqlx::query_as(
                "SELECT r.id, r.practice_id, s.link_id, r.status, a.name, b.name, b.phone, \
                 b.address_line1, b.city, b.state || ' ' || b.postal_code, p.name, p.id, \
                 b.time_zone, r.appointment \
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
            zone,
            appointment,
        )) = row
        else {
            return Ok(None);
        };
        let practice = PracticeId::from_uuid(practice);
        let first_name = self.first_name(practice, patient, &name).await?;
        // The appointment is the specialist's wall-clock time, sealed under the
        // referring practice's key with the referral's other details.
        let appointment = match appointment {
            Some(sealed) => {
                let local: time::PrimitiveDateTime = self
                    .open_json(practice, &REFERRAL_APPOINTMENT, referral, &sealed)
                    .await?;
                let zone = enamel_domain::TimeZone::parse(&zone).map_err(StoreError::Corrupt)?;
                Some(zone.spoken(local))
            }
            None => None,
        };
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
            appointment: appointment.map(enamel_domain::Phi::new),
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
             The link works for 24 hours; it asks for your date of birth before it shows \
             anything. After that, your dental office can send a new one."
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
