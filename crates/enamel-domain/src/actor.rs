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

/// What Enamel itself is doing when it acts as a system actor. The task is the
/// system principal's one attribute that the authorization policies read, so each
/// task is allowed exactly what its own policy names, and nothing by default.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum SystemTask {
    /// Setting up a practice's data (the demo seed, an import run by the operator).
    Seed,
    /// Sending a queued notice through a vendor.
    Deliver,
    /// Flagging referrals whose patient has not been scheduled.
    Flag,
    /// Raising a security alert (an account locked by failed sign-ins).
    Alert,
    /// Recording a patient's text-message consent (a STOP or START reply).
    Consent,
    /// Serving a patient's portal page.
    Portal,
    /// Rotating, re-encrypting or shredding keys.
    Keys,
    /// Applying retention, purging, checkpoints: the platform's housekeeping.
    Housekeeping,
    /// Bringing a practice onto Enamel from the command line (`enamel practice`).
    Onboard,
    /// Reading out a terminated practice's records for handover
    /// (`enamel practice export`).
    Handover,
}

impl SystemTask {
    /// Every task.
    pub const ALL: [Self; 10] = [
        Self::Seed,
        Self::Deliver,
        Self::Flag,
        Self::Alert,
        Self::Consent,
        Self::Portal,
        Self::Keys,
        Self::Housekeeping,
        Self::Onboard,
        Self::Handover,
    ];

    /// Parses [`SystemTask::as_str`].
    #[must_use]
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|task| task.as_str() == raw)
    }

    /// The task's name in the policies.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Seed => "seed",
            Self::Deliver => "deliver",
            Self::Flag => "flag",
            Self::Alert => "alert",
            Self::Consent => "consent",
            Self::Portal => "portal",
            Self::Keys => "keys",
            Self::Housekeeping => "housekeeping",
            Self::Onboard => "onboard",
            Self::Handover => "handover",
        }
    }
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
    /// What a system actor is doing.
    task: Option<SystemTask>,
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
            task: None,
        }
    }

    /// Enamel itself doing `task` for the platform, scoped to no practice.
    #[must_use]
    pub const fn system(task: SystemTask) -> Self {
        Self {
            kind: ActorType::System,
            user: None,
            practice: None,
            role: None,
            agent: None,
            scopes: Vec::new(),
            task: Some(task),
        }
    }

    /// Enamel itself doing `task` within one practice.
    #[must_use]
    pub const fn system_for(practice: PracticeId, task: SystemTask) -> Self {
        Self {
            kind: ActorType::System,
            user: None,
            practice: Some(practice),
            role: None,
            agent: None,
            scopes: Vec::new(),
            task: Some(task),
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
            task: None,
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
    /// A system actor's task; `None` for everyone else.
    #[must_use]
    pub const fn task(&self) -> Option<SystemTask> {
        self.task
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
