//! The network directory: practices that list themselves, searchable by specialty,
//! name and city. It holds offices, never patients.

use anyhow::Context as _;
use enamel_audit::entry::{Action as AuditAction, Outcome, ResourceType};
use enamel_domain::{PracticeId, PracticeKind};
use enamel_policy::{Action, Circumstances, Resource};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::audit::write_with_events;
use crate::pool::on_pool;
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
}

/// What to look for; every part optional.
#[derive(Clone, Debug, Default)]
pub struct DirectoryQuery {
    pub kind: Option<PracticeKind>,
    pub name: Option<String>,
    pub city: Option<String>,
}

impl Scoped<'_> {
    /// Listed offices other than the actor's own that match the query, by name.
    pub async fn directory(&self, query: &DirectoryQuery) -> Result<Vec<Listing>, StoreError> {
        let practice = self.practice()?;
        self.authorize(
            Action::DirectorySearch,
            &Resource::Practice(practice),
            Circumstances::default(),
            (AuditAction::Search, ResourceType::Directory, None),
        )
        .await?;
        let like = |text: &Option<String>| {
            text.as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|t| format!("%{}%", t.to_lowercase().replace(['%', '_'], "")))
        };
        let rows: Vec<(Uuid, String, String, String, String, String)> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT id, name, kind, city, state, phone FROM practices \
                 WHERE listed AND id <> $1 AND ($2 IS NULL OR kind = $2) \
                 AND ($3 IS NULL OR LOWER(name) LIKE $3) AND ($4 IS NULL OR LOWER(city) LIKE $4) \
                 ORDER BY name LIMIT 100",
            )
            .bind(practice.as_uuid())
            .bind(query.kind.map(PracticeKind::as_str))
            .bind(like(&query.name))
            .bind(like(&query.city))
            .fetch_all(pool)
            .await
        })
        .context("searching the directory")?;
        rows.into_iter()
            .map(|(id, name, kind, city, state, phone)| {
                Ok(Listing {
                    id: PracticeId::from_uuid(id),
                    name,
                    kind: PracticeKind::parse(&kind).map_err(StoreError::Corrupt)?,
                    city,
                    state,
                    phone,
                })
            })
            .collect()
    }

    /// Lists or unlists the actor's practice in the directory.
    pub async fn set_listed(&self, listed: bool) -> Result<(), StoreError> {
        let practice = self.practice()?;
        self.authorize(
            Action::PracticeConfigure,
            &Resource::Practice(practice),
            Circumstances::default(),
            (
                AuditAction::SettingChange,
                ResourceType::Practice,
                Some(practice.to_string()),
            ),
        )
        .await?;
        let event = self.event(
            AuditAction::SettingChange,
            ResourceType::Practice,
            Some(practice.to_string()),
            Outcome::Success,
        );
        write_with_events!(self.store, &[&event], tx => {
            sqlx::query("UPDATE practices SET listed = $1 WHERE id = $2")
                .bind(listed)
                .bind(practice.as_uuid())
                .execute(&mut *tx)
                .await?;
        })
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
        self.authorize(
            Action::ReferralCreate,
            &Resource::Practice(practice),
            Circumstances::default(),
            (AuditAction::Invite, ResourceType::Directory, None),
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
        write_with_events!(self.store, &[&event], tx => {
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
        })
        .context("inviting an office")?;
        Ok(id)
    }
}
