//! The network directory: practices that list themselves, searchable by specialty,
//! name, city and distance from the searching office. It holds offices, never
//! patients.

use anyhow::Context as _;
use enamel_audit::entry::{Action as AuditAction, Outcome, ResourceType};
use enamel_domain::{GeoPoint, PracticeId, PracticeKind};
use enamel_policy::Action;
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::{on_pool, on_tx};
use crate::scoped::authorize::AuditedAs;
use crate::{Scoped, StoreError};

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

    /// Records an invitation to a specialist office not yet on Enamel. It carries no
    /// PHI: the office's name and address only. Returns the invitation's id.
    pub async fn invite_office(
        &self,
        office_name: &str,
        email: &enamel_domain::Email,
        at: OffsetDateTime,
    ) -> Result<Uuid, StoreError> {
        let practice = self.practice()?;
        self.authorize_in_own_practice(
            Action::ReferralCreate,
            AuditedAs::any(AuditAction::Invite, ResourceType::Directory),
        )
        .await?;
        let name = office_name.trim();
        if name.is_empty() || name.chars().count() > 120 {
            return Err(StoreError::Refused("an office name is 1 to 120 characters"));
        }
        let id = Uuid::now_v7();
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
                    "INSERT INTO network_invitations (id, practice_id, invited_by, office_name, email, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(id)
                .bind(practice.as_uuid())
                .bind(user)
                .bind(name)
                .bind(email.as_str())
                .bind(at)
                .execute(&mut *tx)
                .await?;
            });
            tx.commit_with(&[&event]).await
        }
        .await
        .context("inviting an office")?;
        Ok(id)
    }
}
