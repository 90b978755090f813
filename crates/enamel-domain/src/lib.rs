//! Enamel's domain: the types that carry the product's rules.
//!
//! Everything here is pure (no I/O, no async). Raw strings from the outside world
//! stop at the edge: a value that passed its rules has its own type with a private
//! field and a `parse` constructor, and PHI travels only inside [`Phi`].

pub mod access;
pub mod actor;
pub mod clinical;
pub mod clock;
pub mod contact;
pub mod ids;
pub mod invalid;
pub mod media;
pub mod notice;
pub mod patient;
pub mod phi;
pub mod place;
pub mod practice;
pub mod recovery;
pub mod referral;
pub mod schedule;
pub mod text;
pub mod user;
pub mod vendor;

pub use access::BreakGlassReason;
pub use actor::{Actor, ActorType, SystemTask};
pub use clinical::{CdtCode, Tooth, Urgency};
pub use clock::DailyAt;
pub use contact::{Email, PhoneNumber};
pub use ids::{
    AgentId, AppointmentId, AppointmentTypeId, AttachmentId, CoverageId, OfferId, OperatoryId,
    PatientId, PracticeId, ProviderId, RecallId, RecallTypeId, RecoveryRunId, ReferralId, UserId,
    VendorId, WaitlistEntryId,
};
pub use invalid::InvalidValue;
pub use media::MediaType;
pub use notice::Channel;
pub use patient::{ContactChannel, ContactDetails, Insurance, NewPatient, Patient, PatientSummary};
pub use phi::Phi;
pub use place::{Address, DistanceUnit, GeoPoint, PostalCode, TimeZone, UsState};
pub use practice::{NewPractice, Npi, Practice, PracticeKind, PracticeName};
pub use referral::{ClinicalDetails, IllegalStep, ReferralStatus, Side, Step};
pub use schedule::{
    AppointmentStatus, Availability, Membership, Minutes, Payer, PmsId, RecallDates,
    RecallInterval, Relationship, TimeOfDay,
};
pub use text::TextRule;
pub use user::{DisplayName, NewUser, Role, User, UserStatus};
pub use vendor::{BaaStatus, VendorName};
