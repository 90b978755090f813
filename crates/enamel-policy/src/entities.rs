//! The entities Cedar decides over: a principal (person, agent or system task) and a resource, each with its practice, built from Enamel's types.

use super::Resource;
use cedar_policy::{Entity, EntityId, EntityTypeName, EntityUid, RestrictedExpression};
use enamel_domain::{Actor, ActorType, PracticeId};
use std::collections::{HashMap, HashSet};
use std::str::FromStr as _;

/// The schema's entity types, parsed once: Cedar's parser is the costliest part of
/// building a request (a patient read names five uids).
static TYPES: std::sync::LazyLock<HashMap<&'static str, EntityTypeName>> =
    std::sync::LazyLock::new(|| {
        [
            "Action", "Agent", "Patient", "Platform", "Practice", "Referral", "System", "User",
        ]
        .into_iter()
        .filter_map(|kind| {
            EntityTypeName::from_str(&format!("Enamel::{kind}"))
                .ok()
                .map(|name| (kind, name))
        })
        .collect()
    });

pub(super) fn uid(kind: &str, id: &str) -> Result<EntityUid, String> {
    let kind = match TYPES.get(kind) {
        Some(known) => known.clone(),
        None => EntityTypeName::from_str(&format!("Enamel::{kind}")).map_err(|e| e.to_string())?,
    };
    Ok(EntityUid::from_type_name_and_id(kind, EntityId::new(id)))
}

pub(super) fn entity(
    kind: &str,
    id: &str,
    attributes: impl IntoIterator<Item = (&'static str, RestrictedExpression)>,
) -> Result<Entity, String> {
    let attributes: HashMap<String, RestrictedExpression> = attributes
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
    Entity::new(uid(kind, id)?, attributes, HashSet::new()).map_err(|e| e.to_string())
}

pub(super) fn practice_ref(practice: PracticeId) -> Result<RestrictedExpression, String> {
    Ok(RestrictedExpression::new_entity_uid(uid(
        "Practice",
        &practice.to_string(),
    )?))
}

pub(super) fn principal_entity(actor: &Actor) -> Result<Entity, String> {
    match actor.actor_type() {
        ActorType::Human => {
            let (Some(user), Some(role)) = (actor.user(), actor.role()) else {
                return Err("a person without an account or role".into());
            };
            let mut attributes = vec![(
                "role",
                RestrictedExpression::new_string(role.as_str().into()),
            )];
            if let Some(practice) = actor.practice() {
                attributes.push(("practice", practice_ref(practice)?));
            }
            entity("User", &user.to_string(), attributes)
        }
        ActorType::Agent => {
            let (Some(agent), Some(practice)) = (actor.agent_id(), actor.practice()) else {
                return Err("an agent without an id or practice".into());
            };
            let scopes = actor
                .scopes()
                .iter()
                .map(|scope| RestrictedExpression::new_string(scope.clone()));
            entity(
                "Agent",
                &agent.to_string(),
                [
                    ("practice", practice_ref(practice)?),
                    ("scopes", RestrictedExpression::new_set(scopes)),
                ],
            )
        }
        ActorType::System => {
            let Some(task) = actor.task() else {
                return Err("a system actor without a task".into());
            };
            let mut attributes = vec![(
                "task",
                RestrictedExpression::new_string(task.as_str().into()),
            )];
            if let Some(practice) = actor.practice() {
                attributes.push(("practice", practice_ref(practice)?));
            }
            entity("System", &format!("enamel:{}", task.as_str()), attributes)
        }
    }
}

pub(super) fn resource_entity(resource: &Resource) -> Result<Entity, String> {
    match *resource {
        Resource::Practice(id) => entity("Practice", &id.to_string(), []),
        Resource::Platform => entity("Platform", "enamel", []),
        Resource::User { id, practice } => {
            // The role is the account's own, which no policy reads on a resource; the
            // schema requires it, so a placeholder that matches no role is given.
            let mut attributes = vec![("role", RestrictedExpression::new_string(String::new()))];
            if let Some(practice) = practice {
                attributes.push(("practice", practice_ref(practice)?));
            }
            entity("User", &id.to_string(), attributes)
        }
        Resource::Agent { id, practice } => entity(
            "Agent",
            &id.to_string(),
            [
                ("practice", practice_ref(practice)?),
                ("scopes", RestrictedExpression::new_set([])),
            ],
        ),
        Resource::Referral {
            id,
            referrer,
            receiver,
        } => entity(
            "Referral",
            &id.to_string(),
            [
                ("referrer", practice_ref(referrer)?),
                ("receiver", practice_ref(receiver)?),
            ],
        ),
        Resource::Patient {
            id,
            practice,
            restricted,
        } => entity(
            "Patient",
            &id.to_string(),
            [
                ("practice", practice_ref(practice)?),
                ("restricted", RestrictedExpression::new_bool(restricted)),
            ],
        ),
    }
}
