//! Repositories built for an actor: every query is limited to the actor's practice,
//! authorized by the policy decision point ([`authorize`]) and, for anything that
//! leaves Enamel, by the BAA registry ([`baa`]).

pub mod authorize;
pub mod baa;

use anyhow::Context as _;
use enamel_domain::{Actor, Practice, PracticeId, User, UserId};

use crate::db::on_pool;
use crate::repos::users::{UserRow, parse_rows, user_columns};
use crate::repos::vendor_credentials::VendorCredentials;
use crate::scoped::authorize::AuditedAs;
use crate::{Store, StoreError};

/// The store as one actor sees it.
///
/// Each method adds the actor's practice to its query. A row of another practice is
/// answered exactly like a missing one ([`StoreError::NotFound`]), and an actor with
/// no practice (the system, a platform operator) finds no practice data at all.
#[derive(Debug)]
pub struct Scoped<'a> {
    pub(crate) store: &'a Store,
    pub(crate) actor: &'a Actor,
    pub(crate) context: RequestContext,
}

/// Where a request came from, recorded in each audit event it causes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestContext {
    pub ip_address: Option<std::net::IpAddr>,
    pub user_agent: Option<String>,
    pub correlation_id: Option<String>,
}

impl RequestContext {
    pub(crate) fn apply(&self, event: &mut enamel_audit::entry::Event) {
        event.ip_address = self.ip_address;
        event.user_agent.clone_from(&self.user_agent);
        event.correlation_id.clone_from(&self.correlation_id);
    }
}

impl<'a> Scoped<'a> {
    pub(crate) const fn new(store: &'a Store, actor: &'a Actor) -> Self {
        Self {
            store,
            actor,
            context: RequestContext {
                ip_address: None,
                user_agent: None,
                correlation_id: None,
            },
        }
    }

    /// The same repositories, recording `context` in every audit event.
    #[must_use]
    pub fn with_context(mut self, context: RequestContext) -> Self {
        self.context = context;
        self
    }

    /// The actor these repositories act for.
    #[must_use]
    pub const fn actor(&self) -> &Actor {
        self.actor
    }

    pub(crate) fn practice(&self) -> Result<PracticeId, StoreError> {
        self.actor.practice().ok_or(StoreError::NotFound)
    }

    /// The practice's vendor credentials, sealed like PHI.
    pub fn vendor_credentials(&self) -> Result<VendorCredentials<'a>, StoreError> {
        Ok(VendorCredentials::new(
            self.store,
            self.practice()?,
            self.actor,
        ))
    }

    /// The practice's blind-index key, for equality search on its encrypted fields.
    pub async fn blind_index_key(
        &self,
    ) -> Result<std::sync::Arc<enamel_crypto::blind::IndexKey>, StoreError> {
        self.store.index_key(self.practice()?).await
    }

    /// The actor's own practice.
    pub async fn own_practice(&self) -> Result<Practice, StoreError> {
        self.store.practices().get(self.practice()?).await
    }

    /// The accounts of the actor's practice, by display name. An actor of no
    /// practice (the platform operator, the system) is refused, and the refusal
    /// audited in the platform's log, rather than shown an empty list.
    pub async fn users(&self) -> Result<Vec<User>, StoreError> {
        let Ok(practice) = self.practice() else {
            let event = self.event(
                enamel_audit::entry::Action::Read,
                enamel_audit::entry::ResourceType::User,
                None,
                enamel_audit::entry::Outcome::Denied,
            );
            self.store.audit().record(event).await?;
            return Err(StoreError::Denied);
        };
        self.authorize_in_own_practice(
            enamel_policy::Action::AccountList,
            AuditedAs::any(
                enamel_audit::entry::Action::Read,
                enamel_audit::entry::ResourceType::User,
            ),
        )
        .await?;
        let sql = concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE practice_id = $1 ORDER BY display_name, id"
        );
        let rows: Vec<UserRow> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(sql).bind(practice.as_uuid()).fetch_all(pool).await
        })
        .context("listing a practice's accounts")?;
        parse_rows(rows)
    }

    /// One account of the actor's practice, if the actor may see it.
    pub async fn account(&self, id: UserId) -> Result<User, StoreError> {
        let user = self.user(id).await?;
        if self.actor.user() != Some(id) {
            self.authorize(
                enamel_policy::Action::AccountView,
                &enamel_policy::Resource::User {
                    id,
                    practice: user.practice,
                },
                enamel_policy::Circumstances::default(),
                AuditedAs::one(
                    enamel_audit::entry::Action::Read,
                    enamel_audit::entry::ResourceType::User,
                    &id,
                ),
            )
            .await?;
        }
        Ok(user)
    }

    /// One account of the actor's practice (for the operations that authorize it).
    pub(crate) async fn user(&self, id: UserId) -> Result<User, StoreError> {
        let practice = self.practice()?;
        let sql = concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE id = $1 AND practice_id = $2"
        );
        let row: Option<UserRow> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(sql)
                .bind(id.as_uuid())
                .bind(practice.as_uuid())
                .fetch_optional(pool)
                .await
        })
        .context("reading an account")?;
        row.ok_or(StoreError::NotFound)?
            .try_into()
            .map_err(StoreError::Corrupt)
    }
}
