//! Enamel's domain: the types that carry the product's rules.
//!
//! Everything here is pure (no I/O, no async). Raw strings from the outside world
//! stop at the edge: a value that passed its rules has its own type with a private
//! field and a `parse` constructor, and PHI travels only inside [`Phi`].

pub mod actor;
pub mod contact;
pub mod ids;
pub mod invalid;
pub mod phi;
pub mod place;
pub mod practice;
pub mod user;
pub mod vendor;

pub use actor::{Actor, ActorType};
pub use contact::{Email, PhoneNumber};
pub use ids::{AgentId, PatientId, PracticeId, UserId};
pub use invalid::InvalidValue;
pub use phi::Phi;
pub use place::{Address, PostalCode, TimeZone, UsState};
pub use practice::{NewPractice, Npi, Practice, PracticeKind, PracticeName};
pub use user::{DisplayName, NewUser, Role, User, UserStatus};
pub use vendor::VendorName;
