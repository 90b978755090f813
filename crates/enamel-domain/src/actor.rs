//! Who is acting: the subject of every authorization decision and audit event.

use serde::{Deserialize, Serialize};

use crate::{AgentId, PracticeId, Role, User, UserId};

/// The kinds of actor that seed 001's audit specification names.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorType {
    Human,
    Agent,
    System,
}

/// Someone or something acting on Enamel's data.
///
/// A practice-scoped repository is built from an `Actor`, and every query it runs is
/// limited to [`Actor::practice`]; an actor with no practice reaches no practice data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    kind: ActorType,
    user: Option<UserId>,
    practice: Option<PracticeId>,
    role: Option<Role>,
    agent: Option<AgentId>,
    /// What an agent's token allows: the policy actions it may ask for.
    scopes: Vec<String>,
}

impl Actor {
    /// A signed-in person acting in their own practice.
    #[must_use]
    pub fn human(user: &User) -> Self {
        Self {
            kind: ActorType::Human,
            user: Some(user.id),
            practice: user.practice,
            role: Some(user.role),
            agent: None,
            scopes: Vec::new(),
        }
    }

    /// Enamel itself (migrations, seeding, background jobs), scoped to no practice.
    #[must_use]
    pub const fn system() -> Self {
        Self {
            kind: ActorType::System,
            user: None,
            practice: None,
            role: None,
            agent: None,
            scopes: Vec::new(),
        }
    }

    /// Enamel itself acting within one practice (seeding, that practice's jobs).
    #[must_use]
    pub const fn system_for(practice: PracticeId) -> Self {
        Self {
            kind: ActorType::System,
            user: None,
            practice: Some(practice),
            role: None,
            agent: None,
            scopes: Vec::new(),
        }
    }

    /// An agent service account of `practice`, acting through a token with `scopes`.
    #[must_use]
    pub const fn agent(agent: AgentId, practice: PracticeId, scopes: Vec<String>) -> Self {
        Self {
            kind: ActorType::Agent,
            user: None,
            practice: Some(practice),
            role: None,
            agent: Some(agent),
            scopes,
        }
    }

    #[must_use]
    pub const fn actor_type(&self) -> ActorType {
        self.kind
    }
    #[must_use]
    pub const fn user(&self) -> Option<UserId> {
        self.user
    }
    /// The practice whose data this actor may reach, if any.
    #[must_use]
    pub const fn practice(&self) -> Option<PracticeId> {
        self.practice
    }
    #[must_use]
    pub const fn role(&self) -> Option<Role> {
        self.role
    }
    #[must_use]
    pub const fn agent_id(&self) -> Option<AgentId> {
        self.agent
    }
    /// An agent token's scopes; empty for everyone else.
    #[must_use]
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }
    /// The id written as `actor_id` in audit events.
    #[must_use]
    pub fn audit_id(&self) -> String {
        match (self.user, self.agent) {
            (Some(user), _) => user.to_string(),
            (None, Some(agent)) => format!("agent:{agent}"),
            (None, None) => "enamel".to_owned(),
        }
    }
}
