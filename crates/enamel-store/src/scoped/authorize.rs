//! The authorization kernel: every operation of [`Scoped`] asks the policy decision
//! point before it touches data, whoever the actor is (a person, an agent, or
//! Enamel itself doing a named task), and a denial is audited before it is
//! returned.

use enamel_audit::entry::{Action as AuditAction, Detail, Event, Outcome, ResourceType};
use enamel_policy::{Action, Circumstances, Resource};

use crate::{Scoped, StoreError};

/// How a denied request is written in the audit log: what was attempted, on what
/// kind of resource, and which one when there is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditedAs {
    pub action: AuditAction,
    pub resource: ResourceType,
    pub id: Option<String>,
}

impl AuditedAs {
    /// An attempt on a kind of resource as a whole (a list, a registry).
    #[must_use]
    pub const fn any(action: AuditAction, resource: ResourceType) -> Self {
        Self {
            action,
            resource,
            id: None,
        }
    }

    /// An attempt on one resource.
    #[must_use]
    pub fn one(action: AuditAction, resource: ResourceType, id: &impl ToString) -> Self {
        Self {
            action,
            resource,
            id: Some(id.to_string()),
        }
    }
}

impl Scoped<'_> {
    /// Asks the policy decision point whether the actor may take `action` on
    /// `resource`; a denial is audited as `audited_as` and returned as
    /// [`StoreError::Denied`]. No actor is exempt: a system actor is a principal
    /// named by its task, allowed only what that task's policy names.
    pub async fn authorize(
        &self,
        action: Action,
        resource: &Resource,
        circumstances: Circumstances,
        audited_as: AuditedAs,
    ) -> Result<(), StoreError> {
        let decision = self
            .store
            .policy
            .decide(self.actor, action, resource, circumstances);
        if decision.is_allowed() {
            return Ok(());
        }
        let mut event = self.event(
            audited_as.action,
            audited_as.resource,
            audited_as.id,
            Outcome::Denied,
        );
        event
            .detail
            .insert("policy_action", Detail::Code(action.as_str().to_owned()));
        self.store.audit().record(event).await?;
        Err(StoreError::Denied)
    }

    /// [`Scoped::authorize`] for an action on the actor's own practice as a whole
    /// (its lists, settings and registries), under no special circumstances.
    pub async fn authorize_in_own_practice(
        &self,
        action: Action,
        audited_as: AuditedAs,
    ) -> Result<(), StoreError> {
        let practice = Resource::Practice(self.practice()?);
        self.authorize(action, &practice, Circumstances::default(), audited_as)
            .await
    }

    /// [`Scoped::authorize`] for running the deployment itself (the platform
    /// operator's work: its queue, its practices), which shows no practice's data.
    pub async fn authorize_platform(&self, audited_as: AuditedAs) -> Result<(), StoreError> {
        self.authorize(
            Action::PlatformView,
            &Resource::Platform,
            Circumstances::default(),
            audited_as,
        )
        .await
    }

    /// An event by the actor, carrying the request's context.
    #[must_use]
    pub fn event(
        &self,
        action: AuditAction,
        resource_type: ResourceType,
        resource_id: Option<String>,
        outcome: Outcome,
    ) -> Event {
        let mut event =
            self.store
                .event_for(self.actor, action, resource_type, resource_id, outcome);
        self.context.apply(&mut event);
        event
    }
}
