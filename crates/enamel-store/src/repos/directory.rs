//! The network directory: practices that list themselves, searchable by specialty,
//! name, city and distance from the searching office. It holds offices, never
//! patients.

use anyhow::Context as _;
use enamel_audit::entry::{Action as AuditAction, Outcome, ResourceType};
use enamel_domain::{Channel, GeoPoint, PracticeId, PracticeKind};
use enamel_policy::Action;
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::{on_pool, on_tx};
use crate::repos::outbox::{MessageText, NewMessage};
use crate::scoped::authorize::AuditedAs;
use crate::{Scoped, Store, StoreError};

/// An office as the directory shows it.
#[derive(Clone, Debug, Serialize)]
pub struct Listing {
    pub id: PracticeId,
    pub name: String,
    pub kind: PracticeKind,
    pub city: String,
    pub state: String,
    pub phone: String,
    /// From the searching office, when both offices have set where they are.
    pub distance_km: Option<f64>,
    /// As the office writes them, if it has.
    pub office_hours: Option<String>,
}

/// What to look for; every part optional.
#[derive(Clone, Debug, Default)]
pub struct DirectoryQuery {
    pub kind: Option<PracticeKind>,
    pub name: Option<String>,
    pub city: Option<String>,
    /// Only offices within this many kilometres of the searching office (which must
    /// have set its location), nearest first.
    pub within_km: Option<f64>,
}

type ListingRow = (
    Uuid,
    String,
    String,
    String,
    String,
    String,
    Option<f64>,
    Option<f64>,
    Option<String>,
);

fn point(latitude: Option<f64>, longitude: Option<f64>) -> Option<GeoPoint> {
    GeoPoint::new(latitude?, longitude?).ok()
}

impl Scoped<'_> {
    /// Listed offices other than the actor's own that match the query, by name.
    pub async fn directory(&self, query: &DirectoryQuery) -> Result<Vec<Listing>, StoreError> {
        let practice = self.practice()?;
        self.authorize_in_own_practice(
            Action::DirectorySearch,
            AuditedAs::any(AuditAction::Search, ResourceType::Directory),
        )
        .await?;
        let like = |text: &Option<String>| {
            text.as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|t| format!("%{}%", t.to_lowercase().replace(['%', '_'], "")))
        };
        let rows: Vec<ListingRow> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT id, name, kind, city, state, phone, latitude, longitude, office_hours FROM practices \
                 WHERE listed AND id <> $1 AND ($2 IS NULL OR kind = $2) \
                 AND ($3 IS NULL OR LOWER(name) LIKE $3) AND ($4 IS NULL OR LOWER(city) LIKE $4) \
                 AND ($5 = 0 OR (latitude IS NOT NULL AND longitude IS NOT NULL)) \
                 ORDER BY name LIMIT $6",
            )
            .bind(practice.as_uuid())
            .bind(query.kind.map(PracticeKind::as_str))
            .bind(like(&query.name))
            .bind(like(&query.city))
            .bind(i32::from(query.within_km.is_some()))
            // By distance, every located office is a candidate; by name, a page.
            .bind(if query.within_km.is_some() { 100_000_i64 } else { 100 })
            .fetch_all(pool)
            .await
        })
        .context("searching the directory")?;
        let here = self.location().await?;
        if query.within_km.is_some() && here.is_none() {
            return Err(StoreError::Refused(
                "set your office's location to search by distance",
            ));
        }
        let mut listings = rows
            .into_iter()
            .map(
                |(id, name, kind, city, state, phone, latitude, longitude, office_hours)| {
                    let distance_km = here
                        .zip(point(latitude, longitude))
                        .map(|(a, b)| (a.distance_km(b) * 10.0).round() / 10.0);
                    Ok(Listing {
                        id: PracticeId::from_uuid(id),
                        name,
                        kind: PracticeKind::parse(&kind).map_err(StoreError::Corrupt)?,
                        city,
                        state,
                        phone,
                        distance_km,
                        office_hours,
                    })
                },
            )
            .collect::<Result<Vec<_>, StoreError>>()?;
        if let Some(within) = query.within_km {
            listings.retain(|l| l.distance_km.is_some_and(|d| d <= within));
            listings.sort_by(|a, b| {
                let far = |l: &Listing| l.distance_km.unwrap_or(f64::MAX);
                far(a).total_cmp(&far(b))
            });
        }
        listings.truncate(100);
        Ok(listings)
    }

    /// Where the actor's office is, if it has said.
    async fn location(&self) -> Result<Option<GeoPoint>, StoreError> {
        let practice = self.practice()?;
        let row: Option<(Option<f64>, Option<f64>)> = on_pool!(&self.store.db, pool => {
            sqlx::query_as("SELECT latitude, longitude FROM practices WHERE id = $1")
                .bind(practice.as_uuid())
                .fetch_optional(pool)
                .await
        })
        .context("reading an office's location")?;
        Ok(row.and_then(|(lat, lon)| point(lat, lon)))
    }

    /// Lists or unlists the actor's practice in the directory, and says where it is
    /// (for distance search; `None` keeps the location on file).
    pub async fn set_listing(
        &self,
        listed: bool,
        location: Option<GeoPoint>,
    ) -> Result<(), StoreError> {
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
        let event = self.event(
            AuditAction::SettingChange,
            ResourceType::Practice,
            Some(practice.to_string()),
            Outcome::Success,
        );
        async {
            let mut tx = self.store.begin().await?;
            on_tx!(&mut tx, tx => {
                // No location given leaves the one on file.
                sqlx::query(
                    "UPDATE practices SET listed = $1, latitude = COALESCE($2, latitude), \
                     longitude = COALESCE($3, longitude) WHERE id = $4",
                )
                    .bind(listed)
                    .bind(location.map(GeoPoint::latitude))
                    .bind(location.map(GeoPoint::longitude))
                    .bind(practice.as_uuid())
                    .execute(&mut *tx)
                    .await?;
            });
            tx.commit_with(&[&event]).await
        }
        .await
        .context("changing the directory listing")?;
        Ok(())
    }

    /// Invites an office not yet on Enamel: records the invitation and emails the
    /// office a single-use link to join, valid [`OFFICE_INVITATION_DAYS`] days. It
    /// carries no PHI: the inviting office's name and the link only. Returns the
    /// invitation's id.
    pub async fn invite_office(
        &self,
        office_name: &str,
        email: &enamel_domain::Email,
        token: &enamel_crypto::token::SecretToken,
        at: OffsetDateTime,
    ) -> Result<Uuid, StoreError> {
        let practice = self.practice()?;
        self.authorize_in_own_practice(
            Action::ReferralCreate,
            AuditedAs::any(AuditAction::Invite, ResourceType::Directory),
        )
        .await?;
        let name = office_name.trim();
        if name.is_empty() || name.chars().count() > 120 || name.chars().any(char::is_control) {
            return Err(StoreError::Refused("an office name is 1 to 120 characters"));
        }
        let inviter = self.own_practice().await?;
        let id = Uuid::now_v7();
        let message = self
            .store
            .seal_message(NewMessage {
                practice,
                channel: Channel::Email,
                patient: None,
                referral: None,
                kind: OFFICE_INVITATION,
                recipient: email.as_str().to_owned(),
                text: MessageText {
                    subject: format!("{} invites {name} to Enamel", inviter.name.as_str()),
                    body: format!(
                        "{inviter} would like to send referrals to {name} through Enamel, the \
                         referral network for dental offices.\n\n\
                         To set up your office, open this link within {OFFICE_INVITATION_DAYS} \
                         days:\n{{base_url}}/join/{token}\n\n\
                         This message contains no patient information. If you were not \
                         expecting it, you can ignore it.",
                        inviter = inviter.name.as_str(),
                        token = token.expose(),
                    ),
                },
                idempotency_key: format!("{OFFICE_INVITATION}:{id}"),
            })
            .await?;
        let event = self.event(
            AuditAction::Invite,
            ResourceType::Directory,
            Some(id.to_string()),
            Outcome::Success,
        );
        let user = self.actor.user().map(|u| u.as_uuid());
        async {
            let mut tx = self.store.begin().await?;
            on_tx!(&mut tx, tx => {
                sqlx::query(
                    "INSERT INTO network_invitations (id, practice_id, invited_by, office_name, email, \
                     created_at, token_digest, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(id)
                .bind(practice.as_uuid())
                .bind(user)
                .bind(name)
                .bind(email.as_str())
                .bind(at)
                .bind(&token.digest()[..])
                .bind(at + time::Duration::days(OFFICE_INVITATION_DAYS))
                .execute(&mut *tx)
                .await?;
            });
            crate::repos::outbox::queue_in_tx(&mut tx, &message, at)
                .await?
                .map_err(|_| anyhow::anyhow!("this invitation was queued already"))?;
            tx.commit_with(&[&event]).await
        }
        .await
        .context("inviting an office")?;
        Ok(id)
    }

    /// The office's invitations to others, newest first, and where each stands.
    pub async fn office_invitations(
        &self,
        now: OffsetDateTime,
    ) -> Result<Vec<OfficeInvitation>, StoreError> {
        let practice = self.practice()?;
        self.authorize_in_own_practice(
            Action::ReferralCreate,
            AuditedAs::any(AuditAction::Read, ResourceType::Directory),
        )
        .await?;
        let rows: Vec<InvitationRow> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT n.id, n.office_name, n.email, n.created_at, n.expires_at, n.accepted_at, \
                 p.name FROM network_invitations n LEFT JOIN practices p ON p.id = n.joined_practice_id \
                 WHERE n.practice_id = $1 ORDER BY n.created_at DESC LIMIT 100",
            )
            .bind(practice.as_uuid())
            .fetch_all(pool)
            .await
        })
        .context("listing office invitations")?;
        Ok(rows
            .into_iter()
            .map(
                |(id, office_name, email, created_at, expires_at, accepted_at, joined)| {
                    let state = match (accepted_at, joined) {
                        (Some(at), Some(name)) => InvitationState::Joined { at, practice: name },
                        _ if expires_at.is_some_and(|e| e <= now) => InvitationState::Expired,
                        _ => InvitationState::Sent,
                    };
                    OfficeInvitation {
                        id,
                        office_name,
                        email,
                        created_at,
                        state,
                    }
                },
            )
            .collect())
    }
}

type InvitationRow = (
    Uuid,
    String,
    String,
    OffsetDateTime,
    Option<OffsetDateTime>,
    Option<OffsetDateTime>,
    Option<String>,
);

/// How long an office's invitation to join works.
pub const OFFICE_INVITATION_DAYS: i64 = 14;

/// The outbox kind of an office's invitation to join: no PHI in it (the inviting
/// office's name and a link), so like a staff invitation it needs no vendor
/// agreement (docs/onboarding.md).
pub const OFFICE_INVITATION: &str = "office_invitation";

/// An invitation an office sent, as it sees it.
#[derive(Clone, Debug)]
pub struct OfficeInvitation {
    pub id: Uuid,
    pub office_name: String,
    pub email: String,
    pub created_at: OffsetDateTime,
    pub state: InvitationState,
}

/// Where an office invitation stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InvitationState {
    Sent,
    Expired,
    /// Accepted: the office is on Enamel as `practice`.
    Joined {
        at: OffsetDateTime,
        practice: String,
    },
}

/// An open invitation to join, as its link's page shows it.
#[derive(Clone, Debug)]
pub struct JoinInvitation {
    pub id: Uuid,
    pub office_name: String,
    pub email: String,
    pub inviter: String,
}

impl Store {
    /// The open (unexpired, unaccepted) invitation whose link has `digest`.
    pub async fn join_invitation(
        &self,
        digest: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<JoinInvitation>, StoreError> {
        let row: Option<(Uuid, String, String, String)> = on_pool!(&self.db, pool => {
            sqlx::query_as(
                "SELECT n.id, n.office_name, n.email, p.name FROM network_invitations n \
                 JOIN practices p ON p.id = n.practice_id WHERE n.token_digest = $1 \
                 AND n.accepted_at IS NULL AND n.expires_at > $2",
            )
            .bind(&digest[..])
            .bind(now)
            .fetch_optional(pool)
            .await
        })
        .context("reading an office invitation")?;
        Ok(row.map(|(id, office_name, email, inviter)| JoinInvitation {
            id,
            office_name,
            email,
            inviter,
        }))
    }

    /// Marks the invitation accepted by the office that joined as `practice`; false
    /// when it was accepted (or expired) meanwhile.
    pub async fn accept_join_invitation(
        &self,
        id: Uuid,
        practice: PracticeId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let updated = on_pool!(&self.db, pool => {
            sqlx::query(
                "UPDATE network_invitations SET accepted_at = $1, joined_practice_id = $2 \
                 WHERE id = $3 AND accepted_at IS NULL AND expires_at > $1",
            )
            .bind(now)
            .bind(practice.as_uuid())
            .bind(id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .context("accepting an office invitation")?;
        Ok(updated == 1)
    }
}
