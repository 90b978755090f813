//! Enamel's policy decision point.
//!
//! Every route and every repository operation asks [`PolicyEngine::decide`] whether an
//! actor may take an action on a resource. The answer comes from the Cedar policies
//! and schema in `policies/` at the repository's root, bundled into the binary and
//! validated against each other when the engine is built: a policy that names an
//! unknown action or attribute stops Enamel from starting instead of denying quietly.
//!
//! Deny is the default, for people, agents and Enamel itself alike: a system actor
//! ([`ActorType::System`]) is a Cedar principal named by its task (`seed`,
//! `deliver`, `flag`, `alert`), allowed only what that task's policy names.

use std::fmt;
use std::str::FromStr as _;

use cedar_policy::{
    ActionConstraint, Authorizer, Context, Entities, EntityTypeName, EntityUid, Policy, PolicySet,
    PrincipalConstraint, Request, ResourceConstraint, RestrictedExpression, Schema, ValidationMode,
    Validator,
};
use enamel_domain::{Actor, AgentId, PatientId, PracticeId, ReferralId, UserId};

mod entities;

use entities::{principal_entity, resource_entity, uid};

/// The bundled schema, `policies/enamel.cedarschema`.
pub const SCHEMA: &str = include_str!("../../../policies/enamel.cedarschema");
/// The bundled policies, `policies/enamel.cedar`.
pub const POLICIES: &str = include_str!("../../../policies/enamel.cedar");

macro_rules! actions {
    ($($variant:ident = $name:literal),+ $(,)?) => {
        /// What an actor asks to do; the names are the Cedar actions of the schema.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Action {
            $($variant),+
        }

        impl Action {
            /// Every action, in the schema's order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The Cedar action name.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $name),+ }
            }

            /// Parses [`Action::as_str`].
            #[must_use]
            pub fn parse(raw: &str) -> Option<Self> {
                match raw { $($name => Some(Self::$variant),)+ _ => None }
            }
        }
    };
}

actions! {
    AccountViewSelf = "account.view_self",
    SessionManage = "session.manage",
    MfaEnroll = "mfa.enroll",
    AccountList = "account.list",
    AccountInvite = "account.invite",
    PracticeConfigure = "practice.configure",
    AgentManage = "agent.manage",
    AccessReviewView = "access_review.view",
    AccessReviewSignOff = "access_review.sign_off",
    AuditQuery = "audit.query",
    AlertView = "alert.view",
    AccountView = "account.view",
    AccountChangeRole = "account.change_role",
    AccountDeactivate = "account.deactivate",
    AccountUnlock = "account.unlock",
    PatientCreate = "patient.create",
    PatientList = "patient.list",
    ReferralCreate = "referral.create",
    ReferralList = "referral.list",
    DirectorySearch = "directory.search",
    VendorView = "vendor.view",
    VendorManage = "vendor.manage",
    PatientRead = "patient.read",
    PatientUpdate = "patient.update",
    PatientContact = "patient.contact",
    PatientRestrict = "patient.restrict",
    BreakGlassOpen = "break_glass.open",
    ReferralRead = "referral.read",
    ReferralAct = "referral.act",
    PlatformView = "platform.view",
    PlatformOnboard = "platform.onboard",
    PracticeHandover = "practice.handover",
    ScheduleView = "schedule.view",
    ScheduleManage = "schedule.manage",
    ScheduleImport = "schedule.import",
    ViewNoShow = "view.no_show",
    ScheduleRecover = "schedule.recover",
    ViewEligibility = "view.eligibility",
    ViewRecall = "view.recall",
    AlertRaise = "alert.raise",
    NoticeDeliver = "notice.deliver",
    ReferralFlag = "referral.flag",
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an action is taken on, with the attributes the policies read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    /// A practice as a whole: its accounts list, settings, audit log, reviews.
    Practice(PracticeId),
    /// A person's account; a platform operator's has no practice.
    User {
        id: UserId,
        practice: Option<PracticeId>,
    },
    /// An agent service account.
    Agent { id: AgentId, practice: PracticeId },
    /// A patient's record.
    Patient {
        id: PatientId,
        practice: PracticeId,
        restricted: bool,
    },
    /// A referral, reachable from the two practices it joins.
    Referral {
        id: ReferralId,
        referrer: PracticeId,
        receiver: PracticeId,
    },
    /// The deployment.
    Platform,
}

/// Facts about the request that the policies may weigh.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Circumstances {
    /// The actor holds an unexpired break-glass grant for the resource.
    pub break_glass: bool,
}

/// The answer, with the ids of the policies that decided it (for logs and tests;
/// never shown to the client).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    allowed: bool,
    reasons: Vec<String>,
}

impl Decision {
    #[must_use]
    pub const fn is_allowed(&self) -> bool {
        self.allowed
    }

    /// The policies that matched: the permits of an allow, the forbids of a
    /// forbidden request, nothing for a default deny.
    #[must_use]
    pub fn reasons(&self) -> &[String] {
        &self.reasons
    }

    fn deny(reason: impl Into<String>) -> Self {
        Self {
            allowed: false,
            reasons: vec![reason.into()],
        }
    }
}

/// Why the policies could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("the Cedar schema does not parse: {0}")]
    Schema(String),
    #[error("the Cedar policies do not parse: {0}")]
    Policies(String),
    #[error("the Cedar policies do not validate against the schema: {0}")]
    Invalid(String),
}

/// The policy decision point: validated policies, the schema and an authorizer.
pub struct PolicyEngine {
    schema: Schema,
    policies: PolicySet,
    authorizer: Authorizer,
    /// Each policy's `@id` annotation, the name a decision gives as its reason.
    names: std::collections::HashMap<cedar_policy::PolicyId, String>,
    /// Whether any action is a member of another (an action group): then a policy
    /// scoped to a group may apply to an action it does not name, and policies are
    /// not sliced by action.
    action_groups: bool,
    /// The policies whose scope admits a request's principal type, action and
    /// resource type, built on first use. Cedar evaluates every policy of the set
    /// it is given, and a policy whose scope cannot match never decides a request
    /// (it is neither satisfied nor evaluated), so deciding with the slice gives
    /// exactly the answer and reasons of the whole set, for a fraction of the work
    /// (a patient read weighs 4 of the 35 policies).
    slices: std::sync::RwLock<std::collections::HashMap<SliceKey, std::sync::Arc<PolicySet>>>,
}

/// A request's principal type, action and resource type.
type SliceKey = (EntityTypeName, Action, EntityTypeName);

impl fmt::Debug for PolicyEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyEngine")
            .field("policies", &self.policies.policies().count())
            .finish_non_exhaustive()
    }
}

impl PolicyEngine {
    /// The engine over the policies and schema bundled from `policies/`.
    pub fn bundled() -> Result<Self, PolicyError> {
        Self::from_sources(SCHEMA, POLICIES)
    }

    /// The engine over the given sources, which must validate strictly.
    pub fn from_sources(schema: &str, policies: &str) -> Result<Self, PolicyError> {
        let (schema, _warnings) = Schema::from_cedarschema_str(schema)
            .map_err(|err| PolicyError::Schema(err.to_string()))?;
        let policies =
            PolicySet::from_str(policies).map_err(|err| PolicyError::Policies(err.to_string()))?;
        let validation = Validator::new(schema.clone()).validate(&policies, ValidationMode::Strict);
        if !validation.validation_passed() {
            let errors: Vec<String> = validation
                .validation_errors()
                .map(ToString::to_string)
                .collect();
            return Err(PolicyError::Invalid(errors.join("; ")));
        }
        let actions = schema
            .action_entities()
            .map_err(|err| PolicyError::Schema(err.to_string()))?;
        let action_groups = actions.iter().any(|action| {
            actions
                .ancestors(&action.uid())
                .is_some_and(|mut parents| parents.next().is_some())
        });
        let names = policies
            .policies()
            .filter_map(|policy| {
                let name = policy.annotation("id")?;
                Some((policy.id().clone(), name.to_owned()))
            })
            .collect();
        Ok(Self {
            schema,
            policies,
            authorizer: Authorizer::new(),
            names,
            action_groups,
            slices: std::sync::RwLock::default(),
        })
    }

    /// The policies that may apply to a request of `principal`'s type, `action` and
    /// `resource`'s type (see [`PolicyEngine::slices`]).
    fn slice(
        &self,
        principal: &EntityUid,
        action: Action,
        action_uid: &EntityUid,
        resource: &EntityUid,
    ) -> Result<std::sync::Arc<PolicySet>, String> {
        let key = (
            principal.type_name().clone(),
            action,
            resource.type_name().clone(),
        );
        if let Some(slice) = self
            .slices
            .read()
            .map_err(|_| "the policy slices are unusable".to_owned())?
            .get(&key)
        {
            return Ok(std::sync::Arc::clone(slice));
        }
        let admitted = self.policies.policies().filter(|policy| {
            principal_admits(policy, &key.0)
                && (self.action_groups || action_admits(policy, action_uid))
                && resource_admits(policy, &key.2)
        });
        let slice = std::sync::Arc::new(
            PolicySet::from_policies(admitted.cloned()).map_err(|err| err.to_string())?,
        );
        self.slices
            .write()
            .map_err(|_| "the policy slices are unusable".to_owned())?
            .insert(key, std::sync::Arc::clone(&slice));
        Ok(slice)
    }

    /// May `actor` take `action` on `resource`? Anything that cannot be put to the
    /// policies (an actor they do not know, a request the schema rejects) is denied.
    #[must_use]
    pub fn decide(
        &self,
        actor: &Actor,
        action: Action,
        resource: &Resource,
        circumstances: Circumstances,
    ) -> Decision {
        match self.ask(actor, action, resource, circumstances) {
            Ok(decision) => decision,
            Err(reason) => Decision::deny(reason),
        }
    }

    fn ask(
        &self,
        actor: &Actor,
        action: Action,
        resource: &Resource,
        circumstances: Circumstances,
    ) -> Result<Decision, String> {
        let principal = principal_entity(actor)?;
        let resource = resource_entity(resource)?;
        let action_uid = uid("Action", action.as_str())?;
        let policies = self.slice(&principal.uid(), action, &action_uid, &resource.uid())?;
        self.evaluate(
            &policies,
            principal,
            action_uid,
            resource,
            circumstances,
            None,
        )
    }

    /// Puts the request to `policies` (the whole set, or a slice of it).
    ///
    /// The entities are checked against `schema` only when one is given. A request
    /// passes none: the principal and resource entities are built by this crate from
    /// typed values, and a test holds every kind of them to the schema. Validating
    /// them per request also rebuilt every action entity of the schema, the larger
    /// part of a decision's time (docs/performance.md). An evaluation error denies
    /// either way.
    fn evaluate(
        &self,
        policies: &PolicySet,
        principal: cedar_policy::Entity,
        action_uid: EntityUid,
        resource: cedar_policy::Entity,
        circumstances: Circumstances,
        schema: Option<&Schema>,
    ) -> Result<Decision, String> {
        let request = Request::new(
            principal.uid(),
            action_uid,
            resource.uid(),
            Context::from_pairs([(
                "break_glass".to_owned(),
                RestrictedExpression::new_bool(circumstances.break_glass),
            )])
            .map_err(|err| err.to_string())?,
            Some(&self.schema),
        )
        .map_err(|err| err.to_string())?;
        let mut entities = vec![principal];
        if resource.uid() != entities[0].uid() {
            entities.push(resource);
        }
        let entities = Entities::from_entities(entities, schema).map_err(|e| e.to_string())?;
        let response = self.authorizer.is_authorized(&request, policies, &entities);
        let diagnostics = response.diagnostics();
        if let Some(error) = diagnostics.errors().next() {
            return Err(format!("policy evaluation error: {error}"));
        }
        // Name each deciding policy by its `@id` annotation, as written in policies/.
        let mut reasons: Vec<String> = diagnostics
            .reason()
            .map(|id| {
                self.names
                    .get(id)
                    .cloned()
                    .unwrap_or_else(|| id.to_string())
            })
            .collect();
        reasons.sort();
        Ok(Decision {
            allowed: response.decision() == cedar_policy::Decision::Allow,
            reasons,
        })
    }
}

/// Whether `policy`'s principal scope can hold for a principal of type `ty`. A scope
/// on the entity hierarchy (`principal in ...`) is kept: membership is not a type.
fn principal_admits(policy: &Policy, ty: &EntityTypeName) -> bool {
    match policy.principal_constraint() {
        PrincipalConstraint::Is(t) | PrincipalConstraint::IsIn(t, _) => t == *ty,
        PrincipalConstraint::Eq(uid) => uid.type_name() == ty,
        PrincipalConstraint::Any | PrincipalConstraint::In(_) => true,
    }
}

/// Whether `policy`'s resource scope can hold for a resource of type `ty`.
fn resource_admits(policy: &Policy, ty: &EntityTypeName) -> bool {
    match policy.resource_constraint() {
        ResourceConstraint::Is(t) | ResourceConstraint::IsIn(t, _) => t == *ty,
        ResourceConstraint::Eq(uid) => uid.type_name() == ty,
        ResourceConstraint::Any | ResourceConstraint::In(_) => true,
    }
}

/// Whether `policy`'s action scope names `action` (the schema has no action groups).
fn action_admits(policy: &Policy, action: &EntityUid) -> bool {
    match policy.action_constraint() {
        ActionConstraint::Any => true,
        ActionConstraint::Eq(named) => named == *action,
        ActionConstraint::In(named) => named.contains(action),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use enamel_domain::{Role, User, UserStatus};

    use super::*;

    fn person(role: Role, practice: Option<PracticeId>) -> (Actor, UserId) {
        let id = UserId::generate();
        let user = User {
            id,
            practice,
            email: enamel_domain::Email::parse("someone@example.test").unwrap(),
            display_name: enamel_domain::DisplayName::parse("Someone").unwrap(),
            role,
            status: UserStatus::Active,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        };
        (Actor::human(&user), id)
    }

    #[test]
    fn the_bundled_policies_validate_against_the_schema() {
        let engine = PolicyEngine::bundled().expect("the bundled policies validate");
        assert!(engine.policies.policies().count() >= 10);
    }

    #[test]
    fn every_action_of_the_enum_is_in_the_schema_and_back() {
        let engine = PolicyEngine::bundled().unwrap();
        let in_schema: HashSet<String> = engine
            .schema
            .actions()
            .map(|uid| uid.id().unescaped().to_owned())
            .collect();
        let in_code: HashSet<String> = Action::ALL.iter().map(|a| a.as_str().to_owned()).collect();
        assert_eq!(in_schema, in_code);
    }

    /// People of each role in `practice` and in `other`, agents with every scope and
    /// none, and every system task.
    fn every_kind_of_actor(practice: PracticeId, other: PracticeId) -> Vec<Actor> {
        use enamel_domain::SystemTask;
        let mut actors: Vec<Actor> = Role::ALL
            .iter()
            .flat_map(|role| {
                let home = (*role != Role::PlatformOperator).then_some(practice);
                [person(*role, home).0, person(*role, Some(other)).0]
            })
            .collect();
        let scopes: Vec<String> = Action::ALL.iter().map(|a| a.as_str().to_owned()).collect();
        actors.push(Actor::agent(AgentId::generate(), practice, scopes.clone()));
        actors.push(Actor::agent(AgentId::generate(), other, scopes));
        actors.push(Actor::agent(AgentId::generate(), practice, Vec::new()));
        for task in [
            SystemTask::Seed,
            SystemTask::Deliver,
            SystemTask::Flag,
            SystemTask::Alert,
            SystemTask::Consent,
            SystemTask::Portal,
            SystemTask::Keys,
            SystemTask::Onboard,
        ] {
            actors.push(Actor::system_for(practice, task));
        }
        actors.push(Actor::system(SystemTask::Housekeeping));
        actors
    }

    /// Every kind of resource, in `practice` and in `other`, restricted or not.
    fn every_kind_of_resource(practice: PracticeId, other: PracticeId) -> Vec<Resource> {
        let (_, user) = person(Role::Dentist, Some(practice));
        vec![
            Resource::Practice(practice),
            Resource::Practice(other),
            Resource::User {
                id: user,
                practice: Some(practice),
            },
            Resource::User {
                id: user,
                practice: None,
            },
            Resource::Agent {
                id: AgentId::generate(),
                practice,
            },
            Resource::Patient {
                id: PatientId::generate(),
                practice,
                restricted: false,
            },
            Resource::Patient {
                id: PatientId::generate(),
                practice,
                restricted: true,
            },
            Resource::Patient {
                id: PatientId::generate(),
                practice: other,
                restricted: false,
            },
            Resource::Referral {
                id: ReferralId::generate(),
                referrer: practice,
                receiver: other,
            },
            Resource::Referral {
                id: ReferralId::generate(),
                referrer: other,
                receiver: other,
            },
            Resource::Platform,
        ]
    }

    /// Slicing the policies by scope changes no decision and no reason: every
    /// action, for people of each role (in the practice and outside it), agents with
    /// and without scopes, system tasks, on every kind of resource, with and without
    /// a break-glass grant, is decided as the whole set decides it. The whole set is
    /// given entities checked against the schema, so every kind of entity a request
    /// builds unchecked is one the schema accepts (a rejected one would deny here
    /// with the schema's error as its reason).
    #[test]
    fn slices_on_unchecked_entities_decide_as_the_whole_set_on_checked_ones() {
        let engine = PolicyEngine::bundled().unwrap();
        assert!(!engine.action_groups, "the schema has no action groups");
        let practice = PracticeId::generate();
        let other = PracticeId::generate();
        let actors = every_kind_of_actor(practice, other);
        let resources = every_kind_of_resource(practice, other);
        let (mut allowed, mut asked) = (0, 0);
        for actor in &actors {
            for action in Action::ALL {
                for resource in &resources {
                    for break_glass in [false, true] {
                        let circumstances = Circumstances { break_glass };
                        let sliced = engine.decide(actor, *action, resource, circumstances);
                        let whole = (|| {
                            engine.evaluate(
                                &engine.policies,
                                principal_entity(actor)?,
                                uid("Action", action.as_str())?,
                                resource_entity(resource)?,
                                circumstances,
                                Some(&engine.schema),
                            )
                        })()
                        .unwrap_or_else(Decision::deny);
                        assert_eq!(
                            sliced, whole,
                            "{actor:?} {action:?} {resource:?} {circumstances:?}"
                        );
                        asked += 1;
                        allowed += usize::from(sliced.is_allowed());
                    }
                }
            }
        }
        assert!(
            allowed > 100 && allowed < asked / 2,
            "{allowed} of {asked} allowed"
        );
    }

    #[test]
    fn a_policy_naming_an_unknown_attribute_is_refused_at_load() {
        let broken = format!(
            "{POLICIES}\npermit (principal is Enamel::User, action, resource) when {{ principal.clearance == \"top\" }};"
        );
        let err = PolicyEngine::from_sources(SCHEMA, &broken).unwrap_err();
        assert!(matches!(err, PolicyError::Invalid(_)), "{err}");
    }

    #[test]
    fn nothing_is_allowed_without_a_permit() {
        let engine = PolicyEngine::from_sources(SCHEMA, "").unwrap();
        let practice = PracticeId::generate();
        let (admin, _) = person(Role::PracticeAdmin, Some(practice));
        let decision = engine.decide(
            &admin,
            Action::AccountList,
            &Resource::Practice(practice),
            Circumstances::default(),
        );
        assert!(!decision.is_allowed());
        assert!(decision.reasons().is_empty());
    }

    #[test]
    fn an_admin_manages_their_own_practice_and_never_another() {
        let engine = PolicyEngine::bundled().unwrap();
        let practice = PracticeId::generate();
        let (admin, _) = person(Role::PracticeAdmin, Some(practice));
        let own = engine.decide(
            &admin,
            Action::AccountInvite,
            &Resource::Practice(practice),
            Circumstances::default(),
        );
        assert!(own.is_allowed(), "{own:?}");
        let foreign = engine.decide(
            &admin,
            Action::AccountInvite,
            &Resource::Practice(PracticeId::generate()),
            Circumstances::default(),
        );
        assert!(!foreign.is_allowed());
        assert_eq!(foreign.reasons(), ["tenant-isolation-practice"]);
    }

    #[test]
    fn a_restricted_record_opens_to_a_dentist_only_with_the_glass_broken() {
        let engine = PolicyEngine::bundled().unwrap();
        let practice = PracticeId::generate();
        let restricted = Resource::Patient {
            id: PatientId::generate(),
            practice,
            restricted: true,
        };
        let (dentist, _) = person(Role::Dentist, Some(practice));
        let (hygienist, _) = person(Role::Hygienist, Some(practice));
        let glass = Circumstances { break_glass: true };
        let read = |actor: &Actor, c| engine.decide(actor, Action::PatientRead, &restricted, c);
        assert!(!read(&dentist, Circumstances::default()).is_allowed());
        assert!(read(&dentist, glass).is_allowed());
        assert!(!read(&hygienist, glass).is_allowed());
    }

    #[test]
    fn a_system_task_may_do_only_what_its_policy_names() {
        use enamel_domain::SystemTask;
        let engine = PolicyEngine::bundled().unwrap();
        let practice = PracticeId::generate();
        let own = Resource::Practice(practice);
        let decide = |actor: &Actor, action, resource: &Resource| {
            engine
                .decide(actor, action, resource, Circumstances::default())
                .is_allowed()
        };
        let seed = Actor::system_for(practice, SystemTask::Seed);
        assert!(decide(&seed, Action::PatientCreate, &own));
        assert!(
            !decide(
                &seed,
                Action::PatientCreate,
                &Resource::Practice(PracticeId::generate())
            ),
            "a task stays in its practice"
        );
        let patient = Resource::Patient {
            id: PatientId::generate(),
            practice,
            restricted: false,
        };
        assert!(
            !decide(&seed, Action::PatientRead, &patient),
            "seeding reads no record"
        );
        let deliver = Actor::system_for(practice, SystemTask::Deliver);
        assert!(decide(&deliver, Action::NoticeDeliver, &own));
        assert!(!decide(&deliver, Action::PatientCreate, &own));
        assert!(!decide(&deliver, Action::AuditQuery, &own));
        let housekeeping = Actor::system(SystemTask::Housekeeping);
        assert!(!decide(
            &housekeeping,
            Action::PlatformView,
            &Resource::Platform
        ));
        assert!(!decide(&housekeeping, Action::PatientCreate, &own));
    }

    #[test]
    fn an_agent_reads_patients_only_with_the_scope() {
        let engine = PolicyEngine::bundled().unwrap();
        let practice = PracticeId::generate();
        let patient = Resource::Patient {
            id: PatientId::generate(),
            practice,
            restricted: false,
        };
        let scoped = Actor::agent(AgentId::generate(), practice, vec!["patient.read".into()]);
        let unscoped = Actor::agent(AgentId::generate(), practice, Vec::new());
        let foreign = Actor::agent(
            AgentId::generate(),
            PracticeId::generate(),
            vec!["patient.read".into()],
        );
        let read = |actor: &Actor| {
            engine
                .decide(
                    actor,
                    Action::PatientRead,
                    &patient,
                    Circumstances::default(),
                )
                .is_allowed()
        };
        assert!(read(&scoped));
        assert!(!read(&unscoped));
        assert!(!read(&foreign));
    }
}

#[cfg(test)]
mod access_table {
    //! Compares the policies with the table in docs/access.md, cell by cell.

    use std::collections::HashSet;

    use enamel_domain::{Role, User, UserStatus};

    use super::*;

    const DOC: &str = include_str!("../../../docs/access.md");

    fn actor_for(column: &str, practice: PracticeId) -> Actor {
        if let Some(task) = column.strip_prefix("system:") {
            let task = enamel_domain::SystemTask::parse(task).expect("a system task column");
            return Actor::system_for(practice, task);
        }
        if column == "agent" {
            return Actor::agent(AgentId::generate(), practice, vec!["patient.read".into()]);
        }
        let role = Role::parse(column).expect("a role column");
        let user = User {
            id: UserId::generate(),
            practice: (role != Role::PlatformOperator).then_some(practice),
            email: enamel_domain::Email::parse("someone@example.test").unwrap(),
            display_name: enamel_domain::DisplayName::parse("Someone").unwrap(),
            role,
            status: UserStatus::Active,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        };
        Actor::human(&user)
    }

    /// The resource of `action` in `practice`; for self-service, the actor itself.
    fn resource_for(action: Action, actor: &Actor, practice: PracticeId, own: bool) -> Resource {
        match action.as_str().split('.').next().unwrap() {
            _ if matches!(
                action,
                Action::AccountViewSelf | Action::SessionManage | Action::MfaEnroll
            ) =>
            {
                match (own, actor.agent_id(), actor.user()) {
                    (true, Some(agent), _) => Resource::Agent {
                        id: agent,
                        practice,
                    },
                    (true, None, Some(user)) => Resource::User {
                        id: user,
                        practice: actor.practice(),
                    },
                    _ => Resource::User {
                        id: UserId::generate(),
                        practice: Some(practice),
                    },
                }
            }
            "account" if action != Action::AccountList && action != Action::AccountInvite => {
                Resource::User {
                    id: UserId::generate(),
                    practice: Some(practice),
                }
            }
            "referral" if !matches!(action, Action::ReferralCreate | Action::ReferralList) => {
                Resource::Referral {
                    id: ReferralId::generate(),
                    referrer: practice,
                    receiver: PracticeId::generate(),
                }
            }
            "patient" if matches!(action, Action::PatientCreate | Action::PatientList) => {
                Resource::Practice(practice)
            }
            "patient" | "break_glass" => Resource::Patient {
                id: PatientId::generate(),
                practice,
                restricted: false,
            },
            "platform" => Resource::Platform,
            _ => Resource::Practice(practice),
        }
    }

    #[test]
    fn every_cell_of_docs_access_md_matches_the_policies() {
        let engine = PolicyEngine::bundled().unwrap();
        let table = DOC
            .split("<!-- access-table:start -->")
            .nth(1)
            .and_then(|rest| rest.split("<!-- access-table:end -->").next())
            .expect("docs/access.md has the access table");
        let mut lines = table.lines().filter(|l| l.starts_with('|'));
        let header: Vec<&str> = lines.next().unwrap().split('|').map(str::trim).collect();
        let columns = &header[2..header.len() - 1];
        let mut seen = HashSet::new();
        let mut differences = Vec::new();
        for line in lines.skip(1) {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let action =
                Action::parse(cells[1]).unwrap_or_else(|| panic!("unknown action {}", cells[1]));
            seen.insert(action);
            for (column, cell) in columns.iter().zip(&cells[2..]) {
                let own_practice = PracticeId::generate();
                let actor = actor_for(column, own_practice);
                let own = resource_for(action, &actor, own_practice, true);
                let allowed = engine
                    .decide(&actor, action, &own, Circumstances::default())
                    .is_allowed();
                if allowed != (*cell == "yes") {
                    differences.push(format!(
                        "{action} / {column}: table says {cell}, policy says {allowed}"
                    ));
                }
                // The platform is no practice's: there is no other one to try.
                if !matches!(action, Action::PlatformView | Action::PlatformOnboard) {
                    let foreign = resource_for(action, &actor, PracticeId::generate(), false);
                    if engine
                        .decide(&actor, action, &foreign, Circumstances::default())
                        .is_allowed()
                    {
                        differences
                            .push(format!("{action} / {column}: allowed on another practice"));
                    }
                }
            }
        }
        assert!(differences.is_empty(), "{differences:#?}");
        assert_eq!(seen.len(), Action::ALL.len(), "every action has a row");
    }
}
