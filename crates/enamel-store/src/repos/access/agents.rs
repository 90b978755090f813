//! Agent service accounts and their API tokens (shown once, stored as digests).

use anyhow::Context as _;
use enamel_audit::entry::{Action as AuditAction, Detail, Outcome, ResourceType};
use enamel_domain::AgentId;
use enamel_policy::Action;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::{on_pool, on_tx};
use crate::error::conflict_if_taken;
use crate::scoped::authorize::AuditedAs;
use crate::{Scoped, StoreError};

/// An agent and its tokens.
#[derive(Debug, Clone)]
pub struct AgentInfo {
    pub id: AgentId,
    pub name: String,
    pub tokens: Vec<TokenInfo>,
}

/// A token as its practice sees it: never the token itself.
#[derive(Debug, Clone)]
pub struct TokenInfo {
    pub id: Uuid,
    pub scopes: Vec<String>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub revoked: bool,
    pub last_used_at: Option<OffsetDateTime>,
}

impl Scoped<'_> {
    async fn authorize_agents(&self, audit_action: AuditAction) -> Result<(), StoreError> {
        self.authorize_in_own_practice(
            Action::AgentManage,
            AuditedAs::any(audit_action, ResourceType::Agent),
        )
        .await
    }

    /// Creates an agent service account.
    pub async fn create_agent(
        &self,
        name: &str,
        now: OffsetDateTime,
    ) -> Result<AgentId, StoreError> {
        self.authorize_agents(AuditAction::Create).await?;
        let practice = self.practice()?;
        let creator = self.actor.user().ok_or(StoreError::Denied)?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 80 {
            return Err(StoreError::Conflict(
                "an agent's name has 1 to 80 characters",
            ));
        }
        let id = AgentId::generate();
        let event = self.event(
            AuditAction::Create,
            ResourceType::Agent,
            Some(id.to_string()),
            Outcome::Success,
        );
        let written = async {
            let mut tx = self.store.begin().await?;
            on_tx!(&mut tx, tx => {
                sqlx::query(
                    "INSERT INTO agents (id, practice_id, name, created_by, created_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(id.as_uuid())
                .bind(practice.as_uuid())
                .bind(name)
                .bind(creator.as_uuid())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            });
            tx.commit_with(&[&event]).await
        }
        .await;
        written.map(|()| id).map_err(|err| {
            conflict_if_taken(
                err,
                "an agent with this name already exists",
                "creating an agent",
            )
        })
    }

    /// Issues a token for an agent of the practice, stored as `digest`.
    pub async fn issue_token(
        &self,
        agent: AgentId,
        scopes: &[Action],
        digest: &[u8; 32],
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Uuid, StoreError> {
        self.authorize_agents(AuditAction::TokenCreate).await?;
        if scopes.is_empty() {
            return Err(StoreError::Refused(
                "an agent token needs at least one scope",
            ));
        }
        let practice = self.practice()?;
        let creator = self.actor.user().ok_or(StoreError::Denied)?;
        let id = Uuid::now_v7();
        let scope_text: Vec<&str> = scopes.iter().map(|a| a.as_str()).collect();
        let mut event = self.event(
            AuditAction::TokenCreate,
            ResourceType::ApiToken,
            Some(id.to_string()),
            Outcome::Success,
        );
        event
            .detail
            .insert("agent", Detail::Ids(vec![agent.as_uuid()]));
        event
            .detail
            .insert("scopes", Detail::Code(scope_text.join(" ")));
        let inserted = async {
            let mut tx = self.store.begin().await?;
            let value = on_tx!(&mut tx, tx => {
                let owned: Option<Uuid> = sqlx::query_scalar("SELECT id FROM agents WHERE id = $1 AND practice_id = $2")
                    .bind(agent.as_uuid())
                    .bind(practice.as_uuid())
                    .fetch_optional(&mut *tx)
                    .await?;
                if owned.is_none() {
                    return Ok(false);
                }
                sqlx::query(
                    "INSERT INTO api_tokens (id, agent_id, practice_id, token_digest, scopes, created_by, \
                     created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(id)
                .bind(agent.as_uuid())
                .bind(practice.as_uuid())
                .bind(&digest[..])
                .bind(scope_text.join(" "))
                .bind(creator.as_uuid())
                .bind(now)
                .bind(expires_at)
                .execute(&mut *tx)
                .await?;
                true
            });
            tx.commit_with(&[&event]).await?;
            Ok::<_, anyhow::Error>(value)
        }
        .await
        .context("issuing a token")?;
        if inserted {
            Ok(id)
        } else {
            Err(StoreError::NotFound)
        }
    }

    /// Revokes a token of the practice.
    pub async fn revoke_token(&self, id: Uuid, now: OffsetDateTime) -> Result<(), StoreError> {
        self.authorize_agents(AuditAction::TokenRevoke).await?;
        let practice = self.practice()?;
        let event = self.event(
            AuditAction::TokenRevoke,
            ResourceType::ApiToken,
            Some(id.to_string()),
            Outcome::Success,
        );
        let revoked = async {
            let mut tx = self.store.begin().await?;
            let value = on_tx!(&mut tx, tx => {
                let revoked = sqlx::query(
                    "UPDATE api_tokens SET revoked_at = $3 WHERE id = $1 AND practice_id = $2 AND revoked_at IS NULL",
                )
                .bind(id)
                .bind(practice.as_uuid())
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if revoked != 1 {
                    return Ok(false);
                }
                true
            });
            tx.commit_with(&[&event]).await?;
            Ok::<_, anyhow::Error>(value)
        }
        .await
        .context("revoking a token")?;
        if revoked {
            Ok(())
        } else {
            Err(StoreError::NotFound)
        }
    }

    /// The practice's agents and their tokens.
    pub async fn agents(&self) -> Result<Vec<AgentInfo>, StoreError> {
        type Row = (
            Uuid,
            String,
            Option<Uuid>,
            Option<String>,
            Option<OffsetDateTime>,
            Option<OffsetDateTime>,
            Option<OffsetDateTime>,
            Option<OffsetDateTime>,
        );
        self.authorize_agents(AuditAction::Read).await?;
        let practice = self.practice()?;
        let rows: Vec<Row> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT a.id, a.name, t.id, t.scopes, t.created_at, t.expires_at, t.revoked_at, t.last_used_at \
                 FROM agents a LEFT JOIN api_tokens t ON t.agent_id = a.id \
                 WHERE a.practice_id = $1 ORDER BY a.name, a.id, t.created_at",
            )
            .bind(practice.as_uuid())
            .fetch_all(pool)
            .await
        })
        .context("listing agents")?;
        let mut agents: Vec<AgentInfo> = Vec::new();
        for (agent, name, token, scopes, created_at, expires_at, revoked_at, last_used_at) in rows {
            if agents.last().is_none_or(|a| a.id.as_uuid() != agent) {
                agents.push(AgentInfo {
                    id: AgentId::from_uuid(agent),
                    name,
                    tokens: Vec::new(),
                });
            }
            if let (Some(id), Some(scopes), Some(created_at), Some(expires_at)) =
                (token, scopes, created_at, expires_at)
                && let Some(last) = agents.last_mut()
            {
                last.tokens.push(TokenInfo {
                    id,
                    scopes: scopes.split_whitespace().map(str::to_owned).collect(),
                    created_at,
                    expires_at,
                    revoked: revoked_at.is_some(),
                    last_used_at,
                });
            }
        }
        Ok(agents)
    }

    // --- access review -------------------------------------------------------------
}
